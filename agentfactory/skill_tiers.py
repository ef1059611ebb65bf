"""The skill tiers as data: `skills/<tier>/<name>/SKILL.md` read into `Skill` records.

Two tiers ship with AgentFactory: `meta` (the Meta-Agent's tools, see meta/skills.py) and `tools` (the
tool skills subagents call through the broker, see tools/). Each file holds Agent Skills frontmatter
(name, description) and a body whose `## Parameters` section holds the tool's JSON schema in a fenced
block. The tool name is the skill name with `-` turned into `_`.

These files are part of the installation: a broken one is a broken install, said in one sentence
(ConfigError, exit 3) naming the file and what is wrong, never a traceback. Reading a tier checks
everything but the schema's validity as a JSON schema: that check needs jsonschema (tens of
milliseconds to import, which nothing needs before a tool call is validated), so a skill's schema is
checked when a validator is first compiled for it (llm/validation.py), before any call is validated
against it.
"""

from __future__ import annotations

import functools
import json
import re
import threading
from pathlib import Path
from typing import Any

from agentfactory.errors import ConfigError, ValidationError
from agentfactory.library.format import split_skill_md
from agentfactory.llm import validation
from agentfactory.llm.types import ToolSpec
from agentfactory.records import record

_PACKAGE_SKILLS = Path(__file__).resolve().parent / "_skills"  # inside an installed wheel
_SOURCE_SKILLS = Path(__file__).resolve().parent.parent / "skills"  # in a source checkout
_SCHEMA = re.compile(r"## Parameters\s*```json\s*\n(.*?)```", re.S)
TIERS = ("meta", "tools")


@record(frozen=True)
class Skill:
    name: str  # Agent Skills name, e.g. "search-subagents"
    tool_name: str  # what the model or the subagent calls, e.g. "search_subagents"
    description: str
    body: str
    schema: dict[str, Any]

    def tool_spec(self) -> ToolSpec:
        return ToolSpec(self.tool_name, self.description, self.schema)


def skills_root() -> Path:
    return _PACKAGE_SKILLS if _PACKAGE_SKILLS.is_dir() else _SOURCE_SKILLS


class BrokenSkill(ConfigError):
    """A shipped skill file that cannot be read: the installation is broken."""

    def __init__(self, path: Path, problem: str):
        super().__init__(f"The skill file {path} {problem}: reinstall AgentFactory or restore the file.")


def parse_skill(path: Path) -> Skill:
    """One SKILL.md as a Skill; BrokenSkill saying what is wrong with it."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise BrokenSkill(path, f"cannot be read ({type(exc).__name__})") from None
    try:
        front, body = split_skill_md(text)  # the one SKILL.md reader
    except ValidationError as exc:
        raise BrokenSkill(path, f"is not a valid SKILL.md ({str(exc).rstrip('.')})") from None
    name, description = front.get("name"), front.get("description")
    if not isinstance(name, str) or name != path.parent.name:
        raise BrokenSkill(path, f"names {name!r}, not its folder {path.parent.name!r}")
    if not isinstance(description, str) or not description.strip():
        raise BrokenSkill(path, "has no description")
    schema_match = _SCHEMA.search(body)
    if not schema_match:
        raise BrokenSkill(path, "has no '## Parameters' JSON schema")
    try:
        schema = json.loads(schema_match.group(1))
    except json.JSONDecodeError as exc:
        raise BrokenSkill(path, f"has a '## Parameters' block that is not JSON ({exc.msg})") from None
    if not isinstance(schema, dict) or schema.get("type") != "object":
        raise BrokenSkill(path, "has a schema that does not describe an object of arguments")
    with _unchecked_lock:
        _unchecked[_key(schema)] = (path, schema)
    return Skill(name, name.replace("-", "_"), " ".join(description.split()), body, schema)


# The schemas of the skills read so far that are not yet checked as JSON schemas, with their files.
_unchecked: dict[str, tuple[Path, dict[str, Any]]] = {}
_unchecked_lock = threading.Lock()


def _key(schema: dict[str, Any]) -> str:
    return json.dumps(schema, sort_keys=True, default=str)


def check_loaded_schemas(schema: dict[str, Any] | None = None) -> None:
    """Check the schemas of the skills read so far as JSON schemas (Draft 2020-12): BrokenSkill, naming
    the file, for one that is not. With `schema`, only that one, when it is a skill's: llm/validation.py
    calls this before it compiles a validator for it (a run checks the skills it calls, when it calls
    them, not all nine at its first tool call)."""
    with _unchecked_lock:
        if schema is None:
            pending = list(_unchecked.items())
        else:
            key = _key(schema)
            pending = [(key, _unchecked[key])] if key in _unchecked else []
    if not pending:
        return
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import SchemaError

    for key, (path, loaded) in pending:
        try:
            Draft202012Validator.check_schema(loaded)
        except SchemaError as exc:
            raise BrokenSkill(path, f"has an invalid JSON schema ({exc.message[:200]})") from None
        with _unchecked_lock:
            _unchecked.pop(key, None)


validation.BEFORE_COMPILE.append(check_loaded_schemas)


@functools.cache
def load_tier(tier: str) -> dict[str, Skill]:
    """All skills of a tier ("meta" or "tools"), keyed by tool name. BrokenSkill for a broken file."""
    root = skills_root() / tier
    if not root.is_dir():
        raise ConfigError(f"The skill folder {root} is missing: reinstall AgentFactory.")
    skills = [parse_skill(p) for p in sorted(root.glob("*/SKILL.md"))]
    return {s.tool_name: s for s in skills}
