"""Fixtures for the experience store and report tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from agentfactory.experience import ExperienceStore


@pytest.fixture
def store(tmp_path: Path) -> ExperienceStore:
    s = ExperienceStore(tmp_path / "lib.experience.sqlite", timeout_s=5)
    yield s
    s.close()
