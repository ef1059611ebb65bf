"""The Meta-Agent's tools: the `meta` skill tier (skills/meta/<name>/SKILL.md, read by skill_tiers.py).

The tool definitions the model sees are generated from these files only.
"""

from __future__ import annotations

import copy
from dataclasses import replace

from agentfactory.llm.types import ToolSpec
from agentfactory.skill_tiers import Skill, load_tier, skills_root

ORDER = ["search_subagents", "view_subagent", "create_subagent", "run_subagent", "modify_subagent", "finish"]


# What create_subagent's `tools` accepts besides the built-in names when MCP servers are configured:
# SERVER.tool (a pattern, not an enum: fifty tools on a server must not cost fifty names per call).
MCP_TOOL_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]{0,63}\.[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$"


def meta_tools(mcp: bool = False) -> list[ToolSpec]:
    """The Meta-Agent's tools; `mcp`: `create_subagent` may also allocate MCP tools (SERVER.tool)."""
    tier = load_tier("meta")
    specs = [tier[name].tool_spec() for name in ORDER]
    return [_with_mcp_tools(spec) if mcp and spec.name == "create_subagent" else spec for spec in specs]


def _with_mcp_tools(spec: ToolSpec) -> ToolSpec:
    schema = copy.deepcopy(spec.input_schema)
    tools = schema["properties"]["tools"]
    tools["items"] = {"anyOf": [tools["items"], {"type": "string", "pattern": MCP_TOOL_PATTERN}]}
    tools["description"] = "built-in tool skills, or MCP tools as SERVER.tool"
    return replace(spec, input_schema=schema)


__all__ = ["Skill", "load_tier", "meta_tools", "skills_root"]
