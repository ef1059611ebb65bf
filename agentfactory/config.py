"""Settings, resolved in one place: CLI flag > environment variable > agentfactory.toml > default.

`resolve_settings()` (and `load_settings()`, its settings alone) is the only function that reads the
environment or the config file for settings; everything else receives a `Settings`, or rather the
group of it that concerns it: `Settings` is one small frozen record per component (`models`,
`sandbox`, `budgets`, `tools`, `paths`, `policy`), and the sandbox factory takes `settings.sandbox`, the
tool skills `settings.tools`, a run's budget `settings.budgets`, the experience store `settings.paths`,
the providers `settings.models`. Users still write flat keys (agentfactory.toml, AGENTFACTORY_<KEY>,
flags): `KEYS` maps each to its group and field. Every value is
checked here, whatever its source: numbers must be finite and within `BOUNDS`, and a refusal names the
setting and where the value came from (InvalidSetting, exit 2). `Settings(...)` built in Python meets
the same bounds. API keys are not settings (no config file, no `config show`): they are read here with
the settings, from the usual provider variables (`CREDENTIAL_VARIABLES`), and carried to the adapters
and tools in `Settings.credentials`, which is never printed nor written anywhere.
"""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Mapping
from dataclasses import field, fields, replace
from pathlib import Path
from typing import Any

from agentfactory.config_template import CONFIG_TEMPLATE  # noqa: F401  (`agentfactory init` writes it)
from agentfactory.errors import ConfigError, InvalidSetting
from agentfactory.records import record

CONFIG_FILE = "agentfactory.toml"
ENV_PREFIX = "AGENTFACTORY_"
# The provider variables the adapters and tools need: keys, and the endpoints the SDKs read beside them.
CREDENTIAL_VARIABLES = (
    "ANTHROPIC_API_KEY",
    "ANTHROPIC_BASE_URL",
    "OPENAI_API_KEY",
    "OPENAI_BASE_URL",
    "BRAVE_API_KEY",
    "TAVILY_API_KEY",
    "AGENTFACTORY_MCP_TOKEN",  # the bearer token `mcp serve --http` requires off loopback
)


class Credentials(Mapping[str, str]):
    """API keys and provider endpoints: a read-only mapping that never shows a value (its repr, and so
    any JSON or log a Settings ends up in, names the variables only)."""

    __slots__ = ("_values",)

    def __init__(self, values: Mapping[str, str] | None = None):
        self._values = dict(values or {})

    def __getitem__(self, name: str) -> str:
        return self._values[name]

    def __iter__(self) -> Any:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __repr__(self) -> str:
        return f"Credentials({', '.join(sorted(self._values))})"

    def __deepcopy__(self, memo: dict[int, Any]) -> Credentials:
        return self  # immutable


def read_credentials(env: Mapping[str, str] | None = None) -> Credentials:
    """The set provider variables of `env` (default: the process environment): the only place that
    reads API keys."""
    source = os.environ if env is None else env
    return Credentials({name: source[name] for name in CREDENTIAL_VARIABLES if source.get(name)})


@record(frozen=True)
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


def _key(name: str) -> dict[str, str]:
    """Field metadata naming the agentfactory.toml key of a field whose name differs from it."""
    return {"key": name}


@record(frozen=True)
class ModelSettings:
    """The models: which ones, where they are served, how a call is shaped and timed, what they cost.
    The providers, the metering and the tool loop take this group."""

    model: str | None = None  # meta-agent model spec, e.g. "anthropic:claude-opus-4-6"; None = auto
    subagent_model: str | None = None  # model behind the `llm` tool skill; None = same as `model`
    anthropic_base_url: str | None = None
    openai_base_url: str | None = None
    max_output_tokens: int | None = None  # per model call; None = the model's default (llm/models.py)
    context_window: int | None = None  # tokens the model accepts; None = the model's (llm/models.py)
    compact_at: float = 0.75  # share of the context window at which older tool results are compacted
    stream: str = "auto"  # "auto" (stream when the live view is on a terminal), "on", "off"
    call_timeout_s: float = 300.0  # overall deadline of one model call: connect, whole reply, all retries
    thinking_budget: int | None = None  # extended thinking tokens per Meta-Agent call; None = off
    evolve_thinking_budget: int | None = None  # the same for `agentfactory evolve`'s revisions
    prices: dict[str, Prices] = field(default_factory=lambda: dict(DEFAULT_PRICES))

    def __post_init__(self) -> None:
        _check_bounds(self)

    def price_for(self, model: str) -> Prices | None:
        """Prices for a bare model name or a spec ("anthropic:claude-..."); longest-prefix match."""
        name = model.split(":", 1)[-1]
        if name in self.prices:
            return self.prices[name]
        matches = [k for k in self.prices if name.startswith(k)]
        return self.prices[max(matches, key=len)] if matches else None

    def resolved_model(self, credentials: Mapping[str, str]) -> str:
        """The meta-agent model: configured, else a real provider whose key is set, else the sim model."""
        if self.model:
            return self.model
        if credentials.get("ANTHROPIC_API_KEY"):
            return "anthropic:claude-sonnet-4-6"
        if credentials.get("OPENAI_API_KEY"):
            return "openai:gpt-4.1"
        return "sim"

    def resolved_subagent_model(self, credentials: Mapping[str, str]) -> str:
        return self.subagent_model or self.resolved_model(credentials)


@record(frozen=True)
class SandboxSettings:
    """Where and how subagent code runs: the sandbox factory (`sandbox.get_backend`) takes this group."""

    backend: str = field(default="docker", metadata=_key("sandbox"))  # "docker" or "local"
    image: str = "agentfactory-sandbox:latest"
    # modules a pre-started docker sandbox imports before its job arrives ("" = none); still single-use
    preload: str = field(default="numpy,pandas,matplotlib", metadata=_key("sandbox_preload"))
    timeout_s: float = 120.0  # wall-clock limit of one execution
    memory_mb: int = 512

    def __post_init__(self) -> None:
        _check_bounds(self)


@record(frozen=True)
class Budgets:
    """The limits of one run (`engine.budget.Budget.from_limits` takes this group); None = no limit."""

    max_steps: int = 40
    max_tokens: int = 2_000_000
    max_cost: float = 10.0
    max_time: float | None = None  # wall-clock limit of a whole run (s); None = no limit

    def __post_init__(self) -> None:
        _check_bounds(self)


@record(frozen=True)
class ToolSettings:
    """The tool skills subagents call (`tools.build_handlers` takes this group)."""

    web_search_backend: str = "auto"  # "auto", "local", "brave", "tavily"
    web_search_dir: Path | None = None  # documents for the local search backend
    web_fetch_allow_loopback: bool = False
    # [mcp_servers.NAME] tables: MCP servers whose tools subagents may call (agentfactory/config_mcp.py)
    mcp_servers: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.mcp_servers and any(isinstance(v, dict) for v in self.mcp_servers.values()):
            # Tables given in Python, as in agentfactory.toml: parsed and checked the same way.
            from agentfactory.config_mcp import parse_mcp_servers

            tables = {k: v for k, v in self.mcp_servers.items() if isinstance(v, dict)}
            parsed = parse_mcp_servers(tables, "Settings()", Path.cwd(), dict(os.environ))
            object.__setattr__(self, "mcp_servers", {**self.mcp_servers, **parsed})


@record(frozen=True)
class Paths:
    """Where things are kept: the library, the run workspaces, the experience store."""

    library: Path = Path("subagent_library")
    workspaces: Path = Path("workspaces")
    experience_db: Path | None = None  # experience store; None = <library>.experience.sqlite beside it


@record(frozen=True)
class RunPolicy:
    """Who this agent is and when a subagent is trusted: final answers of reused subagents, deploys."""

    agent_id: str = "default"
    # Agents (comma-separated ids) whose recorded runs count, besides this agent's own, toward what is
    # trusted: final answers and deploy's maturity gate. Everyone's rows still rank search results.
    trusted_agents: str = ""
    # run_subagent(final=true) ends a run with a reused subagent's result only when it is mature (this
    # many earlier successful runs, stored cases) and the result has its cases' shape; false: never.
    final_answers: bool = True
    final_min_runs: int = 3
    deploy_min_runs: int = 3  # successful recorded runs a subagent needs before `deploy` exports it

    def __post_init__(self) -> None:
        _check_bounds(self)


@record(frozen=True)
class Settings:
    """Every setting the framework reads, in one group per component; each component takes its own
    group (the sandbox factory `settings.sandbox`, the tools `settings.tools`, ...). The keys of
    agentfactory.toml, the AGENTFACTORY_<KEY> variables and `config show` stay flat: `KEYS` maps each
    key to its group and field, and `Settings.from_keys(library=..., sandbox="local")` /
    `settings.with_keys(max_cost=1.0)` build from those keys."""

    models: ModelSettings = field(default_factory=ModelSettings)
    sandbox: SandboxSettings = field(default_factory=SandboxSettings)
    budgets: Budgets = field(default_factory=Budgets)
    tools: ToolSettings = field(default_factory=ToolSettings)
    paths: Paths = field(default_factory=Paths)
    policy: RunPolicy = field(default_factory=RunPolicy)
    # API keys and provider endpoints (CREDENTIAL_VARIABLES): not a setting, never shown (repr=False).
    credentials: Mapping[str, str] = field(default_factory=read_credentials, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.credentials, Credentials):  # a plain mapping given in Python
            object.__setattr__(self, "credentials", Credentials(self.credentials))
        for name, kind in _GROUPS.items():
            if not isinstance(getattr(self, name), kind):
                raise TypeError(f"Settings.{name} must be a {kind.__name__}, not {getattr(self, name)!r}.")

    @classmethod
    def from_keys(cls, credentials: Mapping[str, str] | None = None, **values: Any) -> Settings:
        """Settings from agentfactory.toml keys (`Settings.from_keys(library=p, sandbox="local")`), the
        rest defaults; `credentials` None reads the provider variables of the process."""
        made = cls() if credentials is None else cls(credentials=credentials)
        return made.with_keys(**values)

    def with_keys(self, **values: Any) -> Settings:
        """A copy with the settings named by their agentfactory.toml keys changed."""
        changes: dict[str, dict[str, Any]] = {}
        for key, value in values.items():
            if key not in KEYS:
                raise TypeError(f"Unknown setting '{key}'.")
            group, name = KEYS[key]
            changes.setdefault(group, {})[name] = value
        return replace(self, **{g: replace(getattr(self, g), **c) for g, c in changes.items()})

    def value(self, key: str) -> Any:
        """The value of the setting named by its agentfactory.toml key."""
        group, name = KEYS[key]
        return getattr(getattr(self, group), name)

    def __getattr__(self, name: str) -> Any:
        # Reading a setting by its flat key (`settings.library`) still works, with a DeprecationWarning
        # naming its group: code written before the groups (the README's example included) keeps running
        # while it moves. `sandbox` is the group itself; `library` etc. are never written this way.
        where = KEYS.get(name)
        if where is None or name == "sandbox":
            raise AttributeError(f"'Settings' object has no attribute '{name}'")
        group, attr = where
        warnings.warn(
            f"Settings.{name} is Settings.{group}.{attr}: read it from its group.", DeprecationWarning, 2
        )
        return getattr(object.__getattribute__(self, group), attr)

    def resolved_model(self) -> str:
        """The meta-agent model: configured, else a real provider whose key is set, else the sim model."""
        return self.models.resolved_model(self.credentials)

    def resolved_subagent_model(self) -> str:
        return self.models.resolved_subagent_model(self.credentials)


_GROUPS: dict[str, type] = {
    "models": ModelSettings,
    "sandbox": SandboxSettings,
    "budgets": Budgets,
    "tools": ToolSettings,
    "paths": Paths,
    "policy": RunPolicy,
}
# agentfactory.toml key -> (group, field): every setting a flag, a variable or the file may set.
KEYS: dict[str, tuple[str, str]] = {
    f.metadata.get("key", f.name): (group, f.name) for group, kind in _GROUPS.items() for f in fields(kind)
}
SETTING_NAMES = tuple(KEYS)
STREAM_MODES = ("auto", "on", "off")
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
DEFAULT_SOURCE = "default"


@record(frozen=True)
class Bound:
    """The sane range of a numeric setting: `low` (exclusive when `above`) to `high`, both included."""

    low: float
    high: float
    unit: str
    above: bool = False

    def describe(self) -> str:
        low = f"more than {_number(self.low)}" if self.above else f"at least {_number(self.low)}"
        return f"{low} and at most {_number(self.high)} {self.unit}".rstrip()


def _number(value: float) -> str:
    return f"{int(value):,}" if float(value).is_integer() else f"{value:g}"


# Every numeric setting has a bound here; a numeric field added without one gets GENERIC_BOUND.
BOUNDS: dict[str, Bound] = {
    "timeout_s": Bound(0.1, 86_400, "seconds"),
    "memory_mb": Bound(16, 1_048_576, "MB"),
    "max_steps": Bound(1, 100_000, "steps"),
    "max_tokens": Bound(1, 10_000_000_000, "tokens"),
    "max_cost": Bound(0, 1_000_000, "US dollars", above=True),
    "max_output_tokens": Bound(1, 1_000_000, "tokens"),
    "context_window": Bound(1_024, 100_000_000, "tokens"),
    "compact_at": Bound(0, 1, "of the context window", above=True),
    "deploy_min_runs": Bound(0, 1_000_000, "runs"),
    "final_min_runs": Bound(0, 1_000_000, "runs"),
    "max_time": Bound(0, 30 * 86_400, "seconds", above=True),
    "call_timeout_s": Bound(0, MAX_CALL_TIMEOUT_S, "seconds", above=True),
    "thinking_budget": Bound(1024, 1_000_000, "tokens"),  # 1,024: the Anthropic API's minimum
    "evolve_thinking_budget": Bound(1024, 1_000_000, "tokens"),
}
GENERIC_BOUND = Bound(0, 1_000_000_000, "", above=True)
PRICE_BOUND = Bound(0, 1_000_000, "US dollars per million tokens")


def _kind(f: Any) -> str:
    """A field's type as written, with an optional `| None` dropped ("int", "float", "str", ...)."""
    return str(f.type).replace(" | None", "").replace("None | ", "")


def _field_kinds() -> dict[str, str]:
    """Setting key -> its type as written ("int", "float", "str", ...)."""
    return {f.metadata.get("key", f.name): _kind(f) for kind in _GROUPS.values() for f in fields(kind)}


def _check_bounds(group: Any) -> None:
    """Settings built in Python (not through load_settings) meet the same bounds."""
    for f in fields(group):
        value = getattr(group, f.name)
        if _kind(f) in ("int", "float") and value is not None:
            check_number(f.metadata.get("key", f.name), value, "Settings()", _kind(f))


def _invalid(name: str, value: Any, source: str, expected: str) -> InvalidSetting:
    shown = repr(value) if isinstance(value, str) else str(value)
    if len(shown) > 60:
        shown = shown[:60] + "…"
    return InvalidSetting(f"Setting '{name}' from {source} is {shown}: it must be {expected}.")


def check_number(name: str, value: Any, source: str, kind: str) -> int | float:
    """`value` as the setting's type, finite and within its bound; InvalidSetting naming the source."""
    bound = BOUNDS.get(name, GENERIC_BOUND)
    expected = ("a whole number, " if kind == "int" else "a finite number, ") + bound.describe()
    if isinstance(value, bool):
        raise _invalid(name, value, source, expected)
    try:
        if kind == "int":
            if isinstance(value, float):
                if not value.is_integer():
                    raise ValueError(value)
                value = int(value)
            number: int | float = int(str(value).strip()) if isinstance(value, str) else int(value)
        else:
            number = float(value)
    except (TypeError, ValueError, OverflowError):
        raise _invalid(name, value, source, expected) from None
    if not math.isfinite(number):
        raise _invalid(name, value, source, expected)
    too_low = number <= bound.low if bound.above else number < bound.low
    if too_low or number > bound.high:
        raise _invalid(name, value, source, expected)
    return number


def _coerce(name: str, value: Any, source: str) -> Any:
    kind = _field_kinds()[name]
    if value is None:
        return None
    if kind in ("int", "float"):
        return check_number(name, value, source, kind)
    try:
        if name in _PATH_FIELDS:
            if isinstance(value, (dict, list, bool)):
                raise ValueError(value)
            return Path(os.path.expanduser(str(value)))
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
        raise InvalidSetting(f"Setting '{name}' from {source} has an invalid value {value!r}.") from None
    if isinstance(value, (dict, list)):
        raise InvalidSetting(f"Setting '{name}' from {source} must be text, not a {type(value).__name__}.")
    return str(value) if not isinstance(value, str) else value


def _read_file(path: Path) -> dict[str, Any]:
    import tomllib  # only a run with a settings file parses TOML (5 ms of start-up otherwise)

    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML ({exc}): fix it or delete it.") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path} is not UTF-8 text: fix it or delete it.") from None
    except RecursionError:
        raise ConfigError(f"{path} is nested too deeply to be read: fix it or delete it.") from None
    except OSError as exc:
        raise ConfigError(f"Cannot read {path}: {exc.strerror}.") from None
    return data


def _parse_prices(raw: Any, source: str) -> dict[str, Prices]:
    if not isinstance(raw, dict):
        raise ConfigError(f"[prices] in {source} must be a table of models.")
    out: dict[str, Prices] = {}
    names = {f.name for f in fields(Prices)}
    for model, entry in raw.items():
        if not isinstance(entry, dict) or "input" not in entry or "output" not in entry:
            raise ConfigError(f"[prices.\"{model}\"] in {source} needs numeric 'input' and 'output' fields.")
        if set(entry) - names:
            raise ConfigError(f'[prices."{model}"] in {source} has an unknown field.')
        checked = {}
        for key, value in entry.items():
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ConfigError(f"[prices.\"{model}\"] in {source} has a non-numeric field '{key}'.")
            if not math.isfinite(value) or not PRICE_BOUND.low <= value <= PRICE_BOUND.high:
                raise InvalidSetting(
                    f"Price '{key}' of [prices.\"{model}\"] from {source} is {value}: it must be a finite "
                    f"number, {PRICE_BOUND.describe()}."
                )
            checked[key] = float(value)
        out[model] = Prices(**checked)
    return out


def find_config(start: Path) -> Path | None:
    """The nearest agentfactory.toml in `start` or a folder above it (as git finds its repository)."""
    here = Path(start).absolute()
    for folder in (here, *here.parents):
        candidate = folder / CONFIG_FILE
        try:
            if candidate.is_file():
                return candidate
        except OSError:  # an unreadable folder on the way up ends the search
            return None
    return None


@record(frozen=True)
class Resolved:
    """Settings and, for each field, where its value came from: a flag, `$VARIABLE`, a config file's
    path, or "default"."""

    settings: Settings
    sources: dict[str, str]
    config_path: Path | None


def resolve_settings(
    overrides: dict[str, Any] | None = None,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    config_file: Path | None = None,
    flag_sources: dict[str, str] | None = None,
) -> Resolved:
    """Resolve settings: `overrides` (CLI flags, None = not given) > env > config file > defaults.

    The config file is `config_file`, else $AGENTFACTORY_CONFIG, else the nearest agentfactory.toml from
    `cwd` upwards. Relative paths from the file, and the default paths, are relative to the file's folder
    (the project); relative paths from flags and variables to `cwd`. Every value is checked here."""
    env = dict(os.environ) if env is None else env
    cwd = Path(cwd or Path.cwd()).absolute()
    flag_sources = flag_sources or {}
    names = set(SETTING_NAMES)
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}

    explicit = config_file or (Path(env[ENV_PREFIX + "CONFIG"]) if env.get(ENV_PREFIX + "CONFIG") else None)
    if explicit is not None:
        path: Path | None = explicit if explicit.is_absolute() else cwd / explicit
        if not path.is_file():
            how = "--config" if config_file is not None else f"${ENV_PREFIX}CONFIG"
            raise ConfigError(f"Config file {explicit} (from {how}) does not exist or is not a file.")
    else:
        path = find_config(cwd)
    base = path.parent if path is not None else cwd

    if path is not None:
        data = _read_file(path)
        for key, value in data.items():
            if key == "prices":
                values["prices"] = {**DEFAULT_PRICES, **_parse_prices(value, str(path))}
            elif key == "mcp_servers":
                from agentfactory.config_mcp import parse_mcp_servers

                values["mcp_servers"] = parse_mcp_servers(value, str(path), path.parent, env)
            elif key in names:
                values[key] = _coerce(key, value, str(path))
            else:
                raise ConfigError(f"Unknown setting '{key}' in {path}; see `agentfactory init --help`.")
            sources[key] = str(path)

    for name in names - {"prices", "mcp_servers"}:  # tables: only from the file or Python
        for var in (ENV_PREFIX + name.upper(), *_ENV_ALIASES.get(name, ())):
            if env.get(var):
                values[name] = _coerce(name, env[var], f"${var}")
                sources[name] = f"${var}"
                break

    for name, value in (overrides or {}).items():
        if value is not None:
            if name not in names:
                raise ConfigError(f"Unknown setting '{name}'.")
            source = flag_sources.get(name, "the command line")
            values[name] = _coerce(name, value, source) if name not in ("prices", "mcp_servers") else value
            sources[name] = source

    settings = Settings.from_keys(credentials=read_credentials(env), **values)
    for rel in sorted(_PATH_FIELDS):
        p = settings.value(rel)
        if p is not None and not p.is_absolute():
            origin = sources.get(rel, DEFAULT_SOURCE)
            root = base if origin in (DEFAULT_SOURCE, str(path)) else cwd
            settings = settings.with_keys(**{rel: (root / p)})
    if settings.sandbox.backend not in ("docker", "local"):
        raise InvalidSetting(
            f"Unknown sandbox backend '{settings.sandbox.backend}' from "
            f"{sources.get('sandbox', DEFAULT_SOURCE)}: use 'docker' or 'local'."
        )
    if settings.models.stream not in STREAM_MODES:
        raise InvalidSetting(
            f"Setting 'stream' from {sources.get('stream', DEFAULT_SOURCE)} is {settings.models.stream!r}: "
            "use 'auto', 'on' or 'off'."
        )
    return Resolved(settings, {n: sources.get(n, DEFAULT_SOURCE) for n in sorted(names)}, path)


def load_settings(
    overrides: dict[str, Any] | None = None,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    config_file: Path | None = None,
    flag_sources: dict[str, str] | None = None,
) -> Settings:
    """Resolved settings (see `resolve_settings`)."""
    return resolve_settings(overrides, env, cwd, config_file, flag_sources).settings
