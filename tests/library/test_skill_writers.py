"""The library owns every write of SKILL.md and cases.jsonl: one reader of SKILL.md, the changelog,
limitations and lessons written by library functions, a revision's files made by `revised_files`."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import agentfactory
from agentfactory.errors import ValidationError
from agentfactory.library import Case, build_subagent_folder
from agentfactory.library.format import (
    CASES_FILE,
    SKILL_FILE,
    parse_subagent,
    read_folder,
    skill_body,
    split_skill_md,
)
from agentfactory.library.writing import (
    add_changelog_entry,
    add_limitations,
    revised_files,
    section,
    set_lessons_block,
)

from ._helpers import CODE

PACKAGE = Path(agentfactory.__file__).parent


def _folder(tmp_path: Path, **kwargs) -> Path:
    return build_subagent_folder(
        tmp_path, name="word-count", description="Count words.", code=CODE,
        cases=[{"inputs": {"text": "a b"}, "expected": {"count": 2}}], version=1, **kwargs,
    )  # fmt: skip


def test_one_skill_md_reader_in_the_package():
    """Only library/format.py parses YAML frontmatter of a SKILL.md; the other readers went through it.
    (tools/web_search.py reads the front matter of local search documents, which are not SKILL.md.)"""
    defined = [p for p in PACKAGE.rglob("*.py") if "def split_skill_md" in p.read_text(encoding="utf-8")]
    assert defined == [PACKAGE / "library" / "format.py"]
    pattern = re.compile(r"\\A---|\^---")
    readers = sorted(
        str(p.relative_to(PACKAGE)) for p in PACKAGE.rglob("*.py") if pattern.search(p.read_text("utf-8"))
    )
    assert readers == ["library/format.py", "tools/web_search.py"]


def test_skill_body_drops_the_title_only_when_asked(tmp_path):
    text = (_folder(tmp_path) / SKILL_FILE).read_text()
    assert skill_body(text).startswith("# word-count\n")
    assert skill_body(text, without_title=True).startswith("## Purpose")
    with pytest.raises(ValidationError, match="frontmatter"):
        skill_body("no frontmatter here")


def test_changelog_and_limitations_are_added_by_the_library(tmp_path):
    text = (_folder(tmp_path) / SKILL_FILE).read_text()
    assert section(split_skill_md(text)[1], "Known limitations") == "None recorded."
    changed = add_limitations(add_changelog_entry(text, "v2: handle empty text."), ["- Fails on emoji."])
    front, body = split_skill_md(changed)
    assert front == split_skill_md(text)[0]  # name, description and metadata untouched
    assert section(body, "Changelog") == "- v1: created.\n- v2: handle empty text."
    assert section(body, "Known limitations") == "- Fails on emoji."  # the placeholder is replaced
    again = add_limitations(changed, ["- Slow on 1 MB."])
    assert section(split_skill_md(again)[1], "Known limitations") == "- Fails on emoji.\n- Slow on 1 MB."
    assert add_limitations(again, ["  ", ""]) == again


def test_added_limitations_keep_the_experience_stores_lessons_block(tmp_path):
    text = set_lessons_block((_folder(tmp_path) / SKILL_FILE).read_text(), ["Fails with A."], now=0)
    changed = add_limitations(text, ["- Fails on emoji."])
    limits = section(split_skill_md(changed)[1], "Known limitations")
    assert "- Fails with A." in limits and limits.endswith("- Fails on emoji.")
    # The lessons block is still the store's to rewrite: it is replaced, the evolve note stays.
    rewritten = set_lessons_block(changed, ["Fails with B."], now=0)
    assert "Fails with A." not in rewritten and "Fails with B." in rewritten and "Fails on emoji" in rewritten


def test_revised_files_add_new_cases_after_stored_ones_and_fixtures_beside_them(tmp_path):
    files = read_folder(_folder(tmp_path))
    new = [
        Case(inputs={"text": "a b"}, expected={"count": 99}),  # inputs of a stored case: dropped
        Case(inputs={"text": "inputs/doc.txt"}, expected={"count": 3}),
    ]
    out = revised_files(
        files, changelog="v2: read files.", limitations=["- Only UTF-8."], new_cases=new,
        fixtures={"doc.txt": b"one two three"},
    )  # fmt: skip
    sub = parse_subagent("word-count", out)
    assert [(c.inputs, c.expected) for c in sub.cases] == [
        ({"text": "a b"}, {"count": 2}),
        ({"text": "inputs/doc.txt"}, {"count": 3}),
    ]
    assert out["fixtures/doc.txt"] == b"one two three"
    assert "- v2: read files." in sub.skill_md and "- Only UTF-8." in sub.skill_md
    assert files[CASES_FILE] != out[CASES_FILE] and files[SKILL_FILE] != out[SKILL_FILE]


@pytest.mark.parametrize("path", ["../escape.txt", "/etc/passwd", ".hidden/x", "a/../../b"])
def test_revised_files_refuse_fixture_paths_outside_the_folder(tmp_path, path):
    files = read_folder(_folder(tmp_path))
    with pytest.raises(ValidationError):
        revised_files(files, changelog="v2: x.", fixtures={path: b"x"})
