"""`agentfactory models`: the model providers this installation knows and the models it has prices for."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import typer
from rich.table import Table
from rich.text import Text

from agentfactory.cli.common import ConfigOpt, JsonOpt, console, print_json, settings
from agentfactory.cli.untrusted import show


def register(app: typer.Typer) -> None:
    app.command("models")(models)


def models(config: Path = ConfigOpt, json_: bool = JsonOpt) -> None:
    """List the model providers and the models of the price table (USD per million tokens)."""
    from agentfactory.llm.pricing import effective_cache_prices
    from agentfactory.llm.registry import provider_for_model, provider_names

    cfg = settings(config=config)
    providers = [_provider(name, cfg) for name in provider_names()]
    priced = []
    for name, prices in sorted(cfg.models.prices.items()):
        provider = provider_for_model(name) or "openai"
        spec = f"{provider}:{name}"
        read, write = effective_cache_prices(prices, spec)
        priced.append(
            {
                "model": name,
                "spec": spec,
                "input": prices.input,
                "output": prices.output,
                "cache_read": read,
                "cache_write": write,
            }
        )
    if json_:
        print_json({"default_model": cfg.resolved_model(), "providers": providers, "models": priced})
        return
    table = Table("provider", "spec", "ready", "needs", "what", title="Providers")
    for p in providers:
        needs = Text(p["needs"] or "-")  # plain text: `[anthropic]` is not rich markup
        table.add_row(p["name"], p["spec"], "yes" if p["ready"] else "no", needs, p["about"])
    console.print(table)
    table = Table(
        "model", "spec", "input", "output", "cache read", "cache write", title="Prices ($/M tokens)"
    )
    for m in priced:
        table.add_row(
            show(m["model"]),
            show(m["spec"]),
            *(f"{m[k]:g}" for k in ("input", "output", "cache_read", "cache_write")),
        )
    console.print(table)
    console.print(
        f"Default model here: {show(cfg.resolved_model())}. Choose one with --model or `model` in "
        'agentfactory.toml; add prices under \\[prices."<model>"].',
        highlight=False,
    )


def _provider(name: str, cfg: Any) -> dict[str, Any]:
    from agentfactory.errors import ConfigError
    from agentfactory.llm.registry import load_plugin

    try:
        plugin = load_plugin(name)
    except ConfigError as exc:  # a broken third-party plugin is listed, not fatal
        return {"name": name, "spec": "", "installed": False, "ready": False, "needs": "", "about": str(exc)}
    installed = not plugin.module or importlib.util.find_spec(plugin.module) is not None
    ready = installed and (plugin.configured is None or plugin.configured(cfg.models, cfg.credentials))
    needs = plugin.needs
    if not installed and plugin.extra:  # the SDK first: without it a key does nothing
        needs = f"pip install 'agentfactory[{plugin.extra}]'" + (f", then {needs}" if needs else "")
    return {
        "name": name,
        "spec": plugin.spec,
        "installed": installed,
        "ready": ready,
        "needs": needs,
        "about": plugin.about,
    }
