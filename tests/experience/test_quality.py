"""Quality scores: automatic from status and checks; the LLM judge through a scripted provider."""

from __future__ import annotations

from agentfactory.experience import automatic_quality, judge
from agentfactory.experience.quality import parse_verdict
from agentfactory.llm.scripted import ScriptedProvider
from agentfactory.llm.types import Usage


def test_automatic_quality():
    assert automatic_quality("error", [True, True]) == 0.0
    assert automatic_quality("timeout") == 0.0
    assert automatic_quality("ok") == 1.0
    assert automatic_quality("ok", [True, False, True, True]) == 0.75
    assert automatic_quality("ok", [True], checker_score=0.3) == 0.3
    assert automatic_quality("ok", checker_score=7) == 1.0


def test_judge_scores_and_accounts_tokens():
    provider = ScriptedProvider(
        [
            {
                "text": '{"score": 0.8, "reason": "mostly right"}',
                "usage": {"input_tokens": 210, "output_tokens": 12},
            },
            {"text": "I would say score: 0.25 overall"},
            {"text": "no idea"},
        ]
    )
    score, usage = judge("Paris", "Capital of France?", "Correct city, one word.", provider)
    assert score == 0.8 and usage == Usage(210, 12)
    system, messages, _ = provider.requests[0]
    assert "Rubric:\nCorrect city, one word." in messages[0].text and "JSON" in system
    score, usage = judge("x", "y", "z", provider)
    assert score == 0.25 and usage.input_tokens > 0  # counted from the request when not given
    score, _ = judge("x", "y", "z", provider)
    assert score is None  # advisory: unparseable is "no score", not a failed run


def test_parse_verdict_rejects_out_of_range():
    assert parse_verdict('{"score": 1.7}') is None
    assert parse_verdict('{"score": 0}') == 0.0
