"""One overall deadline per model call: connect, the whole body and every retry, through the real SDKs.

HTTP timeouts are per read, so a server that never answers or drips its body byte by byte used to hold a
call for up to 5 x 600 s. Each test asserts the bound that must hold: the call ends within the deadline
plus a small margin, as a `ProviderTimeout`, with a bounded number of requests.
"""

from __future__ import annotations

import json
import math
import threading
import time

import pytest

from agentfactory.config import load_settings
from agentfactory.errors import ConfigError, ProviderTimeout
from agentfactory.llm import Message, RetryPolicy
from agentfactory.llm.anthropic import AnthropicProvider
from agentfactory.llm.openai import OpenAIProvider
from tests.fakes.wire_server import (
    Canned,
    anthropic_error,
    anthropic_message,
    openai_completion,
    openai_error,
)

DEADLINE = 2.0
MARGIN = 0.5
RETRY = RetryPolicy(max_attempts=5, base_delay_s=0.05, max_delay_s=0.1, max_retry_after_s=30.0)


def anthropic(server, deadline=DEADLINE) -> AnthropicProvider:
    return AnthropicProvider(
        "claude-x", api_key="k", base_url=server.url, retry=RETRY, call_timeout_s=deadline
    )


def openai(server, deadline=DEADLINE) -> OpenAIProvider:
    return OpenAIProvider(
        "gpt-x", api_key="k", base_url=server.openai_base_url, retry=RETRY, call_timeout_s=deadline
    )


BOTH = pytest.mark.parametrize(
    "factory, ok, error",
    [(anthropic, anthropic_message, anthropic_error), (openai, openai_completion, openai_error)],
    ids=["anthropic", "openai"],
)


def _times_out(model) -> tuple[float, str]:
    started = time.monotonic()
    with pytest.raises(ProviderTimeout) as info:
        model.complete("", [Message.user("hi")])
    return time.monotonic() - started, str(info.value)


@BOTH
def test_server_that_never_answers_ends_at_the_deadline(wire_server, factory, ok, error):
    wire_server.push(Canned(hang=True), ok("never"))
    elapsed, message = _times_out(factory(wire_server))
    assert DEADLINE - 0.1 <= elapsed < DEADLINE + MARGIN
    assert "did not answer completely within the 2 s call deadline (setting call_timeout_s)." in message
    assert len(wire_server.requests) == 1  # the deadline covers the retries: nothing is left for one


@BOTH
@pytest.mark.parametrize("drip_s", [0.5, 1.5])
def test_dripping_body_ends_at_the_deadline(wire_server, factory, ok, error, drip_s):
    # A whole valid reply, one byte every drip_s seconds: every read succeeds long before any per-read
    # timeout, and at 1.5 s per byte only the watchdog (not a check between chunks) can keep the bound.
    answer = ok("a long answer " * 20)
    answer.drip_s = drip_s
    wire_server.push(answer)
    elapsed, _ = _times_out(factory(wire_server))
    assert DEADLINE - 0.1 <= elapsed < DEADLINE + MARGIN
    assert len(wire_server.requests) == 1


@BOTH
def test_dripping_headers_on_a_later_call_end_at_the_deadline(wire_server, factory, ok, error):
    # The second call of a provider: were its connection taken from a pool, the watchdog would not know
    # its socket while the status line and headers arrive one byte every 1.5 s.
    answer = ok("slow")
    answer.drip_s, answer.drip_headers = 1.5, True
    wire_server.push(ok("first"), answer)
    model = factory(wire_server)
    assert model.complete("", [Message.user("one")]).text == "first"
    elapsed, _ = _times_out(model)
    assert DEADLINE - 0.1 <= elapsed < DEADLINE + MARGIN
    assert len(wire_server.requests) == 2


@BOTH
def test_deadline_covers_every_retry(wire_server, factory, ok, error):
    wire_server.push(error(503, "busy"), error(529, "overloaded"), Canned(hang=True), ok("never"))
    elapsed, _ = _times_out(factory(wire_server))
    assert DEADLINE - 0.1 <= elapsed < DEADLINE + MARGIN
    assert len(wire_server.requests) == 3


@BOTH
def test_a_wait_past_the_deadline_is_not_started(wire_server, factory, ok, error):
    wire_server.push(error(429, "slow down", {"retry-after": "20"}), ok("never"))
    elapsed, message = _times_out(factory(wire_server))
    assert elapsed < 1.0
    assert "still failed after 1 attempts (429: slow down)" in message
    assert "the 2 s call deadline leaves no time to try again." in message
    assert len(wire_server.requests) == 1


@BOTH
def test_provider_is_usable_after_a_timeout(wire_server, factory, ok, error):
    wire_server.push(Canned(hang=True), ok("second call"))
    model = factory(wire_server, deadline=1.0)
    _times_out(model)
    assert model.complete("", [Message.user("again")]).text == "second call"


def test_concurrent_calls_have_their_own_deadlines(wire_server):
    # The broker serves subagents' llm calls from several threads through one provider.
    model = anthropic(wire_server, deadline=1.5)
    wire_server.fallback = lambda request: (
        Canned(hang=True) if "hang" in str(request.body) else anthropic_message("quick")
    )
    outcome: dict[str, object] = {}

    def hanging() -> None:
        try:
            model.complete("", [Message.user("hang")])
        except ProviderTimeout as exc:
            outcome["hang"] = exc

    thread = threading.Thread(target=hanging)
    thread.start()
    time.sleep(0.3)
    started = time.monotonic()
    texts = [model.complete("", [Message.user(f"q{i}")]).text for i in range(3)]
    quick = time.monotonic() - started
    thread.join(timeout=5)
    assert texts == ["quick"] * 3 and quick < 1.0
    assert isinstance(outcome.get("hang"), ProviderTimeout)


@pytest.mark.parametrize("value", [math.inf, math.nan, -1.0, 0, "soon", True, 1e12])
@pytest.mark.parametrize("factory", [AnthropicProvider, OpenAIProvider])
def test_adapter_refuses_an_unusable_deadline(factory, value):
    with pytest.raises(
        ConfigError, match="'call_timeout_s' must be a positive number of seconds up to 86400"
    ):
        factory("m", api_key="k", base_url="http://127.0.0.1:9", call_timeout_s=value)


def test_setting_default_env_file_and_refusals(tmp_path):
    assert load_settings(env={}, cwd=tmp_path).models.call_timeout_s == 300.0
    assert load_settings(env={"AGENTFACTORY_CALL_TIMEOUT": "45"}, cwd=tmp_path).models.call_timeout_s == 45.0
    assert (
        load_settings(env={"AGENTFACTORY_CALL_TIMEOUT_S": "30"}, cwd=tmp_path).models.call_timeout_s == 30.0
    )
    (tmp_path / "agentfactory.toml").write_text("call_timeout_s = 12.5\n")
    assert load_settings(env={}, cwd=tmp_path).models.call_timeout_s == 12.5
    for bad in ("inf", "nan", "-1", "0", "-inf", "1e12"):
        with pytest.raises(
            ConfigError, match=r"Setting 'call_timeout_s' from \$AGENTFACTORY_CALL_TIMEOUT is"
        ):
            load_settings(env={"AGENTFACTORY_CALL_TIMEOUT": bad}, cwd=tmp_path)


@pytest.mark.parametrize("drip", [False, True], ids=["silent", "dripping"])
def test_run_against_a_stalling_provider_ends_cleanly_at_the_deadline(tmp_path, wire_server, drip):
    # A whole Meta-Agent run: the stalled call ends the run provider_error, with events ending run_finished.
    from agentfactory.meta.agent import MetaAgent

    answer = anthropic_message("late " * 50)
    if drip:
        answer.drip_s = 0.5
    else:
        answer = Canned(hang=True)
    wire_server.push(answer)
    settings = load_settings(
        {"library": tmp_path / "lib", "workspaces": tmp_path / "ws", "sandbox": "local"}, env={}, cwd=tmp_path
    )
    result = MetaAgent(settings, provider=anthropic(wire_server)).run("say hello")
    [request] = wire_server.requests
    assert time.monotonic() - request.ts < DEADLINE + MARGIN + 0.5  # the call, then writing the run's end
    assert result.status == "provider_error" and result.exit_code == 1
    assert result.reason == (
        "The Anthropic API did not answer completely within the 2 s call deadline (setting call_timeout_s)."
    )
    [log] = (tmp_path / "ws").glob("*/events.jsonl")
    events = [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()]
    assert events[-1]["type"] == "run_finished" and events[-1]["status"] == "provider_error"


def test_the_setting_reaches_the_providers_a_run_builds():
    from agentfactory.config import Settings
    from agentfactory.llm.registry import get_provider

    for spec, env in (("anthropic:x", {"ANTHROPIC_API_KEY": "k"}), ("openai:x", {"OPENAI_API_KEY": "k"})):
        provider = get_provider(spec, Settings.from_keys(call_timeout_s=12.0).models, env=env)
        assert provider.call_timeout_s == 12.0


@pytest.mark.parametrize("drip", [False, True], ids=["silent", "dripping"])
def test_the_runs_max_time_ends_a_call_still_waiting_on_the_provider(tmp_path, wire_server, drip):
    # --max-time 1.5 with a call deadline of 60 s: the run's wall clock ends the call, budget_exhausted.
    from agentfactory.llm.anthropic import AnthropicProvider
    from agentfactory.meta.agent import MetaAgent

    answer = anthropic_message("late " * 50)
    if drip:
        answer.drip_s = 0.5
    else:
        answer = Canned(hang=True)
    wire_server.push(answer)
    settings = load_settings(
        {"library": tmp_path / "lib", "workspaces": tmp_path / "ws", "sandbox": "local", "max_time": 1.5},
        env={},
        cwd=tmp_path,
    )
    provider = AnthropicProvider("claude-x", api_key="k", base_url=wire_server.url, call_timeout_s=60)
    started = time.monotonic()
    result = MetaAgent(settings, provider=provider).run("say hello")
    assert time.monotonic() - started < 1.5 + MARGIN + 1.0
    assert result.status == "budget_exhausted" and result.exit_code == 4
    assert "time limit reached" in result.reason
    [log] = (tmp_path / "ws").glob("*/events.jsonl")
    events = [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()]
    assert events[-1]["type"] == "run_finished" and events[-1]["status"] == "budget_exhausted"
