"""Task suites: the folder format, its validation, and the loaded `Suite` / `Task` records.

A suite is a folder with `suite.yaml` (the format is documented in benchmarks/suites/README.md).
`load_suite` reads it safely, checks every field, and raises one `ValidationError` sentence naming the
file, the task id and the field at the first problem; it never runs anything and never writes.

A task declares what the simulated model (an oracle) needs to serve it: `capabilities` (the reference
capabilities it uses, in order, defined in the suite's `capabilities/<name>/` folders), `inputs` (per
capability, the inputs of its call), `answer` (how the answer is phrased from the last result) and
`llm` (what a subagent's `llm` tool answers). The oracle never reads the task text to decide anything.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from agentfactory.errors import ValidationError

SUITE_FILE = "suite.yaml"
BASE_URL = "{base_url}"

_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
_CAP_NAME = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")  # kebab-case, as library subagent names are
_SUITE_KEYS = {"name", "description", "tasks", "capabilities_from"}
_TASK_KEYS = {"id", "batch", "family", "text", "pair", "fixtures", "check", "out_of_scope"}
_TASK_KEYS |= {"capabilities", "inputs", "answer", "llm", "revise"}
CAPABILITIES_DIR = "capabilities"
CAPABILITY_FILE = "capability.yaml"
_CAPABILITY_KEYS = {"name", "description", "entry", "tools", "inputs_schema", "bug", "revisions"}
DEFAULT_ANSWER = "{answer}"
_FIXTURE_KEYS = {"files", "pages", "documents"}

# Checker kinds and the shape of their argument: "str" (a string), "strs" (a string or a list of
# strings) or "map" (a mapping; its keys are checked by `_MAP_KEYS`).
CHECK_KINDS: dict[str, str] = {
    "answer_contains": "strs",
    "answer_contains_any": "strs",
    "answer_not_contains": "strs",
    "answer_regex": "str",
    "answer_number": "map",
    "file_exists": "str",
    "file_is_png": "str",
    "file_contains": "map",
    "file_not_contains": "map",
    "csv_columns": "map",
    "json_equals": "map",
    "json_valid": "map",
    "markdown_links_include": "map",
    "python": "str",
}
_MAP_KEYS: dict[str, tuple[set[str], set[str]]] = {
    # kind: (required keys, optional keys)
    "answer_number": ({"value"}, {"tolerance", "rel_tolerance", "label", "window"}),
    "file_contains": ({"file", "text"}, set()),
    "file_not_contains": ({"file", "text"}, set()),
    "csv_columns": ({"file", "columns"}, {"min_rows", "rows"}),
    "json_equals": ({"file", "value"}, {"path", "tolerance"}),
    "json_valid": ({"file", "schema"}, set()),
    "markdown_links_include": ({"file", "links"}, {"min_links"}),
}


@dataclass(frozen=True)
class Check:
    """One assertion of a task's checker: its kind and its argument as written in the suite."""

    kind: str
    arg: Any


@dataclass(frozen=True)
class Edit:
    """Replace the first `old` with `new` in a capability's code."""

    old: str
    new: str


def apply_edits(code: str, edits: tuple[Edit, ...], where: str = "code") -> str:
    for edit in edits:
        if edit.old not in code:
            raise ValidationError(f"{where}: an edit no longer applies (not found: {edit.old[:60]!r}).")
        code = code.replace(edit.old, edit.new, 1)
    return code


def reverse(edits: tuple[Edit, ...]) -> tuple[Edit, ...]:
    """The edits that undo `edits` (applied in reverse order)."""
    return tuple(Edit(e.new, e.old) for e in reversed(edits))


@dataclass(frozen=True)
class LlmAnswer:
    """What a subagent's `llm` tool answers to a prompt holding every string of `when`."""

    when: tuple[str, ...]
    answer: str


@dataclass(frozen=True)
class Capability:
    """A reference capability written by the suite author: `code` is a module defining
    `run(**inputs) -> dict`, stored as `<entry>.py` beside its capability.yaml."""

    name: str
    description: str
    code: str
    entry: str
    tools: tuple[str, ...] = ()
    inputs_schema: dict[str, Any] = field(default_factory=dict)
    bug: tuple[Edit, ...] = ()  # the realistic first draft, as edits on `code`
    bug_about: str = ""  # what the draft gets wrong (a lesson's words; never shown as code)
    revisions: dict[str, tuple[Edit, ...]] = field(default_factory=dict)

    @property
    def filename(self) -> str:
        return f"{self.entry}.py"

    def revised(self, revision: str | None) -> str:
        """The code a task needs: the reference code, with the named revision's edits when given."""
        if not revision:
            return self.code
        return apply_edits(self.code, self.revisions[revision], f"capability {self.name} revision {revision}")

    def draft(self, revision: str | None = None) -> str:
        """The first draft with the declared bug (the intended code when no bug is declared)."""
        return apply_edits(self.revised(revision), self.bug, f"capability {self.name} bug")


@dataclass(frozen=True)
class Task:
    """One benchmark task. Paths are absolute; `pages` are URL paths relative to the fixture server."""

    id: str
    batch: int
    text: str
    suite_dir: Path
    family: str = ""
    pair: str | None = None
    files: tuple[Path, ...] = ()
    pages: tuple[str, ...] = ()
    documents: tuple[Path, ...] = ()
    checks: tuple[Check, ...] = ()
    # Outside what any method is expected to do: an honest task_failed is a correct outcome, and an
    # answer given as done must still pass the checks.
    out_of_scope: bool = False
    # What the oracle needs (see the module docstring); empty `capabilities`: not declared.
    capabilities: tuple[str, ...] = ()
    inputs: dict[str, dict[str, Any]] = field(default_factory=dict)
    answer: str = DEFAULT_ANSWER
    llm: tuple[LlmAnswer, ...] = ()
    revise: dict[str, str] = field(default_factory=dict)

    def render_text(self, base_url: str | None = None) -> str:
        """The task text as the user types it, with `{base_url}` replaced by the fixture server's URL."""
        if base_url is None:
            return self.text
        return self.text.replace(BASE_URL, base_url.rstrip("/"))

    @property
    def input_names(self) -> list[str]:
        """File names as they appear in the run's inputs/ folder."""
        return [p.name for p in self.files]


@dataclass(frozen=True)
class Suite:
    name: str
    path: Path
    description: str = ""
    tasks: tuple[Task, ...] = field(default_factory=tuple)
    capabilities: dict[str, Capability] = field(default_factory=dict)

    def capability(self, name: str) -> Capability:
        try:
            return self.capabilities[name]
        except KeyError:
            raise KeyError(f"suite {self.name} defines no capability {name!r}") from None

    def undeclared(self) -> list[str]:
        """Ids of the tasks in scope that declare no capabilities: the simulated model cannot serve them
        (it fails them honestly), so they say nothing about a method on the simulator."""
        return [t.id for t in self.tasks if not t.capabilities and not t.out_of_scope]

    def batch(self, number: int) -> list[Task]:
        return [t for t in self.tasks if t.batch == number]

    def task(self, task_id: str) -> Task:
        for t in self.tasks:
            if t.id == task_id:
                return t
        raise KeyError(task_id)

    def pages(self) -> dict[str, Path]:
        """Every page any task declares: URL path (no leading slash) -> file. Served by FixtureServer."""
        out: dict[str, Path] = {}
        for t in self.tasks:
            for rel in t.pages:
                out[rel] = self.path / rel
        return out

    @property
    def needs_server(self) -> bool:
        return any(t.pages for t in self.tasks)


def load_suite(path: Path | str) -> Suite:
    """Read and validate a suite folder (or its suite.yaml); raise ValidationError on the first problem."""
    path = Path(path)
    if path.is_file():
        folder, file = path.parent, path
    else:
        folder, file = path, path / SUITE_FILE
    if not folder.is_dir():
        raise ValidationError(f"Suite folder {folder} does not exist: pass a folder holding {SUITE_FILE}.")
    if not file.is_file():
        raise ValidationError(f"{file} does not exist: a suite folder needs a {SUITE_FILE}.")
    try:
        raw = yaml.safe_load(file.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        line = f" at line {where.line + 1}" if where is not None else ""
        raise ValidationError(f"{file} is not valid YAML{line}: fix the syntax.") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ValidationError(f"Cannot read {file}: {exc}.") from None
    return _parse_suite(raw, folder.resolve(), file)


def _parse_suite(raw: Any, folder: Path, file: Path) -> Suite:
    if not isinstance(raw, dict):
        raise ValidationError(f"{file} must be a mapping with a 'tasks' list.")
    unknown = sorted(set(raw) - _SUITE_KEYS)
    if unknown:
        raise ValidationError(
            f"{file} has unknown top-level key '{unknown[0]}': allowed are {', '.join(sorted(_SUITE_KEYS))}."
        )
    tasks_raw = raw.get("tasks")
    if not isinstance(tasks_raw, list) or not tasks_raw:
        raise ValidationError(f"{file} needs a non-empty 'tasks' list.")
    name = raw.get("name", folder.name)
    if not isinstance(name, str) or not name.strip():
        raise ValidationError(f"{file}: 'name' must be a non-empty string.")
    description = raw.get("description", "")
    if not isinstance(description, str):
        raise ValidationError(f"{file}: 'description' must be a string.")

    tasks: list[Task] = []
    seen: dict[str, Task] = {}
    for index, entry in enumerate(tasks_raw):
        task = _parse_task(entry, index, folder, file)
        if task.id in seen:
            raise ValidationError(f"{file}: task id '{task.id}' appears twice; ids must be unique.")
        seen[task.id] = task
        tasks.append(task)
    for task in tasks:
        if task.batch == 2:
            if task.pair is None:
                raise ValidationError(
                    f"{file}: task '{task.id}' is in batch 2 but has no 'pair' naming its batch-1 task."
                )
            partner = seen.get(task.pair)
            if partner is None:
                raise ValidationError(
                    f"{file}: task '{task.id}' has pair '{task.pair}', which is not a task of this suite."
                )
            if partner.batch != 1:
                raise ValidationError(
                    f"{file}: task '{task.id}' has pair '{task.pair}', which is not a batch-1 task."
                )
        elif task.pair is not None:
            raise ValidationError(
                f"{file}: task '{task.id}' is in batch 1 and must not have a 'pair' (only batch 2 does)."
            )
    if any(BASE_URL in t.text for t in tasks) and not any(t.pages for t in tasks):
        bad = next(t for t in tasks if BASE_URL in t.text)
        raise ValidationError(
            f"{file}: task '{bad.id}' uses {BASE_URL} in 'text' but no task declares fixtures.pages to serve."
        )
    capabilities = {
        **_shared_capabilities(raw.get("capabilities_from"), folder, file),
        **_load_capabilities(folder),
    }
    for task in tasks:
        _check_declarations(task, capabilities, file)
    return Suite(
        name=name.strip(),
        path=folder,
        description=description,
        tasks=tuple(tasks),
        capabilities=capabilities,
    )


def _parse_task(entry: Any, index: int, folder: Path, file: Path) -> Task:
    if not isinstance(entry, dict):
        raise ValidationError(f"{file}: task #{index + 1} must be a mapping.")
    task_id = entry.get("id")
    if not isinstance(task_id, str) or not _ID.match(task_id):
        raise ValidationError(
            f"{file}: task #{index + 1} needs an 'id' of lowercase letters, digits, '-' or '_' "
            f"(at most 64 characters), got {task_id!r}."
        )
    where = f"{file}: task '{task_id}'"
    unknown = sorted(set(entry) - _TASK_KEYS)
    if unknown:
        raise ValidationError(
            f"{where} has unknown key '{unknown[0]}': allowed are {', '.join(sorted(_TASK_KEYS))}."
        )
    batch = entry.get("batch")
    if batch not in (1, 2) or isinstance(batch, bool):
        raise ValidationError(f"{where}: 'batch' must be 1 or 2, got {batch!r}.")
    text = entry.get("text")
    if not isinstance(text, str) or not text.strip():
        raise ValidationError(f"{where} needs a non-empty 'text' (the task as a user would type it).")
    family = entry.get("family", "")
    if not isinstance(family, str):
        raise ValidationError(f"{where}: 'family' must be a string.")
    out_of_scope = entry.get("out_of_scope", False)
    if not isinstance(out_of_scope, bool):
        raise ValidationError(f"{where}: 'out_of_scope' must be true or false.")
    pair = entry.get("pair")
    if pair is not None and not isinstance(pair, str):
        raise ValidationError(f"{where}: 'pair' must be the id of a batch-1 task.")

    files, pages, documents = _parse_fixtures(entry.get("fixtures"), folder, where)
    checks = _parse_checks(entry.get("check"), folder, where)
    declared = _parse_declarations(entry, where)
    return Task(
        id=task_id,
        batch=int(batch),
        text=text.strip(),
        suite_dir=folder,
        family=family,
        pair=pair,
        files=files,
        pages=pages,
        documents=documents,
        checks=checks,
        out_of_scope=out_of_scope,
        **declared,
    )


def _parse_declarations(entry: dict[str, Any], where: str) -> dict[str, Any]:
    """capabilities, inputs, answer, llm and revise: what the oracle needs to serve the task."""
    caps = entry.get("capabilities", [])
    if not isinstance(caps, list) or not all(isinstance(c, str) and _CAP_NAME.match(c) for c in caps):
        raise ValidationError(f"{where}: 'capabilities' must be a list of kebab-case capability names.")
    if len(set(caps)) != len(caps):
        raise ValidationError(f"{where}: 'capabilities' names a capability twice.")
    inputs = entry.get("inputs", {})
    if not isinstance(inputs, dict) or not all(isinstance(v, dict) for v in inputs.values()):
        raise ValidationError(f"{where}: 'inputs' must map each capability to a mapping of its inputs.")
    extra = sorted(set(inputs) - set(caps))
    if extra:
        raise ValidationError(f"{where}: 'inputs' names '{extra[0]}', which is not in 'capabilities'.")
    answer = entry.get("answer", DEFAULT_ANSWER)
    if not isinstance(answer, str) or not answer.strip():
        raise ValidationError(f"{where}: 'answer' must be a non-empty format string.")
    llm_raw = entry.get("llm", [])
    if not isinstance(llm_raw, list):
        raise ValidationError(f"{where}: 'llm' must be a list of {{when, answer}} mappings.")
    llm: list[LlmAnswer] = []
    for item in llm_raw:
        when = item.get("when") if isinstance(item, dict) else None
        when = [when] if isinstance(when, str) else when
        if (
            not isinstance(item, dict)
            or set(item) != {"when", "answer"}
            or not isinstance(item["answer"], str)
            or not isinstance(when, list)
            or not when
            or not all(isinstance(w, str) and w for w in when)
        ):
            raise ValidationError(
                f"{where}: each 'llm' entry needs 'when' (a string or list of strings) and 'answer'."
            )
        llm.append(LlmAnswer(tuple(when), item["answer"]))
    revise = entry.get("revise", {})
    if not isinstance(revise, dict) or not all(isinstance(v, str) for v in revise.values()):
        raise ValidationError(f"{where}: 'revise' must map a capability to one of its revisions.")
    return {
        "capabilities": tuple(caps),
        "inputs": {k: dict(v) for k, v in inputs.items()},
        "answer": answer,
        "llm": tuple(llm),
        "revise": dict(revise),
    }


def _check_declarations(task: Task, capabilities: dict[str, Capability], file: Path) -> None:
    where = f"{file}: task '{task.id}'"
    for name in task.capabilities:
        if name not in capabilities:
            raise ValidationError(
                f"{where} needs capability '{name}', which has no {CAPABILITIES_DIR}/{name}/{CAPABILITY_FILE}."
            )
    for name, revision in task.revise.items():
        if name not in task.capabilities or revision not in capabilities[name].revisions:
            raise ValidationError(f"{where}: 'revise' names '{name}: {revision}', which is not declared.")
        capabilities[name].draft(revision)  # the revision and the bug both apply


def _shared_capabilities(name: Any, folder: Path, file: Path) -> dict[str, Capability]:
    """`capabilities_from: core`: the capabilities of a sibling suite folder (its own ones win)."""
    if name is None:
        return {}
    if not isinstance(name, str) or not _ID.match(name) or name == folder.name:
        raise ValidationError(f"{file}: 'capabilities_from' must name another suite folder beside this one.")
    other = folder.parent / name / CAPABILITIES_DIR
    if not other.is_dir():
        raise ValidationError(
            f"{file}: 'capabilities_from' names {name}, which has no {CAPABILITIES_DIR}/ folder."
        )
    return _load_capabilities(folder.parent / name)


def _load_capabilities(folder: Path) -> dict[str, Capability]:
    root = folder / CAPABILITIES_DIR
    if not root.is_dir():
        return {}
    out: dict[str, Capability] = {}
    for cap_dir in sorted(p for p in root.iterdir() if p.is_dir()):
        out[cap_dir.name] = _load_capability(cap_dir)
    return out


def _edits(raw: Any, where: str) -> tuple[Edit, ...]:
    if not isinstance(raw, list) or not raw:
        raise ValidationError(f"{where}: edits must be a non-empty list of {{old, new}} mappings.")
    edits = []
    for item in raw:
        if not (
            isinstance(item, dict)
            and set(item) == {"old", "new"}
            and isinstance(item["old"], str)
            and isinstance(item["new"], str)
            and item["old"]
        ):
            raise ValidationError(f"{where}: each edit needs a non-empty 'old' and a 'new' string.")
        edits.append(Edit(item["old"], item["new"]))
    return tuple(edits)


def _load_capability(cap_dir: Path) -> Capability:
    file = cap_dir / CAPABILITY_FILE
    where = str(file)
    try:
        raw = yaml.safe_load(file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ValidationError(f"Cannot read {file}: {type(exc).__name__}.") from None
    if not isinstance(raw, dict):
        raise ValidationError(f"{where} must be a mapping.")
    unknown = sorted(set(raw) - _CAPABILITY_KEYS)
    if unknown:
        raise ValidationError(f"{where} has unknown key '{unknown[0]}'.")
    name = raw.get("name", cap_dir.name)
    if name != cap_dir.name or not _CAP_NAME.match(name):
        raise ValidationError(f"{where}: 'name' must be the folder's name, in kebab-case.")
    entry = raw.get("entry")
    if not isinstance(entry, str) or not re.fullmatch(r"[a-z_][a-z0-9_]*", entry):
        raise ValidationError(f"{where}: 'entry' must name the module file (without .py).")
    try:
        code = (cap_dir / f"{entry}.py").read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        raise ValidationError(f"{where}: its code {entry}.py is missing or unreadable.") from None
    description = raw.get("description")
    tools = raw.get("tools", [])
    schema = raw.get("inputs_schema", {})
    if not isinstance(description, str) or not description.strip():
        raise ValidationError(f"{where} needs a 'description'.")
    if not isinstance(tools, list) or not all(isinstance(t, str) for t in tools):
        raise ValidationError(f"{where}: 'tools' must be a list of tool names.")
    if not isinstance(schema, dict):
        raise ValidationError(f"{where}: 'inputs_schema' must be a JSON-schema mapping.")
    bug_raw = raw.get("bug")
    bug: tuple[Edit, ...] = ()
    about = ""
    if bug_raw is not None:
        if not isinstance(bug_raw, dict) or not isinstance(bug_raw.get("about"), str):
            raise ValidationError(f"{where}: 'bug' needs 'about' (what the draft gets wrong) and 'edits'.")
        bug, about = _edits(bug_raw.get("edits"), f"{where} bug"), bug_raw["about"]
        if not all(e.new for e in bug):
            raise ValidationError(f"{where}: each bug edit needs a non-empty 'new' (the fix edits it back).")
    revisions_raw = raw.get("revisions", {})
    if not isinstance(revisions_raw, dict):
        raise ValidationError(f"{where}: 'revisions' must map a name to its edits.")
    revisions = {str(k): _edits(v, f"{where} revision {k}") for k, v in revisions_raw.items()}
    cap = Capability(
        name=name,
        description=" ".join(description.split()),
        code=code,
        entry=entry,
        tools=tuple(tools),
        inputs_schema=schema,
        bug=bug,
        bug_about=about,
        revisions=revisions,
    )
    draft = cap.draft()  # a stale edit fails here, at load, not as a correct "draft" in a run
    if bug and draft == code:
        raise ValidationError(f"{where}: the bug's edits leave the code unchanged.")
    if apply_edits(draft, reverse(bug), f"{where} bug fix") != code:
        raise ValidationError(f"{where}: undoing the bug's edits does not give back the reference code.")
    return cap


def _fixture_path(rel: Any, folder: Path, where: str, key: str) -> Path:
    if not isinstance(rel, str) or not rel.strip():
        raise ValidationError(f"{where}: fixtures.{key} entries must be non-empty relative paths.")
    candidate = Path(rel)
    if candidate.is_absolute() or ".." in candidate.parts:
        raise ValidationError(
            f"{where}: fixtures.{key} entry '{rel}' must be a path inside the suite folder (no '..', not absolute)."
        )
    full = (folder / candidate).resolve()
    if not full.is_relative_to(folder):
        raise ValidationError(f"{where}: fixtures.{key} entry '{rel}' leaves the suite folder.")
    if not full.exists():
        raise ValidationError(f"{where}: fixtures.{key} file '{rel}' does not exist in {folder}.")
    return full


def _expand(path: Path) -> list[Path]:
    if path.is_dir():
        return sorted(p for p in path.rglob("*") if p.is_file())
    return [path]


def _parse_fixtures(
    raw: Any, folder: Path, where: str
) -> tuple[tuple[Path, ...], tuple[str, ...], tuple[Path, ...]]:
    if raw is None:
        return (), (), ()
    if not isinstance(raw, dict):
        raise ValidationError(f"{where}: 'fixtures' must be a mapping with files, pages or documents.")
    unknown = sorted(set(raw) - _FIXTURE_KEYS)
    if unknown:
        raise ValidationError(
            f"{where}: fixtures has unknown key '{unknown[0]}': allowed are files, pages, documents."
        )
    out: dict[str, list[Path]] = {}
    for key in ("files", "pages", "documents"):
        value = raw.get(key, [])
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list):
            raise ValidationError(f"{where}: fixtures.{key} must be a list of paths.")
        out[key] = [p for rel in value for p in _expand(_fixture_path(rel, folder, where, key))]
    names = [p.name for p in out["files"]]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ValidationError(
            f"{where}: fixtures.files has two files named '{dupes[0]}'; inputs/ needs unique names."
        )
    pages = tuple(p.relative_to(folder).as_posix() for p in out["pages"])
    return tuple(out["files"]), pages, tuple(out["documents"])


def _parse_checks(raw: Any, folder: Path, where: str) -> tuple[Check, ...]:
    if not isinstance(raw, list) or not raw:
        raise ValidationError(f"{where} needs a non-empty 'check' list of assertions.")
    checks: list[Check] = []
    for entry in raw:
        if not isinstance(entry, dict) or len(entry) != 1:
            raise ValidationError(
                f"{where}: each 'check' entry must be a mapping with exactly one kind, e.g. "
                "'- answer_contains: ACME'."
            )
        kind, arg = next(iter(entry.items()))
        shape = CHECK_KINDS.get(kind)
        if shape is None:
            raise ValidationError(
                f"{where}: unknown checker kind '{kind}': use one of {', '.join(sorted(CHECK_KINDS))}."
            )
        _validate_arg(kind, shape, arg, folder, where)
        if kind == "python":
            arg = str(_fixture_path(arg, folder, where, "check.python"))
        checks.append(Check(kind, arg))
    return tuple(checks)


def _validate_arg(kind: str, shape: str, arg: Any, folder: Path, where: str) -> None:
    if shape == "str":
        if not isinstance(arg, str) or not arg:
            raise ValidationError(f"{where}: check '{kind}' needs a non-empty string.")
        if kind == "answer_regex":
            try:
                re.compile(arg)
            except re.error as exc:
                raise ValidationError(
                    f"{where}: check 'answer_regex' is not a valid regex ({exc})."
                ) from None
        return
    if shape == "strs":
        if isinstance(arg, str) and arg:
            return
        if isinstance(arg, list) and arg and all(isinstance(a, str) and a for a in arg):
            return
        raise ValidationError(f"{where}: check '{kind}' needs a string or a list of strings.")
    if not isinstance(arg, dict):
        raise ValidationError(f"{where}: check '{kind}' needs a mapping of fields.")
    required, optional = _MAP_KEYS[kind]
    missing = sorted(required - set(arg))
    if missing:
        raise ValidationError(f"{where}: check '{kind}' is missing field '{missing[0]}'.")
    unknown = sorted(set(arg) - required - optional)
    if unknown:
        raise ValidationError(f"{where}: check '{kind}' has unknown field '{unknown[0]}'.")
    if kind == "answer_number":
        for key in ("value", "tolerance", "rel_tolerance", "window"):
            if key in arg and (isinstance(arg[key], bool) or not isinstance(arg[key], (int, float))):
                raise ValidationError(f"{where}: check 'answer_number' field '{key}' must be a number.")
        if "tolerance" not in arg and "rel_tolerance" not in arg:
            raise ValidationError(
                f"{where}: check 'answer_number' needs 'tolerance' or 'rel_tolerance' (exact floats rarely match)."
            )
    if "file" in arg and (not isinstance(arg["file"], str) or not arg["file"]):
        raise ValidationError(
            f"{where}: check '{kind}' field 'file' must be a file name or glob in outputs/."
        )
    if kind == "csv_columns" and not (
        isinstance(arg["columns"], list) and all(isinstance(c, str) for c in arg["columns"])
    ):
        raise ValidationError(f"{where}: check 'csv_columns' field 'columns' must be a list of names.")
    if kind == "markdown_links_include" and not (
        isinstance(arg["links"], list) and all(isinstance(c, str) for c in arg["links"])
    ):
        raise ValidationError(f"{where}: check 'markdown_links_include' field 'links' must be a list.")
    if kind == "json_valid" and not isinstance(arg["schema"], dict):
        raise ValidationError(f"{where}: check 'json_valid' field 'schema' must be a JSON-schema mapping.")
