"""`agentfactory mcp ...`: serve the library to MCP hosts, and print their client configuration."""

from __future__ import annotations

import json
import logging
import os
import sys
from pathlib import Path

import typer

from agentfactory.cli.common import (
    ROOT_CONFIG,
    ConfigOpt,
    LibraryOpt,
    SandboxOpt,
    WorkspacesOpt,
    console,
    settings,
)
from agentfactory.cli.untrusted import visible
from agentfactory.errors import UsageError

app = typer.Typer(
    help="Serve the library to MCP hosts (Claude Code, Claude Desktop, Cursor, VS Code).",
    no_args_is_help=True,
)

ProjectOpt = typer.Option(
    None,
    "--project",
    help="The project folder to serve (default: the current folder); relative paths resolve here.",
)


def _enter(project: Path | None) -> None:
    if project is None:
        return
    try:
        os.chdir(project)
    except OSError as exc:
        raise UsageError(
            f"Cannot enter the project folder {visible(project)}: {exc.strerror or exc}."
        ) from None


@app.command("serve")
def serve(
    http: bool = typer.Option(False, "--http", help="Serve streamable HTTP instead of stdio."),
    host: str = typer.Option(
        "127.0.0.1",
        "--host",
        help="HTTP address; any but 127.0.0.1, ::1 or localhost needs AGENTFACTORY_MCP_TOKEN.",
    ),
    port: int = typer.Option(8765, "--port", help="HTTP port (0: any free port, printed on stderr)."),
    sandbox: str = SandboxOpt,
    library: Path = LibraryOpt,
    workspaces: Path = WorkspacesOpt,
    project: Path = ProjectOpt,
    config: Path = ConfigOpt,
) -> None:
    """Serve the project's library over MCP: search, view, run (in the sandbox) and save (through the gate).

    stdio by default (what a client starts from its configuration, see `agentfactory mcp config`);
    --http serves streamable HTTP on 127.0.0.1, or on --host with a bearer token from AGENTFACTORY_MCP_TOKEN.
    """
    from agentfactory.mcp import server

    _enter(project)
    s = settings(config, sandbox=sandbox, library=library, workspaces=workspaces)
    logging.basicConfig(stream=sys.stderr, level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    if not (0 <= port <= 65535):
        raise UsageError(f"--port {port} is not a port number (0 to 65535).")
    if http:
        server.serve_http(s, host=host, port=port)
    else:
        if host != "127.0.0.1":
            raise UsageError("--host applies to --http only; stdio serves the client that started it.")
        server.serve_stdio(s)


@app.command("config")
def config_cmd(
    client: str = typer.Option(..., "--client", help="claude-code, claude-desktop, cursor or vscode."),
    write: bool = typer.Option(False, "--write", help="Merge it into the client's configuration file."),
    path: Path = typer.Option(None, "--path", help="The file --write changes (default: the client's)."),
    sandbox: str = SandboxOpt,
    project: Path = ProjectOpt,
    config: Path = ConfigOpt,
) -> None:
    """Print (or --write) the configuration that makes CLIENT start `agentfactory mcp serve` for this project."""
    from agentfactory.mcp.config import client_config, default_target, merge_into, write_config

    root = Path(project or ".").resolve()
    if not root.is_dir():
        raise UsageError(f"The project folder {visible(root)} does not exist.")
    config_file = config or ROOT_CONFIG["path"]
    if config_file is None and (root / "agentfactory.toml").is_file():
        config_file = root / "agentfactory.toml"
    if config_file is not None and not Path(config_file).is_file():
        raise UsageError(f"The config file {visible(config_file)} does not exist.")
    document = client_config(client, root, Path(config_file) if config_file else None, sandbox)
    if not write:
        sys.stdout.write(json.dumps(document, indent=2) + "\n")
        return
    target = path or default_target(client, root)
    write_config(target, merge_into(target, document))
    console.print(f"Wrote the agentfactory MCP server into {visible(target)}.", highlight=False, markup=False)
