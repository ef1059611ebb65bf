"""Typed exceptions for expected failures.

Every failure a user can cause or meet (bad config, unreachable Docker, invalid subagent, exhausted
budget) is one of these. Each carries a one-sentence message that says what went wrong and what to do,
and the process exit code the CLI maps it to. Unexpected failures stay ordinary exceptions.
"""

from __future__ import annotations

import importlib
from types import ModuleType

EXIT_OK = 0
EXIT_TASK_FAILED = 1
EXIT_USAGE = 2
EXIT_CONFIG = 3
EXIT_BUDGET = 4
EXIT_INTERRUPTED = 130


class AgentFactoryError(Exception):
    """Base of all expected errors: the message is meant for the user as is."""

    exit_code: int = EXIT_TASK_FAILED


class ConfigError(AgentFactoryError):
    """Settings, flags or credentials are missing or invalid."""

    exit_code = EXIT_CONFIG


class UsageError(AgentFactoryError):
    """The user asked for something that cannot be done as asked (bad argument, unknown name)."""

    exit_code = EXIT_USAGE


class InvalidSetting(UsageError, ConfigError):
    """A setting's value is out of its type or bounds, from a flag, the environment or a config file.
    Named by setting and source; a usage error (exit 2) wherever the value came from."""

    exit_code = EXIT_USAGE


class ProviderError(AgentFactoryError):
    """A model provider failed in a way retries could not fix."""


class ProviderTimeout(ProviderError):
    """A model call did not finish within its overall deadline (setting call_timeout_s)."""


class ContextWindowExceeded(ProviderError):
    """The conversation no longer fits the model's context window."""


class AuthenticationError(ProviderError, ConfigError):
    """The provider refused the credentials (401/403)."""

    exit_code = EXIT_CONFIG


class ValidationError(AgentFactoryError):
    """A subagent, case, suite or other input failed validation; nothing was written."""

    exit_code = EXIT_USAGE


class LibraryError(AgentFactoryError):
    """The subagent library could not do what was asked."""


class SandboxError(AgentFactoryError):
    """The sandbox backend is unavailable or misconfigured."""

    exit_code = EXIT_CONFIG


class MissingExtra(ConfigError):
    """An optional part is not installed: the message names the extra and the exact pip install."""

    def __init__(self, what: str, module: str, extra: str, alternative: str = ""):
        self.module, self.extra = module, extra
        super().__init__(
            f"{what} needs the {module} package, which is not installed: "
            f"pip install 'agentfactory[{extra}]'{alternative}."
        )


class MissingSandboxExtra(MissingExtra, SandboxError):
    """The docker sandbox's SDK is missing: a configuration error that sandbox checks also report."""


def import_extra(
    module: str, extra: str, what: str, alternative: str = "", error: type[MissingExtra] = MissingExtra
) -> ModuleType:
    """Import the SDK of an optional part, or raise `error` naming `pip install 'agentfactory[extra]'`."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        if exc.name not in (None, module) and not str(exc.name).startswith(module + "."):
            raise  # the SDK is there but one of its own dependencies is broken: not a missing extra
        raise error(what, module, extra, alternative) from None


class BudgetExhausted(AgentFactoryError):
    """A run reached one of its step, token or cost limits."""

    exit_code = EXIT_BUDGET
