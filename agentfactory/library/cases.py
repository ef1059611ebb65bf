"""Regression cases (`cases.jsonl`): parsing, validation and the pure check of one result against a case.

A case is `{"inputs": {...}, "expected": {...}}` at least; `expected` keys must equal the output's values
(floats within a relative 1e-6, or the case's `tolerance`; NaN equals NaN). `checks` adds richer
conditions: JSON types of keys, keys that must be present, files the run must produce, and pins: the
content of output files (`file_pins`: size, sha256, and for text its line count and first line) and a
structural summary of values too large to store (`summaries`: type, length, keys). `check_case` never
runs anything: the caller (the regression gate) runs the subagent in the sandbox and hands the result
and the facts of its output files here.
"""

from __future__ import annotations

import json
import math
from dataclasses import field
from typing import Any

from agentfactory.errors import ValidationError
from agentfactory.records import record

MAX_CASES = 1000
# Lists and maps nested deeper than this in a case, a schema or a frontmatter are refused when read, so
# every later recursive pass (comparison, json.dumps, rendering) stays far below the recursion limit.
MAX_NESTING = 64
JSON_TYPES = ("string", "integer", "number", "boolean", "array", "object", "null")
_CASE_KEYS = {"inputs", "expected", "tolerance", "checks", "name", "description", "run_id"}
_CHECK_KEYS = {"types", "keys", "files", "file_pins", "summaries"}
_PIN_KEYS = {"size", "sha256", "lines", "head", "kind", "text_sha256", "format", "pixels"}
_SUMMARY_KEYS = {"type", "length", "keys", "sha256", "digest"}


@record
class Case:
    inputs: dict[str, Any]
    expected: dict[str, Any] = field(default_factory=dict)
    tolerance: float | None = None  # relative (and, near zero, absolute) tolerance for floats
    checks: dict[str, Any] = field(default_factory=dict)  # {"types": {k: t}, "keys": [..], "files": [..]}
    name: str | None = None
    description: str | None = None
    run_id: str | None = None

    @classmethod
    def from_dict(cls, data: object, where: str = "case") -> Case:
        if not isinstance(data, dict):
            raise ValidationError(f"{where} must be a JSON object with 'inputs' (and usually 'expected').")
        unknown = set(data) - _CASE_KEYS
        if unknown:
            raise ValidationError(
                f"{where} has unknown key(s) {sorted(unknown)}; allowed: {sorted(_CASE_KEYS)}."
            )
        if not isinstance(data.get("inputs"), dict):
            raise ValidationError(f"{where} needs 'inputs' as a JSON object of the run() arguments.")
        expected = data.get("expected", {})
        if not isinstance(expected, dict):
            raise ValidationError(f"{where}: 'expected' must be a JSON object of output keys to values.")
        tol = data.get("tolerance")
        if tol is not None and (
            isinstance(tol, bool) or not isinstance(tol, int | float) or not math.isfinite(tol) or tol < 0
        ):
            raise ValidationError(f"{where}: 'tolerance' must be a non-negative number.")
        checks = data.get("checks", {})
        _validate_checks(checks, where)
        for key in ("name", "description", "run_id"):
            if data.get(key) is not None and not isinstance(data[key], str):
                raise ValidationError(f"{where}: '{key}' must be a string.")
        return cls(
            inputs=data["inputs"],
            expected=expected,
            tolerance=float(tol) if tol is not None else None,
            checks=checks,
            name=data.get("name"),
            description=data.get("description"),
            run_id=data.get("run_id"),
        )

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"inputs": self.inputs}
        if self.name is not None:
            out = {"name": self.name, **out}
        if self.expected:
            out["expected"] = self.expected
        if self.tolerance is not None:
            out["tolerance"] = self.tolerance
        if self.checks:
            out["checks"] = self.checks
        if self.description is not None:
            out["description"] = self.description
        if self.run_id is not None:
            out["run_id"] = self.run_id
        return out


def _validate_checks(checks: object, where: str) -> None:
    if not isinstance(checks, dict):
        raise ValidationError(f"{where}: 'checks' must be a JSON object with 'types', 'keys' or 'files'.")
    unknown = set(checks) - _CHECK_KEYS
    if unknown:
        raise ValidationError(f"{where}: unknown check(s) {sorted(unknown)}; allowed: {sorted(_CHECK_KEYS)}.")
    types = checks.get("types", {})
    if not isinstance(types, dict) or not all(
        isinstance(k, str) and v in JSON_TYPES for k, v in types.items()
    ):
        raise ValidationError(f"{where}: checks.types maps output keys to one of {', '.join(JSON_TYPES)}.")
    for key in ("keys", "files"):
        value = checks.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            raise ValidationError(f"{where}: checks.{key} must be a list of non-empty strings.")
    for path in [*checks.get("files", []), *checks.get("file_pins", {})]:
        parts = path.replace("\\", "/").split("/")
        if path.startswith(("/", "\\")) or ".." in parts or "\x00" in path:
            raise ValidationError(
                f"{where}: checks.files entry {path!r} must be a relative path inside the run."
            )
    pins = checks.get("file_pins", {})
    if not isinstance(pins, dict) or not all(
        isinstance(pin, dict)
        and set(pin) <= _PIN_KEYS
        and _count(pin.get("size"))
        and isinstance(pin.get("sha256"), str)
        and (pin.get("lines") is None or _count(pin["lines"]))
        and (pin.get("head") is None or isinstance(pin["head"], str))
        and pin.get("kind") in (None, "text", "image", "binary")
        and all(pin.get(k) is None or isinstance(pin[k], str) for k in ("text_sha256", "format", "pixels"))
        for pin in pins.values()
    ):
        raise ValidationError(
            f"{where}: checks.file_pins maps output files to "
            "{{size, sha256, lines?, head?, kind?, text_sha256?, format?, pixels?}}."
        )
    summaries = checks.get("summaries", {})
    if not isinstance(summaries, dict) or not all(
        isinstance(k, str)
        and isinstance(v, dict)
        and set(v) <= _SUMMARY_KEYS
        and v.get("type") in JSON_TYPES
        and (v.get("length") is None or _count(v["length"]))
        and (v.get("digest") is None or isinstance(v["digest"], str))
        and (
            v.get("keys") is None
            or (isinstance(v["keys"], list) and all(isinstance(x, str) for x in v["keys"]))
        )
        for k, v in summaries.items()
    ):
        raise ValidationError(
            f"{where}: checks.summaries maps output keys to {{type, length?, keys?, sha256?, digest?}}."
        )


def _count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def nesting_exceeds(value: Any, limit: int) -> bool:
    """Whether a decoded JSON/YAML value nests lists and maps deeper than `limit` (iterative)."""
    stack = [(value, 0)]
    seen = 0
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children = list(item.values())
        elif isinstance(item, list | tuple):
            children = list(item)
        else:
            continue
        if depth >= limit:
            return True
        seen += len(children)
        if seen > 10_000_000:  # YAML aliases can make a small text a huge graph
            return True
        stack.extend((c, depth + 1) for c in children)
    return False


def load_json(text: str, where: str) -> Any:
    """The one JSON reader for library files: a ValidationError sentence naming `where` for malformed or
    too deeply nested text (never RecursionError), and no NaN/Infinity tokens beyond what Python writes."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValidationError(f"{where} is not valid JSON ({exc.msg}).") from None
    except ValueError:  # an integer of thousands of digits (Python's conversion limit)
        raise ValidationError(f"{where} holds a number too large to read.") from None
    except (RecursionError, MemoryError):
        raise ValidationError(f"{where} is nested too deeply (over {MAX_NESTING} levels).") from None
    if nesting_exceeds(data, MAX_NESTING):
        raise ValidationError(f"{where} is nested too deeply (over {MAX_NESTING} levels).")
    return data


def parse_cases(text: str, where: str = "cases.jsonl") -> list[Case]:
    """Parse JSON Lines into cases; blank lines are allowed, anything else malformed is refused."""
    cases: list[Case] = []
    # Lines end at "\n" only: str.splitlines() would also split inside a JSON string holding U+2028,
    # U+2029 or U+0085, which JSON allows unescaped.
    for lineno, line in enumerate(text.split("\n"), 1):
        if not line.strip():
            continue
        data = load_json(line, f"{where} line {lineno}")
        cases.append(Case.from_dict(data, f"{where} line {lineno}"))
        if len(cases) > MAX_CASES:
            raise ValidationError(f"{where} has more than {MAX_CASES} cases.")
    return cases


def inputs_digest(inputs: Any) -> str:
    """The one digest of a subagent's inputs: sha256 of their canonical JSON (keys sorted, compact
    separators, UTF-8). Equal inputs give equal digests in the event log, the experience store and
    the cases. Compare a stored digest with `digest_matches`, which also reads the old form."""
    text = json.dumps(inputs, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return sha256_hex(text)


def sha256_hex(text: str) -> str:
    """sha256 of `text` as UTF-8 (lone surrogates kept), in hex."""
    import hashlib  # on first use: OpenSSL's bindings are 4 ms a run's start need not pay

    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


LEGACY_DIGEST_CHARS = 16


def legacy_inputs_digest(inputs: Any) -> str:
    """The digest event logs held before there was one: 16 hex of sha256 over ASCII JSON with the
    default separators. Kept only to read old workspaces (see `digest_matches`)."""
    text = json.dumps(inputs, sort_keys=True, default=str)
    return sha256_hex(text)[:LEGACY_DIGEST_CHARS]


def digest_matches(digest: Any, inputs: Any) -> bool:
    """Whether a stored digest, of either form (64 hex now, 16 hex in old event logs), is `inputs`'."""
    if not isinstance(digest, str) or not digest:
        return False
    if len(digest) == LEGACY_DIGEST_CHARS:
        return legacy_inputs_digest(inputs) == digest
    return inputs_digest(inputs) == digest


def dedupe_cases(cases: list[Case]) -> list[Case]:
    """The cases with one per distinct inputs, the first of each kept (stored cases before new ones)."""
    seen: set[str] = set()
    out = []
    for case in cases:
        digest = inputs_digest(case.inputs)
        if digest not in seen:
            seen.add(digest)
            out.append(case)
    return out


def dump_cases(cases: list[Case]) -> str:
    """The one writer of cases.jsonl: one case per line, line separators inside strings escaped."""
    lines = (json.dumps(c.to_dict(), ensure_ascii=False, sort_keys=False) for c in cases)
    return "".join(
        line.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029").replace("\x85", "\\u0085") + "\n"
        for line in lines
    )


@record(frozen=True)
class CaseResult:
    passed: bool
    failures: list[str]


def check_case(
    case: Case,
    result: dict[str, Any] | None,
    output_files: list[str],
    file_facts: dict[str, dict[str, Any]] | None = None,
) -> CaseResult:
    """Check one run's result (None when the run failed) and produced files against a case. Pure.

    `file_facts` maps produced files to what `file_facts` of the gate measured (size, sha256, lines, head);
    a case that pins file content fails when the facts are missing, never passes by name alone."""
    if result is None:
        return CaseResult(False, ["the run produced no result (it failed or timed out)"])
    if not isinstance(result, dict):
        return CaseResult(False, [f"the result is a {type(result).__name__}, not a JSON object"])
    failures: list[str] = []
    rel = case.tolerance if case.tolerance is not None else 1e-6
    absolute = case.tolerance if case.tolerance is not None else 1e-12
    for key, want in case.expected.items():
        if key not in result:
            failures.append(f"output key {key!r} is missing")
            continue
        problem = _compare(result[key], want, rel, absolute, key)
        if problem:
            failures.append(problem)
    for key in case.checks.get("keys", []):
        if key not in result:
            failures.append(f"output key {key!r} is missing")
    for key, kind in case.checks.get("types", {}).items():
        if key not in result:
            failures.append(f"output key {key!r} is missing (expected a {kind})")
        elif json_type(result[key]) != kind and not (
            kind == "number" and json_type(result[key]) == "integer"
        ):
            failures.append(f"output key {key!r} is a {json_type(result[key])}, expected a {kind}")
    for key, summary in case.checks.get("summaries", {}).items():
        if key not in result:
            failures.append(f"output key {key!r} is missing")
            continue
        problem = summary_differs(result[key], summary, key)
        if problem:
            failures.append(problem)
    produced = {_norm_path(p) for p in output_files}
    for path in case.checks.get("files", []):
        if _norm_path(path) not in produced:
            failures.append(f"file {path!r} was not produced")
    facts = {_norm_path(p): f for p, f in (file_facts or {}).items()}
    named = {_norm_path(p) for p in case.checks.get("files", [])}
    for path, pin in case.checks.get("file_pins", {}).items():
        if _norm_path(path) not in produced:
            if _norm_path(path) not in named:  # else already reported above
                failures.append(f"file {path!r} was not produced")
            continue
        problem = pin_differs(facts.get(_norm_path(path)), pin, path)
        if problem:
            failures.append(problem)
    return CaseResult(not failures, failures)


def summarise(value: Any) -> dict[str, Any]:
    """A structural summary of a value too large to store in a case: type, length, keys, content hash."""
    kind = json_type(value)
    out: dict[str, Any] = {"type": kind}
    if kind in ("array", "object", "string"):
        out["length"] = len(value)
    if kind == "object" and len(value) <= 200:
        out["keys"] = sorted(str(k) for k in value)
    out["sha256"] = sha256_hex(json.dumps(value, sort_keys=True, default=str, ensure_ascii=False))
    out["digest"] = value_digest(value)
    return out


def value_digest(value: Any) -> str:
    """A hash of `value`'s content that tolerates float noise: numbers are written with 9 significant
    digits (the gate's relative tolerance is 1e-6), NaN and infinities by name, keys sorted."""

    def canonical(item: Any) -> Any:
        if isinstance(item, bool) or item is None or isinstance(item, str):
            return item
        if isinstance(item, int | float):  # 2 and 2.0 are the same number, as in the gate's comparison
            return f"{float(item):.9g}" if math.isfinite(float(item)) else repr(float(item))
        if isinstance(item, dict):
            return {str(k): canonical(v) for k, v in item.items()}
        if isinstance(item, list | tuple):
            return [canonical(v) for v in item]
        return str(item)

    return sha256_hex(json.dumps(canonical(value), sort_keys=True, ensure_ascii=False))


def summary_differs(value: Any, summary: dict[str, Any], where: str) -> str | None:
    """None if `value` matches a stored summary. A summary with a `digest` (every one recorded now)
    pins the content: the value must equal the recorded one, floats to 9 significant digits. Older
    summaries check the shape only: same type, same length (strings: within a factor of 2), same keys."""
    kind = json_type(value)
    want = summary.get("type")
    if kind != want and not (want == "number" and kind == "integer"):
        return f"{where}: got a {kind}, expected a {want}"
    length = summary.get("length")
    if length is not None and kind in ("array", "object", "string"):
        if kind == "string" and summary.get("digest") is not None:
            if len(value) != length:
                return f"{where}: got a string of {len(value)} characters, expected {length}"
        elif kind == "string":
            if length and not (length / 2 <= len(value) <= length * 2):
                return f"{where}: got a string of {len(value)} characters, expected about {length}"
        elif len(value) != length:
            return f"{where}: got {len(value)} items, expected {length}"
    keys = summary.get("keys")
    if keys is not None and kind == "object" and sorted(str(k) for k in value) != sorted(keys):
        return f"{where}: keys {_short(sorted(map(str, value)))} differ from expected {_short(sorted(keys))}"
    if summary.get("digest") is not None and value_digest(value) != summary["digest"]:
        size = f" of {len(value)}" if kind in ("array", "object", "string") else ""
        return f"{where}: the {kind}{size} differs from the recorded one (content digest)"
    return None


def pin_differs(facts: dict[str, Any] | None, pin: dict[str, Any], path: str) -> str | None:
    """None if a produced file matches its pin. Pins recorded now have a `kind`: a text file must have
    the same text (line endings and trailing spaces aside), an image the same format and pixel size and
    a size within a factor of 2 (a chart may render slightly differently), any other file the same
    bytes. Older pins accept moved bytes with the same first line and line count (text) and a size
    within a factor of 2, never empty where the pinned file was not."""
    if facts is None:
        return f"file {path!r}: its content could not be read to check it"
    if facts.get("sha256") == pin["sha256"]:
        return None
    size, want = facts.get("size", 0), pin["size"]
    if want and not size:
        return f"file {path!r} is empty, expected {want} bytes"
    kind = pin.get("kind")
    if kind == "text":
        if facts.get("text_sha256") != pin.get("text_sha256"):
            return f"file {path!r}: its text differs from the recorded one ({size} bytes, expected {want})"
        return None
    if kind == "image":
        if facts.get("kind") != "image" or facts.get("format") != pin.get("format"):
            return f"file {path!r} is not a {pin.get('format')} image like the recorded one"
        if facts.get("pixels") != pin.get("pixels"):
            return f"file {path!r} is {facts.get('pixels')} pixels, expected {pin.get('pixels')}"
        if want and not (want / 2 <= size <= want * 2):
            return f"file {path!r} is {size} bytes, expected about {want}"
        return None
    if kind is not None:
        return f"file {path!r}: its bytes differ from the recorded ones ({size} bytes, expected {want})"
    if want and not size:
        return f"file {path!r} is empty, expected {want} bytes"
    if pin.get("head") is not None and facts.get("head") != pin["head"]:
        return f"file {path!r} starts with {_short(facts.get('head'))}, expected {_short(pin['head'])}"
    if pin.get("lines") is not None and facts.get("lines") != pin["lines"]:
        return f"file {path!r} has {facts.get('lines')} lines, expected {pin['lines']}"
    if want and not (want / 2 <= size <= want * 2):
        return f"file {path!r} is {size} bytes, expected about {want}"
    return None


def _norm_path(path: str) -> str:
    path = path.replace("\\", "/")
    while path.startswith("./"):
        path = path[2:]
    return path.rstrip("/")


def json_type(value: Any) -> str:
    """The JSON type name of a decoded value (integer apart from number), as cases compare them."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list | tuple):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def _compare(got: Any, want: Any, rel: float, absolute: float, where: str) -> str | None:
    """None if equal under the case's rules, else a sentence saying where they differ."""
    gk, wk = json_type(got), json_type(want)
    numeric = {"integer", "number"}
    if gk in numeric and wk in numeric:
        if gk == wk == "integer":
            return None if got == want else f"{where}: got {got!r}, expected {want!r}"
        if not math.isfinite(float(want)) or not math.isfinite(float(got)):
            # NaN equals NaN and infinities their own sign: a non-finite expected value (cases older
            # than case_from_run's rule) must not make a case that can never pass.
            same = (math.isnan(float(want)) and math.isnan(float(got))) or float(want) == float(got)
            return None if same else f"{where}: got {got!r}, expected {want!r}"
        if math.isclose(float(got), float(want), rel_tol=rel, abs_tol=absolute):
            return None
        return f"{where}: got {got!r}, expected {want!r} (tolerance {rel:g})"
    if gk != wk:
        return f"{where}: got {_short(got)} ({gk}), expected {_short(want)} ({wk})"
    if gk == "array":
        if len(got) != len(want):
            return f"{where}: got {len(got)} items, expected {len(want)}"
        for i, (g, w) in enumerate(zip(got, want, strict=True)):
            problem = _compare(g, w, rel, absolute, f"{where}[{i}]")
            if problem:
                return problem
        return None
    if gk == "object":
        if set(got) != set(want):
            return f"{where}: keys {sorted(map(str, got))} differ from expected {sorted(map(str, want))}"
        for k in want:
            problem = _compare(got[k], want[k], rel, absolute, f"{where}.{k}")
            if problem:
                return problem
        return None
    return None if got == want else f"{where}: got {_short(got)}, expected {_short(want)}"


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
