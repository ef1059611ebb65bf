"""Deploy's maturity gate runs a subagent's stored cases through the engine's case runner (the one the
library's gate uses), labelled as deploy's, with one progress line per case."""

from __future__ import annotations

import pytest

from agentfactory.deploy.checks import sandbox_case_runner
from agentfactory.deploy.source import load_source

from .conftest import NAME, Env


def test_deploy_runs_its_cases_through_the_engine_case_runner(env: Env, monkeypatch: pytest.MonkeyPatch):
    import agentfactory.sandbox as sandbox
    from agentfactory.engine import gate

    calls, requests = [], []
    real_runner, real_backend = gate.run_subagent_cases, sandbox.get_backend

    def runner(settings, sub, **options):
        calls.append((sub.name, sub.version, options["purpose"]))
        return real_runner(settings, sub, **options)

    def backend(group, *args, **kwargs):
        made = real_backend(group, *args, **kwargs)
        execute = made.execute
        made.execute = lambda request: requests.append((request.run_id, request.labels)) or execute(request)
        return made

    monkeypatch.setattr(gate, "run_subagent_cases", runner)
    monkeypatch.setattr(sandbox, "get_backend", backend)
    lines: list[str] = []
    outcomes = sandbox_case_runner(env.settings, lines.append)(load_source(env.library, NAME, None))
    assert calls == [(NAME, 1, "deploy-gate")]
    assert [(o.index, o.passed, o.detail) for o in outcomes] == [(1, True, "ok"), (2, True, "ok")]
    assert lines == ["  case 1/2: passed", "  case 2/2: passed"]
    assert requests == [(f"deploy-{NAME}", {"subagent": NAME, "purpose": "deploy-gate"})] * 2


def test_a_failing_case_says_why_in_deploys_words(env: Env):
    code = "def run(numbers: list[float]) -> dict:\n    return {'mean': 0.0}\n"
    env.save("zero-stats", code, [{"inputs": {"numbers": [1, 3]}, "expected": {"mean": 2.0}}])
    outcomes = sandbox_case_runner(env.settings)(load_source(env.library, "zero-stats", None))
    assert [(o.index, o.passed) for o in outcomes] == [(1, False)]
    assert "mean" in outcomes[0].detail
