"""Shared helpers of the bench tests: the core suite, its fixture server, and a host runner for the
core suite's reference code (a subprocess in a temp dir with a stub `agentfactory_tools`; used only to
test that code itself, never by the framework)."""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from agentfactory_bench import CORE_SUITE, FixtureServer, Suite, load_suite

STUB_TOOLS = '''"""Test stub of the in-sandbox tool module: real web_fetch (loopback allowed), the real local search
backend over AF_TEST_SEARCH_DIR, and a stand-in `llm` for the reference code's tests: sentiment from a
few words, summaries as the text's first sentences."""
import json
import os
import re

from agentfactory.tools.web_fetch import WebFetchTool
from agentfactory.tools.web_search import LocalSearch

_fetch = WebFetchTool(allow_loopback=True)


def web_fetch(url, max_bytes=None):
    args = {"url": url}
    if max_bytes:
        args["max_bytes"] = max_bytes
    return _fetch(args)


def web_search(query, k=5):
    return LocalSearch(os.environ["AF_TEST_SEARCH_DIR"]).search(query, k)


_POSITIVE = {"love", "great", "good", "excellent", "happy", "fantastic", "recommend", "perfect"}
_NEGATIVE = {"hate", "terrible", "broke", "awful", "bad", "worst", "useless", "disappointed"}


def _declared(prompt):
    """The task's declared answer (AF_TEST_LLM: a JSON list of {when, answer}), the most specific one."""
    if not os.environ.get("AF_TEST_LLM"):
        return None
    with open(os.environ["AF_TEST_LLM"], encoding="utf-8") as fh:
        hits = [a for a in json.load(fh) if all(w in prompt for w in a["when"])]
    return max(hits, key=lambda a: sum(map(len, a["when"])))["answer"] if hits else None


def llm(prompt, system=None, max_tokens=1024):
    declared = _declared(prompt)
    if declared is not None:
        return declared
    body = prompt.split("\\n\\n", 1)[-1]
    if "sentiment" in prompt.lower():
        words = set(re.findall(r"[a-z]+", body.lower()))
        score = len(words & _POSITIVE) - len(words & _NEGATIVE)
        return "positive" if score > 0 else "negative" if score < 0 else "neutral"
    return " ".join(re.split(r"(?<=[.!?])\\s+", body.strip())[:2])
'''


@functools.cache
def get(name: str):
    """A core suite capability (reference code, draft)."""
    return load_suite(CORE_SUITE).capability(name)


RUNNER = """import json, sys
sys.path.insert(0, sys.argv[1])
module = __import__(sys.argv[2])
inputs = json.loads(open(sys.argv[3]).read())
result = module.run(**inputs)
open(sys.argv[4], "w").write(json.dumps(result))
"""


class HostRunError(RuntimeError):
    pass


def run_on_host(
    code: str,
    module: str,
    inputs: dict[str, Any],
    run_dir: Path,
    search_dir: Path | None = None,
    timeout: float = 120,
    llm_answers: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Run `code`'s run(**inputs) with cwd=run_dir (holding inputs/ and outputs/); return its result."""
    code_dir = run_dir / ".code" / module
    code_dir.mkdir(parents=True, exist_ok=True)
    (code_dir / f"{module}.py").write_text(code, encoding="utf-8")
    (code_dir / "agentfactory_tools.py").write_text(STUB_TOOLS, encoding="utf-8")
    (run_dir / "outputs").mkdir(exist_ok=True)
    job = code_dir / "inputs.json"
    job.write_text(json.dumps(inputs), encoding="utf-8")
    result_file = code_dir / "result.json"
    env = dict(os.environ, MPLBACKEND="Agg", AF_TEST_SEARCH_DIR=str(search_dir or run_dir / "none"))
    if llm_answers:
        (code_dir / "llm.json").write_text(json.dumps(llm_answers), encoding="utf-8")
        env["AF_TEST_LLM"] = str(code_dir / "llm.json")
    proc = subprocess.run(
        [sys.executable, "-c", RUNNER, str(code_dir), module, str(job), str(result_file)],
        cwd=run_dir,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if proc.returncode != 0:
        raise HostRunError(proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else "failed")
    return json.loads(result_file.read_text())


@pytest.fixture(scope="session")
def core_suite() -> Suite:
    return load_suite(CORE_SUITE)


@pytest.fixture(scope="session")
def core_server(core_suite: Suite):
    with FixtureServer.for_suite(core_suite) as server:
        yield server
