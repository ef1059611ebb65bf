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

# What each provider of the registry needs; a provider missing here is listed without details.
_PROVIDERS: dict[str, dict[str, Any]] = {
    "anthropic": {
        "spec": "anthropic:<model>",
        "needs": "ANTHROPIC_API_KEY",
        "module": "anthropic",
        "about": "Anthropic's API (prompt caching on the stable prefix).",
    },
    "openai": {
        "spec": "openai:<model>",
        "needs": "OPENAI_API_KEY, or a base URL",
        "module": "openai",
        "about": "OpenAI's API, or any OpenAI-compatible server (Ollama, vLLM, LM Studio) via --base-url.",
    },
    "scripted": {
        "spec": "scripted:<file.json>",
        "needs": "",
        "module": "agentfactory.llm.scripted",
        "about": "Replays the responses of a JSON file (tests, reproducible demos).",
    },
    "sim": {
        "spec": "sim",
        "needs": "",
        "module": "agentfactory.llm.sim",
        "about": "The simulated model (offline demo and benchmark; its figures are labelled simulated).",
    },
}


def register(app: typer.Typer) -> None:
    app.command("models")(models)


def models(config: Path = ConfigOpt, json_: bool = JsonOpt) -> None:
    """List the model providers and the models of the price table (USD per million tokens)."""
    from agentfactory.llm.pricing import effective_cache_prices
    from agentfactory.llm.registry import KNOWN_PREFIXES, provider_for_model

    cfg = settings(config=config)
    providers = [_provider(name, cfg) for name in KNOWN_PREFIXES]
    priced = []
    for name, prices in sorted(cfg.prices.items()):
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
    info = _PROVIDERS.get(name, {"spec": f"{name}:<model>", "needs": "", "module": "", "about": ""})
    installed = not info["module"] or importlib.util.find_spec(info["module"]) is not None
    if name == "anthropic":
        ready = installed and bool(cfg.credentials.get("ANTHROPIC_API_KEY"))
    elif name == "openai":
        ready = installed and bool(cfg.credentials.get("OPENAI_API_KEY") or cfg.openai_base_url)
    else:
        ready = installed
    needs = info["needs"]
    if not installed and name in ("anthropic", "openai"):  # the SDK first: without it a key does nothing
        needs = f"pip install 'agentfactory[{name}]', then {needs}"
    return {
        "name": name,
        "spec": info["spec"],
        "installed": installed,
        "ready": ready,
        "needs": needs,
        "about": info["about"],
    }
