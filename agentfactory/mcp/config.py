"""Client configurations for `agentfactory mcp serve`: what Claude Code, Claude Desktop, Cursor and VS Code
need to start it, with absolute paths that work from any folder the client starts in.

The command is this interpreter (`python -m agentfactory`), so the server runs with the installation that
wrote the configuration; `--config` pins the project's agentfactory.toml, and the working folder is the
project's (`--project`), so relative library and workspace paths resolve as on the command line.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

from agentfactory.errors import UsageError

CLIENTS = ("claude-code", "claude-desktop", "cursor", "vscode")
SERVER_KEY = "agentfactory"


def server_entry(project: Path, config_file: Path | None, sandbox: str | None) -> dict[str, Any]:
    args = ["-m", "agentfactory"]
    if config_file is not None:
        args += ["--config", str(Path(config_file).resolve())]
    # --project instead of a `cwd` field: not every client honours one.
    args += ["mcp", "serve", "--project", str(Path(project).resolve())]
    if sandbox:
        args += ["--sandbox", sandbox]
    return {"command": os.path.abspath(sys.executable), "args": args}


def client_config(
    client: str, project: Path, config_file: Path | None = None, sandbox: str | None = None
) -> dict[str, Any]:
    """The JSON document (or fragment) `client` reads, holding only our server."""
    if client not in CLIENTS:
        raise UsageError(f"Unknown client {client!r}; choose one of {', '.join(CLIENTS)}.")
    entry = server_entry(project, config_file, sandbox)
    if client == "vscode":
        # VS Code's .vscode/mcp.json: "servers", each with a type.
        return {"servers": {SERVER_KEY: {"type": "stdio", **entry}}}
    if client == "claude-code":
        return {"mcpServers": {SERVER_KEY: {"type": "stdio", **entry}}}
    return {"mcpServers": {SERVER_KEY: entry}}


def default_target(client: str, project: Path) -> Path:
    """Where `--write` puts the configuration for `client`."""
    project = Path(project).resolve()
    if client == "claude-code":
        return project / ".mcp.json"
    if client == "cursor":
        return project / ".cursor" / "mcp.json"
    if client == "vscode":
        return project / ".vscode" / "mcp.json"
    home = Path.home()
    if sys.platform == "darwin":
        return home / "Library" / "Application Support" / "Claude" / "claude_desktop_config.json"
    if sys.platform == "win32":
        return home / "AppData" / "Roaming" / "Claude" / "claude_desktop_config.json"  # %APPDATA%
    return home / ".config" / "Claude" / "claude_desktop_config.json"


def merge_into(target: Path, config: dict[str, Any]) -> dict[str, Any]:
    """`config` merged into the JSON file at `target` (other servers and keys kept), not yet written."""
    existing: dict[str, Any] = {}
    if target.exists():
        try:
            existing = json.loads(target.read_text(encoding="utf-8") or "{}")
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise UsageError(f"{target} is not valid JSON ({exc}); fix or move it, then retry.") from None
        if not isinstance(existing, dict):
            raise UsageError(f"{target} does not hold a JSON object; fix or move it, then retry.")
    merged = dict(existing)
    for section, servers in config.items():
        current = merged.get(section)
        if current is not None and not isinstance(current, dict):
            raise UsageError(f"{target}: '{section}' is not a JSON object; fix it, then retry.")
        merged[section] = {**(current or {}), **servers}
    return merged


def write_config(target: Path, document: dict[str, Any]) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.tmp.{os.getpid()}")
    tmp.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, target)
