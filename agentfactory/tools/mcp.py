"""The tools of configured MCP servers as tool skills named `SERVER.tool` (`McpTools`).

The tool broker asks this table for a tool it does not hold (`get`, `problem`); each tool is a
`ToolSkill` whose schema is the server's `inputSchema`, so the broker validates every call against it
before the server hears of it, and whose handler calls the server through the run's `McpHub` (on the
host: the server's process, credentials and environment never enter a sandbox) within the execution's
deadline. A server is started the first time one of its tools is looked up or searched.

`search` ranks the tools of every configured server against a text (SQLite FTS5 bm25 over names,
descriptions and parameter names), so the Meta-Agent's first message lists the few that fit the task
instead of every tool of every server.
"""

from __future__ import annotations

import json
import re
import sqlite3
import time
from collections.abc import Callable
from typing import Any

from agentfactory.config import ToolSettings
from agentfactory.records import record
from agentfactory.stopwords import STOPWORDS
from agentfactory.tools import MAX_PROBLEM_CHARS, ToolSkill
from agentfactory.tools.mcp_client import McpHub, McpServerError, McpTool

_WORD = re.compile(r"[A-Za-z0-9]+")
SIGNATURE_CHARS = 200
OFFER_DESCRIPTION_CHARS = 240
MAX_QUERY_TERMS = 64


@record(frozen=True)
class McpToolSkill(ToolSkill):
    """A ToolSkill whose schema comes from a server: a schema the validator cannot use refuses the call
    with its reason (never an exception in a broker thread)."""

    def check_arguments(self, args: Any) -> str | None:
        try:
            return super().check_arguments(args)
        except Exception as exc:  # noqa: BLE001 - a server's broken schema is its problem, said once
            return f"the server's schema for this tool cannot be checked ({type(exc).__name__})"[
                :MAX_PROBLEM_CHARS
            ]


class McpCall:
    """The handler of one MCP tool: the call goes to the server through the hub, bounded by the
    server's `timeout` and the execution's deadline."""

    takes_deadline = True

    def __init__(self, hub: McpHub, tool: McpTool):
        self.hub, self.tool = hub, tool

    def __call__(self, args: dict[str, Any], deadline: float | None = None) -> dict[str, Any]:
        config = self.hub.config(self.tool.server)
        timeout = config.timeout_s if config else 60.0
        if deadline is not None:
            timeout = min(timeout, deadline - time.monotonic())
            if timeout <= 0:
                raise McpServerError("the execution's wall-clock limit is reached")
        return self.hub.call(self.tool.server, self.tool.name, args, timeout)


@record(frozen=True)
class ToolMatch:
    tool: McpTool
    score: float

    @property
    def line(self) -> str:
        """One line for a prompt: `server.tool(arg: type, opt?: type) — description`."""
        description = self.tool.description
        if len(description) > OFFER_DESCRIPTION_CHARS:
            description = description[: OFFER_DESCRIPTION_CHARS - 1] + "…"
        return f"{self.tool.qualified}({signature(self.tool.input_schema)}) — {description or '(no description)'}"


def signature(schema: dict[str, Any]) -> str:
    """`a: string, b?: integer` from an object schema, cut to SIGNATURE_CHARS."""
    props = schema.get("properties") if isinstance(schema.get("properties"), dict) else {}
    required = set(schema.get("required") or []) if isinstance(schema.get("required"), list) else set()
    parts = []
    for name, spec in list(props.items())[:12]:
        kind = spec.get("type", "any") if isinstance(spec, dict) else "any"
        kind = "|".join(map(str, kind)) if isinstance(kind, list) else str(kind)
        parts.append(f"{name}{'' if name in required else '?'}: {kind}")
    text = ", ".join(parts)
    return text if len(text) <= SIGNATURE_CHARS else text[: SIGNATURE_CHARS - 1] + "…"


class McpTools:
    """The MCP tools of one run (or of one gate outside a run); `close` stops their servers."""

    def __init__(self, hub: McpHub):
        self.hub = hub
        self._skills: dict[str, McpToolSkill] = {}

    @classmethod
    def from_settings(
        cls, tools: ToolSettings, on_event: Callable[[str, str, str], None] | None = None
    ) -> McpTools | None:
        """None when agentfactory.toml declares no MCP server (nothing is imported then); `tools`: the
        settings' tools group."""
        return cls(McpHub(tools.mcp_servers, on_event)) if tools.mcp_servers else None

    # -- the broker's resolver -----------------------------------------------------------------------

    def get(self, name: str) -> ToolSkill | None:
        """The tool skill `SERVER.tool`, starting its server if needed; None when there is none (the
        broker then says so). A server that cannot start gives a skill that answers with why."""
        server, _, tool = name.partition(".")
        if not tool or server not in self.hub.names:
            return None
        if name in self._skills:
            return self._skills[name]
        try:
            tools = self.hub.tools(server)
        except McpServerError as exc:
            return _failing(name, str(exc))
        for item in tools:
            self._skills.setdefault(item.qualified, _skill(self.hub, item))
        return self._skills.get(name)

    def problem(self, name: str) -> str | None:
        """None when `name` is a tool of a configured server that is serving; else why not."""
        server, _, tool = name.partition(".")
        if not tool or server not in self.hub.names:
            configured = ", ".join(self.hub.names)
            return f"unknown tool skill {name} (MCP tools are named SERVER.tool; servers: {configured})"
        try:
            tools = self.hub.tools(server)
        except McpServerError as exc:
            return str(exc).rstrip(".")
        if not any(t.name == tool for t in tools):
            return f"MCP server '{server}' has no tool '{tool[:100]}'"
        return None

    def names(self) -> list[str]:
        """The tools of the servers started so far."""
        return [t.qualified for t in self.hub.listed()]

    def describe(self, name: str) -> McpTool | None:
        """The listing of tool `name` (its server is started if needed); None when there is none."""
        server, _, tool = name.partition(".")
        if not tool or server not in self.hub.names:
            return None
        try:
            return next((t for t in self.hub.tools(server) if t.name == tool), None)
        except McpServerError:
            return None

    # -- search --------------------------------------------------------------------------------------

    def search(self, query: str, k: int) -> list[ToolMatch]:
        """The `k` tools that best fit `query`, over every configured server that starts (each server is
        listed once per run; one that fails is left out and reported by the hub)."""
        tools: list[McpTool] = []
        for server in self.hub.names:
            try:
                tools.extend(self.hub.tools(server))
            except McpServerError:
                continue
        return rank(tools, query, k)

    def close(self) -> None:
        self.hub.close()


def mcp_tools_for(tools: ToolSettings, log: Any = None) -> McpTools | None:
    """The MCP servers' tools of a run (or of a gate outside one), None when none is configured; their
    starts, failures and exits become `mcp_server` events of `log` (an EventLog) when given."""

    def on_event(server: str, status: str, message: str) -> None:
        if log is not None:
            from agentfactory.events import MCP_SERVER

            log.emit(MCP_SERVER, server=server, status=status, message=message)

    return McpTools.from_settings(tools, on_event)


def rank(tools: list[McpTool], query: str, k: int) -> list[ToolMatch]:
    """bm25 over name, description and parameter names; no match gives nothing."""
    words = (w for w in _WORD.findall(query.lower()) if w not in STOPWORDS)
    terms = list(dict.fromkeys(words))[:MAX_QUERY_TERMS]
    if not tools or not terms or k <= 0:
        return []
    db = sqlite3.connect(":memory:")
    try:
        db.execute("CREATE VIRTUAL TABLE t USING fts5(name, description, params, tokenize='porter')")
        rows = []
        for index, tool in enumerate(tools):
            props = tool.input_schema.get("properties")
            params = " ".join(map(str, props)) if isinstance(props, dict) else ""
            words = re.sub(r"[_.\-]", " ", tool.qualified)
            rows.append((index, words, tool.description, params))
        db.executemany("INSERT INTO t(rowid, name, description, params) VALUES (?, ?, ?, ?)", rows)
        match = " OR ".join(f'"{t}"' for t in terms)
        found = db.execute(
            "SELECT rowid, bm25(t, 3.0, 1.0, 1.0) FROM t WHERE t MATCH ? ORDER BY 2 LIMIT ?", (match, k)
        ).fetchall()
    finally:
        db.close()
    return [ToolMatch(tools[row], -score) for row, score in found]


def _skill(hub: McpHub, tool: McpTool) -> McpToolSkill:
    return McpToolSkill(tool.qualified, tool.description, tool.input_schema, McpCall(hub, tool))


def _failing(name: str, why: str) -> McpToolSkill:
    def refuse(args: dict[str, Any]) -> dict[str, Any]:
        raise McpServerError(why)

    return McpToolSkill(name, "", {"type": "object"}, refuse)


def tool_view(tool: McpTool) -> str:
    """What the Meta-Agent reads of one tool: its name, description and argument schema."""
    schema = json.dumps(tool.input_schema, ensure_ascii=False, sort_keys=True)
    if len(schema) > 4000:
        schema = schema[:4000] + "…"
    return (
        f"MCP tool {tool.qualified} (server '{tool.server}')\n{tool.description or '(no description)'}\n"
        f"Arguments (JSON schema): {schema}\n"
        f"Call it from a subagent that has it in `tools`: from agentfactory_tools import mcp; "
        f'mcp.call("{tool.qualified}", {{...}}) returns the structured result, or the text when the tool '
        "gives none."
    )
