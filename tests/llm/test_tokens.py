from __future__ import annotations

import time

from agentfactory.llm import Message, ToolCall, ToolResult, ToolSpec, count_request_tokens, count_tokens


def test_documented_rule_examples():
    assert count_tokens("") == 0
    assert count_tokens("the") == 1
    assert count_tokens("function") == 1
    assert count_tokens("implementation") == 3  # impl|emen|tation
    assert count_tokens("the cat") == 2  # a single space is free
    assert count_tokens("1234567") == 3  # 123|456|7
    assert count_tokens('f("x")') == 4  # f ( " x ") -> f, (", x, ")
    assert count_tokens("a\n    b") == 3  # a, newline+indent, b


def test_deterministic_and_monotone_in_length():
    text = "Count the words in data.csv and report the top 10 by frequency.\n"
    assert count_tokens(text) == count_tokens(text)
    assert count_tokens(text * 2) == 2 * count_tokens(text)
    assert count_tokens(text + "more") > count_tokens(text)


def test_density_is_like_real_tokenizers():
    prose = (
        "AgentFactory keeps experience as code: every successful solution becomes a small, tested "
        "subagent stored in a versioned library, and later tasks reuse it instead of starting over. "
    ) * 20
    assert 3.5 <= len(prose) / count_tokens(prose) <= 6.0


def test_request_counts_every_part():
    tool = ToolSpec("echo", "Echo text back.", {"type": "object", "properties": {"text": {"type": "string"}}})
    base = count_request_tokens("system", [Message.user("hello")])
    with_tool = count_request_tokens("system", [Message.user("hello")], [tool])
    assert with_tool > base
    call = ToolCall("c1", "echo", {"text": "hello there"})
    convo = [
        Message.user("hello"),
        Message(role="assistant", text="", tool_calls=[call]),
        Message(role="user", tool_results=[ToolResult("c1", "hello there")]),
    ]
    full = count_request_tokens("system", convo, [tool])
    assert full > with_tool
    assert full == count_request_tokens("system", convo, [tool])


def test_fast_enough_for_benchmarks():
    system = "You are the Meta-Agent. " * 200
    messages = [Message.user("task " * 50), Message(role="assistant", text="plan " * 80)] * 5
    started = time.perf_counter()
    for _ in range(1000):
        count_request_tokens(system, messages)
    assert time.perf_counter() - started < 2.0
