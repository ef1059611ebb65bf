"""Deploy: export a mature library subagent as a pip package, an Agent Skills folder and an MCP server.

Public API:
    deploy(settings, name, *, version=None, formats=None, out=None, force=False, build=False,
           package_name=None, license=None, python=None, library=None, run_cases=None,
           count_runs=None, progress=None) -> DeployResult
    parse_formats(value) -> tuple[str, ...];  export_names(subagent, requested=None) -> ExportNames;
    DeployResult (.to_json());  DeployRefused;  MaturityReport
The exports never need AgentFactory; nothing here imports or runs a subagent's code on the host.
"""

from __future__ import annotations

import sys

from agentfactory.deploy.deployer import FORMATS, DeployRefused, DeployResult, deploy, parse_formats
from agentfactory.deploy.gate import CaseOutcome, MaturityReport, check_maturity
from agentfactory.deploy.names import ExportNames, export_names

__all__ = [
    "FORMATS",
    "CaseOutcome",
    "DeployRefused",
    "DeployResult",
    "ExportNames",
    "MaturityReport",
    "check_maturity",
    "deploy",
    "export_names",
    "parse_formats",
]


class _CallableModule(type(sys.modules[__name__])):
    """`from agentfactory import deploy` gives this package whatever was imported first; calling it
    is calling `deploy()`, so `deploy(settings, name, ...)` works either way."""

    def __call__(self, *args, **kwargs) -> DeployResult:
        return deploy(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
