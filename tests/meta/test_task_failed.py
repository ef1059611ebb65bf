"""A task that was not done is not a success.

`finish(status="failed", reason=...)` and a finish without an answer end the run as `task_failed`:
exit code 1, the status in `--json`, a failed run in the experience store and in `stats`.
"""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from agentfactory.cli import app
from agentfactory.errors import EXIT_TASK_FAILED
from agentfactory.experience import ExperienceStore, default_store_path
from agentfactory.meta.skills import meta_tools

from .conftest import UPPER, call, make_env

TASK = "Write a haiku about the sea."
REASON = "writing poems is outside what the subagents here can do"


def _run_finished(env, result) -> dict:
    finished = [e for e in env.events(result) if e["type"] == "run_finished"]
    assert len(finished) == 1 and env.events(result)[-1]["type"] == "run_finished"
    return finished[0]


def test_the_model_sees_status_and_reason_in_finish():
    finish = next(t for t in meta_tools() if t.name == "finish")
    props = finish.input_schema["properties"]
    assert props["status"]["enum"] == ["done", "failed"] and props["reason"]["type"] == "string"
    assert "failed" in finish.description


def test_finish_failed_ends_the_run_as_task_failed(tmp_path):
    env = make_env(tmp_path)
    result = env.run(TASK, [call("finish", answer="I could not write it.", status="failed", reason=REASON)])
    assert result.status == "task_failed" and result.exit_code == EXIT_TASK_FAILED == 1
    assert result.reason == REASON and result.answer == "I could not write it."
    event = _run_finished(env, result)
    assert event["status"] == "task_failed" and event["reason"] == REASON


def test_failed_task_is_a_failure_in_the_experience_store_and_stats(tmp_path):
    env = make_env(tmp_path)
    env.run("Upper-case the word sea.", [call("finish", answer="SEA")])
    failed = env.run(TASK, [call("finish", answer="No.", status="failed", reason=REASON)])
    with ExperienceStore(default_store_path(env.settings.paths)) as store:
        row = store.get_run(failed.run_id)
        assert row is not None and row.status == "task_failed" and row.success is False
        team = store.stats()["team"]
    assert team["runs"] == 2 and team["successes"] == 1 and team["success_rate"] == 0.5


@pytest.mark.parametrize("answer", ["", "   \n\t "])
def test_finish_without_an_answer_is_a_failure(tmp_path, answer):
    env = make_env(tmp_path)
    result = env.run(TASK, [call("finish", answer=answer)])
    assert result.status == "task_failed" and result.exit_code == 1
    assert result.reason == "the run finished without an answer" and result.answer is None
    assert _run_finished(env, result)["status"] == "task_failed"
    with ExperienceStore(default_store_path(env.settings.paths)) as store:
        assert store.get_run(result.run_id).success is False


def test_failed_finish_still_saves_a_candidate_that_worked(tmp_path):
    """The status is about the task; a subagent that ran successfully is still worth keeping."""
    env = make_env(tmp_path)
    script = [
        call("create_subagent", name="upper-text", description="Upper-case a text.", code=UPPER),
        call("run_subagent", name="upper-text", inputs={"text": "sea"}),
        call("finish", answer="SEA, but no haiku.", status="failed", reason=REASON, save=["upper-text"]),
    ]
    result = env.run(TASK, script)
    assert result.status == "task_failed" and result.saved == [("upper-text", 1)]


def test_cli_run_of_a_failed_task_exits_1_with_task_failed_in_json(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for name in ("AGENTFACTORY_MODEL", "AGENTFACTORY_SANDBOX", "ANTHROPIC_API_KEY", "OPENAI_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    script = tmp_path / "refuse.json"
    script.write_text(json.dumps([call("finish", answer="I cannot.", status="failed", reason=REASON)]))
    base = ["--library", "lib", "--workspaces", "ws", "--sandbox", "local"]
    out = CliRunner().invoke(app, ["run", TASK, "--model", f"scripted:{script}", "--json", *base])
    assert out.exit_code == 1, out.output
    data = json.loads(out.stdout)
    assert data["status"] == "task_failed" and data["reason"] == REASON

    shown = CliRunner().invoke(app, ["run", TASK, "--model", f"scripted:{script}", *base])
    assert shown.exit_code == 1 and "task_failed" in shown.output and REASON in shown.output

    stats = CliRunner().invoke(app, ["stats", "--json", "--library", "lib"])
    assert stats.exit_code == 0, stats.output
    team = json.loads(stats.stdout)["team"]
    assert team["runs"] == 2 and team["successes"] == 0


def test_report_of_all_runs_counts_a_failed_task_as_a_failure(tmp_path):
    from agentfactory.report import render_all_report

    env = make_env(tmp_path)
    env.run("Upper-case the word sea.", [call("finish", answer="SEA")])
    env.run(TASK, [call("finish", answer="No.", status="failed", reason=REASON)])
    with ExperienceStore(default_store_path(env.settings.paths)) as store:
        html = render_all_report(store)
    rate = html.split('<div class="k">success rate</div><div class="v">', 1)[1].split("<", 1)[0]
    assert rate == "50%"


def test_only_offered_meta_skills_are_dispatched(tmp_path):
    """A helper of MetaSkills (such as execute_library) is not a tool, even if a model names it."""
    from agentfactory.meta.handlers import dispatch

    assert dispatch(object(), "execute_library", {}).text == "Unknown tool 'execute_library'."


def test_a_content_refusal_ends_the_run_task_failed_with_the_models_words(tmp_path):
    from agentfactory.config import load_settings
    from agentfactory.llm import ScriptedProvider
    from agentfactory.meta.agent import MetaAgent

    settings = load_settings({"model": "scripted", "sandbox": "local"}, env={}, cwd=tmp_path)
    provider = ScriptedProvider([{"text": "I can't help with that.", "stop_reason": "refusal"}])
    result = MetaAgent(settings, provider=provider).run("Something the model declines")
    assert result.status == "task_failed" and result.exit_code == 1
    assert result.reason == "The model refused the request: I can't help with that."
    assert provider.remaining == 0  # asked once, not nudged again
