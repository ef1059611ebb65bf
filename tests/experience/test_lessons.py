"""Bounded lessons: consolidated by error kind and input shape, capped, pruned, written via the library."""

from __future__ import annotations

from pathlib import Path

from agentfactory.experience import MAX_LESSONS, ExecutionRecord, ExperienceStore, write_known_limitations
from agentfactory.experience.lessons import PRUNE_AFTER_SUCCESSES, describe_shape, render_limitations
from agentfactory.library import Library, build_subagent_folder


def _fail(
    store: ExperienceStore,
    inputs: dict,
    kind: str = "ZeroDivisionError",
    name: str = "csv-stats",
    ts: float = 1.0,
):
    store.record_execution(
        ExecutionRecord.build(
            run_id="r",
            agent_id="a",
            subagent=name,
            version=1,
            inputs=inputs,
            success=False,
            error_kind=kind,
            error=f"{kind}: boom\nTraceback ...",
            ts=ts,
        )
    )


def _ok(store: ExperienceStore, inputs: dict, name: str = "csv-stats"):
    store.record_execution(
        ExecutionRecord.build(run_id="r", agent_id="a", subagent=name, version=2, inputs=inputs, success=True)
    )


def test_repeated_failures_consolidate_into_one_lesson_with_a_count(store: ExperienceStore):
    for i in range(7):
        _fail(store, {"numbers": [], "label": f"run {i}"}, ts=float(i))
    (lesson,) = store.lessons("csv-stats")
    assert lesson.failures == 7 and lesson.shape == "label=str, numbers=list(empty)"
    assert store.lessons_for("csv-stats") == [
        "Fails with ZeroDivisionError when `numbers` is an empty list (seen 7 times) — e.g. `ZeroDivisionError: boom`."
    ]
    assert (
        lesson.doc_text
        == "Fails with ZeroDivisionError when `numbers` is an empty list — e.g. `ZeroDivisionError: boom`."
    )


def test_lessons_stay_bounded_after_50_failures(store: ExperienceStore):
    # 50 failures over a dozen input shapes and three error kinds: at most MAX_LESSONS survive, and
    # lessons of the same kind absorb the evidence of the ones that had to go.
    kinds = ["ZeroDivisionError", "KeyError", "timeout"]
    values = [[], "", " ", -1, 0, None, {}, [1], "x", 2.5, float("nan"), [1, "a", {}]]
    for i in range(50):
        inputs = {f"k{i % 9}": values[i % len(values)], "n": i % 3}
        _fail(store, inputs, kind=kinds[i % len(kinds)], ts=float(i))
    lessons = store.lessons("csv-stats")
    texts = store.lessons_for("csv-stats")
    assert 0 < len(lessons) <= MAX_LESSONS and len(texts) == len(lessons)
    assert {lesson.error_kind for lesson in lessons} == set(kinds)
    assert any(lesson.merged_shapes for lesson in lessons)
    assert sum(lesson.failures for lesson in lessons) == 50  # merged, none of the evidence lost
    assert all(len(text) < 400 for text in texts)
    assert store.lessons_for("other") == []  # lessons are per subagent, never global


def test_lessons_stay_bounded_with_more_error_kinds_than_slots(store: ExperienceStore):
    kinds = ["ZeroDivisionError", "KeyError", "TypeError", "timeout", "IndexError", "ValueError", "oom"]
    for i in range(50):
        _fail(store, {f"k{i}": [] if i % 2 else -i}, kind=kinds[i % len(kinds)], ts=float(i))
    lessons = store.lessons("csv-stats")
    assert len(lessons) == MAX_LESSONS
    assert max(lesson.last_ts for lesson in lessons) == 49.0  # the newest evidence is kept


def test_lessons_are_pruned_when_they_stop_predicting_failures(store: ExperienceStore):
    for _ in range(4):
        _fail(store, {"numbers": []})
    _fail(store, {"rows": "", "n": 1}, kind="KeyError")
    for _ in range(PRUNE_AFTER_SUCCESSES - 1):
        _ok(store, {"numbers": []})
    assert len(store.lessons("csv-stats")) == 2
    _ok(store, {"numbers": []})  # the fixed version handles empty lists now
    assert [lesson.error_kind for lesson in store.lessons("csv-stats")] == ["KeyError"]
    # A failure on the shape again resets the evidence count.
    _fail(store, {"rows": "", "n": 2}, kind="KeyError")
    _ok(store, {"rows": "", "n": 3})
    _fail(store, {"rows": "", "n": 4}, kind="KeyError")
    assert store.lessons("csv-stats")[0].successes_after == 0


def test_describe_shape():
    assert (
        describe_shape("n=int(<0), text=str(blank)")
        == "when `n` is a negative integer and `text` is a blank string"
    )
    assert describe_shape("rows=list[int](long)") == "when `rows` is a very long list"
    assert describe_shape("a=int, b=str") == "on inputs shaped `a=int, b=str`"
    assert describe_shape("(no inputs)") == "with no inputs"


SKILL = """---
name: x
description: d
---

# x

## Known limitations

Hand-written: does not read Excel files.

## Changelog

- v1: created.
"""


def test_render_limitations_keeps_hand_written_text_and_rewrites_its_block():
    once = render_limitations(SKILL, ["Fails with A."], now=0)
    assert "Hand-written: does not read Excel files." in once and "- Fails with A." in once
    assert once.index("Fails with A.") < once.index("## Changelog")
    twice = render_limitations(once, ["Fails with B."], now=0)
    assert "Fails with A." not in twice and twice.count("experience:lessons:begin") == 1
    assert render_limitations(twice, [], now=0).strip() == SKILL.strip()
    placeholder = SKILL.replace("Hand-written: does not read Excel files.", "None recorded.")
    assert "None recorded." not in render_limitations(placeholder, ["Fails with C."], now=0)
    no_section = "---\nname: x\ndescription: d\n---\n\n# x\n"
    assert "## Known limitations" in render_limitations(no_section, ["Fails with D."], now=0)


CODE = '''"""Mean of numbers.

Inputs:
- numbers (list): the values

Outputs:
- mean (float): their mean
"""


def run(numbers: list) -> dict:
    return {"mean": sum(numbers) / len(numbers)}
'''


def test_lessons_reach_skill_md_through_a_library_save(tmp_path: Path, store: ExperienceStore):
    library = Library(tmp_path / "lib")
    library.ensure()
    src = build_subagent_folder(
        tmp_path / "src",
        name="mean-of",
        description="Mean of numbers.",
        code=CODE,
        cases=[{"inputs": {"numbers": [1, 3]}, "expected": {"mean": 2}}],
    )
    assert library.save(src, run_id="r0").version == 1
    for _ in range(3):
        _fail(store, {"numbers": []}, name="mean-of")
    result = write_known_limitations(library, store, "mean-of", run_id="r9")
    assert result is not None and result.changed and result.version == 2
    saved = library.get("mean-of")
    assert "Fails with ZeroDivisionError when `numbers` is an empty list — e.g." in saved.skill_md
    assert saved.code == CODE and len(saved.cases) == 1  # only the documentation changed
    # One more failure of the same kind says nothing new: no new version.
    _fail(store, {"numbers": []}, name="mean-of")
    assert write_known_limitations(library, store, "mean-of") is None
    assert library.get("mean-of").version == 2


def test_update_known_limitations_covers_library_subagents_that_failed_in_the_run(
    tmp_path: Path, store: ExperienceStore
):
    library = Library(tmp_path / "lib")
    library.ensure()
    for name in ("mean-of", "mean-two"):
        src = build_subagent_folder(tmp_path / "src", name=name, description="Mean of numbers.", code=CODE)
        library.save(src, run_id="r0")
    _fail(store, {"numbers": []}, name="mean-of")  # run "r", version 1
    store.record_execution(
        ExecutionRecord.build(
            run_id="r",
            agent_id="a",
            subagent="cand",
            version=None,
            inputs={},
            success=False,
            error_kind="KeyError",
        )
    )
    store.record_execution(
        ExecutionRecord.build(
            run_id="r", agent_id="a", subagent="mean-two", version=1, inputs={"numbers": [1]}, success=True
        )
    )
    results = store.update_known_limitations(library, "r")
    assert [(r.name, r.version) for r in results] == [("mean-of", 2)]
    assert "None recorded." in library.get("mean-two").skill_md
    assert store.update_known_limitations(library, "r") == []
    # v2 differs from v1 only in SKILL.md: v1's failure is still evidence for evolving v2.
    assert store.code_versions("mean-of", 2) == [1, 2]
    assert [c.name for c in store.evolve_candidates(current_versions={"mean-of": 2, "mean-two": 1})] == [
        "mean-of"
    ]
    assert [r.version for r in store.failures_since("mean-of", 2)] == [1]


def test_a_section_of_only_lessons_goes_back_to_the_placeholder():
    placeholder = SKILL.replace("Hand-written: does not read Excel files.", "None recorded.")
    with_lessons = render_limitations(placeholder, ["Fails with C."], now=0)
    assert render_limitations(with_lessons, [], now=0) == placeholder
