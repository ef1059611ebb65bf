"""`deploy` of a subagent that calls an MCP tool: the maturity gate runs its case against the project's
server (real local sandbox) and notes the dependency; the exported package's shim starts the same
server itself, with the credential taken from the environment, never shipped."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from agentfactory.deploy import deploy

from .conftest import SECRET, SERVER, call, mcp_env, module

CODE = module("""def run(query: str) -> dict:
    found = mcp.call("tracker.search_issues", {"query": query, "limit": 2})
    return {"answer": ", ".join(found["issues"]), "issues": found["issues"], "key": found["secret_seen"]}
""")


def _run_exported(src: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    script = "import json\nfrom af_find_issues import run\nprint(json.dumps(run(query='crash')))\n"
    return subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=120,
        env={"PYTHONPATH": str(src), "PATH": os.environ.get("PATH", "/usr/bin:/bin"), **env},
    )


def _saved_find_issues(tmp_path: Path):
    """A project whose run saved `find-issues` (it calls tracker.search_issues), its case passing."""
    env = mcp_env(tmp_path / "project")
    saved = env.run(
        "Find the tracker issues about crashes.",
        [
            call("create_subagent", name="find-issues", description="Find tracker issues.", code=CODE,
                 tools=["tracker.search_issues"]),
            call("run_subagent", name="find-issues", inputs={"query": "crash"}),
            call("finish", answer="done", save=["find-issues"]),
        ],
    )  # fmt: skip
    assert saved.saved == [("find-issues", 1)]
    return env


def test_deploy_ships_a_shim_that_calls_the_same_server_and_notes_the_dependency(tmp_path):
    env = _saved_find_issues(tmp_path)

    out = tmp_path / "out"
    result = deploy(
        env.settings, "find-issues", formats=("package",), out=out, count_runs=lambda _name, _version: 5
    )
    # The gate ran the stored case in the sandbox against the project's server, and passed.
    assert result.gate.passed and (result.gate.cases_passed, result.gate.cases_total) == (1, 1)
    assert result.gate.notes == (
        "it calls the MCP tools tracker.search_issues: its cases ran against the MCP server(s) tracker of "
        "this project, and the export needs the same server(s) to work",
    )
    project = out / "package"
    readme = (project / "README.md").read_text(encoding="utf-8")
    assert "## MCP servers" in readme
    assert f"- `tracker`: `{sys.executable} {SERVER} ok`; set `SERVER_SECRET`" in readme
    assert "Note of the maturity gate: it calls the MCP tools tracker.search_issues" in readme
    assert "AGENTFACTORY_MCP_CONFIG" in readme
    # The literal secret of agentfactory.toml is in no exported file.
    for path in project.rglob("*"):
        if path.is_file():
            assert SECRET not in path.read_text(encoding="utf-8", errors="replace"), path
    shim = (project / "src" / "af_find_issues" / "agentfactory_tools.py").read_text(encoding="utf-8")
    assert '"env": {"SERVER_SECRET": "${SERVER_SECRET}"}' in shim.replace("'", '"')

    src = project / "src"
    ran = _run_exported(src, {"SERVER_SECRET": "exported-key-1"})
    assert ran.returncode == 0, ran.stderr
    assert json.loads(ran.stdout.splitlines()[-1]) == {
        "answer": "crash issue 1, crash issue 2",
        "issues": ["crash issue 1", "crash issue 2"],
        "key": "expo",  # the server got the variable of the environment the package runs in
    }

    # Without the variable: one sentence naming it.
    missing = _run_exported(src, {})
    assert missing.returncode == 1
    assert "ToolError: the MCP server configuration needs $SERVER_SECRET: set it in the environment" in (
        missing.stderr
    )

    # AGENTFACTORY_MCP_CONFIG replaces the shipped entry (here: a server that fails to start).
    config = tmp_path / "servers.json"
    config.write_text(
        json.dumps(
            {"mcpServers": {"tracker": {"command": sys.executable, "args": [str(SERVER), "fail-start"]}}}
        ),
        encoding="utf-8",
    )
    broken = _run_exported(src, {"AGENTFACTORY_MCP_CONFIG": str(config)})
    assert broken.returncode == 1
    assert "ToolError: the MCP server 'tracker' failed on tracker.search_issues:" in broken.stderr


ADD_THRICE = """import json
from af_find_issues.agentfactory_tools import mcp, ToolError
sums = [mcp.call("tracker.add", {"a": i, "b": 1}) for i in range(3)]
print(json.dumps({"sums": sums}))
"""


def test_the_exported_shim_starts_a_server_once_for_all_its_calls(tmp_path):
    """Each server is started at its first call and serves the process's later calls; a server that dies
    on a call gives one error and the next call starts it again."""
    env = _saved_find_issues(tmp_path)
    out = tmp_path / "out"
    deploy(env.settings, "find-issues", formats=("package",), out=out, count_runs=lambda _name, _version: 5)
    src = out / "package" / "src"
    starts = tmp_path / "starts.log"
    config = tmp_path / "servers.json"

    def run(script: str, mode: str) -> subprocess.CompletedProcess:
        server = {
            "command": sys.executable,
            "args": [str(SERVER), mode],
            "env": {"TOOL_SERVER_STARTS": str(starts)},
        }
        config.write_text(json.dumps({"mcpServers": {"tracker": server}}), encoding="utf-8")
        path = os.environ.get("PATH", "/usr/bin:/bin")
        env = {"PYTHONPATH": str(src), "PATH": path, "AGENTFACTORY_MCP_CONFIG": str(config)}
        return subprocess.run(
            [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, env=env
        )

    ran = run(ADD_THRICE, "ok")
    assert ran.returncode == 0, ran.stderr
    assert json.loads(ran.stdout.splitlines()[-1]) == {"sums": [{"result": n} for n in (1, 2, 3)]}
    assert len(starts.read_text().splitlines()) == 1  # one server for the three calls, stopped at exit

    script = """import json
from af_find_issues.agentfactory_tools import mcp, ToolError
out = []
for _ in range(2):
    try:
        mcp.call("tracker.search_issues", {"query": "x"})
    except ToolError as exc:
        out.append(str(exc))
print(json.dumps(out))
"""
    starts.unlink()
    dying = run(script, "die-on-call")
    assert dying.returncode == 0, dying.stderr
    errors = json.loads(dying.stdout.splitlines()[-1])
    assert len(errors) == 2, errors
    assert all(e.startswith("the MCP server 'tracker' failed on tracker.search_issues") for e in errors)
    assert len(starts.read_text().splitlines()) == 2  # the second call started the server again
