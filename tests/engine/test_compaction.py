"""The tool loop keeps long runs within the model's context window and writes long outputs.

Driven through `run_tool_loop` with a metered scripted model and a dispatch whose results grow (a
subagent printing long traces), so each bound is measured on the requests the model really received.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from agentfactory.config import Settings
from agentfactory.engine.budget import Budget
from agentfactory.engine.compaction import COMPACTED, SUPERSEDED, Compactor, estimate_tokens
from agentfactory.engine.loop import Outcome, run_tool_loop
from agentfactory.errors import ContextWindowExceeded
from agentfactory.llm import ScriptedProvider
from agentfactory.llm.metered import MeteredProvider
from agentfactory.llm.types import Message, ThinkingBlock, ToolCall, ToolResult, ToolSpec
from agentfactory.meta.handlers import CODE_TOOLS

SYSTEM = "You build and run subagents. Call finish(answer) when done."
TASK = "Summarise the sales of every region from the CSV files."


def _spec(name: str, *props: str) -> ToolSpec:
    schema = {
        "type": "object",
        "properties": {p: {"type": "string"} for p in props},
        "required": list(props),
    }
    return ToolSpec(name, f"The {name} tool.", schema)


TOOLS = [
    _spec("run_subagent", "name"),
    _spec("create_subagent", "name", "code"),
    _spec("modify_subagent", "name", "code"),
    _spec("finish", "answer"),
]


def trace(step: int, lines: int = 120) -> str:
    """A subagent's long printed trace: different every step, so nothing compresses by accident."""
    return "\n".join(f"step {step} row {i}: region r{i % 7} total {step * 1000 + i} ok" for i in range(lines))


def dispatch(name: str, args: dict[str, Any]) -> Outcome:
    if name == "finish":
        return Outcome("Task finished.", finished=True, answer=args["answer"])
    if name == "run_subagent":
        step = int(args["name"].rsplit("-", 1)[-1])
        return Outcome(trace(step), data={"status": "ok"})
    return Outcome(f"'{args['name']}' written.")


class Recorder:
    """A scripted model that records, at the moment of each call, the estimated input and max_tokens."""

    def __init__(self, items: list[Any], spec: str = "scripted", fail: Any = None):
        self.inner = ScriptedProvider(items, spec=spec)
        self.spec = spec
        self.simulated = True
        self.inputs: list[int] = []
        self.limits: list[int] = []
        self.first_messages: list[str] = []
        self.fail = fail

    def complete(self, system, messages, tools=None, max_tokens=4096, **kw):  # noqa: ANN001
        if self.fail is not None:
            self.fail(messages)
        self.inputs.append(estimate_tokens(system, messages, tools))
        self.limits.append(max_tokens)
        self.first_messages.append(messages[0].text)
        return self.inner.complete(system, messages, tools, max_tokens, **kw)


def run(provider: Recorder, **settings: Any):
    cfg = Settings.from_keys(**settings)
    metered = MeteredProvider(provider, cfg.models, budget=(budget := Budget.from_limits(cfg.budgets)))
    events: list[tuple[str, dict[str, Any]]] = []
    result = run_tool_loop(
        metered,
        SYSTEM,
        TASK,
        TOOLS,
        dispatch,
        budget,
        lambda t, **f: events.append((t, f)),
        code_tools=CODE_TOOLS,
    )
    return result, metered, events


def call(tool: str, **arguments: Any) -> dict[str, Any]:
    return {"tool_calls": [{"name": tool, "arguments": arguments}]}


def forty_steps() -> list[dict[str, Any]]:
    return [call("run_subagent", name=f"csv-stats-{i}") for i in range(39)] + [call("finish", answer="done")]


WINDOW = 40_000


def test_a_forty_step_run_stays_under_its_bound():
    compacted = Recorder(forty_steps())
    result, _, events = run(compacted, max_steps=100, context_window=WINDOW, compact_at=0.5)
    assert result.status == "success"
    assert len(compacted.inputs) == 40
    assert max(compacted.inputs) <= WINDOW * 0.5
    # The same run without compaction (a window it never nears) grows far past that bound.
    whole = Recorder(forty_steps())
    run(whole, max_steps=100, context_window=10_000_000)
    assert max(whole.inputs) > 3 * WINDOW * 0.5
    assert compacted.inputs[:5] == whole.inputs[:5]  # below the bound nothing changes
    # Compaction is rare (it compacts down to well below the bound), not on every call.
    compactions = [f for t, f in events if t == "context_compacted"]
    assert 1 <= len(compactions) <= 10
    assert all(f["tokens_after"] < f["tokens_before"] for f in compactions)


def test_the_task_the_latest_results_and_the_status_lines_after_compaction():
    provider = Recorder(forty_steps())
    result, _, _ = run(provider, max_steps=100, context_window=WINDOW, compact_at=0.5)
    assert set(provider.first_messages) == {TASK}
    results = [r for m in result.messages for r in m.tool_results]
    # The latest four results are whole traces; the oldest are one status line each.
    assert all(trace(i) in r.content for i, r in zip(range(35, 39), results[35:39], strict=True))
    first = results[0].content
    assert first.startswith(COMPACTED) and first == f"{COMPACTED} run_subagent csv-stats-0: ok, 0.0 s"


def test_compaction_keeps_the_prefix_before_the_first_compacted_message():
    messages = [Message.user(TASK)]
    compactor = Compactor(window=6_000, share=0.5, code_tools=CODE_TOOLS)
    snapshots = []
    for step in range(20):
        call_ = ToolCall(f"c{step}", "run_subagent", {"name": f"s-{step}"})
        messages.append(Message(role="assistant", tool_calls=[call_]))
        messages.append(Message(role="user", tool_results=[ToolResult(f"c{step}", trace(step, 30))]))
        compactor.note(f"c{step}", f"run_subagent s-{step}: ok, 0.1 s")
        compactor.compact(SYSTEM, messages, TOOLS)
        snapshots.append([json.dumps([r.content for r in m.tool_results]) for m in messages])
        assert estimate_tokens(SYSTEM, messages, TOOLS) <= 3_000
    # Between two calls, a message changes only if it was not compacted yet: compacted ones stay as they were.
    for before, after in zip(snapshots, snapshots[1:], strict=False):
        for old, new in zip(before, after, strict=False):
            if COMPACTED in old:
                assert old == new


def test_the_current_code_of_each_subagent_is_kept_whole_and_older_versions_go():
    old_code, new_code, other = "x = 1\n" * 400, "x = 2\n" * 400, "y = 3\n" * 400
    messages = [Message.user(TASK)]
    calls = [
        ToolCall("a1", "create_subagent", {"name": "a", "code": old_code}),
        ToolCall("b1", "create_subagent", {"name": "b", "code": other}),
        ToolCall("a2", "modify_subagent", {"name": "a", "code": new_code}),
    ]
    for c in calls:
        messages.append(Message(role="assistant", tool_calls=[c]))
        messages.append(Message(role="user", tool_results=[ToolResult(c.id, "written " * 300)]))
    for i in range(6):  # later steps, so the code steps are old ones
        c = ToolCall(f"r{i}", "run_subagent", {"name": "a"})
        messages.append(Message(role="assistant", tool_calls=[c]))
        messages.append(Message(role="user", tool_results=[ToolResult(c.id, trace(i, 20))]))
    done = Compactor(window=4_000, share=0.5, code_tools=CODE_TOOLS).compact(SYSTEM, messages, TOOLS)
    assert done is not None
    assert calls[0].arguments == {"name": "a", "code": SUPERSEDED}
    assert calls[1].arguments["code"] == other  # b's only version is its current code
    assert calls[2].arguments["code"] == new_code
    assert messages[2].tool_results[0].content.startswith(COMPACTED)
    assert not messages[4].tool_results[0].content.startswith(COMPACTED)


def test_thinking_of_older_turns_is_dropped_and_the_latest_turn_keeps_its_own():
    messages = [Message.user(TASK)]
    for i in range(8):
        c = ToolCall(f"r{i}", "run_subagent", {"name": "a"})
        block = ThinkingBlock("thinking", "let me think " * 200, signature=f"sig{i}")
        messages.append(Message(role="assistant", tool_calls=[c], thinking=[block]))
        messages.append(Message(role="user", tool_results=[ToolResult(c.id, trace(i, 20))]))
    Compactor(window=6_000, share=0.5, code_tools=CODE_TOOLS).compact(SYSTEM, messages, TOOLS, hard=True)
    assistants = [m for m in messages if m.role == "assistant"]
    assert all(not m.thinking for m in assistants[:-1])
    assert assistants[-1].thinking[0].signature == "sig7"


def test_a_context_window_refusal_compacts_harder_and_asks_again():
    refusals = []

    def refuse_when_long(messages):  # noqa: ANN001
        if estimate_tokens(SYSTEM, messages, TOOLS) > 8_000 and not refusals:
            refusals.append(len(messages))
            raise ContextWindowExceeded("prompt is too long: 210000 tokens > 200000 maximum")

    items = [call("run_subagent", name=f"csv-stats-{i}") for i in range(12)] + [call("finish", answer="ok")]
    provider = Recorder(items, fail=refuse_when_long)
    # The configured window is far too large, so only the provider's refusal makes the loop compact.
    result, metered, events = run(provider, max_steps=100, context_window=10_000_000)
    assert result.status == "success"
    assert len(refusals) == 1
    hard = [f for t, f in events if t == "context_compacted"]
    assert len(hard) == 1 and hard[0]["hard"] is True
    assert metered.calls == 13  # the refused request raised before any usage: 13 answered calls


def test_a_context_window_refusal_that_compaction_cannot_fix_ends_the_run_clearly():
    def always(messages):  # noqa: ANN001
        raise ContextWindowExceeded("prompt is too long")

    result, _, _ = run(Recorder([call("finish", answer="x")], fail=always), context_window=10_000_000)
    assert result.status == "provider_error"
    assert "every older tool result was already compacted" in result.reason


CUT = {
    "tool_calls": [{"name": "create_subagent", "arguments": '{"name": "big", "code": "import csv\\nde'}],
    "stop_reason": "max_tokens",
}


def test_the_default_output_limit_comes_from_the_models_table():
    provider = Recorder([call("finish", answer="ok")], spec="anthropic:claude-sonnet-4-6")
    run(provider)
    assert provider.limits == [32_000]
    provider = Recorder([call("finish", answer="ok")], spec="anthropic:claude-sonnet-4-6")
    run(provider, max_output_tokens=5_000)
    assert provider.limits == [5_000]


def test_a_tool_call_cut_at_max_tokens_is_asked_again_with_twice_the_limit():
    whole = call("create_subagent", name="big", code="import csv\n")
    items = [CUT, whole, call("finish", answer="ok")]
    provider = Recorder(items, spec="anthropic:claude-sonnet-4-6")
    result, metered, _ = run(provider)
    assert result.status == "success"
    assert provider.limits == [32_000, 64_000, 32_000]
    assert metered.calls == 3  # the cut reply was charged like any call
    created = [c for m in result.messages for c in m.tool_calls if c.name == "create_subagent"]
    assert len(created) == 1 and created[0].arguments["code"] == "import csv\n"


def test_a_tool_call_cut_twice_is_not_run_and_the_model_is_told_to_write_less():
    ran: list[str] = []
    items = [CUT, CUT, call("finish", answer="ok")]
    provider = Recorder(items, spec="anthropic:claude-sonnet-4-6")
    cfg = Settings()
    budget = Budget.from_limits(cfg.budgets)
    metered = MeteredProvider(provider, cfg.models, budget=budget)

    def spy(name: str, args: dict[str, Any]) -> Outcome:
        ran.append(name)
        return dispatch(name, args)

    result = run_tool_loop(
        metered, SYSTEM, TASK, TOOLS, spy, budget, lambda *a, **k: None, code_tools=CODE_TOOLS
    )
    assert result.status == "success"
    assert ran == ["finish"]  # the cut create_subagent never ran
    told = result.messages[2].tool_results[0]
    assert told.is_error and "output limit (64,000 tokens)" in told.content
    assert "split the work" in told.content


def test_a_model_at_its_maximum_is_not_asked_again():
    provider = Recorder([CUT, call("finish", answer="ok")], spec="anthropic:claude-sonnet-4-6")
    result, _, _ = run(provider, max_output_tokens=64_000)
    assert provider.limits == [64_000, 64_000]
    assert "output limit (64,000 tokens)" in result.messages[2].tool_results[0].content


@pytest.mark.parametrize(
    ("name", "value"), [("compact_at", 0), ("compact_at", 1.5), ("context_window", 10), ("stream", "maybe")]
)
def test_the_new_settings_are_bounded(name, value, tmp_path):
    from agentfactory.config import load_settings
    from agentfactory.errors import InvalidSetting

    with pytest.raises(InvalidSetting, match=name):
        load_settings({name: value}, env={}, cwd=tmp_path)


def test_the_benchmarks_forty_step_run_stays_under_its_bound_and_without_compaction_does_not():
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "benchmarks" / "context_compaction.py"
    spec = importlib.util.spec_from_file_location("context_compaction", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    m = bench.measure(steps=40, window=100_000, compact_at=0.75)
    assert len(m["with"]["inputs"]) == len(m["without"]["inputs"]) == 40
    assert m["with"]["status"] == m["without"]["status"] == "success"
    assert m["with"]["max"] <= 75_000 < m["without"]["max"]
    assert m["with"]["compactions"] >= 1


def test_a_call_never_asks_for_more_output_than_the_window_has_room_for():
    # 40 steps of traces in a 40,000-token window at 0.9: the input nears the window, so the output
    # asked for shrinks to what fits (an API refuses input + max_tokens over the window).
    provider = Recorder(forty_steps(), spec="anthropic:claude-sonnet-4-6")
    run(provider, max_steps=100, context_window=WINDOW, compact_at=0.9)
    assert provider.limits[0] == 32_000
    assert all(i + m <= WINDOW or m == 1024 for i, m in zip(provider.inputs, provider.limits, strict=True))
    assert min(provider.limits) < 32_000


def test_hard_compaction_keeps_only_the_code_written_last():
    code_a, code_b = "a = 1\n" * 400, "b = 2\n" * 400
    messages = [Message.user(TASK)]
    calls = [
        ToolCall("b1", "create_subagent", {"name": "b", "code": code_b}),
        ToolCall("a1", "create_subagent", {"name": "a", "code": code_a}),
        ToolCall("b2", "modify_subagent", {"name": "b", "code": code_b + "# v2\n"}),
        ToolCall("r1", "run_subagent", {"name": "b"}),
    ]
    for c in calls:
        messages.append(Message(role="assistant", tool_calls=[c]))
        messages.append(Message(role="user", tool_results=[ToolResult(c.id, "ok " * 50)]))
    Compactor(window=1_000_000, code_tools=CODE_TOOLS).compact(SYSTEM, messages, TOOLS, hard=True)
    assert calls[0].arguments["code"] == SUPERSEDED
    assert calls[1].arguments["code"] == SUPERSEDED  # a is not the subagent written last
    assert calls[2].arguments["code"] == code_b + "# v2\n"
