"""The search ranking's postings (agentfactory/library/ranking.py): the same order as FTS5's bm25 with the
same weights, kept exact by incremental saves and removals, and re-weighed when the average length moves."""

from __future__ import annotations

import random
import sqlite3
import time

import pytest

from agentfactory.library import Library
from agentfactory.library.index import _SCHEMA, MAX_QUERY_TERMS, query_phrases, query_terms
from agentfactory.library.ranking import COLUMNS, DRIFT, TOKENIZE, WEIGHTS, Ranking

from ._helpers import write_folder

BASE = [
    "parse",
    "csv",
    "json",
    "plot",
    "chart",
    "count",
    "words",
    "text",
    "dates",
    "clean",
    "merge",
    "split",
    "rank",
    "score",
    "filter",
    "html",
]
WORDS = BASE + [f"{a}{b}" for a in ("log", "row", "url", "map", "tag") for b in BASE]  # 96 words, rarer ones


def _doc(rng: random.Random) -> tuple[str, ...]:
    def some(n: int) -> str:
        return " ".join(rng.choice(WORDS) for _ in range(rng.randint(0, n)))

    return (some(3), some(8), some(16), some(3), some(3))


def _index(docs: dict[int, tuple[str, ...]]) -> tuple[sqlite3.Connection, Ranking]:
    conn = sqlite3.connect(":memory:", isolation_level=None)
    conn.executescript(_SCHEMA)
    ranking = Ranking(conn)
    cols = ", ".join(COLUMNS)
    conn.execute(f"CREATE VIRTUAL TABLE fts USING fts5({cols}, tokenize = '{TOKENIZE}')")
    for doc, texts in docs.items():
        conn.execute(f"INSERT INTO fts(rowid, {cols}) VALUES (?,?,?,?,?,?)", (doc, *texts))
    ranking.add(list(docs.items()))
    return conn, ranking


def _fts5(conn: sqlite3.Connection, words: list[str], k: int) -> list[tuple[int, float]]:
    match = " OR ".join(f'"{w}"' for w in words)
    rows = conn.execute(
        "SELECT rowid, bm25(fts, ?, ?, ?, ?, ?) FROM fts WHERE fts MATCH ?", (*WEIGHTS, match)
    ).fetchall()
    return sorted(((doc, -rank) for doc, rank in rows), key=lambda hit: (-hit[1], hit[0]))[:k]


def _ours(ranking: Ranking, words: list[str], k: int) -> list[tuple[int, float]]:
    stems = ranking.stems(words)
    return ranking.top([(s, False) for s in stems if s], k)


@pytest.mark.parametrize("seed", range(4))
def test_whole_word_queries_rank_exactly_as_fts5_bm25(seed: int) -> None:
    rng = random.Random(seed)
    docs = {i: _doc(rng) for i in range(1, 400)}
    conn, ranking = _index(docs)
    for _ in range(40):
        words = rng.sample(WORDS, rng.randint(1, 4))
        theirs, ours = _fts5(conn, words, 10), _ours(ranking, words, 10)
        # the same documents in the same order; scores equal to float32 precision
        assert [d for d, _ in ours] == [d for d, _ in theirs], words
        assert [s for _, s in ours] == pytest.approx([s for _, s in theirs], rel=1e-5)


def test_a_word_and_its_repeat_count_twice_as_in_fts5() -> None:
    rng = random.Random(7)
    conn, ranking = _index({i: _doc(rng) for i in range(1, 200)})
    words = ["words", "word", "csvparse"]
    ours, theirs = _ours(ranking, words, 8), _fts5(conn, words, 8)
    assert [d for d, _ in ours] == [d for d, _ in theirs]
    assert [s for _, s in ours] == pytest.approx([s for _, s in theirs], rel=1e-5)


def test_a_prefix_phrase_matches_the_terms_it_begins_with_fts5s_stemming() -> None:
    conn, ranking = _index(
        {1: ("statistics", "", "", "", ""), 2: ("stats", "", "", "", ""), 3: ("state", "", "", "", "")}
    )
    ranking.add([(4, ("parlor", "", "", "", "")), (5, ("unrelated", "", "", "", ""))])
    (stem,) = ranking.stems(["pars"])  # porter stems a prefix too: "pars" -> "par", which begins "parlor"
    assert stem == "par"
    assert [d for d, _ in ranking.top([(stem, True)], 5)] == [4]
    assert sorted(d for d, _ in ranking.top([("stat", True)], 5)) == [1, 2, 3]
    assert ("stat", True) in query_phrases(["statistics"])


def test_incremental_adds_and_removals_match_a_fresh_build() -> None:
    rng = random.Random(3)
    docs = {i: _doc(rng) for i in range(1, 301)}
    conn, ranking = _index({i: docs[i] for i in range(1, 101)})
    live = set(range(1, 101))
    for step in range(200):
        if step % 3 == 2:
            gone = rng.sample(sorted(live), 1)
            ranking.remove(gone)
            live -= set(gone)
        else:
            doc = 101 + step
            docs[doc] = _doc(rng)
            ranking.add([(doc, docs[doc])])
            live.add(doc)
    _, fresh = _index({i: docs[i] for i in sorted(live)})
    ranking.reweigh()  # the same average as the fresh build: impacts must then be identical
    ours = conn.execute("SELECT term, block, docs, impacts FROM postings ORDER BY term, block").fetchall()
    theirs = fresh.conn.execute(
        "SELECT term, block, docs, impacts FROM postings ORDER BY term, block"
    ).fetchall()
    assert ours == theirs
    for _ in range(20):
        words = rng.sample(WORDS, 3)
        assert _ours(ranking, words, 10) == _ours(fresh, words, 10)


def test_the_recorded_average_length_stays_within_the_drift_bound() -> None:
    conn, ranking = _index({1: ("a", "short one", "", "", "")})
    rng = random.Random(5)
    for doc in range(2, 120):
        length = rng.choice([2, 10, 200])
        ranking.add([(doc, ("x", " ".join(rng.choice(WORDS) for _ in range(length)), "", "", ""))])
        stats = dict(conn.execute("SELECT key, value FROM meta WHERE key LIKE 'rank_%'").fetchall())
        current = float(stats["rank_tokens"]) / float(stats["rank_documents"])
        assert abs(current / float(stats["rank_average"]) - 1) <= DRIFT


def test_a_save_updates_the_postings_of_only_its_own_blocks(tmp_path) -> None:
    lib = Library(tmp_path / "lib")
    for i in range(5):
        lib.save(write_folder(tmp_path / "src" / str(i), f"tool-{i}", f"Parse csv file number {i}."))
    lib.save(write_folder(tmp_path / "src" / "v", "tool-2", "Plot a chart of dates."))
    assert [h.name for h in lib.search("plot chart", k=3)] == ["tool-2"]
    assert "tool-2" not in [h.name for h in lib.search("parse csv", k=5)]
    lib.remove("tool-3")
    assert sorted(h.name for h in lib.search("parse csv", k=5)) == ["tool-0", "tool-1", "tool-4"]


def test_an_index_of_an_earlier_format_drops_its_fts5_table_and_is_rebuilt(tmp_path) -> None:
    lib = Library(tmp_path / "lib")
    lib.save(write_folder(tmp_path / "src", "tool-a", "Parse csv files."))
    file = lib.path / ".git" / "agentfactory" / "index.sqlite"
    conn = sqlite3.connect(file, isolation_level=None)
    conn.execute("CREATE VIRTUAL TABLE fts USING fts5(name, description)")
    conn.execute("UPDATE meta SET value='4' WHERE key='format'")
    conn.execute("DELETE FROM postings")
    conn.close()
    again = Library(tmp_path / "lib")
    assert [h.name for h in again.search("parse csv", k=3)] == ["tool-a"]
    conn = sqlite3.connect(file)
    assert conn.execute("SELECT count(*) FROM sqlite_master WHERE name='fts'").fetchone() == (0,)


def test_a_huge_query_is_bounded(tmp_path) -> None:
    lib = Library(tmp_path / "lib")
    lib.save(write_folder(tmp_path / "src", "tool-a", "Parse csv files."))
    words = " ".join(f"w{i}" for i in range(200_000)) + " parse csv"
    assert len(query_terms(words)) == MAX_QUERY_TERMS
    assert lib.search(words, k=3) == []  # the first 256 distinct words are the query
    assert [h.name for h in lib.search("parse csv " + words, k=3)] == ["tool-a"]


def test_searches_from_many_threads_on_one_library_agree(tmp_path) -> None:
    """The query's words are stemmed in a scratch table of the shared connection: one at a time."""
    from concurrent.futures import ThreadPoolExecutor

    lib = Library(tmp_path / "lib")
    for i, words in enumerate(["Parse csv files.", "Plot a chart of dates.", "Count words in a text."]):
        lib.save(write_folder(tmp_path / "src" / str(i), f"tool-{i}", words))
    queries = ["parse csv", "plot chart dates", "count words text"] * 10
    expected = {q: [h.name for h in lib.search(q, k=1)] for q in set(queries)}
    ranking = lib._index.ranking

    class Slow:  # the connection, with a pause after each batch of rows goes into the scratch table
        def __init__(self, conn):
            self.conn = conn

        def __getattr__(self, name):
            return getattr(self.conn, name)

        def executemany(self, *args):
            out = self.conn.executemany(*args)
            time.sleep(0.002)
            return out

    ranking.conn = Slow(ranking.conn)

    def search(numbered: tuple[int, str]) -> list[str]:  # a new word in each: each is tokenized
        return [h.name for h in lib.search(f"{numbered[1]} zq{numbered[0]}", k=1)]

    with ThreadPoolExecutor(8) as pool:
        got = list(pool.map(search, enumerate(queries)))
    assert got == [expected[q] for q in queries]
