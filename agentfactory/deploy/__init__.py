"""Deploy: export a mature library subagent as a pip package, an Agent Skills folder and an MCP server.

Public API:
    deploy(settings, name, *, version=None, formats=FORMATS, out=None, force=False, build=False,
           library=None, run_cases=None, count_runs=None) -> DeployResult
    parse_formats(value) -> tuple[str, ...];  DeployResult;  DeployRefused;  MaturityReport
The exports never need AgentFactory; nothing here imports or runs a subagent's code on the host.
"""

from __future__ import annotations

import sys

from agentfactory.deploy.deployer import FORMATS, DeployRefused, DeployResult, deploy, parse_formats
from agentfactory.deploy.gate import CaseOutcome, MaturityReport, check_maturity

__all__ = [
    "FORMATS",
    "CaseOutcome",
    "DeployRefused",
    "DeployResult",
    "MaturityReport",
    "check_maturity",
    "deploy",
    "parse_formats",
]


class _CallableModule(type(sys.modules[__name__])):
    """`from agentfactory import deploy` gives this package whatever was imported first; calling it
    is calling `deploy()`, so `deploy(settings, name, ...)` works either way."""

    def __call__(self, *args, **kwargs) -> DeployResult:
        return deploy(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
