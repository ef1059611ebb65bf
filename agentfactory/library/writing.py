"""Writing subagent folders: SKILL.md rendered canonically, its changelog, limitations and lessons
sections, a revision's files, a new folder built and swapped in whole. The library is the one writer
of SKILL.md and cases.jsonl (reading them is format.py's job). Nothing here imports or runs subagent code.
"""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path
from typing import Any

from agentfactory.errors import ValidationError
from agentfactory.library.cases import (
    MAX_NESTING,
    Case,
    dedupe_cases,
    dump_cases,
    nesting_exceeds,
    parse_cases,
)
from agentfactory.library.format import (
    CASES_FILE,
    FIXTURES_DIR,
    PROVENANCE_KEYS,
    SCHEMA_FILE,
    SKILL_FILE,
    _decode,
    check_file_path,
    parse_subagent,
    split_skill_md,
)
from agentfactory.library.introspect import inspect_module
from agentfactory.library.model import Subagent
from agentfactory.library.names import default_entry, validate_name


def render_skill_md(front: dict[str, Any], body: str) -> str:
    import yaml

    text = yaml.safe_dump(front, sort_keys=False, allow_unicode=True, default_flow_style=False, width=100)
    return f"---\n{text}---\n\n{body.strip()}\n"


def canonical_files(
    sub: Subagent,
    *,
    version: int | None,
    parent_version: int | None,
    source_run: str | None,
    source_task: str | None,
) -> dict[str, bytes]:
    """The files the library stores for `sub` with the given provenance: SKILL.md re-rendered canonically
    (LF, no BOM, machine fields in `metadata`), every other file byte for byte."""
    front, _ = split_skill_md(sub.skill_md)
    meta: dict[str, str] = {}
    if version:
        meta["version"] = str(version)
    if sub.entry != default_entry(sub.name):
        meta["entry"] = sub.entry
    if sub.tools:
        meta["tools"] = ", ".join(sub.tools)
    if sub.tags:
        meta["tags"] = ", ".join(sub.tags)
    if parent_version:
        meta["parent-version"] = str(parent_version)
    if source_run:
        meta["source-run"] = source_run
    if source_task:
        meta["source-task"] = _one_line(source_task, 500)
    meta.update(sub.metadata)
    out_front: dict[str, Any] = {"name": sub.name, "description": sub.description}
    for key in ("license", "compatibility", "allowed-tools"):
        if key in front:
            out_front[key] = front[key]
    if meta:
        out_front["metadata"] = meta
    files = dict(sub.files)
    files[SKILL_FILE] = render_skill_md(out_front, sub.body).encode("utf-8")
    return files


def content_key(files: dict[str, bytes]) -> dict[str, bytes]:
    """Files with provenance stripped from SKILL.md: equal keys mean a save would change nothing."""
    front, body = split_skill_md(files[SKILL_FILE].decode("utf-8"))
    meta = dict(front.get("metadata") or {})
    for key in PROVENANCE_KEYS:
        meta.pop(key, None)
    front["metadata"] = {str(k): str(v) for k, v in meta.items()}
    out = dict(files)
    out[SKILL_FILE] = render_skill_md(front, body).encode("utf-8")
    return out


_SECTION = r"^## {title}[ \t]*\n(.*?)(?=^## |\Z)"


def section(body: str, title: str) -> str:
    """The text of a `## title` section of a SKILL.md body ('' when absent)."""
    match = re.search(_SECTION.format(title=re.escape(title)), body, re.M | re.S)
    return match.group(1).strip() if match else ""


def with_section(body: str, title: str, text: str) -> str:
    """`body` with its `## title` section replaced by `text` (appended when absent)."""
    match = re.search(_SECTION.format(title=re.escape(title)), body, re.M | re.S)
    if match is None:
        return body.rstrip() + f"\n\n## {title}\n\n{text.strip()}\n"
    return body[: match.start(1)] + "\n" + text.strip() + "\n\n" + body[match.end(1) :].lstrip("\n")


NONE_RECORDED = "None recorded."  # what a section with nothing in it says


LIMITATIONS_HEADING = "## Known limitations"
_LESSONS_BEGIN = "<!-- experience:lessons:begin -->"
_LESSONS_END = "<!-- experience:lessons:end -->"


def set_lessons_block(skill_md: str, lessons: list[str], now: float | None = None) -> str:
    """SKILL.md text with the experience store's lessons block under "Known limitations" replaced (or added).

    Hand-written limitations outside the marked block are kept as they are; the block itself is owned
    by the experience store and rewritten whole, so it never grows beyond MAX_LESSONS lines.
    """
    stamp = time.strftime("%Y-%m-%d", time.gmtime(now if now is not None else time.time()))
    if lessons:
        body = "\n".join(f"- {line}" for line in lessons)
        block = (
            f"{_LESSONS_BEGIN}\nObserved in recorded executions (updated {stamp}):\n\n{body}\n{_LESSONS_END}"
        )
    else:
        block = ""
    if _LESSONS_BEGIN in skill_md and _LESSONS_END in skill_md:
        head, rest = skill_md.split(_LESSONS_BEGIN, 1)
        _, tail = rest.split(_LESSONS_END, 1)
        if block:
            return head + block + tail
        head = head.rstrip()
        if head.lower().endswith(LIMITATIONS_HEADING.lower()):
            head += "\n\n" + NONE_RECORDED  # the section was only lessons: back to the library's wording
        return head + "\n\n" + tail.lstrip() if tail.strip() else head + "\n"
    if not block:
        return skill_md
    lines = skill_md.splitlines()
    for i, line in enumerate(lines):
        if line.strip().lower() == LIMITATIONS_HEADING.lower():
            placeholder = [j for j in range(i + 1, len(lines)) if lines[j].strip()][:1]
            if placeholder and lines[placeholder[0]].strip() == NONE_RECORDED:
                lines[placeholder[0]] = block
                return "\n".join(lines) + "\n"
            # Insert at the end of the section: before the next heading of the same or higher level.
            end = next(
                (j for j in range(i + 1, len(lines)) if lines[j].startswith("## ") or lines[j] == "#"),
                len(lines),
            )
            while end > i + 1 and not lines[end - 1].strip():
                end -= 1
            new = lines[:end] + ["", block] + ([""] + lines[end:] if end < len(lines) else [])
            return "\n".join(new) + "\n"
    return skill_md.rstrip("\n") + f"\n\n{LIMITATIONS_HEADING}\n\n{block}\n"


def add_changelog_entry(skill_md: str, entry: str) -> str:
    """SKILL.md with `entry` appended to its Changelog section (the section is added when missing)."""
    front, body = split_skill_md(skill_md)
    log = section(body, "Changelog")
    line = entry if entry.startswith("- ") else f"- {entry}"
    kept = "" if log in ("", NONE_RECORDED) else log + "\n"
    return render_skill_md(front, with_section(body, "Changelog", kept + line))


def add_limitations(skill_md: str, notes: list[str]) -> str:
    """SKILL.md with `notes` added to its Known limitations section (replacing "None recorded.");
    unchanged when there is nothing to add. A lessons block the experience store owns stays as is."""
    notes = [n.strip() for n in notes if n and n.strip()]
    if not notes:
        return skill_md
    front, body = split_skill_md(skill_md)
    old = section(body, "Known limitations")
    kept = "" if old in ("", NONE_RECORDED) else old + "\n"
    return render_skill_md(front, with_section(body, "Known limitations", kept + "\n".join(notes)))


def revised_files(
    files: dict[str, bytes],
    *,
    changelog: str,
    limitations: tuple[str, ...] | list[str] = (),
    new_cases: tuple[Case, ...] | list[Case] = (),
    fixtures: dict[str, bytes] | None = None,
) -> dict[str, bytes]:
    """The files of a new version made from `files` (a folder's, with its revised code): SKILL.md with a
    changelog entry and the remaining limitations, cases.jsonl with `new_cases` added after the stored
    ones (one per distinct inputs), and `fixtures` (paths under fixtures/) beside them. The one writer
    of a revision's SKILL.md and cases.jsonl: callers hand their changes here, never edit the files."""
    out = dict(files)
    skill_md = _decode(out, SKILL_FILE)
    out[SKILL_FILE] = add_limitations(add_changelog_entry(skill_md, changelog), list(limitations)).encode()
    stored = parse_cases(_decode(out, CASES_FILE)) if CASES_FILE in out else []
    out[CASES_FILE] = dump_cases(dedupe_cases([*stored, *new_cases])).encode("utf-8")
    for rel, data in (fixtures or {}).items():
        out[check_file_path(f"{FIXTURES_DIR}/{rel}")] = data
    return out


def _one_line(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _schema_md(schema: dict[str, Any]) -> str:
    props = schema.get("properties") or {}
    if not props:
        return "A JSON object." if schema.get("type") == "object" else "See schema.json."
    required = set(schema.get("required", []))
    lines = []
    for key, prop in props.items():
        kind = prop.get("type", "any")
        kind = " | ".join(kind) if isinstance(kind, list) else kind
        extra = ", required" if key in required else ""
        if "default" in prop:
            extra += f", default {json.dumps(prop['default'])}"
        desc = f": {prop['description']}" if prop.get("description") else ""
        lines.append(f"- `{key}` ({kind}{extra}){desc}")
    return "\n".join(lines)


def build_subagent_folder(
    dest: Path,
    *,
    name: str,
    description: str,
    code: str,
    tools: tuple[str, ...] | list[str] = (),
    inputs_schema: dict[str, Any] | None = None,
    cases: tuple[Case | dict, ...] | list[Case | dict] = (),
    tags: tuple[str, ...] | list[str] = (),
    version: int | None = None,
    parent_version: int | None = None,
    source_run: str | None = None,
    source_task: str | None = None,
    changelog: str | list[str] | None = None,
    limitations: str | None = None,
    outputs_schema: dict[str, Any] | None = None,
) -> Path:
    """Write a complete, valid subagent folder and return its path.

    `dest` is the folder itself when its last part equals `name`, else the parent to create `name/` in.
    The folder is built in a temporary sibling and validated before it replaces any existing folder, so an
    invalid candidate raises ValidationError and leaves `dest` as it was.
    """
    validate_name(name)
    dest = Path(dest)
    folder = dest if dest.name == name else dest / name
    entry = default_entry(name)
    info = inspect_module(code, entry)
    plain_cases = [c.to_dict() if isinstance(c, Case) else c for c in cases]
    for label, value in (
        ("inputs_schema", inputs_schema),
        ("outputs_schema", outputs_schema),
        ("cases", plain_cases),
    ):
        if nesting_exceeds(value, MAX_NESTING):  # before json.dumps recurses through it
            raise ValidationError(
                f"The {label} given for {name} is nested too deeply (over {MAX_NESTING} levels)."
            )
    case_objs = [
        c if isinstance(c, Case) else Case.from_dict(c, f"case {i + 1}") for i, c in enumerate(cases)
    ]
    files: dict[str, bytes] = {entry: code.encode("utf-8"), CASES_FILE: dump_cases(case_objs).encode("utf-8")}
    schema: dict[str, Any] = {}
    if inputs_schema is not None:
        schema["inputs"] = inputs_schema
    if outputs_schema is not None:
        schema["outputs"] = outputs_schema
    if schema:
        files[SCHEMA_FILE] = (json.dumps(schema, indent=2, sort_keys=True) + "\n").encode("utf-8")
    meta: dict[str, str] = {}
    if version:
        meta["version"] = str(version)
    if tools:
        meta["tools"] = ", ".join(tools)
    if tags:
        meta["tags"] = ", ".join(tags)
    if parent_version:
        meta["parent-version"] = str(parent_version)
    if source_run:
        meta["source-run"] = source_run
    if source_task:
        meta["source-task"] = _one_line(source_task, 500)
    front: dict[str, Any] = {"name": name, "description": description.strip()}
    if meta:
        front["metadata"] = meta
    sections = info.sections
    if isinstance(changelog, list):
        changelog = "\n".join(f"- {line}" for line in changelog)
    body = "\n\n".join(
        [
            f"# {name}",
            "## Purpose\n\n" + (sections.get("purpose") or description.strip()),
            f"## Inputs\n\nCall `{info.signature}`.\n\n" + _schema_md(inputs_schema or info.inputs_schema),
            "## Outputs\n\n" + (sections.get("outputs") or _schema_md(outputs_schema or info.outputs_schema)),
            "## Tools\n\n" + ("\n".join(f"- `{t}`" for t in tools) if tools else "None."),
            "## Known limitations\n\n" + (limitations or sections.get("limitations") or NONE_RECORDED),
            "## Changelog\n\n" + (changelog or (f"- v{version}: created." if version else "- Created.")),
        ]
    )
    files[SKILL_FILE] = render_skill_md(front, body).encode("utf-8")
    parse_subagent(name, files)  # refuse before touching the disk
    write_folder(folder, files)
    return folder


def write_folder(folder: Path, files: dict[str, bytes]) -> None:
    """Replace `folder` with exactly `files`, building it beside the target and swapping it in."""
    import shutil  # on first use, as tempfile: not on a run's way to its first model call
    import tempfile

    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    try:
        for rel, data in files.items():
            target = tmp / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        if folder.exists():
            old = folder.with_name(f".{folder.name}.old.{os.getpid()}")
            os.replace(folder, old)
            os.replace(tmp, folder)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, folder)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
