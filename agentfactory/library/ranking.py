"""The library's search ranking: BM25 over postings kept in SQLite, scored in a few C-level passes.

An FTS5 table ranked with its `bm25()` costs about a microsecond and a half for every row a query matches, and a query over a
large library matches thousands (at 50,000 subagents the usual query matches 6,000 to 21,000). Here each
term's postings are two arrays, the ids of the documents that hold it and the term's BM25 weight in each
(its *impact*: everything of BM25 but the idf), stored in blocks of `BLOCK` consecutive ids so that a
save rewrites a few small blobs, never a term's whole list. A query reads its terms' arrays and scores
them with C-level operations only (`dict(zip(...))`, `map`, dict merges); Python code runs only for the
documents that two terms share.

The score is FTS5's bm25 with the same column weights, k1 = 1.2 and b = 0.75, with two differences
written down here: a prefix phrase ("stat"*) takes, per document, the largest impact among the terms it
matches (FTS5 sums their occurrences first), and length normalisation uses the average document length
recorded when the impacts were computed, which is kept within `DRIFT` of the library's current average
(past it, every impact is recomputed). Phrases that match the same terms ("words" and "word") are
scored once with their idfs summed, which is what FTS5 adds up for them.

Tokens are FTS5's own: the documents and the query go through a scratch FTS5 table in the connection's
`temp` schema with the same tokenizer, read back through `fts5vocab`. Stems, diacritics, the splitting
of identifiers and the stemming of prefixes are therefore exactly what an FTS5 table would do.
"""

from __future__ import annotations

import heapq
import json
import math
import sqlite3
import threading
from array import array
from bisect import bisect_left
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from itertools import compress, repeat
from operator import mul

COLUMNS = ("name", "description", "docstring", "tags", "inputs")
# Column weights: a hit in the name or description says more than one in the docstring.
WEIGHTS = (8.0, 4.0, 1.0, 3.0, 1.5)
TOKENIZE = "porter unicode61 remove_diacritics 2"
K1, B = 1.2, 0.75
BLOCK = 1024  # document ids per postings blob
DRIFT = 0.1  # largest relative gap between the recorded and the current average length

SCHEMA = """
CREATE TABLE IF NOT EXISTS postings(
  term TEXT NOT NULL, block INTEGER NOT NULL, docs BLOB NOT NULL, impacts BLOB NOT NULL,
  PRIMARY KEY (term, block)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS ranked(id INTEGER PRIMARY KEY, length INTEGER NOT NULL, terms TEXT NOT NULL);
"""
_WEIGHT_OF = dict(zip(COLUMNS, WEIGHTS, strict=True))
_TOKENS_PER_BATCH = 500

Doc = tuple[int, Sequence[str]]  # a row id and its column texts, in COLUMNS order


def impact(weighted_frequency: float, length: int, average: float) -> float:
    """A term's BM25 weight in one document, without its idf."""
    w = weighted_frequency
    return w * (K1 + 1) / (w + K1 * (1 - B + B * length / average))


def idf(documents: int, holding: int) -> float:
    """FTS5's idf: never zero or below, so a term in most documents still counts a little."""
    value = math.log((documents - holding + 0.5) / (holding + 0.5))
    return value if value > 0 else 1e-6


class Ranking:
    """Postings of one index connection; every write runs inside the caller's transaction."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self._scratch = False
        self._scratch_lock = threading.Lock()  # one tokenization at a time in the scratch table
        self._stems: dict[str, str | None] = {}  # the tokenizer is a pure function: its answers are kept

    # ------------------------------------------------------------------ tokens

    def _tokens(self, rows: Iterable[tuple[int, Sequence[str]]]) -> dict[int, list[tuple[str, str]]]:
        """(term, column) of every token of each row, tokenized by FTS5 in a scratch table."""
        with self._scratch_lock:
            return self._tokenize(list(rows))

    def _tokenize(self, rows: list[tuple[int, Sequence[str]]]) -> dict[int, list[tuple[str, str]]]:
        conn = self.conn
        if not self._scratch:
            cols = ", ".join(COLUMNS)
            conn.execute(
                f"CREATE VIRTUAL TABLE IF NOT EXISTS temp.scratch USING fts5({cols}, content='', tokenize = '{TOKENIZE}')"
            )
            conn.execute(
                "CREATE VIRTUAL TABLE IF NOT EXISTS temp.scratch_tokens USING fts5vocab(temp, scratch, instance)"
            )
            self._scratch = True
        out: dict[int, list[tuple[str, str]]] = defaultdict(list)
        marks = ",".join("?" * len(COLUMNS))
        for start in range(0, len(rows), _TOKENS_PER_BATCH):
            batch = rows[start : start + _TOKENS_PER_BATCH]
            conn.executemany(
                f"INSERT INTO temp.scratch(rowid, {', '.join(COLUMNS)}) VALUES (?,{marks})",
                [(rowid, *texts) for rowid, texts in batch],
            )
            for doc, term, col in conn.execute("SELECT doc, term, col FROM temp.scratch_tokens"):
                out[doc].append((term, col))
            conn.execute("INSERT INTO temp.scratch(scratch) VALUES ('delete-all')")
        return out

    def stems(self, words: Sequence[str]) -> list[str | None]:
        """Each word as FTS5 would look it up (None for a word that yields no token)."""
        known = self._stems  # replaced, never cleared: a search in another thread keeps its own view
        found: dict[str, str | None] = {}
        new = [word for word in dict.fromkeys(words) if word not in known]
        if new:
            tokens = self._tokens((i, (word, "", "", "", "")) for i, word in enumerate(new))
            found = {word: tokens[i][0][0] if tokens.get(i) else None for i, word in enumerate(new)}
            if len(known) > 10_000:
                self._stems = dict(found)
            else:
                known.update(found)
        return [found[word] if word in found else known[word] for word in words]

    # ------------------------------------------------------------------ statistics

    def _stat(self, key: str) -> float | None:
        row = self.conn.execute("SELECT value FROM meta WHERE key=?", (f"rank_{key}",)).fetchone()
        return float(row[0]) if row else None

    def _set_stat(self, key: str, value: float) -> None:
        self.conn.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (f"rank_{key}", repr(value)))

    def _count(self, documents: int, tokens: int) -> float | None:
        """Add to the totals; the recorded average to weigh with, or None when it has drifted."""
        documents += int(self._stat("documents") or 0)
        tokens += int(self._stat("tokens") or 0)
        self._set_stat("documents", documents)
        self._set_stat("tokens", tokens)
        recorded = self._stat("average")
        current = tokens / documents if documents else 1.0
        if recorded and abs(current / recorded - 1) <= DRIFT:
            return recorded
        return None

    # ------------------------------------------------------------------ writes

    def clear(self) -> None:
        for table in ("postings", "ranked"):
            self.conn.execute(f"DELETE FROM {table}")
        self.conn.execute("DELETE FROM meta WHERE key LIKE 'rank\\_%' ESCAPE '\\'")

    def add(self, docs: Sequence[Doc]) -> None:
        if not docs:
            return
        freqs: dict[int, dict[str, float]] = {}
        lengths: dict[int, int] = {}
        for doc, tokens in self._tokens(docs).items():
            weighted: dict[str, float] = defaultdict(float)
            for term, col in tokens:
                weighted[term] += _WEIGHT_OF[col]
            freqs[doc], lengths[doc] = weighted, len(tokens)
        self.conn.executemany(
            "INSERT INTO ranked(id, length, terms) VALUES (?,?,?)",
            [(doc, lengths[doc], json.dumps(freqs[doc])) for doc in freqs],
        )
        average = self._count(len(freqs), sum(lengths.values()))
        if average is None:
            self.reweigh()
            return
        grouped = _impacts(((doc, lengths[doc], weighted) for doc, weighted in freqs.items()), average)
        for (term, block), new in grouped.items():
            docs, impacts = self._block(term, block)
            if docs and docs[-1] >= min(new):  # not a plain append (a new id is the largest but once)
                new = {**dict(zip(docs, impacts, strict=True)), **new}
                docs, impacts = array("q"), array("f")
            order = sorted(new)
            docs.extend(order)
            impacts.extend(map(new.__getitem__, order))
            self._write(term, block, docs, impacts)

    def remove(self, ids: Sequence[int]) -> None:
        if not ids:
            return
        marks = ",".join("?" * len(ids))
        rows = self.conn.execute(
            f"SELECT id, length, terms FROM ranked WHERE id IN ({marks})", ids
        ).fetchall()
        if not rows:
            return
        grouped: dict[tuple[str, int], set[int]] = defaultdict(set)
        for doc, _length, terms in rows:
            for term in json.loads(terms):
                grouped[term, doc // BLOCK].add(doc)
        for (term, block), gone in grouped.items():
            docs, impacts = self._block(term, block)
            for doc in gone:
                at = bisect_left(docs, doc)
                if at < len(docs) and docs[at] == doc:
                    del docs[at], impacts[at]
            self._write(term, block, docs, impacts)
        self.conn.execute(f"DELETE FROM ranked WHERE id IN ({marks})", ids)
        if self._count(-len(rows), -sum(length for _doc, length, _terms in rows)) is None:
            self.reweigh()

    def reweigh(self) -> None:
        """Every impact again, against the library's current average document length."""
        documents = int(self._stat("documents") or 0)
        average = (self._stat("tokens") or 0) / documents if documents else 1.0
        self.conn.execute("DELETE FROM postings")
        rows = self.conn.execute("SELECT id, length, terms FROM ranked ORDER BY id")
        grouped = _impacts(((doc, length, json.loads(terms)) for doc, length, terms in rows), average)
        for (term, block), entries in grouped.items():
            order = sorted(entries)
            self._write(term, block, array("q", order), array("f", map(entries.__getitem__, order)))
        self._set_stat("average", average or 1.0)

    def _block(self, term: str, block: int) -> tuple[array, array]:
        """One block's document ids (ascending) and impacts."""
        row = self.conn.execute(
            "SELECT docs, impacts FROM postings WHERE term=? AND block=?", (term, block)
        ).fetchone()
        return (_array("q", row[0]), _array("f", row[1])) if row else (array("q"), array("f"))

    def _write(self, term: str, block: int, docs: array, impacts: array) -> None:
        if not docs:
            self.conn.execute("DELETE FROM postings WHERE term=? AND block=?", (term, block))
            return
        self.conn.execute(
            "INSERT OR REPLACE INTO postings VALUES (?,?,?,?)",
            (term, block, docs.tobytes(), impacts.tobytes()),
        )

    # ------------------------------------------------------------------ queries

    def _terms(self, term: str, prefix: bool) -> tuple[str, ...]:
        """The indexed terms a phrase matches: itself, or every term it begins."""
        if not prefix:
            found = self.conn.execute("SELECT 1 FROM postings WHERE term=? LIMIT 1", (term,)).fetchone()
            return (term,) if found else ()
        end = term[:-1] + chr(ord(term[-1]) + 1)
        rows = self.conn.execute("SELECT DISTINCT term FROM postings WHERE term>=? AND term<?", (term, end))
        return tuple(row[0] for row in rows)

    def _postings(self, terms: tuple[str, ...], documents: int, phrases: int) -> dict[int, float]:
        """Document -> weight x impact for `phrases` phrases that match exactly these terms (a document
        matching several terms keeps its largest impact); weight is the phrases' summed idf."""
        merged: dict[int, float] = {}
        for term in terms:
            docs, impacts = array("q"), array("f")
            for doc_blob, impact_blob in self.conn.execute(
                "SELECT docs, impacts FROM postings WHERE term=? ORDER BY block", (term,)
            ):
                docs.frombytes(doc_blob)
                impacts.frombytes(impact_blob)
            if len(terms) == 1:
                weight = phrases * idf(documents, len(docs))
                return dict(zip(docs, map(mul, impacts, repeat(weight)), strict=True))
            _merge(merged, dict(zip(docs, impacts, strict=True)), max)
        weight = phrases * idf(documents, len(merged))
        return dict(zip(merged, map(mul, merged.values(), repeat(weight)), strict=True))

    def top(self, phrases: Sequence[tuple[str, bool]], count: int) -> list[tuple[int, float]]:
        """The `count` best documents for an OR of phrases (term, is_prefix), best first, ties by id.

        Phrases that match the same terms ("words" and "word", or "series" and "seri"*) score alike:
        their postings are read once, weighted by the sum of their idfs."""
        documents = int(self._stat("documents") or 0)
        if count <= 0 or not documents:
            return []
        alike = Counter(self._terms(term, prefix) for term, prefix in phrases)
        found = sorted((self._postings(terms, documents, n) for terms, n in alike.items() if terms), key=len)
        scores: dict[int, float] = found.pop() if found else {}
        for more in found:
            _merge(scores, more, float.__add__)
        if len(scores) <= count:
            best = list(scores)
        else:  # the cut, then the documents above it and the lowest ids at it, in C-level passes
            cut = heapq.nlargest(count, scores.values())[-1]
            best = list(compress(scores, map(cut.__lt__, scores.values())))
            best += sorted(compress(scores, map(cut.__eq__, scores.values())))[: count - len(best)]
        return sorted(((doc, scores[doc]) for doc in best), key=lambda hit: (-hit[1], hit[0]))


def _impacts(
    docs: Iterable[tuple[int, int, dict[str, float]]], average: float
) -> dict[tuple[str, int], dict[int, float]]:
    """(term, block) -> document -> impact, for documents given as (id, length, term -> weighted count)."""
    grouped: dict[tuple[str, int], dict[int, float]] = defaultdict(dict)
    for doc, length, weighted in docs:
        for term, w in weighted.items():
            grouped[term, doc // BLOCK][doc] = impact(w, length, average)
    return grouped


def _merge(into: dict[int, float], new: dict[int, float], combine) -> None:
    """Fold `new` into `into` (C-level for the documents only one holds; `combine` for the shared ones)."""
    if not into:
        into.update(new)
        return
    for doc in into.keys() & new.keys():
        new[doc] = combine(into[doc], new[doc])
    into.update(new)


def _array(code: str, blob: bytes) -> array:
    out = array(code)
    out.frombytes(blob)
    return out
