"""Self-evolve: refine library subagents from their failing executions, behind the per-case regression gate.

Split by job: `records` (what is planned, decided and reported), `planning` (what to evolve, from the
experience store), `forensics` (failing inputs and traces recovered from old runs), `revision` (the
prompt, the revised code, its validation and verdict) and `loop` (the run, its budget and the
conversation through the shared tool loop). Evolve writes to the library only through `Library.save`
and the library's own SKILL.md and cases.jsonl writers, and never knows which model provider or sandbox
backend it talks to.
"""

from agentfactory.evolve.loop import Evolver
from agentfactory.evolve.records import (
    ACCEPT_ALL,
    ACCEPT_MORE,
    FAILED_VERDICTS,
    EvolveOptions,
    EvolveOutcome,
    EvolvePlan,
    EvolveReport,
    FailingCase,
    RoundRecord,
)
from agentfactory.evolve.revision import SUBMIT_REVISION

__all__ = [
    "ACCEPT_ALL",
    "ACCEPT_MORE",
    "FAILED_VERDICTS",
    "SUBMIT_REVISION",
    "EvolveOptions",
    "EvolveOutcome",
    "EvolvePlan",
    "EvolveReport",
    "Evolver",
    "FailingCase",
    "RoundRecord",
]
