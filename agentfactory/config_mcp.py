"""`[mcp_servers.NAME]` tables of agentfactory.toml: the MCP servers whose tools subagents may call.

The shape is the one MCP hosts use: a stdio server is `command` with `args`, `env` and `cwd`; a
streamable HTTP server is `url` with `headers`. Values of `env` and `headers` may say `${VAR}`, read from
the environment when the settings are resolved, so a token need not be written in the file. `timeout`
bounds one tool call (seconds), `startup_timeout` the start and the first listing of the server.

This module only parses and checks; it starts nothing and imports no MCP SDK (agentfactory/tools/mcp_client.py
does). A bad table is one sentence (ConfigError, exit 3). A `${VAR}` that is not set is not an error here
(a server the run never uses must not stop it): the server refuses to start, saying which variable.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import field
from pathlib import Path
from typing import Any

from agentfactory.errors import ConfigError
from agentfactory.records import record

SERVER_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")  # an identifier: `NAME.tool` splits at the dot
_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,100}$")
KEYS = ("type", "command", "args", "env", "cwd", "url", "headers", "timeout", "startup_timeout")
TYPES = ("stdio", "http", "streamable-http")
DEFAULT_TIMEOUT_S = 60.0
DEFAULT_STARTUP_TIMEOUT_S = 30.0
MAX_TIMEOUT_S = 3600.0
MAX_SERVERS = 64


@record(frozen=True)
class McpServerConfig:
    """One configured MCP server. `env` and `headers` hold credentials: never shown (repr=False)."""

    name: str
    command: str | None = None
    args: tuple[str, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict, repr=False, compare=False)
    cwd: Path | None = None
    url: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict, repr=False, compare=False)
    timeout_s: float = DEFAULT_TIMEOUT_S
    startup_timeout_s: float = DEFAULT_STARTUP_TIMEOUT_S
    missing: tuple[str, ...] = ()  # ${VAR}s of env/headers not set in the environment
    # env and headers as an export may carry them: values that say ${VAR} as written, literal values
    # (maybe secrets) replaced by a ${VAR} the user sets (exported packages, deploy/render.py)
    export_env: Mapping[str, str] = field(default_factory=dict, repr=False, compare=False)
    export_headers: Mapping[str, str] = field(default_factory=dict, repr=False, compare=False)

    @property
    def transport(self) -> str:
        return "stdio" if self.command else "http"

    def exported(self) -> dict[str, Any]:
        """This server in the `mcpServers` format of MCP hosts, without a credential: what an exported
        package ships (its `cwd`, a folder of this machine, is left out)."""
        if self.command:
            out: dict[str, Any] = {"command": self.command, "args": list(self.args)}
            if self.export_env:
                out["env"] = dict(self.export_env)
        else:
            out = {"type": "http", "url": self.url}
            if self.export_headers:
                out["headers"] = dict(self.export_headers)
        if self.timeout_s != DEFAULT_TIMEOUT_S:
            out["timeout"] = self.timeout_s
        return out

    def describe(self) -> str:
        """How it starts, without a credential: `command args` or the URL without its query."""
        if self.command:
            return " ".join([self.command, *self.args])[:200]
        return (self.url or "").split("?", 1)[0][:200]


def parse_mcp_servers(
    raw: Any, source: str, base: Path, environ: Mapping[str, str] | None = None
) -> dict[str, McpServerConfig]:
    """The `[mcp_servers]` table of `source` as configs; relative `cwd` is relative to `base`."""
    if not isinstance(raw, dict):
        raise ConfigError(f"[mcp_servers] in {source} must be a table of servers ([mcp_servers.NAME]).")
    if len(raw) > MAX_SERVERS:
        raise ConfigError(
            f"[mcp_servers] in {source} declares {len(raw)} servers; the limit is {MAX_SERVERS}."
        )
    environ = environ or {}
    return {name: _parse_one(name, entry, source, base, environ) for name, entry in raw.items()}


def _parse_one(name: Any, entry: Any, source: str, base: Path, environ: Mapping[str, str]) -> McpServerConfig:
    if not isinstance(name, str) or not SERVER_NAME.match(name):
        shown = repr(name)[:70]
        raise ConfigError(
            f"[mcp_servers.{shown}] in {source}: a server name must be an identifier (letters, digits and "
            "_, not starting with a digit, at most 64 characters), as its tools are called NAME.tool."
        )
    where = f"[mcp_servers.{name}] in {source}"
    if not isinstance(entry, dict):
        raise ConfigError(f"{where} must be a table with `command` (stdio) or `url` (streamable HTTP).")
    unknown = sorted(set(entry) - set(KEYS))
    if unknown:
        raise ConfigError(f"{where} has an unknown key '{unknown[0]}'; the keys are {', '.join(KEYS)}.")
    kind = entry.get("type")
    if kind is not None and kind not in TYPES:
        raise ConfigError(f"{where} has type {str(kind)[:40]!r}: use 'stdio' or 'http'.")
    command, url = entry.get("command"), entry.get("url")
    if (command is None) == (url is None):
        raise ConfigError(
            f"{where} needs exactly one of `command` (a stdio server) or `url` (streamable HTTP)."
        )
    if kind is not None and (kind == "stdio") != (command is not None):
        raise ConfigError(f"{where} says type '{kind}' but gives `{'command' if command else 'url'}`.")
    missing: list[str] = []
    if command is not None:
        if not isinstance(command, str) or not command.strip() or "\0" in command:
            raise ConfigError(f"{where}: `command` must be a non-empty string.")
        for key in ("url", "headers"):
            if key in entry:
                raise ConfigError(f"{where}: `{key}` belongs to HTTP servers, not to a `command`.")
        args = entry.get("args", [])
        if not isinstance(args, list) or not all(isinstance(a, str) and "\0" not in a for a in args):
            raise ConfigError(f"{where}: `args` must be a list of strings.")
        raw_env = entry.get("env", {})
        env = _string_table(raw_env, f"{where}: `env`", _ENV_NAME, environ, missing)
        cwd = entry.get("cwd")
        if cwd is not None and (not isinstance(cwd, str) or not cwd.strip() or "\0" in cwd):
            raise ConfigError(f"{where}: `cwd` must be a folder path.")
        folder = Path(cwd).expanduser() if cwd else None
        return McpServerConfig(
            name=name,
            command=command,
            args=tuple(args),
            env=env,
            cwd=(base / folder if folder is not None and not folder.is_absolute() else folder) or base,
            timeout_s=_seconds(entry, "timeout", DEFAULT_TIMEOUT_S, where),
            startup_timeout_s=_seconds(entry, "startup_timeout", DEFAULT_STARTUP_TIMEOUT_S, where),
            missing=tuple(missing),
            export_env={k: _exportable(v, k) for k, v in raw_env.items()},
        )
    if not isinstance(url, str) or not re.match(r"^https?://[^\s/?#]+", url) or any(c.isspace() for c in url):
        raise ConfigError(f"{where}: `url` must be an http:// or https:// address.")
    for key in ("args", "env", "cwd"):
        if key in entry:
            raise ConfigError(f"{where}: `{key}` belongs to stdio servers, not to a `url`.")
    raw_headers = entry.get("headers", {})
    headers = _string_table(raw_headers, f"{where}: `headers`", _HEADER_NAME, environ, missing)
    return McpServerConfig(
        name=name,
        url=url,
        headers=headers,
        export_headers={
            k: _exportable(v, f"MCP_{name}_{re.sub(r'[^A-Za-z0-9]', '_', k)}".upper())
            for k, v in raw_headers.items()
        },
        timeout_s=_seconds(entry, "timeout", DEFAULT_TIMEOUT_S, where),
        startup_timeout_s=_seconds(entry, "startup_timeout", DEFAULT_STARTUP_TIMEOUT_S, where),
        missing=tuple(missing),
    )


def _string_table(
    raw: Any, where: str, key_pattern: re.Pattern[str], environ: Mapping[str, str], missing: list[str]
) -> dict[str, str]:
    if not isinstance(raw, dict):
        raise ConfigError(f"{where} must be a table of strings.")
    out: dict[str, str] = {}
    for key, value in raw.items():
        if not key_pattern.match(str(key)):
            raise ConfigError(f"{where} has an invalid name {str(key)[:60]!r}.")
        if not isinstance(value, str) or "\0" in value or "\n" in value or "\r" in value:
            raise ConfigError(f"{where}: the value of '{key}' must be a one-line string.")

        def expand(match: re.Match[str]) -> str:
            var = match.group(1)
            if var not in environ:
                missing.append(var)
                return ""
            return environ[var]

        out[str(key)] = _VARIABLE.sub(expand, value)
    return out


def _exportable(raw: str, variable: str) -> str:
    """`raw` when it takes its secret from the environment (${VAR}); else a reference to `variable`."""
    return raw if _VARIABLE.search(raw) else "${" + variable + "}"


def _seconds(entry: dict[str, Any], key: str, default: float, where: str) -> float:
    value = entry.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ConfigError(f"{where}: `{key}` must be a number of seconds.")
    if not 0 < value <= MAX_TIMEOUT_S:
        raise ConfigError(f"{where}: `{key}` must be above 0 and at most {MAX_TIMEOUT_S:g} seconds.")
    return float(value)
