"""`agentfactory config show`: the resolved settings and where each came from."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from agentfactory.cli.common import ROOT_CONFIG, ConfigOpt, JsonOpt, console, print_json
from agentfactory.cli.untrusted import show
from agentfactory.config import DEFAULT_PRICES, resolve_settings

app = typer.Typer(help="Show the resolved settings and where each came from.", no_args_is_help=True)


@app.command("show")
def show_cmd(config: Path = ConfigOpt, json_: bool = JsonOpt) -> None:
    """Print every setting with its value and its source: a flag, $VARIABLE, a config file, or default.

    The config file is --config, else $AGENTFACTORY_CONFIG, else the nearest agentfactory.toml from the
    current folder upwards.
    """
    resolved = resolve_settings(config_file=config or ROOT_CONFIG["path"])
    settings, sources = resolved.settings, resolved.sources
    rows: list[dict[str, Any]] = []
    for name, source in sources.items():
        value = settings.value(name)
        if name == "prices":
            added = sorted(set(value) - set(DEFAULT_PRICES))
            value = f"{len(value)} models" + (f" ({', '.join(added)} added)" if added else "")
        elif name == "mcp_servers":  # never their env or headers: they hold credentials
            value = ", ".join(f"{n} ({c.describe()})" for n, c in value.items()) or "none"
        rows.append({"name": name, "value": _plain(value), "source": source})
    model = settings.resolved_model()
    if json_:
        print_json(
            {
                "config_file": str(resolved.config_path) if resolved.config_path else None,
                "resolved_model": model,
                "settings": rows,
            }
        )
        return
    where = show(resolved.config_path) if resolved.config_path else "none found (defaults apply)"
    console.print(f"Config file: {where}", highlight=False)
    table = Table("setting", "value", "source")
    for row in rows:
        value = "-" if row["value"] is None else row["value"]
        table.add_row(row["name"], show(value), show(row["source"]))
    console.print(table)
    note = (
        ""
        if settings.models.model
        else " (not set: chosen from the API keys present, else the simulated model)"
    )
    console.print(f"Meta-agent model in use: {show(model)}{note}", highlight=False)


def _plain(value: Any) -> Any:
    return str(value) if isinstance(value, Path) else value
