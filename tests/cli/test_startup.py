"""Start-up of the command line: `agentfactory`, `--help` and `--version` are answered from the table of
commands (cli/surface.py) without typer, with the same content as typer's help; entry points are read
without importlib.metadata and agree with it.

Checks of what a command imports run in a fresh interpreter and read its `sys.modules`.
"""

from __future__ import annotations

import importlib
import inspect
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import typer

from agentfactory import plugins
from agentfactory.cli import surface

ROOT = Path(__file__).resolve().parents[2]
# Not one of these is needed to print the top-level help or the version.
NOT_FOR_HELP = [
    "typer",
    "click",
    "rich",
    "pydantic",
    "importlib.metadata",
    "email",
    "yaml",
    "jinja2",
    "jsonschema",
    "git",
    "filelock",
    "httpx",
    "sqlite3",
    "agentfactory.config",
    "agentfactory.events",
    "agentfactory.cli.app",
    "agentfactory.cli.common",
]

# Runs the console-script entry as an installation without command plugins has it (the benchmark
# distribution, installed in the development environment, is hidden), and reports what was imported.
REPORT = r"""
import atexit, json, sys
watched, out = json.loads(sys.argv[1]), sys.argv[2]
def report():
    with open(out, "w") as fh:
        json.dump(sorted(m for m in watched if m in sys.modules), fh)
atexit.register(report)
if sys.argv[3] == "without-plugins":
    import agentfactory.cli.surface as surface
    surface.entry_points = lambda *, group: []
sys.argv = ["agentfactory", *sys.argv[4:]]
from agentfactory.cli import main
main()
"""


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not (k.startswith("_") and k.endswith("_COMPLETE"))}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    return {**env, **extra}


def _entry(
    tmp_path: Path, mode: str, *args: str, **env: str
) -> tuple[subprocess.CompletedProcess, list[str]]:
    out = tmp_path / "modules.json"
    proc = subprocess.run(
        [sys.executable, "-c", REPORT, json.dumps(NOT_FOR_HELP), str(out), mode, *args],
        capture_output=True,
        text=True,
        env=_env(**env),
        timeout=120,
    )
    return proc, json.loads(out.read_text())


def _typer_rows() -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """The root options and the command list as typer's help shows them: each option's names with its
    help, each command with the first paragraph of its help (whitespace collapsed)."""
    from agentfactory.cli.app import app

    group = typer.main.get_command(app)  # as `app()` builds it: typer's completion options included
    ctx = typer.Context(group, info_name="agentfactory")
    options = [(" ".join(p.opts), p.help or "") for p in group.get_params(ctx)]
    commands = []
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        text = command.short_help or command.help or ""
        commands.append((name, " ".join(inspect.cleandoc(text).split("\n\n")[0].split())))
    return options, commands


def test_the_table_help_says_what_typers_help_says() -> None:
    options, commands = _typer_rows()
    table = surface.command_table()
    assert [name for name, _ in commands] == surface.command_names(table)
    ours = {**surface.HELP, **{name: surface.missing_help(name) for name in surface.FROM_ELSEWHERE}}
    for name, text in commands:
        if name in surface.COMMANDS or name not in table:
            assert ours[name] == text, name
    assert [(opt.split()[0], text) for opt, text in surface.ROOT_OPTIONS] == options


def _flat(text: str) -> str:
    """The help's words in order, without the boxes' borders."""
    return " ".join(text.replace("│", " ").split())


def test_the_printed_help_lists_every_option_and_command_with_its_help(capsys) -> None:
    options, commands = _typer_rows()
    text = surface.render_help("agentfactory")
    flat = _flat(text)
    assert text.startswith("\n Usage: agentfactory [OPTIONS] COMMAND [ARGS]...\n")
    assert " ".join(surface.ROOT_HELP.split()) in flat
    for name, help_text in [*options, *commands]:
        assert f"{name} {help_text}" in flat or f"{name} PATH {help_text}" in flat, name


def test_help_and_version_import_neither_typer_nor_any_command(tmp_path: Path) -> None:
    for args in (["--help"], ["--version"], []):
        proc, loaded = _entry(tmp_path, "without-plugins", *args)
        assert loaded == [], (args, loaded)
        assert proc.returncode == (2 if not args else 0), proc.stderr
        assert proc.stderr == ""


COUNT = r"""
import atexit, sys
bare = set(sys.modules)
import agentfactory.cli.surface as surface
surface.entry_points = lambda *, group: []
atexit.register(lambda: print("MODULES", len(set(sys.modules) - bare), file=sys.stderr))
sys.argv = ["agentfactory", *sys.argv[1:]]
from agentfactory.cli import main
main()
"""


@pytest.mark.parametrize("args", [["--help"], ["--version"]])
def test_help_and_version_cost_a_handful_of_modules_beyond_a_bare_interpreter(args: list[str]) -> None:
    # A count, not a time: the top-level answers import the package, the table and the plugin reader
    # with typing and re, 17 to 35 modules (as much as site did not import already); typer alone
    # brings over 100.
    proc = subprocess.run(
        [sys.executable, "-c", COUNT, *args], capture_output=True, text=True, env=_env(), timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    assert int(proc.stderr.split("MODULES")[1]) <= 40


def test_version_reads_no_entry_point_even_with_plugins_installed(tmp_path: Path) -> None:
    proc, loaded = _entry(tmp_path, "as-installed", "--version")
    assert proc.returncode == 0 and proc.stdout == "agentfactory 0.1.0\n"
    assert loaded == []


@pytest.mark.parametrize("columns", ["40", "80", "133"])
def test_the_help_fits_the_terminal_width(monkeypatch, columns: str) -> None:
    monkeypatch.setenv("COLUMNS", columns)
    text = surface.render_help("agentfactory")
    boxed = [line for line in text.splitlines() if line and line[0] in "╭│╰"]
    assert boxed and {len(line) for line in boxed} == {int(columns)}
    assert all(len(line) <= int(columns) for line in text.splitlines())
    assert "--install-completion" in text and "Show the version." in text


def test_no_arguments_print_the_help_and_exit_2_as_typer_does(tmp_path: Path) -> None:
    proc, _ = _entry(tmp_path, "without-plugins")
    assert proc.returncode == 2
    assert proc.stdout.startswith("\n Usage: agentfactory [OPTIONS] COMMAND [ARGS]...")
    assert "\n│ run " in proc.stdout and "\n│ library " in proc.stdout


def test_a_shell_asking_for_completions_gets_typers_answer(tmp_path: Path) -> None:
    proc, loaded = _entry(
        tmp_path,
        "without-plugins",
        _AGENTFACTORY_COMPLETE="complete_bash",
        COMP_WORDS="agentfactory libr",
        COMP_CWORD="1",
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["library"]
    assert "typer" in loaded


def test_any_other_command_line_goes_to_typer(tmp_path: Path) -> None:
    proc, loaded = _entry(tmp_path, "without-plugins", "--version", "--help")
    assert proc.returncode == 0 and proc.stdout.strip() == "agentfactory 0.1.0"
    assert "typer" in loaded


def test_a_command_plugins_help_is_its_own_and_a_broken_one_does_not_break_the_help(
    monkeypatch, tmp_path: Path
) -> None:
    (tmp_path / "greet_command.py").write_text(
        "def register(app):\n"
        "    @app.command('greet')\n"
        "    def greet() -> None:\n"
        "        '''Say hello\n        to the world.\n\n        More text.'''\n"
    )
    (tmp_path / "broken_command.py").write_text("raise ImportError('missing dependency')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    extra = [
        plugins.EntryPoint("greet", "greet_command:register", surface.COMMANDS_GROUP),
        plugins.EntryPoint("broken", "broken_command:register", surface.COMMANDS_GROUP),
    ]
    monkeypatch.setattr(surface, "entry_points", lambda *, group: extra)
    flat = _flat(surface.render_help("agentfactory"))
    assert "greet Say hello to the world." in flat and "More text" not in flat
    assert "broken The command plugin 'broken' (broken_command:register) cannot be loaded" in flat
    assert "bench Needs the benchmark distribution" in flat  # not installed, as far as this test goes


def test_a_plugin_that_declares_its_help_is_listed_without_loading_its_command(
    monkeypatch, tmp_path: Path
) -> None:
    (tmp_path / "light_commands.py").write_text(
        "COMMAND_HELP = {'greet': 'Say hello\\n   to the world.'}\n"
        "def register(app):\n"
        "    import heavy_greet\n"
        "    heavy_greet.register(app)\n"
    )
    (tmp_path / "heavy_greet.py").write_text("raise ImportError('loaded for the help')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    extra = [plugins.EntryPoint("greet", "light_commands:register", surface.COMMANDS_GROUP)]
    monkeypatch.setattr(surface, "entry_points", lambda *, group: extra)
    flat = _flat(surface.render_help("agentfactory"))
    assert "greet Say hello to the world." in flat
    assert "heavy_greet" not in sys.modules


def test_the_benchmarks_declared_help_is_what_its_commands_say() -> None:
    commands = pytest.importorskip("agentfactory_bench.commands")
    from agentfactory.cli.app import command_help

    table = {name: "agentfactory_bench.commands:register" for name in commands.COMMAND_HELP}
    assert surface.declared_help(table, list(table)) == command_help(list(table))


@pytest.mark.parametrize("group", ["agentfactory.commands", "agentfactory.providers", "console_scripts"])
def test_entry_points_are_those_importlib_metadata_finds(group: str) -> None:
    from importlib.metadata import entry_points

    ours = sorted((e.name, e.value) for e in plugins.entry_points(group=group))
    assert ours == sorted((e.name, e.value) for e in entry_points(group=group))
    assert ours, group


def test_the_first_distribution_of_a_name_on_the_path_wins_and_load_imports_its_object(
    monkeypatch, tmp_path: Path
) -> None:
    for folder, target in (("a", "first_mod:VALUE"), ("b", "second_mod:VALUE")):
        info = tmp_path / folder / "Some.Plugin-1.0.dist-info"
        info.mkdir(parents=True)
        (info / "entry_points.txt").write_text(f"# comment\n[demo.group]\nthing = {target} [extra]\n")
    (tmp_path / "a" / "first_mod.py").write_text("VALUE = 'first'\n")
    monkeypatch.setattr(sys, "path", [str(tmp_path / "a"), str(tmp_path / "b")])
    found = plugins.entry_points(group="demo.group", name="thing")
    assert [(e.name, e.value) for e in found] == [("thing", "first_mod:VALUE [extra]")]
    assert found[0].load() == "first"
    assert plugins.entry_points(group="demo.group", name="other") == []


def test_a_zip_on_the_path_is_read_by_importlib_metadata(monkeypatch, tmp_path: Path) -> None:
    archive = tmp_path / "plugin.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("zipped_plugin-1.0.dist-info/METADATA", "Metadata-Version: 2.1\nName: zipped-plugin\n")
        zf.writestr("zipped_plugin-1.0.dist-info/entry_points.txt", "[demo.zipped]\nthing = zmod:run\n")
    monkeypatch.setattr(sys, "path", [str(archive)])
    importlib.invalidate_caches()
    assert [(e.name, e.value) for e in plugins.entry_points(group="demo.zipped")] == [("thing", "zmod:run")]


# --------------------------------------------------------------------------- leaving the process at once


def _console(tmp_path: Path, *args: str, code: str = "") -> subprocess.CompletedProcess:
    """`agentfactory ARGS` as the console script runs it (main, which leaves with os._exit), after `code`."""
    script = f"import sys\n{code}\nsys.argv = ['agentfactory', *sys.argv[1:]]\nfrom agentfactory.cli import main\nmain()\n"
    return subprocess.run(
        [sys.executable, "-c", script, *args],
        capture_output=True,
        text=True,
        env=_env(NO_COLOR="1"),
        cwd=tmp_path,
        timeout=300,
    )


def test_a_run_left_at_once_loses_nothing(tmp_path: Path) -> None:
    from tests.cli.conftest import subagent_script

    script = tmp_path / "script.json"
    script.write_text(json.dumps(subagent_script("say-hi", 'return {"greeting": "hi"}', answer="hi")))
    proc = _console(
        tmp_path,
        "run",
        "Say hi.",
        "--model",
        f"scripted:{script}",
        "--sandbox",
        "local",
        "--library",
        str(tmp_path / "lib"),
        "--workspaces",
        str(tmp_path / "ws"),
        "--json",
    )
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)  # the whole JSON reached the pipe
    assert result["status"] == "success" and result["run_id"]
    (run,) = (tmp_path / "ws").iterdir()
    events = [json.loads(line) for line in (run / "events.jsonl").read_text(encoding="utf-8").splitlines()]
    assert events[-1]["type"] == "run_finished" and events[-1]["status"] == "success"
    listed = _console(tmp_path, "library", "list", "--library", str(tmp_path / "lib"), "--json")
    assert listed.returncode == 0, listed.stderr
    assert [row["name"] for row in json.loads(listed.stdout)] == ["say-hi"]


def test_the_exit_code_and_the_last_words_are_kept(tmp_path: Path) -> None:
    empty = _console(tmp_path, "run", "", "--sandbox", "local")
    assert empty.returncode == 2 and "The task is empty" in empty.stderr
    unknown = _console(tmp_path, "no-such-command")
    assert unknown.returncode == 2 and "No such command" in unknown.stderr
    worded = _console(tmp_path, "--version", code="import atexit\natexit.register(lambda: print('bye'))")
    assert worded.returncode == 0 and worded.stdout == "agentfactory 0.1.0\nbye\n"


def test_a_thread_that_keeps_the_process_alive_is_waited_for(tmp_path: Path) -> None:
    late = tmp_path / "late.txt"
    code = (
        "import threading, time\n"
        f"def write():\n    time.sleep(0.5)\n    open({str(late)!r}, 'w').write('done')\n"
        "threading.Thread(target=write).start()"
    )
    proc = _console(tmp_path, "--version", code=code)
    assert proc.returncode == 0 and late.read_text() == "done"


# What a run has imported when it makes its first model call (scripted: no SDK).
NOT_BEFORE_THE_FIRST_CALL = [
    # typer: a plain `run` command line is parsed without it (cli/run.py `quick`)
    "typer",
    "agentfactory.cli.app",
    "pydantic",
    "importlib.metadata",
    "email",
    "jsonschema",
    "git",
    "filelock",
    "httpx",
    "anthropic",
    "openai",
    "docker",
    "logging",
    # rich: the view writes plain text where there is no terminal (cli/live.py PlainConsole)
    "rich",
    # jinja2: the Meta-Agent's prompts are a text file and str.format texts (engine/templates.py)
    "jinja2",
    # yaml: the shipped skills' frontmatter is read without it (library/format.py)
    "yaml",
    # html.parser: only when a page is read (tools/html_text.py)
    "html.parser",
    "agentfactory.tools.html_text",
    # the candidate store and the gate: made when the run writes its first subagent
    "agentfactory.engine.candidates",
    "agentfactory.engine.gate",
    # the sandbox: checked at once, built while the first call is out (sandbox/deferred.py)
    "agentfactory.sandbox.local",
    "agentfactory.sandbox.docker_backend",
    "agentfactory.sandbox.jobdir",
    "requests",
    # read, written or run only once the run saves, executes or syncs something
    "hashlib",
    "subprocess",
    "tempfile",
]
# The modules are read as the first call goes out: when the run starts building its sandbox in the
# background (DeferredBackend.prepare), else at the call.
FIRST_CALL = r"""
import json, os, sys
watched, out = json.loads(sys.argv[1]), sys.argv[2]
import agentfactory.llm.scripted as scripted
from agentfactory.sandbox.deferred import DeferredBackend
seen = []
def snapshot():
    if not seen:
        seen.append(sorted(m for m in watched if m in sys.modules))
prepare = DeferredBackend.prepare
def prepared(self):
    snapshot()
    prepare(self)
DeferredBackend.prepare = prepared
def first_call(*args, **kwargs):
    snapshot()
    with open(out, "w") as fh:
        json.dump(seen[0], fh)
    os._exit(0)
scripted.ScriptedProvider.complete = first_call
sys.argv = ["agentfactory", *sys.argv[3:]]
from agentfactory.cli import main
main()
"""


@pytest.mark.parametrize(("sandbox", "output"), [("local", []), ("local", ["--json"]), ("docker", [])])
def test_a_run_reaches_its_first_model_call_without_the_heavy_modules(
    tmp_path: Path, sandbox: str, output: list[str]
) -> None:
    if sandbox == "docker":
        from agentfactory.errors import SandboxError
        from agentfactory.sandbox.docker_daemon import connect

        try:
            connect(timeout=10)
        except SandboxError as exc:
            pytest.skip(f"no Docker daemon reachable: {exc}")
    from agentfactory.library import Library
    from tests.library._helpers import write_folder

    # A library in use: creating one is git's work
    Library(tmp_path / "lib").save(write_folder(tmp_path / "src", "text-preview"))
    script = tmp_path / "script.json"
    script.write_text(json.dumps([{"text": "unused"}]))
    out = tmp_path / "modules.json"
    proc = subprocess.run(
        [sys.executable, "-c", FIRST_CALL, json.dumps(NOT_BEFORE_THE_FIRST_CALL), str(out), "run", "Say hi."]
        + ["--model", f"scripted:{script}", "--sandbox", sandbox, "--max-steps", "5", "--max-cost", "1.5"]
        + ["--library", str(tmp_path / "lib"), "--workspaces", str(tmp_path / "ws"), *output],
        capture_output=True,
        text=True,
        # the output is a pipe, as rich sees it too: no variable that tells rich it is a terminal
        env={k: v for k, v in _env().items() if k not in ("FORCE_COLOR", "TTY_COMPATIBLE")},
        cwd=tmp_path,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert json.loads(out.read_text()) == []


# ------------------------------------------------------------------ parameters converted without pydantic

SAMPLES = {
    int: ["0", "-7", "007", "123456789012345678", " 7 ", "1_000", "+5", "1.0", "abc", "", 5, True],
    float: ["1.5", "-0.25", "3", "10.0", "1.", ".5", "1e3", "inf", "nan", "x", "", 2, 2.5],
    str: ["x", "", "-", "\udc80", "two words", 5],
    Path: ["a/b", "", "-", "/", "a\udc80", Path("p"), 5],
    bool: [True, False, "yes"],
}


def _plain_parameters() -> list[tuple[str, object, type]]:
    """Every parameter of the product's commands that is converted without pydantic, with its leaf type."""
    from agentfactory.cli.app import app
    from agentfactory.cli.params import PlainValue, plain_param

    group = typer.main.get_command(app)
    ctx = typer.Context(group, info_name="agentfactory")
    found, seen = [], set()

    def walk(command, where: str) -> None:
        for param in command.get_params(ctx):
            param._runtime_param = None
            plain_param(param)
            plain = param._runtime_param
            key = (repr(param.type_descriptor.annotation), param.multiple, param.nargs)
            if isinstance(plain, PlainValue) and key not in seen:
                seen.add(key)
                found.append((f"{where} {param.name}", param, plain.leaf))
        for name, sub in getattr(command, "commands", {}).items():
            walk(sub, f"{where} {name}")

    for name in surface.COMMANDS:
        walk(group.get_command(ctx, name), name)
    walk(group, "agentfactory")
    return found


def _outcome(runtime, value, param, ctx) -> tuple:
    """What a conversion gives, comparable: the value's repr and type, or the error the user reads."""
    try:
        result = runtime.coerce(value, param=param, ctx=ctx)
    except Exception as exc:
        return ("error", type(exc).__name__, str(exc))
    items = result if isinstance(result, list | tuple) else [result]
    return ("value", repr(result), [type(item) for item in items])


def test_plain_parameters_get_exactly_what_typer_would_give(tmp_path: Path, monkeypatch) -> None:
    from typer._coercion import build_runtime_param

    from agentfactory.cli.params import PlainValue

    monkeypatch.chdir(tmp_path)
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "b").write_text("")
    params = _plain_parameters()
    assert {leaf for _, _, leaf in params} == {int, float, str, Path, bool}
    ctx = typer.Context(typer.main.get_command(importlib.import_module("agentfactory.cli.app").app))
    compared = 0
    for where, param, leaf in params:
        many = param.multiple or param.nargs == -1
        for sample in SAMPLES[leaf]:
            value = (sample, sample) if many else sample
            ours = _outcome(PlainValue(leaf), value, param, ctx)
            theirs = _outcome(build_runtime_param(param.type_descriptor), value, param, ctx)
            assert ours == theirs, (where, sample)
            compared += 1
    assert compared > 50


def test_an_idle_thread_pool_does_not_hold_the_exit(tmp_path: Path) -> None:
    # A pool's workers are non-daemon threads that stop on the threading module's own exit hook.
    code = (
        "from concurrent.futures import ThreadPoolExecutor\n"
        "pool = ThreadPoolExecutor(2)\n"
        "pool.submit(lambda: None).result()"
    )
    proc = _console(tmp_path, "--version", code=code)
    assert proc.returncode == 0 and proc.stdout == "agentfactory 0.1.0\n"


def test_a_terminal_that_cannot_show_the_boxes_gets_them_in_ascii(monkeypatch) -> None:
    import io

    monkeypatch.setattr(sys, "stdout", io.TextIOWrapper(io.BytesIO(), encoding="ascii"))
    text = surface.render_help("agentfactory")
    text.encode("ascii")  # nothing it cannot write
    assert "+- Commands -" in text and "| run " in text
