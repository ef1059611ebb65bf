"""Issue 14, "The CLI, consistent" and `run -`: run ids, config discovery, `config show`, `models`, model
spec suggestions, --json on every command with a result, completion, --version."""

from __future__ import annotations

import json
import os

import pytest

from tests.cli.conftest import call, subagent_script

FINISH = [call("finish", answer="hello")]


def make_runs(project, count: int) -> list[str]:
    model = project.script(FINISH * count)
    ids = []
    for i in range(count):
        result = project.run(f"task {i}", model, "--json")
        assert result.exit_code == 0, result.output
        ids.append(json.loads(result.stdout)["run_id"])
    return ids


# -- run - ---------------------------------------------------------------------------------------------


def test_run_dash_reads_the_task_from_stdin(project):
    model = project.script(FINISH)
    result = project.run("-", model, "--json", input="summarise the week\n")
    assert result.exit_code == 0, result.output
    run_id = json.loads(result.stdout)["run_id"]
    started = json.loads((project.workspaces / run_id / "events.jsonl").read_text().splitlines()[0])
    assert started["type"] == "run_started" and started["task"] == "summarise the week"


def test_run_dash_with_empty_stdin_is_the_empty_task_sentence(project):
    result = project.run("-", "sim", input="")
    assert result.exit_code == 2 and "The task is empty" in result.stderr


# -- run ids -------------------------------------------------------------------------------------------


def test_runs_show_latest_and_unique_prefix(project):
    first, second = make_runs(project, 2)
    latest = project.invoke("runs", "show", "latest", "--json")
    assert latest.exit_code == 0, latest.output
    assert json.loads(latest.stdout)["run_id"] == second
    # The random tail makes a prefix of the id unique: the whole timestamp plus one more character.
    prefix = first[: len(first) - 5]
    if second.startswith(prefix):
        prefix = first
    shown = project.invoke("runs", "show", prefix, "--json")
    assert shown.exit_code == 0, shown.output
    assert json.loads(shown.stdout)["run_id"] == first


def test_ambiguous_prefix_lists_the_candidates(project):
    ids = make_runs(project, 2)
    result = project.invoke("runs", "show", "2")  # every id starts with the year
    assert result.exit_code == 2, result.output
    assert "'2' matches 2 runs" in result.stderr
    assert all(run_id in result.stderr for run_id in ids)


def test_runs_show_latest_without_runs(project):
    result = project.invoke("runs", "show", "latest")
    assert result.exit_code == 2 and "No runs in" in result.stderr


def test_runs_list_never_cuts_the_id(project):
    (run_id,) = make_runs(project, 1)
    result = project.invoke("runs", "list", env={"COLUMNS": "50"})
    assert result.exit_code == 0, result.output
    assert run_id in result.stdout


def test_runs_show_of_a_failed_run_shows_the_error_and_the_output_files(project):
    body = 'open("outputs/partial.csv", "w").write("a,b\\n")\nraise ValueError("column price is missing")'
    script = subagent_script("half-done", body, answer="x")
    model = project.script(script[:2] + [call("finish", answer="")])
    ran = project.run("make the report", model, "--json")
    run_id = json.loads(ran.stdout)["run_id"]
    shown = project.invoke("runs", "show", run_id)
    assert shown.exit_code == 0, shown.output
    assert "ValueError: column price is missing" in shown.stdout
    assert "half-done" in shown.stdout
    assert "outputs/partial.csv" in shown.stdout
    data = json.loads(project.invoke("runs", "show", run_id, "--json").stdout)
    assert data["output_files"] == ["outputs/partial.csv"]
    assert data["failed_executions"][0]["error"] == "ValueError: column price is missing"


# -- config discovery, config show, models, model suggestions ------------------------------------------


def test_config_is_found_from_a_subfolder(project, monkeypatch):
    (project.root / "agentfactory.toml").write_text('sandbox = "local"\nmax_steps = 9\n')
    sub = project.root / "src" / "deep"
    sub.mkdir(parents=True)
    monkeypatch.chdir(sub)
    result = project.invoke("config", "show", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["config_file"] == str(project.root / "agentfactory.toml")
    rows = {row["name"]: row for row in data["settings"]}
    assert rows["max_steps"] == {
        "name": "max_steps",
        "value": 9,
        "source": str(project.root / "agentfactory.toml"),
    }
    assert rows["workspaces"]["value"] == str(project.root / "workspaces")


def test_config_show_names_each_source(project):
    (project.root / "agentfactory.toml").write_text("max_steps = 9\n")
    result = project.invoke("config", "show", env={"AGENTFACTORY_MEMORY_MB": "300", "COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    lines = {line.split()[1]: line for line in result.stdout.splitlines() if line.startswith("│ ")}
    assert "$AGENTFACTORY_MEMORY_MB" in lines["memory_mb"] and "300" in lines["memory_mb"]
    assert str(project.root / "agentfactory.toml") in lines["max_steps"]
    assert "default" in lines["timeout_s"]


def test_models_lists_providers_and_priced_models(project):
    result = project.invoke("models", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert {p["name"] for p in data["providers"]} >= {"anthropic", "openai", "scripted"}
    specs = {m["spec"] for m in data["models"]}
    assert "openai:gpt-4o" in specs and "anthropic:claude-sonnet-4-6" in specs
    text = project.invoke("models", env={"COLUMNS": "200"})
    assert text.exit_code == 0 and "anthropic:<model>" in text.stdout and "gpt-4.1" in text.stdout


@pytest.mark.parametrize(
    "spec, suggestion", [("gpt-4o", "openai:gpt-4o"), ("claude-sonnet-4-6", "anthropic:claude-sonnet-4-6")]
)
def test_model_without_provider_suggests_the_spec(project, spec, suggestion):
    result = project.run("say hi", spec)
    assert result.exit_code == 3, result.output
    assert f"Unknown model spec '{spec}': write {suggestion}" in result.stderr
    assert not project.workspaces.exists()


# -- --json on every command with a result --------------------------------------------------------------


def test_init_json(project):
    result = project.invoke("init", "proj", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["config_written"] is True and data["config"] == str(
        project.root / "proj" / "agentfactory.toml"
    )
    again = json.loads(project.invoke("init", "proj", "--json").stdout)
    assert again["config_written"] is False


def test_runs_prune_json(project):
    (run_id,) = make_runs(project, 1)
    dry = project.invoke("runs", "prune", "--older-than", "0", "--dry-run", "--json")
    assert dry.exit_code == 0, dry.output
    assert json.loads(dry.stdout) == {
        "workspaces": str(project.workspaces),
        "dry_run": True,
        "removed": [run_id],
    }
    done = project.invoke("runs", "prune", "--older-than", "0", "--json")
    assert json.loads(done.stdout)["removed"] == [run_id]
    assert not (project.workspaces / run_id).exists()


def test_runs_prune_refuses_an_infinite_age(project):
    result = project.invoke("runs", "prune", "--older-than", "inf")
    assert result.exit_code == 2 and "--older-than must be a finite number" in result.stderr


def test_prune_removes_a_deep_tree_with_links(project):
    from agentfactory.engine.workspace import remove_tree

    root = project.root / "deep"
    here = os.getcwd()
    root.mkdir()
    os.chdir(root)
    try:
        for _ in range(1200):  # deeper than the recursion limit, longer than PATH_MAX
            os.mkdir("d" * 100)
            os.chdir("d" * 100)
            os.symlink(str(project.root / "keep"), "link")
    finally:
        os.chdir(here)
    (project.root / "keep").write_text("kept")
    remove_tree(root)
    assert not root.exists() and (project.root / "keep").read_text() == "kept"


def test_report_and_feedback_json(project):
    (run_id,) = make_runs(project, 1)
    report = project.invoke("report", "latest", "--json")
    assert report.exit_code == 0, report.output
    data = json.loads(report.stdout)
    assert data["run_id"] == run_id and os.path.isfile(data["report"])
    feedback = project.invoke("feedback", run_id[:-2], "--score", "0.5", "--note", "ok", "--json")
    assert feedback.exit_code == 0, feedback.output
    assert json.loads(feedback.stdout)["run_id"] == run_id


def test_report_out_is_a_folder(project):
    make_runs(project, 1)
    (project.root / "out").mkdir()
    result = project.invoke("report", "latest", "--out", "out")
    assert result.exit_code == 2 and "exists and is not a file" in result.stderr


def test_demo_json_prints_only_json(project, monkeypatch):
    """The demo's wiring with --json: no banner, no table, the figures and the paths (the full demo runs
    in test_demo_json_full)."""
    from agentfactory_bench import cli as bench

    class Result:
        root = project.root / "bench"

        def to_json(self):
            return {"model": "sim", "summary": []}

        def ratios(self):
            return {"agentfactory batch2/batch1": 0.5}

    def fake_run(suite, methods, model, repeat, out, sandbox, quiet):
        assert quiet and model == "sim"
        return Result(), {"chart": out / "c.svg", "markdown": out / "t.md", "json": out / "r.json"}

    monkeypatch.setattr(bench, "_run", fake_run)
    result = project.invoke("demo", "--json", "--out", str(project.root / "demo"))
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["model"] == "sim" and data["files"]["chart"].endswith("c.svg")


@pytest.mark.slow
def test_demo_json_full(project):
    result = project.invoke("demo", "--json", "--sandbox", "local", "--out", str(project.root / "demo"))
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["model"] == "sim" and data["summary"] and os.path.isfile(data["files"]["json"])


# -- completion and version -----------------------------------------------------------------------------


def test_shell_completion_is_offered(project, monkeypatch):
    help_text = project.invoke("--help").stdout
    assert "--install-completion" in help_text and "--show-completion" in help_text
    # typer finds the shell by walking up the process tree (shellingham): under a test runner whose
    # shell is gone (a detached CI job) there is none, so the test names the one it checks.
    monkeypatch.setattr("typer.completion._get_shell_name", lambda: "bash")
    script = project.invoke("--show-completion")
    assert script.exit_code == 0 and "complete" in script.stdout and "agentfactory" in script.stdout


def test_version_at_the_root(project):
    from agentfactory import __version__

    result = project.invoke("--version")
    assert result.exit_code == 0 and result.stdout.strip() == f"agentfactory {__version__}"


def test_run_ids_complete_in_the_shell(project):
    (run_id,) = make_runs(project, 1)
    env = {
        "_AGENTFACTORY_COMPLETE": "complete_bash",
        "COMP_WORDS": "agentfactory runs show ",
        "COMP_CWORD": "3",
    }
    result = project.runner.invoke(project_app(), [], env=env, prog_name="agentfactory")
    assert result.exit_code == 0 and result.stdout.split() == ["latest", run_id]


def project_app():
    from agentfactory.cli import app

    return app
