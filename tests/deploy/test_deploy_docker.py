"""The maturity gate in the default Docker sandbox: passing cases export, a failing case is refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from agentfactory.deploy import DeployRefused, deploy

from .conftest import CASES, CODE, NAME, Env

pytestmark = pytest.mark.docker


def test_gate_runs_the_cases_in_docker(env: Env, tmp_path: Path) -> None:
    settings = env.settings.with_keys(sandbox="docker")
    result = deploy(settings, NAME, formats=("skill",), out=tmp_path / "ok")
    assert result.gate.passed and result.gate.sandbox == "docker"
    assert (result.gate.cases_passed, result.gate.cases_total) == (2, 2)

    wrong = [CASES[0], {"inputs": {"numbers": [2, 4]}, "expected": {"mean": 5.0, "count": 2, "max": 4}}]
    env.save("wrong-stats", CODE, wrong)
    env.record_runs("wrong-stats", 3)
    with pytest.raises(DeployRefused, match="1 of 2 stored cases fail in the docker sandbox"):
        deploy(settings, "wrong-stats", formats=("skill",), out=tmp_path / "refused")
    assert not (tmp_path / "refused").exists()
