"""The Meta-Agent's tools: the `meta` skill tier (skills/meta/<name>/SKILL.md, read by skill_tiers.py).

The tool definitions the model sees are generated from these files only.
"""

from __future__ import annotations

from agentfactory.llm.types import ToolSpec
from agentfactory.skill_tiers import Skill, load_tier, skills_root

ORDER = ["search_subagents", "view_subagent", "create_subagent", "run_subagent", "modify_subagent", "finish"]


def meta_tools() -> list[ToolSpec]:
    tier = load_tier("meta")
    return [tier[name].tool_spec() for name in ORDER]


__all__ = ["Skill", "load_tier", "meta_tools", "skills_root"]
