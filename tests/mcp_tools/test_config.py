"""`[mcp_servers.NAME]` in agentfactory.toml: what is accepted, and one sentence with exit 3 for the rest."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from agentfactory.config import load_settings
from agentfactory.errors import EXIT_CONFIG, ConfigError

REPO = Path(__file__).resolve().parents[2]


def settings_from(tmp_path: Path, text: str, env: dict[str, str] | None = None):
    (tmp_path / "agentfactory.toml").write_text(text, encoding="utf-8")
    return load_settings(env=env or {}, cwd=tmp_path)


def test_stdio_and_http_servers_load_with_variables_from_the_environment(tmp_path):
    s = settings_from(
        tmp_path,
        '[mcp_servers.github]\ncommand = "npx"\nargs = ["-y", "server-github"]\n'
        'env = { GITHUB_TOKEN = "${GH}", MODE = "ro" }\ncwd = "tools"\ntimeout = 5\n'
        '[mcp_servers.docs]\ntype = "http"\nurl = "https://mcp.example.com/mcp"\n'
        'headers = { Authorization = "Bearer ${DOCS}" }\n',
        env={"GH": "ghp-123"},
    )
    github, docs = s.tools.mcp_servers["github"], s.tools.mcp_servers["docs"]
    assert (github.command, github.args, github.cwd, github.timeout_s) == (
        "npx",
        ("-y", "server-github"),
        tmp_path / "tools",
        5.0,
    )
    assert dict(github.env) == {"GITHUB_TOKEN": "ghp-123", "MODE": "ro"} and github.missing == ()
    assert (docs.transport, docs.url, docs.missing) == ("http", "https://mcp.example.com/mcp", ("DOCS",))
    # Credentials never show: not in the settings' repr, nor in a config's.
    assert "ghp-123" not in repr(s) and "ghp-123" not in repr(github) and "Bearer" not in repr(docs)


@pytest.mark.parametrize(
    ("table", "fragment"),
    [
        ('[mcp_servers."my-server"]\ncommand = "x"\n', "a server name must be an identifier"),
        ('[mcp_servers."1st"]\ncommand = "x"\n', "a server name must be an identifier"),
        ('[mcp_servers."a.b"]\ncommand = "x"\n', "a server name must be an identifier"),
        ("[mcp_servers.s]\n", "needs exactly one of `command` (a stdio server) or `url`"),
        ('[mcp_servers.s]\ncommand = "x"\nurl = "http://h/mcp"\n', "needs exactly one of `command`"),
        ('[mcp_servers.s]\ncommand = "x"\nshell = true\n', "has an unknown key 'shell'"),
        ('[mcp_servers.s]\ncommand = "x"\nargs = "-y"\n', "`args` must be a list of strings"),
        ('[mcp_servers.s]\ncommand = "x"\nenv = { A = 1 }\n', "the value of 'A' must be a one-line string"),
        ('[mcp_servers.s]\nurl = "file:///etc/passwd"\n', "`url` must be an http:// or https:// address"),
        ('[mcp_servers.s]\nurl = "http://h/mcp"\nenv = { A = "b" }\n', "`env` belongs to stdio servers"),
        ('[mcp_servers.s]\ncommand = "x"\ntimeout = 0\n', "`timeout` must be above 0"),
        ('[mcp_servers.s]\ntype = "sse"\nurl = "http://h/mcp"\n', "has type 'sse': use 'stdio' or 'http'"),
        ('mcp_servers = "npx"\n', "[mcp_servers] in"),
    ],
)
def test_a_bad_table_is_one_config_error(tmp_path, table, fragment):
    with pytest.raises(ConfigError) as info:
        settings_from(tmp_path, table)
    assert fragment in str(info.value)
    assert info.value.exit_code == EXIT_CONFIG == 3
    assert str(info.value).count(". ") == 0 and "\n" not in str(info.value)


def test_the_cli_says_one_sentence_and_exits_3_and_config_show_hides_credentials(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    toml = tmp_path / "agentfactory.toml"
    toml.write_text('[mcp_servers."bad-name"]\ncommand = "x"\n', encoding="utf-8")
    bad = subprocess.run(
        [sys.executable, "-m", "agentfactory", "config", "show"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert bad.returncode == 3
    assert bad.stderr.strip().count("\n") == 0 and "Traceback" not in bad.stderr
    assert "a server name must be an identifier" in bad.stderr
    toml.write_text(
        '[mcp_servers.github]\ncommand = "npx"\nenv = { TOKEN = "s3cr3t-value" }\n', encoding="utf-8"
    )
    good = subprocess.run(
        [sys.executable, "-m", "agentfactory", "config", "show", "--json"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert good.returncode == 0, good.stderr
    assert '"github (npx)"' in good.stdout and "s3cr3t" not in good.stdout + good.stderr


def test_a_missing_variable_stops_only_its_server_with_one_sentence(tmp_path):
    from agentfactory.tools.mcp_client import McpHub, McpServerError

    s = settings_from(tmp_path, '[mcp_servers.github]\ncommand = "npx"\nenv = { T = "${GITHUB_TOKEN}" }\n')
    events: list[tuple[str, str, str]] = []
    hub = McpHub(s.tools.mcp_servers, lambda *e: events.append(e))
    with pytest.raises(McpServerError) as info:
        hub.tools("github")
    hub.close()
    assert str(info.value) == (
        "MCP server 'github' (npx) could not start: its settings refer to $GITHUB_TOKEN, which is not set: "
        "set it and run again."
    )
    assert events == [("github", "failed", str(info.value))]


def test_tables_given_in_python_are_parsed_and_checked_the_same_way(tmp_path, monkeypatch):
    from agentfactory.config import Settings
    from agentfactory.config_mcp import McpServerConfig

    monkeypatch.setenv("GH_TOKEN_FOR_TEST", "t-1")
    s = Settings.from_keys(mcp_servers={"github": {"command": "npx", "env": {"T": "${GH_TOKEN_FOR_TEST}"}}})
    assert isinstance(s.tools.mcp_servers["github"], McpServerConfig) and dict(
        s.tools.mcp_servers["github"].env
    ) == {"T": "t-1"}
    with pytest.raises(ConfigError, match=r"\[mcp_servers.'a-b'\] in Settings\(\): a server name must be"):
        Settings.from_keys(mcp_servers={"a-b": {"command": "npx"}})
