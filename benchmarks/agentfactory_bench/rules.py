"""The simulated model's behaviour rules: one place, the same for every method.

The simulator is an oracle of equal competence. It knows each suite task's declared capabilities (the
suite author's reference code) and acts on them the same way whatever the method, so the benchmark
measures what orchestration costs, not how skilled each method's model is:

- same code: a capability is written as its reference code (with the task's declared revision), by
  the Meta-Agent as a subagent and by ReAct as a script file alike;
- same inspection: a method about to write new code for a task first inspects the task's input files
  (and the URLs its first capability reads) with the same inspection code;
- same mistakes: every fresh write of a capability carries its declared first-draft bug with the
  probability `bug_rate`, drawn from (`seed`, task, capability), so the draw is the same for every
  method; a bug is fixed from the failing trace with edits (the bug's edits undone). A write made after
  a lesson naming the capability's bug is in the method's prompt avoids it (only text-lessons keeps
  lessons);
- the same tools to fix code: ReAct keeps files for the whole task and has an edit tool, and starts
  each task with nothing; the Meta-Agent has its library;
- reuse: the Meta-Agent reuses a library match offered in the first message when it is the capability
  the task needs, and views its code before the first reuse in a run unless `view_before_reuse` is off.

These rules are frozen: a change in the figures must come from the product, not from here.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

# The code every method runs to look at a task's inputs before writing new code.
INSPECT_NAME = "inspect-inputs"
INSPECT_DESCRIPTION = "Prints the first lines of the task's input files and the start of its pages."


def inspection_code(files: list[str], urls: list[str]) -> str:
    return f'''"""Look at the inputs before writing the solution: the first lines of each file, each page's start."""


def run(**inputs):
    seen = {{}}
    for path in {files!r}:
        with open(path, encoding="utf-8", errors="replace") as fh:
            head = [next(fh, "") for _ in range(5)]
        seen[path] = "".join(head)[:400]
        print(path, "->", seen[path])
    if {urls!r}:
        from agentfactory_tools import web_fetch

        for url in {urls!r}:
            page = web_fetch(url)
            seen[url] = page.get("title", "") + " | " + page.get("text", "")[:400]
            print(url, "->", seen[url])
    return {{"answer": "inspected " + ", ".join(sorted(seen)), "inspected": sorted(seen)}}
'''


@dataclass(frozen=True)
class Rules:
    """The knobs of the rules above; the benchmark's defaults are the class defaults."""

    bug_rate: float = 0.5
    seed: int = 0
    view_before_reuse: bool = True

    def has_bug(self, task_id: str, capability: str, warned: bool = False) -> bool:
        """Whether a fresh write of `capability` in task `task_id` carries the declared bug: the same
        seeded draw for every method; a write warned by a lesson about this bug avoids it."""
        if warned or self.bug_rate <= 0:
            return False
        digest = hashlib.sha256(f"{self.seed}:{task_id}:{capability}".encode()).digest()
        return int.from_bytes(digest[:8], "big") / 2**64 < self.bug_rate


RULES = Rules()
