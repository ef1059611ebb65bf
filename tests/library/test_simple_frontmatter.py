"""A SKILL.md frontmatter of plain `key: value` lines is read without yaml (library/format.py,
`_simple_frontmatter`): wherever that reading gives a value, it is exactly what YAML reads, and every
other frontmatter is left to YAML (its errors included)."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
import yaml

from agentfactory.errors import ValidationError
from agentfactory.library import format as fmt

ROOT = Path(__file__).resolve().parents[2]

KEYS = ["name", "description", "license", "x-y_z1", "on", "yes", "Name", "1a", "a b", "allowed-tools"]
VALUES = [
    "web-fetch",
    "Fetch a URL from the host; returns text, title and links (absolute).",
    '"Fetch a URL: with a colon, # a hash, and — unicode."',
    '""',
    '"with \\" an escaped quote"',
    '"with \\n an escape"',
    '"tab\tinside"',
    '"line\u2028separator"',
    '"bom\ufeffinside"',
    '"nel\x85inside"',
    '"control\x7finside"',
    "'single quoted'",
    "plain: with colon",
    "plain # comment",
    "trailing space ",
    " leading space",
    "yes",
    "No",
    "TRUE",
    "off",
    "null",
    "Null",
    "~",
    "12",
    "1.5",
    "2024-01-01",
    "2001-12-14 21:59:43.10 -5",
    ".inf",
    "<<",
    "=",
    "-dash",
    "a-b_c d.e,f;g(h)i'j/k",
    "[a, b]",
    "{a: b}",
    "&anchor x",
    "*alias",
    "!tag x",
    "|",
    ">",
    "%percent",
    "@at",
    "`tick`",
    "e",
    "y",
    "n",
]


def _yaml(raw: str) -> object:
    """What the YAML reader of split_skill_md reads, or the ValidationError it raises."""
    try:
        return yaml.load(raw, Loader=fmt._strict_loader())  # noqa: S506 - a SafeLoader subclass
    except ValidationError as exc:
        return exc
    except yaml.YAMLError as exc:
        return exc


def _check(raw: str) -> bool:
    simple = fmt._simple_frontmatter(raw)
    if simple is None:
        return False
    assert simple == _yaml(raw), repr(raw)
    assert all(type(k) is str and type(v) is str for k, v in simple.items())
    return True


def test_every_value_read_without_yaml_is_yamls():
    taken = 0
    for key, value in itertools.product(KEYS, VALUES):
        taken += _check(f"{key}: {value}\n")
        taken += _check(f"name: x\n{key}: {value}\n")
    assert taken > 20  # the simple form is taken, not only refused


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "\n",
        "name: a\nname: b\n",  # a duplicate key: YAML's refusal, not the last one
        "name: a\n\ndescription: b\n",
        "name: a\n  continued\n",
        "# comment\nname: a\n",
        "name:a\n",
        "name:  two spaces\n",
        "name: a\nmetadata:\n  version: '1'\n",
        "- a\n- b\n",
    ],
)
def test_any_other_frontmatter_is_left_to_yaml(raw: str):
    assert fmt._simple_frontmatter(raw) is None


def test_the_shipped_skills_and_the_library_examples_read_as_yaml_reads_them():
    files = sorted((ROOT / "skills").glob("*/*/SKILL.md")) + sorted(ROOT.glob("subagent_library/**/SKILL.md"))
    assert len(files) >= 9
    simple = 0
    for path in files:
        text = fmt.normalise_text(path.read_text(encoding="utf-8"))
        raw = text[4 : text.index("\n---", 3) + 1]
        simple += _check(raw)
    assert simple >= 9  # at least every shipped skill takes the path without yaml


def test_a_run_reads_the_skill_tiers_without_yaml(tmp_path: Path):
    import json
    import subprocess
    import sys

    code = (
        "import sys, json\n"
        "from agentfactory.skill_tiers import load_tier\n"
        "names = sorted(load_tier('meta')) + sorted(load_tier('tools'))\n"
        "print(json.dumps([names, 'yaml' in sys.modules]))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(ROOT)},
        timeout=60,
    )
    names, yaml_loaded = json.loads(proc.stdout)
    assert "web_fetch" in names and "create_subagent" in names
    assert yaml_loaded is False
