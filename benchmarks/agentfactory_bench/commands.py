"""The commands the benchmark adds to `agentfactory` (entry-point group `agentfactory.commands`).

Kept light: `agentfactory --help` reads COMMAND_HELP here without importing typer or the harness, and
the commands are registered from `agentfactory_bench.cli` only when one of them is invoked.
tests/cli/test_startup.py compares these lines with the commands' own help.
"""

from __future__ import annotations

from typing import Any

COMMAND_HELP = {
    "bench": "Run the benchmark: each method on batch 1 then batch 2, starting from nothing; tokens, cost, "
    "success.",
    "demo": "Show the point of AgentFactory offline: batch 1 vs batch 2 on the simulated model, vs a ReAct "
    "agent.",
}


def register(app: Any) -> None:
    from agentfactory_bench.cli import register as register_commands

    register_commands(app)
