"""A broken shipped skill file (skills/**/SKILL.md) is one sentence naming the file and the problem
(ConfigError, exit 3), never a ValueError traceback."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

import agentfactory.skill_tiers as tiers
from agentfactory.errors import EXIT_CONFIG, ConfigError
from agentfactory.skill_tiers import load_tier
from tests.cli.conftest import Project, call, project  # noqa: F401  (the fixture)

GOOD = tiers.skills_root()


@pytest.fixture
def skills(tmp_path, monkeypatch) -> Path:
    root = tmp_path / "skills"
    shutil.copytree(GOOD, root)
    monkeypatch.setattr(tiers, "skills_root", lambda: root)
    load_tier.cache_clear()
    yield root
    load_tier.cache_clear()
    tiers._unchecked.clear()  # a broken schema read here stays out of the next test


BREAKAGES = [
    (lambda t: t.replace("---\n", "", 1), "must start with a YAML frontmatter block"),
    (lambda t: t.replace("name: web-fetch", "name: [web-fetch"), "not valid YAML"),
    (lambda t: t.replace("name: web-fetch", "name: web-fetcher"), "not its folder 'web-fetch'"),
    (lambda t: t.replace('"type": "object",', '"type": "object",,', 1), "is not JSON"),
    (lambda t: t.replace('"minLength": 1', '"minLength": "one"', 1), "invalid JSON schema"),
    (lambda t: t.replace("## Parameters", "## Arguments"), "has no '## Parameters' JSON schema"),
    (lambda t: t.encode("utf-8") + b"\xff", "cannot be read"),
]


@pytest.mark.parametrize(("breakage", "words"), BREAKAGES)
def test_a_broken_skill_file_is_one_clear_error(skills, breakage, words):
    path = skills / "tools" / "web-fetch" / "SKILL.md"
    broken = breakage(path.read_text(encoding="utf-8"))
    path.write_bytes(broken if isinstance(broken, bytes) else broken.encode("utf-8"))
    with pytest.raises(ConfigError) as raised:
        load_tier("tools")
        tiers.check_loaded_schemas()  # as the first validation of a tool call does
    message = str(raised.value)
    assert message.startswith(f"The skill file {path} ") and words in message
    assert message.endswith("reinstall AgentFactory or restore the file.") and raised.value.exit_code == 3


def test_a_run_with_a_broken_meta_skill_exits_3_with_one_sentence(skills, project: Project):  # noqa: F811
    path = skills / "meta" / "finish" / "SKILL.md"
    path.write_text(path.read_text(encoding="utf-8").replace("---\n", "", 1), encoding="utf-8")
    result = project.run("Say hi.", project.script([call("finish", answer="hi")]))
    assert result.exit_code == EXIT_CONFIG, result.output
    assert "Traceback" not in result.output and "ValueError" not in result.output
    assert (
        f"The skill file {path} is not a valid SKILL.md (SKILL.md must start with a YAML frontmatter block"
        in " ".join(result.stderr.split())
    )
    for run in project.run_dirs():  # a run that began still ends well-formed
        lines = (run / "events.jsonl").read_text(encoding="utf-8").splitlines()
        assert json.loads(lines[-1])["type"] == "run_finished"


def test_a_run_with_an_invalid_meta_skill_schema_exits_3_at_its_first_tool_call(skills, project: Project):  # noqa: F811
    # The schemas are checked as JSON schemas when the first tool call is validated (jsonschema is not
    # imported before the first model call): the run ends there, well-formed, with the file named.
    path = skills / "meta" / "finish" / "SKILL.md"
    text = path.read_text(encoding="utf-8")
    broken = text.replace('"required": ["answer"]', '"required": "answer"', 1)
    assert broken != text
    path.write_text(broken, encoding="utf-8")
    result = project.run("Say hi.", project.script([call("finish", answer="hi")]))
    assert result.exit_code == EXIT_CONFIG, result.output
    assert "Traceback" not in result.output
    assert f"The skill file {path} has an invalid JSON schema" in " ".join(result.stderr.split())
    (run,) = project.run_dirs()
    lines = (run / "events.jsonl").read_text(encoding="utf-8").splitlines()
    assert json.loads(lines[-1])["type"] == "run_finished"


def test_a_skill_schema_is_checked_when_the_skill_is_first_called_not_at_every_first_call(skills):
    """The first tool call of a run compiles a validator for that tool's schema only: the other skills'
    schemas are checked when they are called (nine schema checks cost tens of ms on every run)."""
    path = skills / "tools" / "web-fetch" / "SKILL.md"
    path.write_text(path.read_text(encoding="utf-8").replace('"minLength": 1', '"minLength": "one"', 1))
    fetch = load_tier("tools")["web_fetch"]
    search = load_tier("tools")["web_search"]
    tiers.check_loaded_schemas(search.schema)  # another skill's schema: fine
    with pytest.raises(ConfigError, match="invalid JSON schema"):
        tiers.check_loaded_schemas(fetch.schema)
