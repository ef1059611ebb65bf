"""Every numeric setting, from every source, is finite and within bounds (config.py, one place); the
config file is found from the current folder upwards; each value knows where it came from."""

import math
from dataclasses import fields
from pathlib import Path

import pytest

from agentfactory.config import BOUNDS, Settings, load_settings, resolve_settings
from agentfactory.errors import EXIT_USAGE, InvalidSetting

NUMERIC = [f.name for f in fields(Settings) if f.type in ("int", "float")]
BAD = ["inf", "-inf", "nan", "-1", "0", "1e30"]


def from_flag(tmp_path, name, text):
    return load_settings(
        {name: float(text)}, env={}, cwd=tmp_path, flag_sources={name: "--flag-x"}
    ), "--flag-x"


def from_env(tmp_path, name, text):
    var = "AGENTFACTORY_" + name.upper()
    return load_settings(env={var: text}, cwd=tmp_path), "$" + var


def from_toml(tmp_path, name, text):
    literal = {"inf": "inf", "-inf": "-inf", "nan": "nan"}.get(text, text)
    path = tmp_path / "agentfactory.toml"
    path.write_text(f"{name} = {literal}\n")
    return load_settings(env={}, cwd=tmp_path), str(path)


SOURCES = {"flag": from_flag, "env": from_env, "toml": from_toml}


def test_every_numeric_setting_has_a_bound():
    assert set(NUMERIC) <= set(BOUNDS)


@pytest.mark.parametrize("source", SOURCES)
@pytest.mark.parametrize("name", ["timeout_s", "memory_mb", "max_steps", "max_tokens", "max_cost"])
@pytest.mark.parametrize("text", BAD)
def test_out_of_bounds_limit_is_refused_naming_setting_and_source(tmp_path, source, name, text):
    with pytest.raises(InvalidSetting) as info:
        SOURCES[source](tmp_path, name, text)
    message = str(info.value)
    expected_source = {
        "flag": "--flag-x",
        "env": "$AGENTFACTORY_" + name.upper(),
        "toml": str(tmp_path / "agentfactory.toml"),
    }[source]
    assert f"Setting '{name}' from {expected_source}" in message
    assert "it must be" in message and message.count(". ") == 0  # one sentence
    assert info.value.exit_code == EXIT_USAGE == 2


@pytest.mark.parametrize("source", SOURCES)
def test_in_bounds_values_load_from_each_source(tmp_path, source):
    settings, _ = SOURCES[source](tmp_path, "timeout_s", "2.5")
    assert settings.sandbox.timeout_s == 2.5
    settings, _ = SOURCES[source](tmp_path, "memory_mb", "256")
    assert settings.sandbox.memory_mb == 256 and isinstance(settings.sandbox.memory_mb, int)


@pytest.mark.parametrize("text", ["true", "2.5", "'3x'", "[1]"])
def test_whole_number_settings_refuse_bools_fractions_and_junk_in_toml(tmp_path, text):
    (tmp_path / "agentfactory.toml").write_text(f"max_steps = {text}\n")
    with pytest.raises(InvalidSetting, match="max_steps"):
        load_settings(env={}, cwd=tmp_path)


def test_settings_built_in_python_meet_the_same_bounds():
    for kwargs in ({"timeout_s": math.inf}, {"timeout_s": math.nan}, {"memory_mb": 0}, {"max_cost": -1.0}):
        with pytest.raises(InvalidSetting, match="from Settings()"):
            Settings.from_keys(**kwargs)


@pytest.mark.parametrize("value", ["inf", "nan", "-1.0"])
def test_non_finite_or_negative_price_is_refused(tmp_path, value):
    (tmp_path / "agentfactory.toml").write_text(f'[prices."m"]\ninput = {value}\noutput = 1.0\n')
    with pytest.raises(InvalidSetting, match='prices."m"'):
        load_settings(env={}, cwd=tmp_path)


def test_config_is_found_from_a_subfolder_and_paths_are_the_projects(tmp_path):
    (tmp_path / "agentfactory.toml").write_text('library = "lib"\nmax_steps = 7\n')
    sub = tmp_path / "a" / "b"
    sub.mkdir(parents=True)
    resolved = resolve_settings(env={}, cwd=sub)
    assert resolved.config_path == tmp_path / "agentfactory.toml"
    s = resolved.settings
    assert s.budgets.max_steps == 7
    assert s.paths.library == tmp_path / "lib"  # from the file: relative to the file's folder
    assert s.paths.workspaces == tmp_path / "workspaces"  # default: the project's, not the subfolder's
    flagged = load_settings({"workspaces": Path("here")}, env={}, cwd=sub)
    assert flagged.paths.workspaces == sub / "here"  # a flag: relative to where it was typed


def test_sources_name_flag_env_file_and_default(tmp_path):
    path = tmp_path / "agentfactory.toml"
    path.write_text("max_steps = 7\nmemory_mb = 256\n")
    resolved = resolve_settings(
        {"max_steps": 3},
        env={"AGENTFACTORY_MEMORY_MB": "300", "AGENTFACTORY_TIMEOUT_S": "9"},
        cwd=tmp_path,
        flag_sources={"max_steps": "--max-steps"},
    )
    assert resolved.sources["max_steps"] == "--max-steps"
    assert resolved.sources["memory_mb"] == "$AGENTFACTORY_MEMORY_MB"
    assert resolved.sources["timeout_s"] == "$AGENTFACTORY_TIMEOUT_S"
    assert resolved.sources["max_cost"] == "default"
    path.write_text("max_cost = 2.0\n")
    assert resolve_settings(env={}, cwd=tmp_path).sources["max_cost"] == str(path)
