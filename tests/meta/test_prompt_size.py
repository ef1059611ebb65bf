"""Issue 5's budget for the stable prefix: system prompt plus tool definitions at most 1,500 tokens."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

from agentfactory.llm.tokens import count_request_tokens, tool_definition_text
from agentfactory.meta.agent import system_prompt
from agentfactory.meta.skills import meta_tools

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "prompt_size.py"


def test_system_prompt_and_tools_under_1500_tokens():
    tokens = count_request_tokens(system_prompt(), [], meta_tools())
    assert 0 < tokens <= 1500, f"system prompt + tool definitions are {tokens} tokens"


def test_prefix_is_stable_between_calls():
    """Prompt caching needs the same bytes every time: no dates, ids or task text in the prefix."""
    assert system_prompt() == system_prompt()
    assert [tool_definition_text(t) for t in meta_tools()] == [tool_definition_text(t) for t in meta_tools()]
    assert "{{" not in system_prompt() and "{%" not in system_prompt()


def test_benchmark_script_prints_both_counts():
    spec = importlib.util.spec_from_file_location("prompt_size", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    m = module.measure()
    assert m["total_tokens"] == count_request_tokens(system_prompt(), [], meta_tools())
    assert m["tool_tokens"] + m["system_tokens"] == m["total_tokens"]
    assert m["total_chars_div_4"] == round(m["total_chars"] / 4)
    out = subprocess.run([sys.executable, str(SCRIPT)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "within the 1,500-token target" in out.stdout and "chars/4" in out.stdout
