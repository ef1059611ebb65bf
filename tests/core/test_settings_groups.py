"""Settings are grouped by component (models, sandbox, budgets, tools, paths, policy) and each component
takes its own group; agentfactory.toml keys, AGENTFACTORY_* variables and `config show` stay flat."""

from __future__ import annotations

import inspect
import re
from dataclasses import fields
from pathlib import Path

import pytest

import agentfactory
from agentfactory.config import (
    KEYS,
    SETTING_NAMES,
    Budgets,
    ModelSettings,
    Paths,
    RunPolicy,
    SandboxSettings,
    Settings,
    ToolSettings,
    load_settings,
)
from agentfactory.engine.budget import Budget
from agentfactory.errors import InvalidSetting

PACKAGE = Path(agentfactory.__file__).parent


def _first_annotation(func) -> str:
    params = [p for p in inspect.signature(func).parameters.values() if p.name not in ("self", "cls")]
    return str(params[0].annotation)


def test_each_component_takes_its_group_not_the_whole_settings():
    from agentfactory.experience.store import ExperienceStore, default_store_path
    from agentfactory.llm.metered import MeteredProvider
    from agentfactory.llm.pricing import cost_usd
    from agentfactory.llm.registry import get_provider
    from agentfactory.meta.final import decide
    from agentfactory.sandbox import get_backend
    from agentfactory.sandbox.docker_backend import DockerBackend
    from agentfactory.sandbox.local import LocalBackend
    from agentfactory.tools import build_handlers
    from agentfactory.tools.web_search import WebSearchTool

    assert _first_annotation(get_backend) == "SandboxSettings"
    assert _first_annotation(LocalBackend.__init__) == "SandboxSettings | None"
    assert _first_annotation(DockerBackend.__init__) == "SandboxSettings | None"
    assert _first_annotation(build_handlers) == "ToolSettings"
    assert _first_annotation(WebSearchTool.from_settings) == "ToolSettings"
    assert _first_annotation(Budget.from_limits) == "Budgets"
    assert _first_annotation(ExperienceStore.open) == "Paths"
    assert _first_annotation(default_store_path) == "Paths"
    assert str(inspect.signature(get_provider).parameters["models"].annotation) == "ModelSettings"
    assert str(inspect.signature(MeteredProvider).parameters["models"].annotation) == "ModelSettings"
    assert str(inspect.signature(cost_usd).parameters["models"].annotation) == "ModelSettings"
    assert _first_annotation(decide) == "RunPolicy"


def test_components_work_from_their_group_alone(tmp_path):
    from agentfactory.experience.store import ExperienceStore
    from agentfactory.llm.registry import get_provider
    from agentfactory.sandbox import get_backend
    from agentfactory.sandbox.local import LocalBackend
    from agentfactory.tools import build_handlers

    sandbox = SandboxSettings(backend="local", timeout_s=7, memory_mb=256)
    backend = get_backend(sandbox, pool_size=0)
    try:
        assert isinstance(backend, LocalBackend) and backend.settings is sandbox
    finally:
        backend.close()
    budget = Budget.from_limits(Budgets(max_steps=3, max_tokens=500, max_cost=0.5, max_time=9.0))
    assert (budget.max_steps, budget.max_tokens, budget.max_cost, budget.max_time) == (3, 500, 0.5, 9.0)
    assert sorted(build_handlers(ToolSettings(), {}, None)) == ["web_fetch", "web_search"]
    store = ExperienceStore.open(Paths(library=tmp_path / "lib"), RunPolicy(agent_id="bob"))
    assert (store.path, store.agent_id) == (tmp_path / "lib.experience.sqlite", "bob")
    replies = tmp_path / "replies.json"
    replies.write_text('[{"text": "hi"}]')
    assert get_provider(f"scripted:{replies}", ModelSettings(), env={}).spec == f"scripted:{replies}"


def test_every_key_names_one_field_of_one_group():
    groups = {"models": ModelSettings, "sandbox": SandboxSettings, "budgets": Budgets, "tools": ToolSettings,
              "paths": Paths, "policy": RunPolicy}  # fmt: skip
    assert [f.name for f in fields(Settings)] == [*groups, "credentials"]
    every_field = {(g, f.name) for g, kind in groups.items() for f in fields(kind)}
    assert set(KEYS.values()) == every_field and len(KEYS) == len(every_field)
    assert set(SETTING_NAMES) == set(KEYS)
    # The keys users write did not change with the groups.
    assert KEYS["sandbox"] == ("sandbox", "backend") and KEYS["sandbox_preload"] == ("sandbox", "preload")
    assert {"library", "max_cost", "timeout_s", "web_search_dir", "agent_id", "prices"} <= set(KEYS)


def test_settings_build_and_change_by_key():
    assert Settings() == Settings()  # constructible with defaults
    s = Settings.from_keys(sandbox="local", library=Path("/x/lib"), max_cost=2.0, credentials={})
    assert (s.sandbox.backend, s.paths.library, s.budgets.max_cost) == ("local", Path("/x/lib"), 2.0)
    t = s.with_keys(max_cost=3.0, final_answers=False)
    assert (t.budgets.max_cost, t.policy.final_answers, t.sandbox.backend) == (3.0, False, "local")
    assert s.budgets.max_cost == 2.0  # frozen: a copy changed
    assert t.value("max_cost") == 3.0 and t.value("sandbox") == "local"
    with pytest.raises(TypeError, match="Unknown setting 'max_costs'"):
        s.with_keys(max_costs=1)
    with pytest.raises(TypeError, match="Settings.sandbox must be a SandboxSettings"):
        Settings(sandbox="local")  # type: ignore[arg-type]


def test_a_group_built_in_python_meets_the_bounds():
    with pytest.raises(InvalidSetting, match="'memory_mb' from Settings"):
        SandboxSettings(memory_mb=1)
    with pytest.raises(InvalidSetting, match="'max_cost' from Settings"):
        Budgets(max_cost=float("nan"))
    with pytest.raises(InvalidSetting, match="'final_min_runs' from Settings"):
        RunPolicy(final_min_runs=-1)


def test_a_flat_read_still_works_but_says_where_the_setting_went(tmp_path):
    s = load_settings({"library": "lib"}, env={}, cwd=tmp_path)
    with pytest.warns(DeprecationWarning, match=r"Settings\.library is Settings\.paths\.library"):
        assert s.library == tmp_path / "lib"
    with pytest.raises(AttributeError):
        s.no_such_setting  # noqa: B018


def test_the_package_reads_no_setting_by_its_flat_key():
    flat = "|".join(k for k in KEYS if k != "sandbox")
    pattern = re.compile(rf"\b(?:settings|cfg|self\.settings|run\.settings)\.({flat})\b")
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        if path.name == "config.py" or path.parent.name == "sandbox":  # the backends hold the sandbox group
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if pattern.search(line):
                offenders.append(f"{path.relative_to(PACKAGE)}:{number}: {line.strip()}")
    assert offenders == []
