"""The subagent folder format: reading (with size limits), validating and parsing it (writing: writing.py).

One source of truth per field (see FORMAT.md): name and description are SKILL.md frontmatter fields;
machine fields are strings in the frontmatter's `metadata` map; explicit JSON schemas live in the
optional `schema.json` sidecar; cases live in `cases.jsonl`. Nothing here imports or runs subagent code.
"""

from __future__ import annotations

import functools
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agentfactory.errors import ValidationError
from agentfactory.library.cases import (
    MAX_NESTING,
    load_json,
    nesting_exceeds,
    parse_cases,
)
from agentfactory.library.introspect import inspect_module
from agentfactory.library.model import CASES_FILE, FIXTURES_DIR, Subagent  # noqa: F401 - read as format.X
from agentfactory.library.names import default_entry, validate_entry, validate_name

if TYPE_CHECKING:
    import yaml

SKILL_FILE = "SKILL.md"
SCHEMA_FILE = "schema.json"

MAX_SKILL_MD = 256 * 1024
MAX_ENTRY = 1024 * 1024
MAX_CASES_FILE = 4 * 1024 * 1024
MAX_OTHER_FILE = 1024 * 1024
MAX_TOTAL = 8 * 1024 * 1024
MAX_FILES = 200
MAX_DEPTH = 4
MAX_DESCRIPTION = 1024

FRONTMATTER_KEYS = ("name", "description", "license", "compatibility", "metadata", "allowed-tools")
# Metadata keys the library interprets; any other metadata key is kept as the author wrote it.
MANAGED_KEYS = ("version", "entry", "tools", "tags", "parent-version", "source-run", "source-task")
# Provenance the library sets on save: two saves differing only here are the same content.
PROVENANCE_KEYS = ("version", "parent-version", "source-run", "source-task")
_IGNORED_DIRS = {"__pycache__"}
_IGNORED_SUFFIXES = (".pyc", ".pyo")


# ----------------------------------------------------------------------------------------- YAML


@functools.cache
def _strict_loader() -> type:
    """Safe loader that refuses duplicate keys (YAML would silently keep the last one). Built at the first
    SKILL.md parsed: a command that reads only the search index never imports yaml."""
    import yaml

    base: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    loader = type("_StrictLoader", (base,), {})
    loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
    return loader


def _construct_mapping(loader: Any, node: yaml.MappingNode, deep: bool = False) -> dict:
    import yaml

    seen: set[Any] = set()
    for key_node, _ in node.value:
        line = key_node.start_mark.line + 2  # the frontmatter starts on the file's line 2
        if not isinstance(key_node, yaml.ScalarNode):
            raise ValidationError(
                f"SKILL.md line {line}: a frontmatter key is a list or a map; keys must be plain strings."
            )
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise ValidationError(
                f"SKILL.md line {line}: the frontmatter has the key {key!r} twice; keep one."
            )
        seen.add(key)
    return yaml.SafeLoader.construct_mapping(loader, node, deep=deep)


# ----------------------------------------------------------------------------------------- SKILL.md


def split_skill_md(text: str) -> tuple[dict[str, Any], str]:
    """Frontmatter mapping and body of a SKILL.md (BOM and CRLF accepted)."""
    text = normalise_text(text)
    if not text.startswith("---\n"):
        raise ValidationError("SKILL.md must start with a YAML frontmatter block between '---' lines.")
    match = re.search(r"^---[ \t]*$", text[4:], re.M)
    if match is None:
        raise ValidationError("SKILL.md frontmatter is not closed by a '---' line.")
    raw = text[4 : 4 + match.start()]
    body = text[4 + match.end() :].lstrip("\n")
    simple = _simple_frontmatter(raw)
    if simple is not None:
        return simple, body
    import yaml

    try:
        data = yaml.load(raw, Loader=_strict_loader())  # noqa: S506 - a SafeLoader subclass
    except ValidationError:
        raise
    except (RecursionError, MemoryError):
        raise ValidationError(
            f"SKILL.md frontmatter is nested too deeply (over {MAX_NESTING} levels)."
        ) from None
    except yaml.constructor.ConstructorError as exc:
        raise ValidationError(
            f"SKILL.md frontmatter uses a YAML tag that is not allowed ({(exc.problem or '').strip()}); "
            "use plain strings."
        ) from None
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        line = f" at line {where.line + 2}" if where is not None else ""
        raise ValidationError(f"SKILL.md frontmatter is not valid YAML{line}.") from None
    if not isinstance(data, dict):
        raise ValidationError("SKILL.md frontmatter must be a YAML mapping with 'name' and 'description'.")
    if nesting_exceeds(data, MAX_NESTING):
        raise ValidationError(f"SKILL.md frontmatter is nested too deeply (over {MAX_NESTING} levels).")
    return data, body


# A frontmatter line `key: value` whose value YAML reads as this very string: a double-quoted string
# without escapes, quotes or characters YAML treats apart (controls, line breaks, BOM), or a plain scalar
# of letters, digits, spaces and plain punctuation that starts with a letter (so never a number, a date,
# `~` or `<<`). Words YAML reads as booleans or null are left to YAML.
_SIMPLE_LINE = re.compile(
    r'([a-z][a-z0-9_-]*): (?:"([^"\\\x00-\x1f\x7f-\x9f\u2028\u2029\ufeff\ud800-\udfff\ufffe\uffff]*)"'
    r"|([A-Za-z][A-Za-z0-9 _.,;()'/-]*(?<! )))"
)
_YAML_WORDS = frozenset(["yes", "no", "true", "false", "on", "off", "null", "y", "n"])


def _simple_frontmatter(raw: str) -> dict[str, Any] | None:
    """The frontmatter as YAML reads it, when it is nothing but `_SIMPLE_LINE`s with distinct keys (the
    shipped skills' form: a run reads nine at its start, and yaml costs tens of milliseconds to import
    and parse them); None otherwise, and YAML reads it. tests/library/test_simple_frontmatter.py holds
    this reading to YAML's."""
    lines = raw.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    data: dict[str, Any] = {}
    for line in lines:
        match = _SIMPLE_LINE.fullmatch(line)
        if match is None:
            return None
        key, quoted, bare = match.groups()
        if key in data or key in _YAML_WORDS or (bare is not None and bare.lower() in _YAML_WORDS):
            return None
        data[key] = quoted if quoted is not None else bare
    return data or None


def skill_body(text: str, *, without_title: bool = False) -> str:
    """The body of a SKILL.md, read by `split_skill_md`; `without_title` drops a leading `# title` line
    (a README that prints its own title)."""
    _, body = split_skill_md(text)
    lines = body.strip().splitlines()
    if without_title and lines and lines[0].startswith("# "):
        lines = lines[1:]
    return "\n".join(lines).strip()


def normalise_text(text: str) -> str:
    return text.lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n")


def _check_frontmatter(data: dict[str, Any], folder_name: str) -> dict[str, str]:
    unknown = [k for k in data if k not in FRONTMATTER_KEYS]
    if unknown:
        raise ValidationError(
            f"SKILL.md frontmatter has unknown field(s) {unknown}; allowed: {', '.join(FRONTMATTER_KEYS)} "
            "(put extra fields under 'metadata')."
        )
    if "name" not in data:
        raise ValidationError("SKILL.md frontmatter needs a 'name' field equal to the folder name.")
    name = validate_name(data["name"])
    if name != folder_name:
        raise ValidationError(f"SKILL.md name {name!r} does not match the folder name {folder_name!r}.")
    desc = data.get("description")
    if not isinstance(desc, str) or not desc.strip():
        raise ValidationError("SKILL.md frontmatter needs a non-empty 'description' string.")
    if len(desc) > MAX_DESCRIPTION:
        raise ValidationError(
            f"SKILL.md description is {len(desc)} characters; the limit is {MAX_DESCRIPTION}."
        )
    for key in ("license", "compatibility", "allowed-tools"):
        if key in data and not isinstance(data[key], str):
            raise ValidationError(f"SKILL.md field '{key}' must be a string.")
    if len(data.get("compatibility", "")) > 500:
        raise ValidationError("SKILL.md 'compatibility' is longer than 500 characters.")
    meta = data.get("metadata", {})
    if meta is None:
        meta = {}
    if not isinstance(meta, dict):
        raise ValidationError("SKILL.md 'metadata' must be a map of string keys to string values.")
    out: dict[str, str] = {}
    for key, value in meta.items():
        if not isinstance(key, str) or isinstance(value, dict | list) or value is None:
            raise ValidationError(f"SKILL.md metadata {key!r} must be a string value.")
        # The spec says strings; an unquoted `version: 2` is an easy slip, so scalars are read as text.
        out[key] = str(value).lower() if isinstance(value, bool) else str(value)
    return out


def _int_field(meta: dict[str, str], key: str) -> int | None:
    value = meta.get(key, "").strip()
    if not value:
        return None
    if not value.isdigit():
        raise ValidationError(f"SKILL.md metadata '{key}' must be a whole number, not {value!r}.")
    return int(value)


def _list_field(meta: dict[str, str], key: str) -> list[str]:
    return [part for part in re.split(r"[,\s]+", meta.get(key, "")) if part]


# ----------------------------------------------------------------------------------------- parsing


def _decode(files: dict[str, bytes], path: str) -> str:
    try:
        return files[path].decode("utf-8")
    except UnicodeDecodeError:
        raise ValidationError(f"{path} is not UTF-8 text.") from None


def check_file_path(rel: str, where: str = "") -> str:
    """A file path inside a subagent folder: relative, plain parts (no '.', '..', hidden or empty parts,
    no backslash, NUL or control characters), at most MAX_DEPTH levels. Every reader applies it, so a
    path from git or a remote can never point outside the folder."""
    parts = rel.split("/")
    shown = repr(rel[:120])
    if (
        not rel
        or len(parts) > MAX_DEPTH
        or any(not part or part.startswith(".") for part in parts)
        or any(ord(ch) < 32 or ch in "\\\x7f" for ch in rel)
    ):
        raise ValidationError(
            f"{where}{shown} is not an allowed file path in a subagent folder (plain names, no hidden or "
            f"'..' parts, at most {MAX_DEPTH} levels)."
        )
    return rel


def parse_subagent(folder_name: str, files: dict[str, bytes], commit: str | None = None) -> Subagent:
    """Validate and parse a subagent from its files (relative path -> bytes). Raises ValidationError."""
    validate_name(folder_name)
    for rel in files:
        check_file_path(rel, f"{folder_name}/: ")
    _check_sizes(files)
    if SKILL_FILE not in files:
        raise ValidationError(f"The folder {folder_name!r} has no SKILL.md.")
    skill_md = _decode(files, SKILL_FILE)
    front, body = split_skill_md(skill_md)
    meta = _check_frontmatter(front, folder_name)
    entry = validate_entry(meta.get("entry") or default_entry(folder_name))
    if entry not in files:
        raise ValidationError(f"The entry module {entry} is missing from {folder_name!r}.")
    code = _decode(files, entry)
    info = inspect_module(code, entry)
    cases = parse_cases(_decode(files, CASES_FILE)) if CASES_FILE in files else []
    inputs_schema, outputs_schema = info.inputs_schema, info.outputs_schema
    if SCHEMA_FILE in files:
        given = _parse_schema_file(_decode(files, SCHEMA_FILE))
        inputs_schema = given.get("inputs", inputs_schema)
        outputs_schema = given.get("outputs", outputs_schema)
    version = _int_field(meta, "version") or 0
    return Subagent(
        name=folder_name,
        version=version,
        description=front["description"].strip(),
        code=code,
        entry=entry,
        skill_md=skill_md,
        cases=cases,
        tools=_list_field(meta, "tools"),
        tags=_list_field(meta, "tags"),
        inputs_schema=inputs_schema,
        outputs_schema=outputs_schema,
        parent_version=_int_field(meta, "parent-version"),
        source_run=meta.get("source-run") or None,
        source_task=meta.get("source-task") or None,
        files=dict(files),
        signature=info.signature,
        docstring=info.docstring,
        body=body,
        metadata={k: v for k, v in meta.items() if k not in MANAGED_KEYS},
        commit=commit,
    )


def _parse_schema_file(text: str) -> dict[str, dict]:
    data = load_json(text, SCHEMA_FILE)
    if not isinstance(data, dict) or set(data) - {"inputs", "outputs"}:
        raise ValidationError("schema.json must be an object with 'inputs' and/or 'outputs' JSON schemas.")
    for key, schema in data.items():
        if not isinstance(schema, dict):
            raise ValidationError(f"schema.json '{key}' must be a JSON schema object.")
        try:
            import jsonschema

            jsonschema.Draft202012Validator.check_schema(schema)
        except jsonschema.SchemaError as exc:
            raise ValidationError(
                f"schema.json '{key}' is not a valid JSON schema ({exc.message})."
            ) from None
    return data


def _limit_for(path: str) -> int:
    if path == SKILL_FILE:
        return MAX_SKILL_MD
    if path == CASES_FILE:
        return MAX_CASES_FILE
    if path.endswith(".py"):
        return MAX_ENTRY
    return MAX_OTHER_FILE


def _check_sizes(files: dict[str, bytes]) -> None:
    if len(files) > MAX_FILES:
        raise ValidationError(f"A subagent folder may hold at most {MAX_FILES} files.")
    total = 0
    for path, data in files.items():
        if len(data) > _limit_for(path):
            raise ValidationError(f"{path} is {len(data)} bytes; the limit is {_limit_for(path)}.")
        total += len(data)
    if total > MAX_TOTAL:
        raise ValidationError(f"The subagent folder holds {total} bytes; the limit is {MAX_TOTAL}.")


def read_folder(path: Path) -> dict[str, bytes]:
    """Read a subagent folder from disk: regular files only, no links, size-limited, caches skipped."""
    if path.is_symlink() or not path.is_dir():
        raise ValidationError(f"{path} is not a folder.")
    files: dict[str, bytes] = {}
    total = 0
    root = str(path)
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        rel_dir = os.path.relpath(dirpath, root)
        depth = 0 if rel_dir == "." else rel_dir.count(os.sep) + 1
        for d in list(dirnames):
            full = os.path.join(dirpath, d)
            if d in _IGNORED_DIRS:
                dirnames.remove(d)
            elif d.startswith(".") or os.path.islink(full):
                raise ValidationError(
                    f"{full} is a hidden folder or a link; subagent folders hold plain files."
                )
            elif depth + 1 >= MAX_DEPTH:
                raise ValidationError(f"{full} is nested deeper than {MAX_DEPTH} levels.")
        for f in filenames:
            full = os.path.join(dirpath, f)
            if f.endswith(_IGNORED_SUFFIXES):
                continue
            rel = f if rel_dir == "." else f"{rel_dir.replace(os.sep, '/')}/{f}"
            if f.startswith("."):
                raise ValidationError(f"{full} is a hidden file; subagent folders hold no hidden files.")
            if len(files) >= MAX_FILES:
                raise ValidationError(f"{path} holds more than {MAX_FILES} files.")
            data = _read_limited(full, _limit_for(rel))
            total += len(data)
            if total > MAX_TOTAL:
                raise ValidationError(f"{path} holds more than {MAX_TOTAL} bytes.")
            files[rel] = data
    return files


def _read_limited(path: str, limit: int) -> bytes:
    from agentfactory.regular_files import NOT_REGULAR, TOO_LARGE, FileRefused, read_regular

    try:
        return read_regular(path, limit)
    except FileRefused as refused:
        if refused.kind == NOT_REGULAR:
            raise ValidationError(f"{path} is not a regular file.") from None
        if refused.kind == TOO_LARGE:
            raise ValidationError(f"{path} is larger than the {limit}-byte limit for this file.") from None
        raise ValidationError(f"Cannot read {path} ({refused.strerror}); links are not allowed.") from None


def validate_folder(path: Path) -> Subagent:
    """Validate a subagent folder on disk (its name first, before reading anything) and parse it."""
    path = Path(path)
    validate_name(path.name)
    return parse_subagent(path.name, read_folder(path))
