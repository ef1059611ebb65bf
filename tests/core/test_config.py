import re
from pathlib import Path

import pytest

from agentfactory.config import CONFIG_TEMPLATE, load_settings
from agentfactory.errors import ConfigError


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "agentfactory.toml"
    path.write_text(text)
    return path


def test_defaults_resolve_relative_to_cwd(tmp_path):
    s = load_settings(env={}, cwd=tmp_path)
    assert s.paths.library == tmp_path / "subagent_library"
    assert s.paths.workspaces == tmp_path / "workspaces"
    assert s.sandbox.backend == "docker"
    assert s.budgets.max_steps == 40


def test_precedence_flag_over_env_over_file(tmp_path):
    write(tmp_path, 'model = "openai:gpt-4.1"\nmax_steps = 7\nsandbox = "local"\n')
    s = load_settings(env={}, cwd=tmp_path)
    assert (s.models.model, s.budgets.max_steps, s.sandbox.backend) == ("openai:gpt-4.1", 7, "local")
    env = {"AGENTFACTORY_MODEL": "anthropic:claude-opus-4-6", "AGENTFACTORY_MAX_STEPS": "9"}
    s = load_settings(env=env, cwd=tmp_path)
    assert (s.models.model, s.budgets.max_steps) == ("anthropic:claude-opus-4-6", 9)
    s = load_settings({"model": "sim", "max_steps": None}, env=env, cwd=tmp_path)
    assert (s.models.model, s.budgets.max_steps) == ("sim", 9)


def test_base_url_from_standard_variable(tmp_path):
    s = load_settings(env={"OPENAI_BASE_URL": "http://127.0.0.1:11434/v1"}, cwd=tmp_path)
    assert s.models.openai_base_url == "http://127.0.0.1:11434/v1"


def test_template_is_valid_and_loads(tmp_path):
    write(tmp_path, CONFIG_TEMPLATE)
    s = load_settings(env={}, cwd=tmp_path)
    assert s.paths.library == tmp_path / "subagent_library"


def test_template_names_every_setting_and_its_examples_load(tmp_path):
    from agentfactory.config import SETTING_NAMES

    for name in SETTING_NAMES:
        if name not in ("prices", "mcp_servers"):  # tables: shown as [name.KEY] examples
            assert re.search(rf"^#? ?{name} = ", CONFIG_TEMPLATE, re.M), name
    assert "# [mcp_servers.github]" in CONFIG_TEMPLATE
    # Every commented example, switched on, is a valid setting.
    active = re.sub(r"^# (\[|[a-z_]+ = )", r"\1", CONFIG_TEMPLATE, flags=re.M)
    write(tmp_path, active)
    s = load_settings(env={}, cwd=tmp_path)
    assert s.policy.deploy_min_runs == 3 and s.tools.web_search_dir == tmp_path / "search_docs"
    assert s.models.price_for("openai:my-local-model").output == 0.0
    assert sorted(s.tools.mcp_servers) == ["docs", "github"]
    assert s.tools.mcp_servers["github"].missing == ("GITHUB_TOKEN",)


def test_price_table_override(tmp_path):
    write(tmp_path, '[prices."my-model"]\ninput = 1.5\noutput = 2.5\n')
    s = load_settings(env={}, cwd=tmp_path)
    assert s.models.price_for("openai:my-model").input == 1.5
    assert s.models.price_for("anthropic:claude-opus-4-6") is not None  # defaults kept


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("model = [", "not valid TOML"),
        ("colour = 'red'", "Unknown setting 'colour'"),
        ("max_steps = 'many'", "must be a whole number"),
        ("sandbox = 'vm'", "Unknown sandbox backend"),
        ('[prices."x"]\ninput = 1\n', "needs numeric 'input' and 'output'"),
    ],
)
def test_bad_config_is_one_clear_error(tmp_path, text, fragment):
    write(tmp_path, text)
    with pytest.raises(ConfigError, match=fragment):
        load_settings(env={}, cwd=tmp_path)


def test_model_auto_resolution(tmp_path):
    # The environment given to load_settings is the one it reads, API keys included.
    assert load_settings(env={}, cwd=tmp_path).resolved_model() == "sim"
    env = {"OPENAI_API_KEY": "sk-test"}
    assert load_settings(env=env, cwd=tmp_path).resolved_model().startswith("openai:")
    env["ANTHROPIC_API_KEY"] = "sk-ant-test"
    assert load_settings(env=env, cwd=tmp_path).resolved_model().startswith("anthropic:")
