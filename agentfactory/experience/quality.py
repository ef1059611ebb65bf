"""Quality scores in 0-1: automatic from checks and sandbox status, or an opt-in LLM judge.

Automatic first: a checker or stored cases say precisely how good a result is, for free. The judge is
for free-form answers with nothing to check against; it is off unless a caller passes a provider, and
its tokens are returned so the caller accounts for them like any other model call.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence

from agentfactory.llm.types import Message, ModelProvider, Usage

# Sandbox statuses that mean the code ran to completion; anything else (error, timeout, oom, killed,
# invalid_output) is a failure with quality 0 whatever the checks say.
OK_STATUSES = frozenset({"ok", "success", "succeeded", "completed"})


def automatic_quality(
    status: str,
    case_results: Sequence[bool] | None = None,
    checker_score: float | None = None,
) -> float:
    """0 for a failed execution; else the checker's score, else the share of cases passed, else 1."""
    if status.lower() not in OK_STATUSES:
        return 0.0
    if checker_score is not None:
        return min(1.0, max(0.0, float(checker_score)))
    if case_results:
        return round(sum(bool(r) for r in case_results) / len(case_results), 4)
    return 1.0


JUDGE_SYSTEM = (
    "You grade answers. Read the task, the rubric and the answer, then reply with one JSON object and "
    'nothing else: {"score": <number from 0 to 1>, "reason": "<one sentence>"}.'
)
_SCORE = re.compile(r'"?score"?\s*[:=]\s*([0-9]*\.?[0-9]+)', re.I)


def judge(
    answer: str,
    task: str,
    rubric: str,
    provider: ModelProvider,
    max_tokens: int = 300,
) -> tuple[float | None, Usage]:
    """Ask `provider` to grade `answer`; returns (score in 0-1 or None if unparseable, usage).

    An unparseable verdict is None rather than an error: the judge is advisory and must not fail a run.
    """
    prompt = f"Task:\n{task}\n\nRubric:\n{rubric}\n\nAnswer:\n{answer}"
    response = provider.complete(JUDGE_SYSTEM, [Message.user(prompt)], tools=None, max_tokens=max_tokens)
    return parse_verdict(response.text), response.usage


def parse_verdict(text: str) -> float | None:
    score: float | None = None
    start, end = text.find("{"), text.rfind("}")
    if 0 <= start < end:
        try:
            data = json.loads(text[start : end + 1])
            if isinstance(data, dict) and isinstance(data.get("score"), (int, float)):
                score = float(data["score"])
        except json.JSONDecodeError:
            pass
    if score is None and (match := _SCORE.search(text)):
        score = float(match.group(1))
    if score is None or not 0.0 <= score <= 1.0:
        return None
    return score
