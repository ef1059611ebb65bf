"""AgentFactory: agents that get better with use by keeping their experience as executable code.

The supported Python API is what this module exports (`__all__`); everything else may change between
versions. The heavy parts (the Meta-Agent, the library, evolve, deploy) are imported on first use, so
`import agentfactory` stays cheap:

    from agentfactory import MetaAgent, Library, load_settings

    settings = load_settings({"sandbox": "local"})
    result = MetaAgent(settings).run("Convert people.csv to JSON", input_files=["people.csv"])
    print(result.status, result.answer)
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

from agentfactory.errors import (  # noqa: E402
    AgentFactoryError,
    AuthenticationError,
    BudgetExhausted,
    ConfigError,
    ContextWindowExceeded,
    InvalidSetting,
    LibraryError,
    MissingExtra,
    ProviderError,
    ProviderTimeout,
    SandboxError,
    UsageError,
    ValidationError,
)

# name -> module that defines it, imported on first access (PEP 562): `agentfactory --version` and
# `--help` import this package and must not pay for the settings, the events or the rest.
_LAZY = {
    "Settings": "agentfactory.config",
    "Budgets": "agentfactory.config",
    "ModelSettings": "agentfactory.config",
    "Paths": "agentfactory.config",
    "RunPolicy": "agentfactory.config",
    "SandboxSettings": "agentfactory.config",
    "ToolSettings": "agentfactory.config",
    "load_settings": "agentfactory.config",
    "EventLog": "agentfactory.events",
    "read_events": "agentfactory.events",
    "summarize_run": "agentfactory.events",
    "Message": "agentfactory.llm.types",
    "ModelResponse": "agentfactory.llm.types",
    "ToolCall": "agentfactory.llm.types",
    "ToolSpec": "agentfactory.llm.types",
    "Usage": "agentfactory.llm.types",
    "MetaAgent": "agentfactory.meta.agent",
    "RunResult": "agentfactory.engine.run",
    "Library": "agentfactory.library",
    "Subagent": "agentfactory.library",
    "Case": "agentfactory.library",
    "Evolver": "agentfactory.evolve",
    "EvolveOptions": "agentfactory.evolve",
    "DeployRefused": "agentfactory.deploy",
}

if TYPE_CHECKING:
    from agentfactory import deploy
    from agentfactory.config import (
        Budgets,
        ModelSettings,
        Paths,
        RunPolicy,
        SandboxSettings,
        Settings,
        ToolSettings,
        load_settings,
    )
    from agentfactory.deploy import DeployRefused
    from agentfactory.engine.run import RunResult
    from agentfactory.events import EventLog, read_events, summarize_run
    from agentfactory.evolve import EvolveOptions, Evolver
    from agentfactory.library import Case, Library, Subagent
    from agentfactory.llm.types import Message, ModelResponse, ToolCall, ToolSpec, Usage
    from agentfactory.meta.agent import MetaAgent


def __getattr__(name: str) -> Any:
    if name == "deploy":
        # The package `agentfactory.deploy` is itself callable as its `deploy()` function, so the name
        # means the same whether or not the subpackage was imported before (which rebinds it).
        return importlib.import_module("agentfactory.deploy")
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'agentfactory' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


__all__ = [
    "AgentFactoryError",
    "AuthenticationError",
    "BudgetExhausted",
    "Budgets",
    "Case",
    "ConfigError",
    "ContextWindowExceeded",
    "DeployRefused",
    "EventLog",
    "EvolveOptions",
    "Evolver",
    "InvalidSetting",
    "Library",
    "LibraryError",
    "Message",
    "MetaAgent",
    "MissingExtra",
    "ModelResponse",
    "ModelSettings",
    "Paths",
    "ProviderError",
    "ProviderTimeout",
    "RunPolicy",
    "RunResult",
    "SandboxError",
    "SandboxSettings",
    "Settings",
    "Subagent",
    "ToolCall",
    "ToolSettings",
    "ToolSpec",
    "Usage",
    "UsageError",
    "ValidationError",
    "__version__",
    "deploy",
    "load_settings",
    "read_events",
    "summarize_run",
]
