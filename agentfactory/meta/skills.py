"""The skill tiers as data: meta skills (the Meta-Agent's tools) and tool skills (what subagents call).

Each skill is `skills/<tier>/<name>/SKILL.md`: Agent Skills frontmatter (name, description) and a body
whose `## Parameters` section holds the JSON schema in a fenced block. The tool definitions the model
sees are generated from these files only; the tool name is the skill name with `-` turned into `_`.
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from pathlib import Path

from agentfactory.library.format import split_skill_md
from agentfactory.llm.types import ToolSpec

_PACKAGE_SKILLS = Path(__file__).resolve().parent.parent / "_skills"  # inside an installed wheel
_SOURCE_SKILLS = Path(__file__).resolve().parent.parent.parent / "skills"  # in a source checkout
_SCHEMA = re.compile(r"## Parameters\s*```json\s*\n(.*?)```", re.S)


@dataclass(frozen=True)
class Skill:
    name: str  # Agent Skills name, e.g. "search-subagents"
    tool_name: str  # what the model calls, e.g. "search_subagents"
    description: str
    body: str
    schema: dict

    def tool_spec(self) -> ToolSpec:
        return ToolSpec(self.tool_name, self.description, self.schema)


def skills_root() -> Path:
    return _PACKAGE_SKILLS if _PACKAGE_SKILLS.is_dir() else _SOURCE_SKILLS


def _parse(path: Path) -> Skill:
    front, body = split_skill_md(path.read_text(encoding="utf-8"))  # the one SKILL.md reader
    schema_match = _SCHEMA.search(body)
    if not schema_match:
        raise ValueError(f"{path}: no '## Parameters' JSON schema")
    name = front["name"]
    if name != path.parent.name:
        raise ValueError(f"{path}: name {name!r} differs from its folder")
    return Skill(
        name,
        name.replace("-", "_"),
        " ".join(front["description"].split()),
        body,
        json.loads(schema_match.group(1)),
    )


@functools.cache
def load_tier(tier: str) -> dict[str, Skill]:
    """All skills of a tier ("meta" or "tools"), keyed by tool name."""
    root = skills_root() / tier
    skills = [_parse(p) for p in sorted(root.glob("*/SKILL.md"))]
    return {s.tool_name: s for s in skills}


def meta_tools() -> list[ToolSpec]:
    order = [
        "search_subagents",
        "view_subagent",
        "create_subagent",
        "run_subagent",
        "modify_subagent",
        "finish",
    ]
    tier = load_tier("meta")
    return [tier[name].tool_spec() for name in order]


def tool_skill_names() -> list[str]:
    return sorted(load_tier("tools"))
