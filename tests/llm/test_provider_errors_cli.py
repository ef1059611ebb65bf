"""A full `agentfactory run` against a provider that answers 200 with a broken body.

Every shape of tests/llm/bad_replies.py, for both adapters: the run ends `provider_error` with the one
sentence naming the provider and what was wrong, exit code 1 (errors.EXIT_TASK_FAILED), no traceback,
and its events.jsonl is well-formed and ends with `run_finished`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agentfactory.cli import app
from agentfactory.errors import EXIT_CONFIG, EXIT_TASK_FAILED
from tests.fakes.wire_server import WireServer, anthropic_error, openai_completion, openai_error, raw_reply
from tests.llm.bad_replies import ANTHROPIC, OPENAI

ROOT = Path(__file__).resolve().parents[2]
runner = CliRunner()


def _events(cwd: Path) -> list[dict]:
    [log] = list((cwd / "workspaces").glob("*/events.jsonl"))
    return [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()]


def _run(tmp_path, monkeypatch, server: WireServer, api: str) -> tuple[int, str]:
    monkeypatch.chdir(tmp_path)
    for var in ("AGENTFACTORY_CONFIG", "OPENAI_BASE_URL", "ANTHROPIC_BASE_URL"):
        monkeypatch.delenv(var, raising=False)
    if api == "anthropic":
        monkeypatch.setenv("ANTHROPIC_API_KEY", "test-key")
        monkeypatch.setenv("ANTHROPIC_BASE_URL", server.url)
        args = ["--model", "anthropic:claude-x"]
    else:
        monkeypatch.setenv("OPENAI_API_KEY", "test-key")
        args = ["--model", "openai:gpt-x", "--base-url", server.openai_base_url]
    result = runner.invoke(app, ["run", "say hello", *args, "--sandbox", "local"])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.output


def _assert_provider_error(tmp_path, code, output, sentence):
    assert code == EXIT_TASK_FAILED
    assert "Traceback" not in output
    events = _events(tmp_path)
    assert events[-1]["type"] == "run_finished"
    assert events[-1]["status"] == "provider_error"
    assert events[-1]["reason"] == sentence
    assert " ".join(sentence.split())[:40] in " ".join(output.split())


@pytest.mark.parametrize("name, answer, reason", ANTHROPIC, ids=[c[0] for c in ANTHROPIC])
def test_anthropic_bad_reply_ends_the_run_cleanly(tmp_path, monkeypatch, name, answer, reason):
    with WireServer() as server:
        server.push(answer, answer)
        code, output = _run(tmp_path, monkeypatch, server, "anthropic")
        assert len(server.requests) == 1
    sentence = f"The Anthropic API sent a reply that cannot be used: {reason}."
    _assert_provider_error(tmp_path, code, output, sentence)


@pytest.mark.parametrize("name, answer, reason", OPENAI, ids=[c[0] for c in OPENAI])
def test_openai_bad_reply_ends_the_run_cleanly(tmp_path, monkeypatch, name, answer, reason):
    with WireServer() as server:
        server.push(answer, answer)
        code, output = _run(tmp_path, monkeypatch, server, "openai")
        assert len(server.requests) == 1
        url = server.openai_base_url
    sentence = f"The OpenAI-compatible server at {url} sent a reply that cannot be used: {reason}."
    _assert_provider_error(tmp_path, code, output, sentence)


def test_model_that_only_sends_invalid_tool_arguments_ends_the_run_cleanly(tmp_path, monkeypatch):
    # Invalid argument JSON is the model's mistake: it is told, and a model that never corrects itself
    # ends the run as no_progress, not with a crash.
    with WireServer() as server:
        server.fallback = lambda request: openai_completion(tool_calls=[("c1", "finish", '{"answer": ')])
        code, output = _run(tmp_path, monkeypatch, server, "openai")
        assert 1 < len(server.requests) <= 10
    assert code == EXIT_TASK_FAILED and "Traceback" not in output
    events = _events(tmp_path)
    assert events[-1]["type"] == "run_finished" and events[-1]["status"] == "no_progress"


def test_real_process_prints_one_sentence_and_no_traceback(tmp_path):
    with WireServer() as server:
        server.push(raw_reply("<html><h1>502 Bad Gateway</h1></html>", "text/html"))
        env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "ANTHROPIC_API_KEY": "test-key",
            "ANTHROPIC_BASE_URL": server.url,
        }
        env.pop("AGENTFACTORY_CONFIG", None)
        done = subprocess.run(
            [sys.executable, "-m", "agentfactory", "run", "say hello", "--model", "anthropic:claude-x"]
            + ["--sandbox", "local"],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert done.returncode == EXIT_TASK_FAILED
    # Not a terminal: progress and the outcome line go to stderr, stdout keeps only an answer (none here).
    assert "Traceback" not in done.stderr and "Traceback" not in done.stdout
    said = " ".join(done.stderr.split())
    assert said.count("The Anthropic API sent a reply that cannot be used") == 1
    assert "provider_error: The Anthropic API sent a reply that cannot be used" in said
    assert _events(tmp_path)[-1]["type"] == "run_finished"


@pytest.mark.parametrize("api", ["anthropic", "openai"])
def test_a_refused_api_key_ends_the_run_as_configuration(tmp_path, monkeypatch, api):
    # A key the provider refuses is a configuration problem: exit 3 (errors.EXIT_CONFIG), as before a run.
    error = anthropic_error if api == "anthropic" else openai_error
    with WireServer() as server:
        server.push(error(401, "invalid x-api-key"))
        code, output = _run(tmp_path, monkeypatch, server, api)
        assert len(server.requests) == 1  # not retried
    assert code == EXIT_CONFIG and "Traceback" not in output
    events = _events(tmp_path)
    assert events[-1]["type"] == "run_finished" and events[-1]["status"] == "config_error"
