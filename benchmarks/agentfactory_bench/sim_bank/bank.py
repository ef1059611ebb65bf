"""The capability record, the registry, trigger matching and chains.

A `Capability` is one piece of the simulated model's knowledge: a general subagent (code on disk in
`code/`), the words that signal it, the tools it needs, how to read its inputs from a task text and
how to phrase the final answer from its result. `match` scores a task against every capability's
triggers; `plan` turns a task into the chain of capabilities to run and the first one's inputs.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

ExtractInputs = Callable[[str, list[str]], "dict[str, Any] | None"]
Answer = Callable[[dict[str, Any], dict[str, Any]], str]
# (previous result, previous inputs, task text, input files) -> inputs of the next capability
NextInputs = Callable[[dict[str, Any], dict[str, Any], str, list[str]], "dict[str, Any] | None"]


@cache
def _source(module: str) -> str:
    return resources.files("agentfactory_bench.sim_bank").joinpath("code", f"{module}.py").read_text("utf-8")


@dataclass(frozen=True)
class Capability:
    """One known solution. `code` is a general subagent module (`def run(**inputs) -> dict`)."""

    name: str
    description: str
    triggers: tuple[str, ...]  # words of the family; a hit is a word starting with the trigger
    strong: tuple[str, ...]  # the family's key concepts: at least one must hit, each counts 2
    tools: tuple[str, ...]
    module: str  # file stem under code/, also the entry module name
    extract_inputs: ExtractInputs
    answer: Answer
    inputs_schema: dict[str, Any] = field(default_factory=dict)
    # A realistic first draft: edits (old, new) applied to `code`; the bug shows only when run.
    buggy_edits: tuple[tuple[str, str], ...] = ()
    bug: str = ""  # what the draft gets wrong (for logs and tests, never shown to the model)
    then: str | None = None  # name of the capability that continues this one
    next_inputs: NextInputs | None = None  # inputs for `then`, from this one's result
    head: bool = True  # False: reached only through another capability's `then`
    min_score: float = 3.0
    # Asks this solution does not answer ("which links are broken" is not "list the links"): a
    # task naming one is outside the capability however many triggers it shares.
    excludes: tuple[str, ...] = ()

    @property
    def code(self) -> str:
        return _source(self.module)

    @property
    def entry(self) -> str:
        """The module name, as ExecutionRequest.entry expects it."""
        return self.module

    @property
    def filename(self) -> str:
        return f"{self.module}.py"

    @property
    def buggy_code(self) -> str | None:
        if not self.buggy_edits:
            return None
        code = self.code
        for old, new in self.buggy_edits:
            if old not in code:  # a stale edit must fail loudly in tests, not give a correct "draft"
                raise ValueError(f"buggy edit for {self.name} no longer applies: {old[:40]!r}")
            code = code.replace(old, new, 1)
        return code

    def score(self, task_text: str) -> float:
        low = task_text.lower()
        if any(_hit(t, low) for t in self.excludes):
            return 0.0
        strong = sum(1 for t in self.strong if _hit(t, low))
        if not strong:
            return 0.0
        weak = sum(1 for t in self.triggers if _hit(t, low))
        return 2.0 * strong + weak


def _hit(trigger: str, low_text: str) -> bool:
    """A word starting with the trigger; a trigger starting with punctuation (".py") may end a word,
    and one ending in \\b must end one ("vol\\b" is not "volume")."""
    start = "" if not trigger[:1].isalnum() else r"(?<![a-z0-9])"
    whole = trigger.endswith("\\b")
    body = re.escape(trigger[:-2].lower() if whole else trigger.lower())
    return re.search(start + body + (r"(?![a-z0-9])" if whole else ""), low_text) is not None


@dataclass(frozen=True)
class Plan:
    """What to run for a task: `chain[0]` with `inputs`, then each next one from the previous result."""

    chain: tuple[Capability, ...]
    inputs: dict[str, Any]
    score: float

    def next_inputs(
        self,
        index: int,
        result: dict[str, Any],
        inputs: dict[str, Any],
        task_text: str,
        input_files: list[str],
    ) -> dict[str, Any] | None:
        """Inputs of chain[index + 1] from chain[index]'s result and inputs."""
        current = self.chain[index]
        if current.next_inputs is None or index + 1 >= len(self.chain):
            return None
        return current.next_inputs(result, inputs, task_text, input_files)

    def answer(self, result: dict[str, Any], inputs: dict[str, Any]) -> str:
        """The final answer from the last capability's result and inputs."""
        return self.chain[-1].answer(result, inputs)


class Bank:
    def __init__(self, capabilities: list[Capability]):
        names = [c.name for c in capabilities]
        if len(set(names)) != len(names):
            raise ValueError("capability names must be unique")
        self.capabilities = list(capabilities)
        self._by_name = {c.name: c for c in capabilities}
        for c in capabilities:
            if c.then is not None and c.then not in self._by_name:
                raise ValueError(f"{c.name} continues with unknown capability {c.then}")

    def get(self, name: str) -> Capability:
        return self._by_name[name]

    def match(self, task_text: str) -> list[tuple[Capability, float]]:
        """Head capabilities whose triggers fit the task, best first; empty for an unknown family."""
        scored = [(c, c.score(task_text)) for c in self.capabilities if c.head]
        hits = [(c, s) for c, s in scored if s >= c.min_score]
        return sorted(hits, key=lambda cs: (-cs[1], cs[0].name))

    def chain(self, capability: Capability) -> tuple[Capability, ...]:
        out, current = [capability], capability
        while current.then is not None and len(out) < 5:
            current = self._by_name[current.then]
            out.append(current)
        return tuple(out)

    def plan(self, task_text: str, input_files: list[str]) -> Plan | None:
        """The best matching capability whose inputs can be read from the task, with its chain."""
        for capability, score in self.match(task_text):
            inputs = capability.extract_inputs(task_text, list(input_files))
            if inputs is not None:
                return Plan(self.chain(capability), inputs, score)
        return None
