"""What each tool of `agentfactory mcp serve` does, over the public API and with no MCP types.

Every operation returns an `Answer` (text for the host's model, structured content, an error flag, small
output files to embed); an expected failure is an error answer, never an exception. The caller of the
server is an MCP host whose model wrote the arguments, so they are hostile: names are validated before
any file-system call, sizes are bounded, code runs only in the configured sandbox, and the library is
written only through `Library.save` with a verifier that runs every case (stored and new) in the
sandbox under the library's write lock, so a refused save leaves the library as it was.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
import stat
import tempfile
import threading
from dataclasses import field
from pathlib import Path
from typing import Any

from agentfactory.config import Settings
from agentfactory.errors import AgentFactoryError, ConfigError, LibraryError, ValidationError
from agentfactory.records import record
from agentfactory.regular_files import NOT_REGULAR, TOO_LARGE, FileRefused, read_regular

MAX_QUERY_CHARS = 2000
MAX_LIMIT = 20
MAX_CODE_CHARS = 200_000
MAX_DESCRIPTION_CHARS = 1024  # the Agent Skills limit
MAX_CASES = 50
MAX_INPUT_FILES = 20
MAX_INPUT_FILES_BYTES = 8 << 20  # decoded, all files of one call together
MAX_FILE_NAME = 128
EMBED_FILE_BYTES = 64 << 10  # an output file this small comes back inside the answer
EMBED_TOTAL_BYTES = 256 << 10
TRACE_CHARS = 4000
MAX_RESULT_CHARS = 1 << 20  # a larger result is previewed; the full one is in the run's trace file
CASES_SHOWN = 10
_FILE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


@record
class EmbeddedFile:
    name: str  # relative to the outputs folder
    path: str  # absolute path on the server's machine
    data: bytes
    text: str | None  # the content when it is UTF-8 text


@record
class Answer:
    text: str
    structured: dict[str, Any] = field(default_factory=dict)
    is_error: bool = False
    files: list[EmbeddedFile] = field(default_factory=list)


def error(text: str, **structured: Any) -> Answer:
    return Answer(text, {"error": text, **structured}, is_error=True)


class _NoModel:
    """The subagents' model when none is configured: a subagent that calls the `llm` tool gets an error
    result saying so, and the others run without a key."""

    spec = "none"
    simulated = False

    def complete(self, *args: Any, **kwargs: Any) -> Any:
        raise ConfigError(
            "No model is configured for the subagents' llm tool: set ANTHROPIC_API_KEY or OPENAI_API_KEY, "
            "or `model` in agentfactory.toml, and restart `agentfactory mcp serve`."
        )


def subagent_provider(settings: Settings) -> Any:
    """The provider behind the subagents' `llm` tool. The simulated model is never chosen implicitly
    here: a host's subagent asking a model must reach a real one, or fail saying why."""
    from agentfactory.llm.registry import get_provider

    spec = settings.models.subagent_model or settings.models.model
    if not spec and settings.resolved_model() == "sim":
        return _NoModel()
    try:
        return get_provider(
            spec or settings.resolved_subagent_model(), settings.models, env=settings.credentials
        )
    except AgentFactoryError:
        return _NoModel()


class LibraryService:
    """The four tools and the SKILL.md resources over the library of `settings`.

    Thread-safe: each call opens its own Library and experience store (the library's inter-process
    lock serialises writers; readers read git objects)."""

    def __init__(self, settings: Settings, *, provider: Any = None, allow_paths: bool = False):
        self.settings = settings
        self.provider = provider if provider is not None else subagent_provider(settings)
        # Input files given by path are read on the server's machine: only for a local client (stdio).
        self.allow_paths = allow_paths
        # One sandbox backend for the server's life, shared by every run_subagent call: its sandboxes
        # started ahead serve the next calls (each still used once), instead of a backend started and
        # torn down per call.
        self._backend: Any = None
        self._backend_lock = threading.Lock()

    def backend(self) -> Any:
        with self._backend_lock:
            if self._backend is None:
                from agentfactory.sandbox import get_backend

                self._backend = get_backend(self.settings.sandbox)
            return self._backend

    def close(self) -> None:
        """Stop the shared sandbox backend (its sandboxes started ahead)."""
        with self._backend_lock:
            backend, self._backend = self._backend, None
        if backend is not None:
            backend.close()

    # -- helpers ---------------------------------------------------------------------------------

    def _library(self) -> Any:
        from agentfactory.library import Library

        library = Library(self.settings.paths.library)
        library.ensure()
        return library

    def _success_rates(self) -> dict[str, tuple[int, int]]:
        from agentfactory.experience import ExperienceStore

        try:
            with ExperienceStore.open(self.settings.paths, self.settings.policy) as store:
                return store.success_rates()
        except Exception:  # a missing or busy store only loses the rates, never the search
            return {}

    def tool_names(self) -> list[str]:
        from agentfactory.tools import build_handlers

        return sorted(build_handlers(self.settings.tools, self.settings.credentials, self.provider))

    # -- search and view -------------------------------------------------------------------------

    def search_subagents(self, query: str, limit: int = 5) -> Answer:
        """The search of the Meta-Agent's first message: bm25 over the library index, with success rates."""
        query = query.strip()
        if not query:
            return error("The query is empty: say what the subagent should do.")
        rates = self._success_rates()
        hits = self._library().search(query[:MAX_QUERY_CHARS], k=limit, success_rates=rates)
        found = []
        for hit in hits:
            runs, ok = rates.get(hit.name, (0, 0))
            found.append(
                {
                    "name": hit.name,
                    "version": hit.version,
                    "description": hit.description,
                    "signature": hit.signature,
                    "success_rate": f"{ok}/{runs} runs ok" if runs else "no runs yet",
                }
            )
        if not found:
            return Answer("No library subagent matches this query.", {"subagents": []})
        text = "\n".join(
            f"{h['name']} v{h['version']} — {h['description']} — {h['signature']} — {h['success_rate']}"
            for h in found
        )
        return Answer(text, {"subagents": found})

    def view_subagent(self, name: str, version: int | None = None) -> Answer:
        from agentfactory.library.edits import numbered

        sub = self._library().get(name, version)  # a bad or unknown name: UsageError/ValidationError
        cases = [_case_summary(i, c) for i, c in enumerate(sub.cases)]
        shown = "\n".join(cases[:CASES_SHOWN])
        more = f"\n... and {len(cases) - CASES_SHOWN} more" if len(cases) > CASES_SHOWN else ""
        text = (
            f"library subagent {sub.name} v{sub.version} (tools: {', '.join(sub.tools) or 'none'})\n"
            f"--- SKILL.md ---\n{sub.skill_md}\n--- {sub.entry} ---\n{numbered(sub.code)}\n"
            f"--- cases ({len(cases)}) ---\n{shown}{more}"
        )
        return Answer(
            text,
            {
                "name": sub.name,
                "version": sub.version,
                "description": sub.description,
                "signature": sub.signature,
                "tools": list(sub.tools),
                "skill_md": sub.skill_md,
                "entry": sub.entry,
                "code": sub.code,
                "cases": len(cases),
            },
        )

    # -- run -------------------------------------------------------------------------------------

    def run_subagent(
        self,
        name: str,
        inputs: dict[str, Any] | None = None,
        files: list[dict[str, Any]] | None = None,
        version: int | None = None,
    ) -> Answer:
        """Run one library subagent in the sandbox, recorded as a run of its own (workspace, events,
        experience store): its result, the compact trace when it failed, and its output files."""
        from agentfactory import MetaAgent
        from agentfactory.library import validate_name

        validate_name(name)
        with tempfile.TemporaryDirectory(prefix="af-mcp-in-") as tmp:
            paths = self._input_files(files or [], Path(tmp))
            seen: list[dict[str, Any]] = []
            agent = MetaAgent(
                self.settings,
                provider=self.provider,
                subagent_provider=self.provider,
                backend=self.backend(),
                on_event=lambda event: (
                    seen.append(event) if event.get("type") == "subagent_execution" else None
                ),
            )
            result = agent.run_subagent(name, dict(inputs or {}), version=version, input_files=paths)
        workspace = Path(result.workspace)
        outputs = workspace / "outputs"
        names = [n.removeprefix("outputs/") for n in result.output_files if n.startswith("outputs/")]
        embedded, listed = _output_files(outputs, names)
        shown, clipped = _bounded(result.result)
        data: dict[str, Any] = {
            "run_id": result.run_id,
            "status": result.status,
            "result": shown,
            "outputs_dir": str(outputs),
            "output_files": listed,
        }
        if clipped:
            data["result_truncated"] = True
            data["result_preview"] = clipped
        trace_text = ""
        if result.status != "success":
            data["reason"] = result.reason
            trace_text = _trace_text(workspace, seen)
            data["trace"] = trace_text
        text = f"{name} ({result.run_id}): {result.status}"
        if result.status == "success":
            preview = clipped or json.dumps(result.result, ensure_ascii=False, default=str)
            text += "\nresult: " + preview[:TRACE_CHARS]
        else:
            text += f"\n{result.reason}\n{trace_text}"
        if listed:
            text += f"\noutput files in {outputs}: " + ", ".join(f["name"] for f in listed)
        return Answer(text, data, is_error=result.status != "success", files=embedded)

    def _input_files(self, files: list[dict[str, Any]], dest: Path) -> list[Path]:
        if len(files) > MAX_INPUT_FILES:
            raise ValidationError(f"{len(files)} input files; at most {MAX_INPUT_FILES} are accepted.")
        total = 0
        out: list[Path] = []
        for i, item in enumerate(files, 1):
            given = [k for k in ("text", "base64", "path") if item.get(k) is not None]
            if len(given) != 1:
                raise ValidationError(f"input file {i}: give exactly one of text, base64 or path.")
            if given == ["path"]:
                if not self.allow_paths:
                    raise ValidationError(
                        f"input file {i}: a path is read on the server's machine, accepted only over stdio; "
                        "send the content as text or base64."
                    )
                source = Path(str(item["path"])).expanduser()
                name = item.get("name") or source.name
                data = _read_regular(source, MAX_INPUT_FILES_BYTES - total, i)
            elif given == ["text"]:
                name, data = item.get("name"), str(item["text"]).encode("utf-8", "surrogatepass")
            else:
                name = item.get("name")
                try:
                    data = base64.b64decode(str(item["base64"]), validate=True)
                except (binascii.Error, ValueError):
                    raise ValidationError(f"input file {i}: base64 is not valid base64.") from None
            name = _file_name(name, i)
            total += len(data)
            if total > MAX_INPUT_FILES_BYTES:
                raise ValidationError(
                    f"the input files hold over {MAX_INPUT_FILES_BYTES >> 20} MiB; send less."
                )
            if any(p.name == name for p in out):
                raise ValidationError(f"input file {i}: the name {name!r} is given twice.")
            path = dest / name
            path.write_bytes(data)
            out.append(path)
        return out

    # -- save ------------------------------------------------------------------------------------

    def _mcp_tool_problem(self, names: list[str]) -> str | None:
        """Why one of these MCP tools (SERVER.tool) cannot be allocated, else None; their servers are
        started to list their tools and stopped again (the gate starts its own)."""
        if not names:
            return None
        from agentfactory.tools.mcp import mcp_tools_for

        tools = mcp_tools_for(self.settings.tools)
        if tools is None:
            return f"unknown tool skill(s) {', '.join(names)}: agentfactory.toml declares no MCP server"
        try:
            return next((p for p in map(tools.problem, names) if p), None)
        finally:
            tools.close()

    def save_subagent(
        self,
        name: str,
        description: str,
        code: str,
        cases: list[dict[str, Any]],
        tools: list[str] | None = None,
        inputs_schema: dict[str, Any] | None = None,
        files: list[dict[str, Any]] | None = None,
    ) -> Answer:
        """Validate like `create_subagent`, then save only if every case passes in the sandbox; for an
        existing name, the new version must also pass every stored case (the regression gate).
        `files` are the cases' input files: stored as the subagent's fixtures, read as inputs/NAME."""
        from agentfactory.engine.gate import run_subagent_cases
        from agentfactory.library import build_subagent_folder, validate_folder, validate_name

        validate_name(name)
        tools = list(dict.fromkeys(tools or []))
        builtin = set(self.tool_names())
        unknown = sorted(t for t in tools if t not in builtin and "." not in t)
        if unknown:
            return error(
                f"Not saved: unknown tool skill(s) {', '.join(unknown)}; available: "
                f"{', '.join(self.tool_names())} and the MCP tools (SERVER.tool) of agentfactory.toml."
            )
        problem = self._mcp_tool_problem([t for t in tools if t not in builtin])
        if problem:
            return error(f"Not saved: {problem}.")
        if not cases:
            return error("Not saved: give at least one case; a subagent is saved only when its cases pass.")
        library = self._library()
        try:
            before = library.get(name)
        except AgentFactoryError:
            before = None
        if before is not None:
            clash = _redefined(before, cases)
            if clash:
                return error(
                    f"Not saved: case {clash} has the inputs of a stored case of v{before.version} but another "
                    "expectation; stored cases only accumulate, so give that case other inputs."
                )
        reports: list[Any] = []

        def verify(sub: Any) -> str | None:  # runs under the library's write lock, before the commit
            report = run_subagent_cases(self.settings, sub)
            reports.append((sub, report))
            return None if report.passed else report.reason()

        with tempfile.TemporaryDirectory(prefix="af-mcp-save-") as tmp:
            (Path(tmp) / "in").mkdir()
            fixtures = self._input_files(files or [], Path(tmp) / "in")
            folder = build_subagent_folder(
                Path(tmp) / name,
                name=name,
                description=description,
                code=code,
                tools=tools,
                inputs_schema=inputs_schema,
                cases=cases,
                source_task="contributed over MCP",
                changelog="contributed over MCP" if before is not None else None,
            )
            for path in fixtures:
                (folder / "fixtures").mkdir(exist_ok=True)
                (folder / "fixtures" / path.name).write_bytes(path.read_bytes())
            validate_folder(folder)
            try:
                saved = library.save(folder, message=f"contributed over MCP: {description}", verify=verify)
            except LibraryError as exc:
                if reports and not reports[-1][1].passed:
                    return _refusal(name, before, cases, *reports[-1])
                return error(f"Not saved: {exc}")
        if not saved.changed:
            return Answer(
                f"{name}: identical to library v{saved.version}; nothing saved.",
                {"name": name, "version": saved.version, "saved": False},
            )
        passed, total = reports[-1][1].counts() if reports else (0, 0)
        what = f"revision of v{before.version}" if before is not None else "new subagent"
        return Answer(
            f"Saved {name} v{saved.version} ({what}; {passed} of {total} cases pass in the sandbox).",
            {
                "name": name,
                "version": saved.version,
                "saved": True,
                "commit": saved.commit,
                "cases_passed": passed,
                "cases": total,
                "previous_version": before.version if before is not None else None,
            },
        )

    # -- resources -------------------------------------------------------------------------------

    def skills(self) -> list[Any]:
        return self._library().list()

    def skill_md(self, name: str) -> str:
        return self._library().get(name).skill_md


def _refusal(name: str, before: Any, given: list[dict[str, Any]], sub: Any, report: Any) -> Answer:
    """Which case failed, stored or new, with its compact trace."""
    new_keys = {json.dumps(c.get("inputs"), sort_keys=True, default=str) for c in given}
    broken = []
    for outcome in report.broken():
        case = sub.cases[outcome.index]
        origin = "new" if json.dumps(case.inputs, sort_keys=True, default=str) in new_keys else "stored"
        trace = outcome.trace.compact(max_chars=TRACE_CHARS) if outcome.trace is not None else ""
        broken.append(
            {
                "case": outcome.index + 1,
                "origin": origin,
                "status": outcome.status,
                "inputs": case.inputs,
                "failures": outcome.failures[:5],
                "trace": trace,
            }
        )
    first = broken[0]
    how = "ran, wrong result" if first["status"] == "ok" else f"status {first['status']}"
    gate = f"the regression gate refused the revision of v{before.version}" if before else "a case fails"
    text = (
        f"Not saved: {gate}: {len(broken)} of {len(report.outcomes)} cases fail. First: {first['origin']} "
        f"case {first['case']} ({how}): {'; '.join(first['failures']) or first['status']}\n"
        f"{first['trace']}"
    )
    return error(text, name=name, saved=False, broken=broken, cases=len(report.outcomes))


def _redefined(stored: Any, given: list[dict[str, Any]]) -> int | None:
    """The number of the first given case that redefines a stored one (same inputs, other expectation)."""
    from agentfactory.library import Case

    def key(value: Any) -> str:
        return json.dumps(value, sort_keys=True, default=str)

    mine = {key(c.inputs): key([c.expected, c.tolerance, c.checks]) for c in stored.cases}
    for i, data in enumerate(given, 1):
        case = Case.from_dict(data, f"case {i}")
        expectation = mine.get(key(case.inputs))
        if expectation is not None and expectation != key([case.expected, case.tolerance, case.checks]):
            return i
    return None


def _bounded(result: Any) -> tuple[Any, str]:
    """(result, "") when its JSON fits in an answer, else (None, a preview): the full result stays in
    the run's trace file."""
    text = json.dumps(result, ensure_ascii=False, default=str)
    if len(text) <= MAX_RESULT_CHARS:
        return result, ""
    return None, text[:TRACE_CHARS]


def _case_summary(index: int, case: Any) -> str:
    inputs = json.dumps(case.inputs, ensure_ascii=False, default=str)
    expected = json.dumps(case.expected, ensure_ascii=False, default=str)
    line = f"{index + 1}. inputs {inputs[:200]} -> expected {expected[:200]}"
    if case.checks:
        line += f" (+ checks: {', '.join(sorted(case.checks))})"
    return line


def _file_name(name: Any, index: int) -> str:
    if not isinstance(name, str) or not name:
        raise ValidationError(f"input file {index}: give its name.")
    if len(name) > MAX_FILE_NAME or not _FILE_NAME.fullmatch(name) or name in (".", ".."):
        raise ValidationError(
            f"input file {index}: the name must be a plain file name (letters, digits, '.', '_', '-', "
            f"at most {MAX_FILE_NAME} characters, no folders)."
        )
    return name


def _read_regular(path: Path, limit: int, index: int) -> bytes:
    """An input file the local client named by its path (links followed: the client's own machine)."""
    try:
        return read_regular(path, limit, follow_links=True)
    except FileRefused as refused:
        if refused.kind == NOT_REGULAR:
            raise ValidationError(f"input file {index}: {path} is not a regular file.") from None
        if refused.kind == TOO_LARGE:
            raise ValidationError(
                f"the input files hold over {MAX_INPUT_FILES_BYTES >> 20} MiB; send less."
            ) from None
        raise ValidationError(f"input file {index}: cannot open {path}: {refused.strerror}.") from None


def _output_files(root: Path, names: list[str]) -> tuple[list[EmbeddedFile], list[dict[str, Any]]]:
    """Each output file's name and size; the small ones read (without following links) to embed."""
    embedded: list[EmbeddedFile] = []
    listed: list[dict[str, Any]] = []
    budget = EMBED_TOTAL_BYTES
    for name in names:
        data, size = _read_output(root, name, min(EMBED_FILE_BYTES, budget))
        if size is None:
            continue
        entry: dict[str, Any] = {"name": name, "path": str(root / name), "size": size, "embedded": False}
        if data is not None:
            budget -= len(data)
            try:
                text = data.decode("utf-8")
            except UnicodeDecodeError:
                text = None
            embedded.append(EmbeddedFile(name, str(root / name), data, text))
            entry["embedded"] = True
        listed.append(entry)
    return embedded, listed


def _read_output(root: Path, name: str, limit: int) -> tuple[bytes | None, int | None]:
    """(content if at most `limit` bytes, size) of a regular file under `root`; (None, None) when the
    path leaves the folder, passes a link, or is not a regular file (the sandbox's filter refuses those
    already: this is the second wall)."""
    parts = name.split("/")
    if not name or name.startswith("/") or any(p in ("", ".", "..") for p in parts) or "\x00" in name:
        return None, None
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(root, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return None, None
    try:
        for part in parts[:-1]:
            nxt = os.open(part, flags | getattr(os, "O_DIRECTORY", 0), dir_fd=fd)
            os.close(fd)
            fd = nxt
        leaf = os.open(parts[-1], flags | getattr(os, "O_NONBLOCK", 0), dir_fd=fd)
    except OSError:
        os.close(fd)
        return None, None
    os.close(fd)
    with os.fdopen(leaf, "rb") as fh:
        info = os.fstat(fh.fileno())
        if not stat.S_ISREG(info.st_mode):
            return None, None
        if info.st_size > limit:
            return None, info.st_size
        data = fh.read(limit + 1)
    return (data, len(data)) if len(data) <= limit else (None, info.st_size)


def _trace_text(workspace: Path, executions: list[dict[str, Any]]) -> str:
    """The compact trace of the run's execution, read back from the trace file the run wrote."""
    from agentfactory.sandbox.trace import ExecutionTrace

    for event in reversed(executions):
        rel = event.get("trace")
        if not isinstance(rel, str):
            continue
        path = (workspace / rel).resolve()
        if workspace.resolve() not in path.parents:
            continue
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            return ExecutionTrace.from_dict(data).compact(max_chars=TRACE_CHARS)
        except (OSError, ValueError, TypeError):
            break
    return ""
