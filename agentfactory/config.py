"""Settings, resolved in one place: CLI flag > environment variable > agentfactory.toml > default.

`load_settings()` is the only function that reads the environment or the config file for settings;
everything else receives a `Settings`. API keys are not settings: adapters read them from the usual
provider variables (ANTHROPIC_API_KEY, OPENAI_API_KEY) at call time and never write them anywhere.
"""

from __future__ import annotations

import math
import os
import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from agentfactory.errors import ConfigError, UsageError

CONFIG_FILE = "agentfactory.toml"
ENV_PREFIX = "AGENTFACTORY_"


@dataclass(frozen=True)
class Prices:
    """US dollars per million tokens for one model."""

    input: float
    output: float
    cache_read: float | None = None
    cache_write: float | None = None


# Public list prices (USD per million tokens) at the time of writing; override in agentfactory.toml
# under [prices."<model>"]. A model missing here is costed at 0 and says so in `runs show`.
DEFAULT_PRICES: dict[str, Prices] = {
    "claude-opus-4-6": Prices(5.0, 25.0, 0.5, 6.25),
    "claude-sonnet-4-6": Prices(3.0, 15.0, 0.3, 3.75),
    "claude-haiku-4-5": Prices(1.0, 5.0, 0.1, 1.25),
    "gpt-4.1": Prices(2.0, 8.0, 0.5, None),
    "gpt-4.1-mini": Prices(0.4, 1.6, 0.1, None),
    "gpt-4o": Prices(2.5, 10.0, 1.25, None),
    "gpt-4o-mini": Prices(0.15, 0.6, 0.075, None),
}


@dataclass(frozen=True)
class Settings:
    """Every setting the framework reads. Field names are the keys of agentfactory.toml."""

    model: str | None = None  # meta-agent model spec, e.g. "anthropic:claude-opus-4-6"; None = auto
    subagent_model: str | None = None  # model behind the `llm` tool skill; None = same as `model`
    anthropic_base_url: str | None = None
    openai_base_url: str | None = None
    library: Path = Path("subagent_library")
    workspaces: Path = Path("workspaces")
    sandbox: str = "docker"  # "docker" or "local"
    image: str = "agentfactory-sandbox:latest"
    timeout_s: float = 120.0
    memory_mb: int = 512
    max_steps: int = 40
    max_tokens: int = 2_000_000
    max_cost: float = 10.0
    max_time: float | None = None  # wall-clock limit of a whole run (s); None = no limit
    max_output_tokens: int = 8192  # per model call
    call_timeout_s: float = 300.0  # overall deadline of one model call: connect, whole reply, all retries
    agent_id: str = "default"
    experience_db: Path | None = None  # experience store; None = <library>.experience.sqlite beside it
    web_search_backend: str = "auto"  # "auto", "local", "brave", "tavily"
    web_search_dir: Path | None = None  # documents for the local search backend
    web_fetch_allow_loopback: bool = False
    deploy_min_runs: int = 3  # successful recorded runs a subagent needs before `deploy` exports it
    prices: dict[str, Prices] = field(default_factory=lambda: dict(DEFAULT_PRICES))

    def resolved_model(self) -> str:
        """The meta-agent model: configured, else a real provider whose key is set, else the sim model."""
        if self.model:
            return self.model
        if os.environ.get("ANTHROPIC_API_KEY"):
            return "anthropic:claude-sonnet-4-6"
        if os.environ.get("OPENAI_API_KEY"):
            return "openai:gpt-4.1"
        return "sim"

    def resolved_subagent_model(self) -> str:
        return self.subagent_model or self.resolved_model()

    def price_for(self, model: str) -> Prices | None:
        """Prices for a bare model name or a spec ("anthropic:claude-..."); longest-prefix match."""
        name = model.split(":", 1)[-1]
        if name in self.prices:
            return self.prices[name]
        matches = [k for k in self.prices if name.startswith(k)]
        return self.prices[max(matches, key=len)] if matches else None


MAX_CALL_TIMEOUT_S = 86_400.0  # a day; beyond it timers overflow and "no deadline" is what is meant


def check_call_timeout(value: Any) -> float:
    """`value` as a model-call deadline in seconds, or ConfigError: finite, positive, at most a day."""
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        seconds = math.nan
    if isinstance(value, bool) or not (0 < seconds <= MAX_CALL_TIMEOUT_S):  # also refuses nan
        raise ConfigError(
            f"Setting 'call_timeout_s' must be a positive number of seconds up to {MAX_CALL_TIMEOUT_S:g}, "
            f"not {value!r}."
        )
    return seconds


_PATH_FIELDS = {"library", "workspaces", "web_search_dir", "experience_db"}
_ENV_ALIASES = {
    "openai_base_url": ("OPENAI_BASE_URL",),
    "anthropic_base_url": ("ANTHROPIC_BASE_URL",),
    "call_timeout_s": (ENV_PREFIX + "CALL_TIMEOUT",),
}


def _coerce(name: str, value: Any, source: str) -> Any:
    kinds = {f.name: f.type for f in fields(Settings)}
    kind = kinds[name]
    if value is None:
        return None
    try:
        if name in _PATH_FIELDS:
            return Path(os.path.expanduser(str(value)))
        if kind in ("int",):
            return int(value)
        if kind in ("float", "float | None"):
            return float(value)
        if kind in ("bool",):
            if isinstance(value, bool):
                return value
            text = str(value).strip().lower()
            if text in ("1", "true", "yes", "on"):
                return True
            if text in ("0", "false", "no", "off"):
                return False
            raise ValueError(value)
    except (TypeError, ValueError):
        raise ConfigError(f"Setting '{name}' from {source} has an invalid value {value!r}.") from None
    return str(value) if not isinstance(value, str) else value


def _read_file(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML ({exc}): fix it or delete it.") from None
    except OSError as exc:
        raise ConfigError(f"Cannot read {path}: {exc.strerror}.") from None
    return data


def _parse_prices(raw: Any, source: str) -> dict[str, Prices]:
    if not isinstance(raw, dict):
        raise ConfigError(f"[prices] in {source} must be a table of models.")
    out: dict[str, Prices] = {}
    for model, entry in raw.items():
        if not isinstance(entry, dict) or "input" not in entry or "output" not in entry:
            raise ConfigError(f"[prices.\"{model}\"] in {source} needs numeric 'input' and 'output' fields.")
        try:
            out[model] = Prices(**{k: float(v) for k, v in entry.items()})
        except (TypeError, ValueError):
            raise ConfigError(
                f'[prices."{model}"] in {source} has an unknown or non-numeric field.'
            ) from None
    return out


def load_settings(
    overrides: dict[str, Any] | None = None,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    config_file: Path | None = None,
) -> Settings:
    """Resolve settings: `overrides` (CLI flags, None = not given) > env > config file > defaults."""
    env = dict(os.environ) if env is None else env
    cwd = cwd or Path.cwd()
    path = config_file or Path(env.get(ENV_PREFIX + "CONFIG", "") or cwd / CONFIG_FILE)
    names = {f.name for f in fields(Settings)}
    values: dict[str, Any] = {}

    if path.is_file():
        data = _read_file(path)
        for key, value in data.items():
            if key == "prices":
                values["prices"] = {**DEFAULT_PRICES, **_parse_prices(value, str(path))}
            elif key in names:
                values[key] = _coerce(key, value, str(path))
            else:
                raise ConfigError(f"Unknown setting '{key}' in {path}; see `agentfactory init --help`.")
    elif config_file is not None:
        raise ConfigError(f"Config file {config_file} does not exist.")

    for name in names - {"prices"}:
        for var in (ENV_PREFIX + name.upper(), *_ENV_ALIASES.get(name, ())):
            if env.get(var):
                values[name] = _coerce(name, env[var], f"${var}")
                break

    for name, value in (overrides or {}).items():
        if value is not None:
            if name not in names:
                raise ConfigError(f"Unknown setting '{name}'.")
            values[name] = _coerce(name, value, "the command line") if name != "prices" else value

    settings = replace(Settings(), **values)
    for rel in sorted(_PATH_FIELDS):  # relative paths are relative to the working directory
        p = getattr(settings, rel)
        if p is not None and not p.is_absolute():
            settings = replace(settings, **{rel: (cwd / p)})
    check_call_timeout(settings.call_timeout_s)
    if settings.max_time is not None and not (math.isfinite(settings.max_time) and settings.max_time > 0):
        raise UsageError(f"max_time must be a positive, finite number of seconds, not {settings.max_time}.")
    if settings.sandbox not in ("docker", "local"):
        raise ConfigError(f"Unknown sandbox backend '{settings.sandbox}': use 'docker' or 'local'.")
    return settings


CONFIG_TEMPLATE = """\
# agentfactory.toml: settings for AgentFactory in this directory.
# Precedence: command-line flag > environment variable (AGENTFACTORY_<NAME>) > this file > default.
# API keys are never stored here: set ANTHROPIC_API_KEY or OPENAI_API_KEY in the environment.

# Meta-Agent model: "anthropic:claude-opus-4-6", "openai:gpt-4.1", "openai:llama3.1" with a base URL,
# or "sim" (the deterministic simulated model; figures it produces are labelled simulated).
# Unset: a real provider whose key is set, else "sim".
# model = "anthropic:claude-sonnet-4-6"

# Model behind the `llm` tool skill that subagents call (default: same as model).
# subagent_model = "anthropic:claude-haiku-4-5"

# OpenAI-compatible servers (Ollama, vLLM, LM Studio, llama.cpp): point the openai adapter at them.
# openai_base_url = "http://127.0.0.1:11434/v1"
# anthropic_base_url = ""

library = "subagent_library"      # git repository of subagents
workspaces = "workspaces"         # one folder per run
sandbox = "docker"                # "docker" (isolated) or "local" (weaker: a subprocess with rlimits)
# image = "agentfactory-sandbox:latest"
# timeout_s = 120                 # wall-clock limit per subagent execution
# memory_mb = 512

# Budgets per run: a run that reaches one stops cleanly with status budget_exhausted.
# max_steps = 40
# max_tokens = 2000000
# max_cost = 10.0
# max_time = 1800                 # wall clock of the whole run (s); default: no limit
# max_output_tokens = 8192        # per model call
# call_timeout_s = 300            # overall deadline of one model call (connect, whole reply, retries)

# agent_id = "default"            # name of this agent in a team sharing one library
# experience_db = "team.experience.sqlite"  # default: <library>.experience.sqlite beside it

# Tool skills of the subagents.
# web_search_backend = "auto"     # "auto", "local", "brave" (BRAVE_API_KEY), "tavily" (TAVILY_API_KEY)
# web_search_dir = "search_docs"  # documents searched by the "local" backend
# web_fetch_allow_loopback = false  # let web_fetch reach 127.0.0.1 (local test servers only)

# deploy_min_runs = 3             # successful recorded runs before `deploy` exports a subagent

# Price table, USD per million tokens (defaults cover current Anthropic and OpenAI models).
# [prices."my-local-model"]
# input = 0.0
# output = 0.0
"""
