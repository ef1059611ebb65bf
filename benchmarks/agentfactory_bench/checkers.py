"""Checkers: decide whether a run's answer and output files solve a suite task.

Declarative assertions run on the host and only read files (stdlib parsers, no code from the run is
imported). A `python` check is user code, and checks of generated programs execute the run's output,
so it runs in the sandbox: `build_python_check` lays out the files of an ExecutionRequest and
`check_task` executes it through `agentfactory.sandbox` when a python check is present.
"""

from __future__ import annotations

import csv
import fnmatch
import json
import math
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from agentfactory_bench.suite import Check, Task

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
_NUMBER = re.compile(r"(?<![\w.])[-−]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:[eE][-+]?\d+)?(\s*%)?")
_MD_LINK = re.compile(r"\[([^\]]*)\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_BARE_URL = re.compile(r"(?:https?://|\{base_url\})[^\s)>\]]+")
# The fixture server listens on a loopback port that changes every run. Answers and output files are
# read with every loopback origin replaced by this placeholder, so no port digit can reach a check.
LOCAL_ORIGIN = "{base_url}"
_LOCAL_ORIGIN = re.compile(
    r"(?:https?://)?(?:127\.\d{1,3}\.\d{1,3}\.\d{1,3}|localhost|\[::1\]):\d{1,5}", re.I
)
_ANY_URL = re.compile(r"(?:https?://|www\.)[^\s)>\]]+|\{base_url\}[^\s)>\]]*", re.I)
# Between a number and the label it precedes ("28.3% annualised volatility") only words, spaces and
# unit signs may stand: a comma, semicolon, sentence end or line break means the number belongs to
# something else ("slope 4.2, intercept 49").
_BEFORE_LABEL = re.compile(r"[^,;:.\n|]*")


@dataclass
class CheckResult:
    passed: bool
    details: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class PythonCheckFiles:
    """The files of a python check laid out for the sandbox: `ExecutionRequest(code_dir, entry, inputs,
    workdir=workdir)`. The entry's `run(answer)` returns {"passed": bool, "message": str}."""

    code_dir: Path
    entry: str
    inputs: dict[str, Any]
    workdir: Path


# A python check runner takes the laid-out files and returns (passed, message); the default one uses
# the configured sandbox backend.
PythonRunner = Callable[[PythonCheckFiles], tuple[bool, str]]


def check_task(
    task: Task,
    answer: str,
    outputs_dir: Path,
    *,
    python_runner: PythonRunner | None = None,
    scratch_dir: Path | None = None,
) -> CheckResult:
    """Run every check of `task`; passed only if all pass. `details` has one line per check."""
    outputs_dir = Path(outputs_dir)
    answer = local_origins_hidden(answer or "")
    result = CheckResult(passed=True)
    for check in task.checks:
        try:
            if check.kind == "python":
                ok, why = _python_check(task, check, answer, outputs_dir, python_runner, scratch_dir)
            else:
                ok, why = _DECLARATIVE[check.kind](check.arg, answer, outputs_dir)
        except Exception as exc:  # a malformed output file must fail the check, not crash the bench
            ok, why = False, f"error while checking: {type(exc).__name__}: {exc}"
        result.details.append(f"{'ok' if ok else 'FAIL'} {check.kind}: {why}")
        result.passed = result.passed and ok
    return result


# ---- answer checks ---------------------------------------------------------------------------------


def local_origins_hidden(text: str) -> str:
    """`text` with every loopback origin (scheme, host and port) replaced by `{base_url}`."""
    return _LOCAL_ORIGIN.sub(LOCAL_ORIGIN, text)


def _as_list(arg: str | list[str]) -> list[str]:
    return [arg] if isinstance(arg, str) else list(arg)


def _answer_contains(arg: Any, answer: str, _: Path) -> tuple[bool, str]:
    low = answer.lower()
    missing = [s for s in _as_list(arg) if s.lower() not in low]
    return (not missing, f"missing {missing}" if missing else "all present")


def _answer_contains_any(arg: Any, answer: str, _: Path) -> tuple[bool, str]:
    low = answer.lower()
    found = [s for s in _as_list(arg) if s.lower() in low]
    return (bool(found), f"found {found[0]!r}" if found else f"none of {_as_list(arg)}")


def _answer_not_contains(arg: Any, answer: str, _: Path) -> tuple[bool, str]:
    low = answer.lower()
    found = [s for s in _as_list(arg) if s.lower() in low]
    return (not found, f"must not contain {found}" if found else "none present")


def _answer_regex(arg: str, answer: str, _: Path) -> tuple[bool, str]:
    ok = re.search(arg, answer, re.I | re.S) is not None
    return ok, f"/{arg}/ {'matches' if ok else 'does not match'}"


def numbers_in(text: str) -> list[tuple[int, list[float]]]:
    """(position, candidate values) of each number in `text`; '23.4%' gives both 23.4 and 0.234."""
    out: list[tuple[int, list[float]]] = []
    for m in _NUMBER.finditer(text):
        raw = m.group(0).replace("−", "-").replace(",", "")
        pct = raw.rstrip().endswith("%")
        value = float(raw.rstrip(" %"))
        out.append((m.start(), [value, value / 100.0] if pct else [value]))
    return out


def _answer_number(arg: dict[str, Any], answer: str, _: Path) -> tuple[bool, str]:
    """The number nearest the label (after it, or before it in the same phrase) must match; without a
    label, any number of the answer. Numbers inside URLs never count."""
    expected = float(arg["value"])
    tol = max(float(arg.get("tolerance", 0.0)), abs(expected) * float(arg.get("rel_tolerance", 0.0)))
    text = _ANY_URL.sub(lambda m: " " * len(m.group(0)), answer)
    numbers = [
        (m.start(), m.end(), vals)
        for (_pos, vals), m in zip(numbers_in(text), _NUMBER.finditer(text), strict=True)
    ]
    label = arg.get("label")
    if label:
        window = int(arg.get("window", 60))
        labels = [(m.start(), m.end()) for m in re.finditer(label, text, re.I)]
        if not labels:
            return False, f"label /{label}/ not found in the answer"
        chosen = []
        for start, end in labels:
            after = [n for n in numbers if 0 <= n[0] - end <= window]
            before = [
                n
                for n in numbers
                if 0 <= start - n[1] <= window and _BEFORE_LABEL.fullmatch(text[n[1] : start])
            ]
            if after:
                chosen.append(min(after, key=lambda n: n[0] - end))
            if before:
                chosen.append(min(before, key=lambda n: start - n[1]))
        numbers = chosen
    for _start, _end, values in numbers:
        for v in values:
            if abs(v - expected) <= tol:
                return True, f"found {v:g} (expected {expected:g} ± {tol:g})"
    seen = [vals[0] for _s, _e, vals in numbers][:6]
    where = f" nearest /{label}/" if label else ""
    return False, f"no number{where} within {tol:g} of {expected:g} (saw {seen})"


# ---- file checks -----------------------------------------------------------------------------------


def _files(outputs_dir: Path, pattern: str) -> list[Path]:
    pattern = pattern.removeprefix("outputs/")
    if not outputs_dir.is_dir():
        return []
    found = []
    for p in sorted(outputs_dir.rglob("*")):
        rel = p.relative_to(outputs_dir).as_posix()
        if p.is_file() and not p.is_symlink() and fnmatch.fnmatch(rel, pattern):
            found.append(p)
    return found


def _one_file(outputs_dir: Path, pattern: str) -> Path | None:
    found = _files(outputs_dir, pattern)
    return found[0] if found else None


def _file_exists(arg: str, _: str, outputs_dir: Path) -> tuple[bool, str]:
    found = _files(outputs_dir, arg)
    return (bool(found), f"{found[0].name} exists" if found else f"no file matches outputs/{arg}")


def _file_is_png(arg: str, _: str, outputs_dir: Path) -> tuple[bool, str]:
    found = _files(outputs_dir, arg)
    if not found:
        return False, f"no file matches outputs/{arg}"
    for p in found:
        head = p.read_bytes()[:32]
        # A real chart is more than a header: require the magic, an IHDR chunk and a plausible size.
        if head.startswith(PNG_MAGIC) and head[12:16] == b"IHDR" and p.stat().st_size > 200:
            width, height = int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")
            if width >= 16 and height >= 16:
                return True, f"{p.name} is a {width}x{height} PNG"
    return False, f"{found[0].name} is not a valid PNG image"


def _read_text(outputs_dir: Path, pattern: str) -> tuple[Path | None, str]:
    path = _one_file(outputs_dir, pattern)
    if path is None:
        return None, ""
    return path, local_origins_hidden(path.read_text(encoding="utf-8", errors="replace"))


def _file_contains(arg: dict[str, Any], _: str, outputs_dir: Path) -> tuple[bool, str]:
    path, text = _read_text(outputs_dir, arg["file"])
    if path is None:
        return False, f"no file matches outputs/{arg['file']}"
    low = text.lower()
    missing = [s for s in _as_list(arg["text"]) if str(s).lower() not in low]
    return (not missing, f"{path.name} lacks {missing}" if missing else f"{path.name} has all")


def _file_not_contains(arg: dict[str, Any], _: str, outputs_dir: Path) -> tuple[bool, str]:
    path, text = _read_text(outputs_dir, arg["file"])
    if path is None:
        return False, f"no file matches outputs/{arg['file']}"
    low = text.lower()
    found = [s for s in _as_list(arg["text"]) if str(s).lower() in low]
    return (not found, f"{path.name} must not contain {found}" if found else f"{path.name} has none")


def _csv_columns(arg: dict[str, Any], _: str, outputs_dir: Path) -> tuple[bool, str]:
    path, text = _read_text(outputs_dir, arg["file"])
    if path is None:
        return False, f"no file matches outputs/{arg['file']}"
    rows = list(csv.reader(text.splitlines()))
    if not rows:
        return False, f"{path.name} is empty"
    header = [h.strip().lower() for h in rows[0]]
    missing = [c for c in arg["columns"] if c.lower() not in header]
    if missing:
        return False, f"{path.name} lacks columns {missing} (has {rows[0]})"
    body = [r for r in rows[1:] if any(cell.strip() for cell in r)]
    if "rows" in arg and len(body) != int(arg["rows"]):
        return False, f"{path.name} has {len(body)} data rows, expected {arg['rows']}"
    if len(body) < int(arg.get("min_rows", 1)):
        return False, f"{path.name} has {len(body)} data rows, expected at least {arg.get('min_rows', 1)}"
    return True, f"{path.name} has the columns and {len(body)} rows"


def _dig(data: Any, path: str | None) -> Any:
    if not path:
        return data
    for part in path.split("."):
        if isinstance(data, list):
            data = data[int(part)]
        elif isinstance(data, dict):
            data = data[part]
        else:
            raise KeyError(path)
    return data


def _same(a: Any, b: Any, tol: float) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return math.isclose(a, b, rel_tol=max(tol, 1e-9), abs_tol=tol)
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k], tol) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y, tol) for x, y in zip(a, b, strict=True))
    return a == b


def _load_json(outputs_dir: Path, pattern: str) -> tuple[Path | None, Any]:
    path, text = _read_text(outputs_dir, pattern)
    if path is None:
        return None, None
    return path, json.loads(text)


def _json_equals(arg: dict[str, Any], _: str, outputs_dir: Path) -> tuple[bool, str]:
    path, data = _load_json(outputs_dir, arg["file"])
    if path is None:
        return False, f"no file matches outputs/{arg['file']}"
    try:
        got = _dig(data, arg.get("path"))
    except (KeyError, IndexError, ValueError):
        return False, f"{path.name} has no value at '{arg.get('path')}'"
    ok = _same(got, arg["value"], float(arg.get("tolerance", 1e-6)))
    shown = json.dumps(got)[:120]
    return ok, f"{path.name}{'' if not arg.get('path') else ':' + arg['path']} = {shown}"


def _json_valid(arg: dict[str, Any], _: str, outputs_dir: Path) -> tuple[bool, str]:
    import jsonschema

    path, data = _load_json(outputs_dir, arg["file"])
    if path is None:
        return False, f"no file matches outputs/{arg['file']}"
    errors = sorted(jsonschema.Draft202012Validator(arg["schema"]).iter_errors(data), key=str)
    if errors:
        return False, f"{path.name} does not match the schema: {errors[0].message}"
    return True, f"{path.name} matches the schema"


def markdown_links(text: str) -> list[tuple[str, str]]:
    """(text, url) of every markdown link, then bare URLs not already inside one."""
    links = [(t.strip(), u.strip()) for t, u in _MD_LINK.findall(text)]
    known = {u for _t, u in links}
    links += [("", u) for u in _BARE_URL.findall(text) if u not in known]
    return links


def _link_matches(want: str, text: str, url: str) -> bool:
    want = want.replace("{base_url}", "").strip()
    if want.startswith(("http://", "https://")):
        return url.rstrip("/") == want.rstrip("/")
    if want.startswith("/"):
        # The fixture server's port changes every run, so suites name local links by their path.
        return urlsplit(url).path.rstrip("/").endswith(want.rstrip("/")) and bool(want.strip("/"))
    return want.lower() == text.lower() or want.lower() in text.lower()


def _markdown_links_include(arg: dict[str, Any], _: str, outputs_dir: Path) -> tuple[bool, str]:
    path, text = _read_text(outputs_dir, arg["file"])
    if path is None:
        return False, f"no file matches outputs/{arg['file']}"
    links = markdown_links(text)
    missing = [w for w in arg["links"] if not any(_link_matches(w, t, u) for t, u in links)]
    if missing:
        return False, f"{path.name} lacks links {missing[:3]}{'…' if len(missing) > 3 else ''}"
    minimum = int(arg.get("min_links", 0))
    if len(links) < minimum:
        return False, f"{path.name} has {len(links)} links, expected at least {minimum}"
    return True, f"{path.name} has all {len(arg['links'])} links ({len(links)} in all)"


_DECLARATIVE: dict[str, Callable[[Any, str, Path], tuple[bool, str]]] = {
    "answer_contains": _answer_contains,
    "answer_contains_any": _answer_contains_any,
    "answer_not_contains": _answer_not_contains,
    "answer_regex": _answer_regex,
    "answer_number": _answer_number,
    "file_exists": _file_exists,
    "file_is_png": _file_is_png,
    "file_contains": _file_contains,
    "file_not_contains": _file_not_contains,
    "csv_columns": _csv_columns,
    "json_equals": _json_equals,
    "json_valid": _json_valid,
    "markdown_links_include": _markdown_links_include,
}


def declarative_check(check: Check, answer: str, outputs_dir: Path) -> tuple[bool, str]:
    """(passed, why) of one host-side check; a check that raises fails, as `check_task` counts it."""
    try:
        return _DECLARATIVE[check.kind](check.arg, local_origins_hidden(answer), Path(outputs_dir))
    except Exception as exc:
        return False, f"error while checking: {type(exc).__name__}: {exc}"


# ---- python checks (in the sandbox) ---------------------------------------------------------------

CHECK_ENTRY = "suite_check_entry"  # a module name, as ExecutionRequest.entry expects
CHECK_MODULE = "suite_check.py"
_ENTRY_SOURCE = '''"""Runs a suite's python check: check(answer, outputs_dir, fixtures_dir) -> (bool, str)."""
import importlib.util
from pathlib import Path


def run(answer: str) -> dict:
    spec = importlib.util.spec_from_file_location("suite_check", Path(__file__).with_name("suite_check.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    outcome = module.check(answer, Path("inputs/outputs"), Path("inputs/fixtures"))
    passed, message = (outcome, "") if isinstance(outcome, bool) else outcome
    return {"passed": bool(passed), "message": str(message)[:2000]}
'''


def build_python_check(
    task: Task, check_file: Path, answer: str, outputs_dir: Path, dest: Path
) -> PythonCheckFiles:
    """Lay out a python check under `dest`: code/ (entry + the check) and work/inputs/ holding fixtures/
    (the task's files) and outputs/ (a copy of the run's outputs). The sandbox shows work/inputs/
    read-only, so the check reads both and cannot alter the run's outputs."""
    dest = Path(dest)
    code_dir, workdir = dest / "code", dest / "work"
    code_dir.mkdir(parents=True, exist_ok=True)
    (code_dir / f"{CHECK_ENTRY}.py").write_text(_ENTRY_SOURCE, encoding="utf-8")
    shutil.copyfile(check_file, code_dir / CHECK_MODULE)
    fixtures, outputs = workdir / "inputs" / "fixtures", workdir / "inputs" / "outputs"
    fixtures.mkdir(parents=True, exist_ok=True)
    for f in task.files:
        shutil.copyfile(f, fixtures / f.name)
    if Path(outputs_dir).is_dir():
        # Symlinks are dropped: a run's output must not point the check at files outside it.
        shutil.copytree(outputs_dir, outputs, ignore=_links, dirs_exist_ok=True)
    else:
        outputs.mkdir()
    return PythonCheckFiles(code_dir, CHECK_ENTRY, {"answer": answer}, workdir)


def _links(folder: str, names: list[str]) -> list[str]:
    return [n for n in names if (Path(folder) / n).is_symlink()]


def sandbox_runner(settings: Any = None, backend: Any = None) -> PythonRunner:
    """A PythonRunner over the configured sandbox backend (docker by default, as settings say), or over
    `backend` when given (a caller that already holds one, like the bench harness; it stays open)."""

    def run(files: PythonCheckFiles) -> tuple[bool, str]:
        from agentfactory.config import load_settings
        from agentfactory.sandbox import ExecutionRequest, get_backend

        settings_ = settings or load_settings()
        runner = backend or get_backend(settings_.sandbox)
        try:
            outcome = runner.execute(
                ExecutionRequest(
                    files.code_dir,
                    files.entry,
                    files.inputs,
                    workdir=files.workdir,
                    timeout_s=settings_.sandbox.timeout_s,
                )
            )
        finally:
            if backend is None:
                runner.close()
        return interpret_execution(outcome)

    return run


def interpret_execution(outcome: Any) -> tuple[bool, str]:
    """(passed, message) from a sandbox execution result of the check entry."""
    result = getattr(outcome, "result", None)
    if isinstance(result, dict) and "passed" in result:
        return bool(result["passed"]), str(result.get("message", ""))
    status = getattr(outcome, "status", "unknown")
    error = getattr(outcome, "error", None) or {}
    message = error.get("message", "") if isinstance(error, dict) else str(error)
    message = message or getattr(outcome, "stderr", "") or ""
    return False, f"the check did not complete (status {status}): {str(message).strip()[-300:]}"


def _python_check(
    task: Task,
    check: Check,
    answer: str,
    outputs_dir: Path,
    runner: PythonRunner | None,
    scratch_dir: Path | None,
) -> tuple[bool, str]:
    import tempfile

    runner = runner or sandbox_runner()
    with tempfile.TemporaryDirectory(dir=scratch_dir, prefix="af-check-") as tmp:
        files = build_python_check(task, Path(check.arg), answer, outputs_dir, Path(tmp))
        return runner(files)
