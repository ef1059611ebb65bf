"""`agentfactory run` with an MCP server that cannot start: the user reads one sentence, the run ends
with its own status and exit code, and nothing is a traceback."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from agentfactory.cli.app import app

from .conftest import FIRST_CODE, toml_table


def test_a_server_that_cannot_start_is_one_line_for_the_user_and_the_run_ends_cleanly(tmp_path, monkeypatch):
    (tmp_path / "agentfactory.toml").write_text(toml_table("tracker", "fail-start"), encoding="utf-8")
    script = tmp_path / "script.json"
    script.write_text(
        json.dumps(
            [
                {
                    "tool_calls": [
                        {
                            "name": "create_subagent",
                            "arguments": {
                                "name": "first",
                                "description": "Search.",
                                "code": FIRST_CODE,
                                "tools": ["tracker.search_issues"],
                            },
                        }
                    ]
                },
                {
                    "tool_calls": [
                        {
                            "name": "finish",
                            "arguments": {"answer": "", "status": "failed", "reason": "the tracker is down"},
                        }
                    ]
                },
            ]
        ),  # fmt: skip
        encoding="utf-8",
    )
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(
        app, ["run", "Search the tracker.", "--model", f"scripted:{script}", "--sandbox", "local"]
    )
    assert result.exit_code == 1, result.output
    lines = [line.strip() for line in result.output.splitlines() if line.strip().startswith("mcp:")]
    assert len(lines) == 1  # said once, though the model also hears it (create_subagent's reply)
    assert lines[0].startswith("mcp: MCP server 'tracker' (") and "could not start" in lines[0]
    assert "it exited (code 3); its stderr ends: cannot start: no database." in result.output.replace(
        "\n", " "
    )
    assert "Traceback" not in result.output
    [workspace] = (tmp_path / "workspaces").iterdir()
    events = [json.loads(line) for line in (workspace / "events.jsonl").read_text().splitlines()]
    assert events[-1]["type"] == "run_finished" and events[-1]["status"] == "task_failed"
