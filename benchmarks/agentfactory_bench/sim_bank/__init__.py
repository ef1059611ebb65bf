"""The simulated model's knowledge: a bank of general capability solutions and its `llm`-tool answers.

Public: `Capability`, `Plan`, `BANK`, `CAPABILITIES`, `match`, `plan`, `get`, `sim_llm_answer`.
The subagent modules in `code/` are data for the simulated model (it "writes" them); the framework
never imports them on the host.
"""

from __future__ import annotations

from agentfactory_bench.sim_bank.bank import Bank, Capability, Plan
from agentfactory_bench.sim_bank.capabilities import CAPABILITIES
from agentfactory_bench.sim_bank.llm_answer import classify_sentiment, sim_llm_answer, summarise

BANK = Bank(CAPABILITIES)


def match(task_text: str) -> list[tuple[Capability, float]]:
    """Capabilities whose triggers fit the task, best first; empty when no family fits."""
    return BANK.match(task_text)


def plan(task_text: str, input_files: list[str]) -> Plan | None:
    """The chain of capabilities for a task and the first one's inputs; None when nothing fits."""
    return BANK.plan(task_text, input_files)


def get(name: str) -> Capability:
    return BANK.get(name)


__all__ = [
    "BANK",
    "CAPABILITIES",
    "Bank",
    "Capability",
    "Plan",
    "classify_sentiment",
    "get",
    "match",
    "plan",
    "sim_llm_answer",
    "summarise",
]
