"""Deploy: export a mature library subagent as a pip package, an Agent Skills folder and an MCP server.

Public API:
    deploy(settings, name, *, version=None, formats=FORMATS, out=None, force=False, build=False,
           library=None, run_cases=None, count_runs=None) -> DeployResult
    parse_formats(value) -> tuple[str, ...];  DeployResult;  DeployRefused;  MaturityReport
The exports never need AgentFactory; nothing here imports or runs a subagent's code on the host.
"""

from __future__ import annotations

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
