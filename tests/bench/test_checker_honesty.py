"""Checks that cannot be fooled: `answer_number` takes the number nearest its label (after it, or before
it in the same phrase), a fixture server's port or URL never changes a task's outcome, and an
out-of-scope task is solved by an honest task_failed or a verified result, never by a refusal marked done."""

from __future__ import annotations

from pathlib import Path

import pytest
from agentfactory_bench import Check, FixtureServer, Task, check_task
from agentfactory_bench.harness import _solved

VOL = {"label": "volatility", "value": 0.2828, "rel_tolerance": 0.02}


def passes(arg: dict, answer: str, kind: str = "answer_number") -> bool:
    task = Task(id="t", batch=1, text="x", suite_dir=Path("."), checks=(Check(kind, arg),))
    return check_task(task, answer, Path("/nonexistent")).passed


@pytest.mark.parametrize(
    "answer",
    [
        "Annualised volatility: 28.3%",
        "28.3% annualised volatility",  # before the label, same phrase
        "The volatility of the daily returns, annualised, is 0.283.",
    ],
)
def test_answer_number_accepts_the_number_nearest_the_label_on_either_side(answer):
    assert passes(VOL, answer)


@pytest.mark.parametrize(
    "answer",
    [
        "Volatility: 1.78% daily; over the year 28.3 apples",  # the nearest number after is 1.78
        "Return 28.3%, volatility 12%",  # 28.3% belongs to another phrase
        "Values: 28.3%\nvolatility: 12%",  # a line break separates them
    ],
)
def test_answer_number_ignores_numbers_that_are_not_nearest_its_label(answer):
    assert not passes(VOL, answer)


def test_intercept_of_another_phrase_is_not_taken():
    arg = {"label": "intercept", "value": 49.2, "tolerance": 0.05}
    assert passes(arg, "slope 4.19, intercept 49.2")
    assert not passes(arg, "slope 49.2, intercept 3")


COUNT = {"label": "pages", "value": 4312, "tolerance": 0}


@pytest.mark.parametrize(
    "answer,solved",
    [
        ("{base}/site/index.html lists the pages", False),  # the port sits right after the label
        ("pages: see {base}/site/", False),
        ("pages: 4312 (listed at {base}/site/)", True),
        ("The crawl of {base} found 4312 pages", True),
    ],
)
def test_the_fixture_servers_port_never_changes_an_outcome(answer, solved):
    # Port 4312 equals the expected value, port 5150 does not: the outcome must be the same for both.
    outcomes = {port: passes(COUNT, answer.format(base=f"http://127.0.0.1:{port}")) for port in (4312, 5150)}
    assert outcomes == {4312: solved, 5150: solved}


def test_port_digits_in_output_files_and_regexes_never_count(tmp_path):
    outputs = tmp_path / "outputs"
    outputs.mkdir()
    checks = (
        Check("answer_regex", r"\b4312\b"),
        Check("file_contains", {"file": "links.md", "text": ["4312"]}),
    )
    task = Task(id="t", batch=1, text="x", suite_dir=tmp_path, checks=checks)
    results = {}
    for port in (4312, 5150):
        (outputs / "links.md").write_text(f"- [home](http://127.0.0.1:{port}/site/index.html)\n")
        results[port] = check_task(task, f"see localhost:{port}/site", outputs).passed
    assert results == {4312: False, 5150: False}


def test_links_still_match_by_path_whatever_the_port(tmp_path):
    outputs = tmp_path / "outputs"
    outputs.mkdir()
    arg = {"file": "links.md", "links": ["/site/a.html", "{base_url}/site/b.html"]}
    task = Task(id="t", batch=1, text="x", suite_dir=tmp_path, checks=(Check("markdown_links_include", arg),))
    for port in (4312, 5150):
        base = f"http://127.0.0.1:{port}"
        (outputs / "links.md").write_text(f"[a]({base}/site/a.html) and {base}/site/b.html\n")
        assert check_task(task, "", outputs).passed, port


def test_a_real_fixture_server_url_in_the_answer_is_hidden(tmp_path):
    page = tmp_path / "site" / "x.html"
    page.parent.mkdir()
    page.write_text("<p>x</p>")
    with FixtureServer({"site/x.html": page}) as server:
        port = int(server.base_url.rsplit(":", 1)[1].split("/")[0])
        arg = {"label": "pages", "value": port, "tolerance": 0}
        assert not passes(arg, f"pages {server.base_url}/site/x.html")
        assert passes(arg, f"pages: {port}")


def test_an_out_of_scope_task_is_solved_by_task_failed_or_a_verified_result_only():
    task = Task(
        id="translate",
        batch=1,
        text="Translate letter.txt into French.",
        suite_dir=Path("."),
        checks=(Check("file_contains", {"file": "letter_fr.txt", "text": ["Bonjour"]}),),
        out_of_scope=True,
    )
    refusal = check_task(task, "I cannot translate this: it is outside what I can do.", Path("/nonexistent"))
    assert _solved(task, "success", refusal.passed) is False  # a refusal marked done is not a solution
    assert _solved(task, "task_failed", refusal.passed) is True  # an honest task_failed is
