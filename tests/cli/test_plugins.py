"""Commands come from the product's table and from the `agentfactory.commands` entry-point group; each
is imported only when used, and a command of a distribution that is not installed says how to get it."""

from __future__ import annotations

import importlib
import subprocess
import sys
from importlib.metadata import EntryPoint

from typer.testing import CliRunner

app_module = importlib.import_module("agentfactory.cli.app")  # the module: `agentfactory.cli.app` is the app
surface = importlib.import_module("agentfactory.cli.surface")

runner = CliRunner()


def _registered(monkeypatch, *extra: EntryPoint, drop: tuple[str, ...] = ()) -> None:
    real = surface.entry_points

    def entry_points(*, group: str):
        found = [e for e in real(group=group) if e.name not in drop]
        return found + [e for e in extra if e.group == group]

    monkeypatch.setattr(surface, "entry_points", entry_points)


def test_demo_without_the_benchmark_distribution_says_how_to_get_it(monkeypatch):
    _registered(monkeypatch, drop=("bench", "demo"))
    result = runner.invoke(app_module.app, ["demo"])
    assert result.exit_code == 3
    assert (
        "comes with the benchmark distribution" in result.output
        and "pip install -e benchmarks/" in result.output
    )
    listed = runner.invoke(app_module.app, ["--help"])
    assert listed.exit_code == 0 and "demo" in listed.output and "Needs the benchmark" in listed.output


def test_a_plugin_adds_a_command_and_cannot_take_over_a_products_name(monkeypatch, tmp_path):
    (tmp_path / "hello_command.py").write_text(
        "def register(app):\n"
        "    @app.command('hello')\n"
        "    def hello(name: str = 'world') -> None:\n"
        "        '''Say hello.'''\n"
        "        print(f'hello {name}')\n"
        "def hijack(app):\n"
        "    app.command('run')(lambda: print('hijacked'))\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    _registered(
        monkeypatch,
        EntryPoint("hello", "hello_command:register", app_module.COMMANDS_GROUP),
        EntryPoint("run", "hello_command:hijack", app_module.COMMANDS_GROUP),
    )
    result = runner.invoke(app_module.app, ["hello", "--name", "bench"])
    assert result.exit_code == 0 and result.output.strip() == "hello bench"
    taken = runner.invoke(app_module.app, ["run", "--help"])
    assert taken.exit_code == 0 and "hijacked" not in taken.output and "--max-steps" in taken.output


def test_a_broken_command_plugin_is_one_configuration_error(monkeypatch, tmp_path):
    (tmp_path / "broken_command.py").write_text("raise ImportError('missing dependency')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    _registered(monkeypatch, EntryPoint("broken", "broken_command:register", app_module.COMMANDS_GROUP))
    result = runner.invoke(app_module.app, ["broken"])
    assert result.exit_code == 3 and "cannot be loaded: ImportError: missing dependency" in result.output


def test_one_command_imports_only_its_own_module():
    code = (
        "import sys\n"
        "from agentfactory.cli.app import main\n"
        "sys.argv = ['agentfactory', 'config', '--help']\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "loaded = sorted(m for m in sys.modules if m.startswith(('agentfactory.cli.', 'agentfactory_bench')))\n"
        "print('LOADED', loaded, file=sys.stderr)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    loaded = out.stderr.split("LOADED", 1)[1]
    assert "agentfactory.cli.config" in loaded
    for other in (
        "agentfactory.cli.run",
        "agentfactory.cli.library",
        "agentfactory.cli.deploy",
        "agentfactory_bench",
    ):
        assert f"'{other}'" not in loaded, loaded
