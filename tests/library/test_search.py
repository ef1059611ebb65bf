"""Search relevance on a small fixed corpus and the index's freshness rules."""

from __future__ import annotations

from pathlib import Path

import pytest

from agentfactory.library import Library

from ._helpers import git, write_folder

CORPUS = {
    "csv-stats": (
        "Compute summary statistics (mean, min, max) for numeric columns of a CSV file.",
        "path",
        "csv, table",
    ),
    "word-count": (
        "Count how often each word occurs in a text and return the most frequent words.",
        "text",
        "text",
    ),
    "html-links": ("Extract all hyperlinks from an HTML page fetched from a URL.", "url", "web, html"),
    "plot-timeseries": ("Draw a line chart of a time series and save it as a PNG image.", "series", "plot"),
    "dedupe-rows": ("Remove duplicate rows from a CSV file, keeping the first occurrence.", "path", "csv"),
    "sentiment-score": ("Score the sentiment of customer reviews as positive or negative.", "reviews", "nlp"),
    "json-flatten": ("Flatten nested JSON objects into dotted keys.", "data", "json"),
    "date-parse": ("Parse dates written in many formats into ISO 8601 strings.", "dates", "time"),
}

QUERIES = {
    "give me the average and maximum of each column in a spreadsheet": "csv-stats",
    "summarize numbers in a csv": "csv-stats",
    "word frequencies of a document": "word-count",
    "which words appear most often": "word-count",
    "get every link on a web page": "html-links",
    "make a graph of values over time": "plot-timeseries",
    "drop repeated lines in a table": "dedupe-rows",
    "is this review happy or angry (sentiment)": "sentiment-score",
    "turn nested json into flat keys": "json-flatten",
    "normalise timestamps to iso format": "date-parse",
}


def _code(param: str, purpose: str) -> str:
    return f'"""{purpose}\n\nInputs:\n- {param}: the input\n"""\n\n\ndef run({param}) -> dict:\n    return {{}}\n'


@pytest.fixture
def corpus(lib: Library, src: Path) -> Library:
    for name, (desc, param, tags) in CORPUS.items():
        folder = write_folder(
            src, name, desc, code=_code(param, desc), metadata=f"metadata:\n  tags: {tags}\n"
        )
        lib.save(folder)
    return lib


@pytest.mark.parametrize("query", sorted(QUERIES))
def test_paraphrased_query_ranks_the_right_subagent_first(corpus: Library, query: str) -> None:
    hits = corpus.search(query, k=3)
    assert hits, query
    assert hits[0].name == QUERIES[query], [(h.name, round(h.score, 3)) for h in hits]


def test_hits_carry_version_description_and_signature(corpus: Library) -> None:
    (hit,) = corpus.search("csv statistics", k=1)
    assert hit.version == 1 and hit.signature == "run(path)" and "statistics" in hit.description
    assert corpus.search("the of and", k=5) == []


def test_success_rates_sink_failing_subagents_but_not_new_ones(corpus: Library) -> None:
    query = "csv file"
    base = [h.name for h in corpus.search(query, k=2)]
    assert set(base) == {"csv-stats", "dedupe-rows"}
    first, second = base
    failing = corpus.search(query, k=2, success_rates={first: (10, 0)})
    assert [h.name for h in failing] == [second, first]
    one_miss = corpus.search(query, k=2, success_rates={first: (1, 0), second: (0, 0)})
    assert one_miss[0].score > 0 and {h.name for h in one_miss} == {first, second}
    assert one_miss[1].score > 0.5 * failing[0].score  # a single failure does not bury it


def test_index_rebuilt_after_deletion(corpus: Library) -> None:
    index = corpus.path / ".git" / "agentfactory" / "index.sqlite"
    assert index.exists()
    corpus._index.close()
    for suffix in ("", "-wal", "-shm"):
        Path(str(index) + suffix).unlink(missing_ok=True)
    fresh = Library(corpus.path)
    assert fresh.search("word frequencies", k=1)[0].name == "word-count"
    assert len(fresh.list()) == len(CORPUS)
    assert index.exists()


def test_index_follows_an_out_of_band_commit(corpus: Library, tmp_path: Path) -> None:
    write_folder(
        tmp_path / "oob",
        "zip-extract",
        "Unpack a zip archive into a folder.",
        code=_code("archive", "Unzip."),
    )
    git(corpus.path, "mv", "json-flatten", "json-flatten-old")  # a rename done by hand
    import shutil

    shutil.copytree(tmp_path / "oob" / "zip-extract", corpus.path / "zip-extract")
    git(corpus.path, "add", "zip-extract")
    git(corpus.path, "-c", "user.name=x", "-c", "user.email=x@y", "commit", "-qm", "by hand")
    assert corpus.search("unpack zip archive", k=1)[0].name == "zip-extract"
    names = {i.name for i in corpus.list()}
    assert "zip-extract" in names and "json-flatten" not in names
    assert [v.version for v in corpus.history("zip-extract")] == [0]


def test_index_survives_corruption(corpus: Library) -> None:
    corpus._index.close()
    (corpus.path / ".git" / "agentfactory" / "index.sqlite").write_bytes(b"not a database" * 100)
    fresh = Library(corpus.path)
    assert fresh.search("sentiment of reviews", k=1)[0].name == "sentiment-score"


def test_reindex_counts(corpus: Library) -> None:
    assert corpus.reindex() == len(CORPUS)
