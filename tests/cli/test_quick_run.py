"""`agentfactory run ...` parsed without typer (cli/run.py `quick`): the same arguments typer would give
the command for every command line it takes, typer's own answer for every other one, and the same ending
for an expected error."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import typer

from agentfactory.cli import run as run_module
from agentfactory.cli.app import app


def _run_command():
    group = typer.main.get_command(app)
    return group.get_command(typer.Context(group, info_name="agentfactory"), "run")


def test_the_option_table_is_the_typer_declaration() -> None:
    command = _run_command()
    ctx = typer.Context(command, info_name="run")
    table = {}
    for param in command.get_params(ctx):
        if param.name == "help":
            continue
        if param.param_type_name == "argument":
            assert param.name == "task" and param.required
            continue
        annotation = param.type_descriptor.annotation
        leaf = annotation.__args__[0] if getattr(annotation, "__origin__", None) is list else annotation
        for flag in [*param.opts, *param.secondary_opts]:
            table[flag] = (param.name, leaf, bool(param.multiple))
    assert table == run_module.OPTIONS


def _typers_arguments(argv: list[str], monkeypatch) -> dict | None:
    """The keyword arguments typer gives `run` for ARGV, or None where typer refuses the command line."""
    seen = {}

    def capture(**arguments):
        seen.update(arguments)
        return 0

    monkeypatch.setattr(run_module, "execute", capture)
    try:
        _run_command().main(args=argv, prog_name="agentfactory run", standalone_mode=False)
    except typer.Exit:
        pass
    except Exception:  # a usage error: typer's to report
        return None
    return seen or None


VALUES = {
    str: ["gpt", "", "two words", "=x", "a=b", "\udc80", "--json", "-", "-x"],
    Path: ["lib", "/tmp", "a/b.txt", "", "-", "--json", "x=y"],
    int: ["5", "0", "007", "-3", "1_000", "1e3", "x", "", "123456789012345678901"],
    float: ["1.5", "2", "-1", ".5", "1.", "inf", "1e3", "", "0.25"],
}


def _samples() -> list[list[str]]:
    forms: list[list[str]] = [
        ["Say hi."],
        ["-"],
        ["--", "--json"],
        ["Say hi.", "--json"],
        ["--json", "Say hi."],
        ["Say hi.", "extra"],
        [],
        ["--json"],
        ["Say hi.", "--help"],
        ["Say hi.", "--json=1"],
        ["Say hi.", "--no-json"],
        ["Say hi.", "-i", "a", "--input", "b", "--input=c"],
        ["Say hi.", "--model", "m1", "--model", "m2"],
        ["Say hi.", "--model"],
        ["Say hi.", "--unknown", "x"],
        ["Say hi.", "-ia"],
        ["-Say hi."],
    ]
    for flag, (_, kind, _) in run_module.OPTIONS.items():
        if kind is bool:
            continue
        for value in VALUES[kind]:
            forms.append(["Say hi.", flag, value])
            forms.append([f"{flag}={value}", "Say hi."])
    # every option at once, in two orders
    full = ["--model", "m", "--subagent-model", "s", "--base-url", "http://x", "--sandbox", "local"]
    full += ["--library", "lib", "--workspaces", "ws", "--max-steps", "3", "--max-tokens", "100"]
    full += ["--max-cost", "0.5", "--timeout", "2", "--max-time", "9.5", "--agent-id", "a"]
    full += ["--thinking", "2048", "--config", "c.toml", "-i", "f", "--json"]
    forms += [["Say hi.", *full], [*full, "Say hi."]]
    return forms


def test_every_command_line_it_takes_gets_the_arguments_typer_gives(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    taken = 0
    for argv in _samples():
        ours = run_module.parse(argv)
        theirs = _typers_arguments(argv, monkeypatch)
        if ours is None:
            continue
        taken += 1
        assert theirs is not None, argv
        theirs = {**theirs, "input": list(theirs["input"] or [])}
        assert {k: (v, type(v)) for k, v in ours.items()} == {k: (v, type(v)) for k, v in theirs.items()}, (
            argv
        )
    assert taken > 60


def test_what_typer_alone_can_answer_is_left_to_it() -> None:
    for argv in (
        ["Say hi.", "--help"],
        ["Say hi.", "extra"],
        [],
        ["Say hi.", "--model", "m1", "--model", "m2"],
        ["Say hi.", "--max-steps", "1_000"],
        ["Say hi.", "--max-steps", "-3"],
        ["Say hi.", "--model", "--json"],
        ["Say hi.", "--library", ""],
    ):
        assert run_module.parse(argv) is None, argv


def _agentfactory(tmp_path: Path, *args: str, watch: bool = False) -> subprocess.CompletedProcess:
    code = (
        "import atexit, sys\n"
        "atexit.register(lambda: print('TYPER', 'typer' in sys.modules, file=sys.stderr))\n"
        "sys.argv = ['agentfactory', *sys.argv[1:]]\n"
        "from agentfactory.cli import main\n"
        "main()\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("AGENTFACTORY_")}
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**env, "NO_COLOR": "1", "COLUMNS": "200"},
        timeout=300,
    )


def test_a_plain_run_ends_as_through_typer_and_imports_no_typer(tmp_path: Path) -> None:
    script = tmp_path / "finish.json"
    script.write_text(json.dumps([{"tool_calls": [{"name": "finish", "arguments": {"answer": "hi"}}]}]))
    where = ["--sandbox", "local", "--library", str(tmp_path / "lib"), "--workspaces", str(tmp_path / "ws")]
    quick = _agentfactory(tmp_path, "run", "Say hi.", "--model", f"scripted:{script}", *where, "--json")
    # A repeated option is typer's to read (the last one wins): the same run through typer.
    typers = _agentfactory(tmp_path, "run", "Say hi.", "--model", "x", "--model", f"scripted:{script}", *where, "--json")  # fmt: skip
    assert quick.returncode == typers.returncode == 0, quick.stderr + typers.stderr
    assert "TYPER False" in quick.stderr and "TYPER True" in typers.stderr
    ours, theirs = json.loads(quick.stdout), json.loads(typers.stdout)
    for data in (ours, theirs):
        for key in ("run_id", "workspace", "duration_s"):
            data.pop(key)
    assert ours == theirs and ours["answer"] == "hi"


@pytest.mark.parametrize(
    "problem",
    [
        ["--model", "scripted:/nonexistent/script.json"],  # a configuration error
        ["--max-steps", "0"],  # a limit config.py refuses
        ["--input", "/nonexistent/data.csv"],  # an input that is not there
    ],
)
def test_an_expected_error_ends_as_through_typer(tmp_path: Path, problem: list[str]) -> None:
    where = ["--sandbox", "local", "--library", str(tmp_path / "lib"), "--workspaces", str(tmp_path / "ws")]
    quick = _agentfactory(tmp_path, "run", "Say hi.", *problem, *where)
    typers = _agentfactory(
        tmp_path, "run", "Say hi.", *problem, *where, "--agent-id", "a", "--agent-id", "default"
    )
    assert "TYPER False" in quick.stderr and "TYPER True" in typers.stderr
    assert quick.returncode == typers.returncode != 0
    assert quick.stderr.replace("TYPER False", "") == typers.stderr.replace("TYPER True", "")
    assert quick.stderr.startswith("Error: ") and "Traceback" not in quick.stderr


def test_all_option_orders_parse_alike() -> None:
    pairs = [["--model", "m"], ["--max-steps", "4"], ["-i", "a"], ["--json"]]
    expected = None
    for order in itertools.permutations(pairs):
        parsed = run_module.parse(["Say hi.", *itertools.chain.from_iterable(order)])
        assert parsed is not None
        expected = expected or parsed
        assert parsed == expected
