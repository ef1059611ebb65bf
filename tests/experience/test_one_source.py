"""One source per fact the experience store shares with the event log: the inputs digest (with old
event-log digests still read) and the cost of a subagent's model calls."""

from __future__ import annotations

import json

from agentfactory import events as ev
from agentfactory.config import Prices, Settings
from agentfactory.engine.log import RunMeter
from agentfactory.experience.recording import SubagentExecution, execution_cost, execution_record
from agentfactory.library.cases import digest_matches, inputs_digest, legacy_inputs_digest
from agentfactory.llm import ScriptedProvider
from agentfactory.llm.metered import MeteredProvider
from agentfactory.llm.pricing import cost_usd
from agentfactory.llm.types import Message, Usage

INPUTS = {"text": "naïve café", "n": [1, 2.5], "nested": {"b": 1, "a": None}}


def test_one_inputs_digest_for_the_event_log_the_store_and_the_cases():
    import agentfactory.engine.candidates as candidates
    import agentfactory.engine.execution as execution
    import agentfactory.experience as experience

    assert experience.inputs_digest is inputs_digest
    assert candidates.inputs_digest is inputs_digest and execution.inputs_digest is inputs_digest
    digest = inputs_digest(INPUTS)
    assert len(digest) == 64 and digest == inputs_digest(dict(reversed(list(INPUTS.items()))))


def test_old_event_log_digests_are_still_read():
    legacy = legacy_inputs_digest(INPUTS)
    assert len(legacy) == 16 and not inputs_digest(INPUTS).startswith(legacy)  # other JSON, other hash
    assert digest_matches(legacy, INPUTS) and digest_matches(inputs_digest(INPUTS), INPUTS)
    assert not digest_matches(legacy_inputs_digest({"text": "other"}), INPUTS)
    assert not digest_matches("", INPUTS) and not digest_matches(None, INPUTS)


class _Trace:
    status = "ok"
    error = None
    duration_s = 0.5

    def __init__(self, usage: Usage):
        self.usage = usage

    def usage_totals(self) -> dict[str, int]:
        return self.usage.to_dict()


def test_event_log_and_experience_store_cost_the_same_usage_alike(tmp_path):
    """The event log's cost of a subagent's `llm` call and the store's cost of that execution come from
    one function: with no cache prices in the table, a Claude model's cache reads cost 0.1x and writes
    1.25x the input price in both (the store used to charge both at the input price)."""
    spec = "anthropic:claude-test-1"
    settings = Settings.from_keys(model=spec, prices={"claude-test-1": Prices(input=3.0, output=15.0)})
    usage = Usage(input_tokens=1000, output_tokens=500, cache_read_tokens=4000, cache_write_tokens=2000)
    log = ev.EventLog(tmp_path / "events.jsonl", "run-1")
    provider = ScriptedProvider([{"text": "ok", "usage": usage.to_dict()}], spec=spec)
    MeteredProvider(provider, settings.models, RunMeter(log), role=ev.SUBAGENT).complete(
        "", [Message.user("hi")], []
    )
    log.close()
    [call] = [json.loads(line) for line in (tmp_path / "events.jsonl").read_text().splitlines()
              if json.loads(line)["type"] == ev.MODEL_CALL]  # fmt: skip
    record = execution_record(
        SubagentExecution(
            run_id="run-1", agent_id="a", task="t", subagent="sub", version=1, inputs={"x": 1},
            status="ok", error=None, duration_s=0.5, usage=usage.to_dict(),
            cost_usd=execution_cost(settings, usage.to_dict()),
        )
    )  # fmt: skip
    expected = (1000 * 3.0 + 500 * 15.0 + 4000 * 0.3 + 2000 * 3.75) / 1e6
    assert call["cost_usd"] == record.cost_usd == cost_usd(usage, spec, settings.models)
    assert abs(record.cost_usd - expected) < 1e-9
