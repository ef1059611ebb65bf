"""Search index and manifest cache of the library: SQLite, BM25 postings (ranking.py), derived from git.

The index lives in `.git/agentfactory/index.sqlite`, outside the work tree, and records the HEAD commit
it was built from. Any reader that finds it missing, corrupt or built from another commit brings it up
to date first: incrementally (only the subagents that changed since the recorded commit) when it can,
by a full rebuild from the HEAD tree otherwise. Nothing here imports subagent code: folders are parsed
with `parse_subagent` (ast and safe YAML only).
"""

from __future__ import annotations

import dataclasses
import json
import re
import sqlite3
from collections import defaultdict
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from agentfactory.errors import AgentFactoryError
from agentfactory.jsontext import _UNSAFE, _escape_unsafe
from agentfactory.library._git import ZERO, Git, read_head
from agentfactory.library.format import SCHEMA_FILE, SKILL_FILE, parse_subagent, split_skill_md
from agentfactory.library.model import SearchHit, Subagent, SubagentInfo, VersionInfo
from agentfactory.library.ranking import SCHEMA as RANKING_SCHEMA
from agentfactory.library.ranking import Ranking
from agentfactory.stopwords import STOPWORDS

FORMAT = "5"
_SCHEMA = (
    """
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS subagents(
  id INTEGER PRIMARY KEY, name TEXT UNIQUE NOT NULL, version INTEGER NOT NULL, description TEXT NOT NULL,
  signature TEXT NOT NULL, tools TEXT NOT NULL, tags TEXT NOT NULL, entry TEXT NOT NULL, listing TEXT);
CREATE TABLE IF NOT EXISTS versions(
  seq INTEGER PRIMARY KEY, name TEXT NOT NULL, version INTEGER NOT NULL, commit_sha TEXT NOT NULL,
  date TEXT NOT NULL, message TEXT NOT NULL, run_id TEXT, task TEXT, removed INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS versions_by_name ON versions(name, seq);
"""
    + RANKING_SCHEMA
)
# A row of `library list --json` (the SubagentInfo fields), as SQLite builds it: from a row's columns, or
# from the parameters of the INSERT writing the row (?1 name ... ?6 tags, in the SubagentInfo order).
_LISTING_FIELDS = [f.name for f in dataclasses.fields(SubagentInfo)]
assert _LISTING_FIELDS == ["name", "version", "description", "signature", "tools", "tags"]
_LISTING = "json_object({})".format(
    ", ".join(f"'{f}', json({f})" if f in ("tools", "tags") else f"'{f}', {f}" for f in _LISTING_FIELDS)
)
_LISTING_OF_PARAMS = "json_object({})".format(
    ", ".join(
        f"'{f}', json(?{i})" if f in ("tools", "tags") else f"'{f}', ?{i}"
        for i, f in enumerate(_LISTING_FIELDS, 1)
    )
)
MAX_QUERY_TERMS = 256
# A few everyday paraphrases; porter stemming and prefixes catch the rest.
_SYNONYMS = {
    "statistics": ["stats", "summary", "mean"],
    "stats": ["statistics", "summary"],
    "summarize": ["summary", "stats"],
    "summary": ["stats", "summarize"],
    "average": ["mean"],
    "mean": ["average"],
    "count": ["frequency", "tally"],
    "frequency": ["count", "frequent"],
    "frequent": ["count", "frequency"],
    "download": ["fetch", "http"],
    "fetch": ["download", "http"],
    "webpage": ["html", "page", "web"],
    "website": ["html", "page", "web", "url"],
    "spreadsheet": ["csv", "table"],
    "table": ["csv"],
    "chart": ["plot", "graph"],
    "graph": ["plot", "chart"],
    "plot": ["chart", "graph"],
    "delete": ["remove"],
    "drop": ["remove", "delete"],
    "repeated": ["duplicate"],
    "lines": ["rows"],
    "rows": ["lines", "records"],
    "remove": ["delete", "strip"],
    "duplicate": ["dedupe", "unique"],
    "dedupe": ["duplicate", "unique"],
    "convert": ["transform", "parse"],
    "extract": ["parse", "scrape"],
    "scrape": ["extract", "html"],
    "words": ["word", "text"],
    "sentiment": ["polarity", "emotion"],
    "translate": ["translation", "language"],
    "date": ["time", "datetime"],
    "email": ["mail", "address"],
}


def search_columns(sub: Subagent) -> tuple[str, ...]:
    """What search reads of a subagent, one text per column of ranking.COLUMNS."""
    props = list((sub.inputs_schema.get("properties") or {}).keys())
    return (
        f"{sub.name} {split_words(sub.name)}",
        split_words(sub.description),
        split_words(sub.docstring),
        split_words(" ".join(sub.tags)),
        split_words(" ".join(props)),
    )


def split_words(text: str) -> str:
    """Pre-split identifiers so FTS sees their parts: csv_stats, csv-stats, csvStats -> csv stats."""
    text = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", text)
    return re.sub(r"[_\-./]+", " ", text)


def query_terms(query: str) -> list[str]:
    """The query's words that say something, each followed by its synonyms: at most MAX_QUERY_TERMS
    distinct terms, in order (a query can be a whole task, or anything a model sends)."""
    terms: dict[str, None] = {}
    for word in re.findall(r"[a-z0-9]+", split_words(query).lower()):
        if word not in STOPWORDS:
            terms.update(dict.fromkeys((word, *_SYNONYMS.get(word, ()))))
            if len(terms) >= MAX_QUERY_TERMS:
                return list(terms)[:MAX_QUERY_TERMS]
    return list(terms)


def query_phrases(terms: list[str]) -> list[tuple[str, bool]]:
    """The OR-ed phrases of a query, (word, is_prefix): longer terms also match by a prefix so that
    'statistics' meets 'stats'."""
    phrases: list[tuple[str, bool]] = []
    for term in terms:
        phrases.append((term, False))
        if len(term) >= 6:
            phrases.append((term[:4], True))
    return list(dict.fromkeys(phrases))


def success_factor(runs: int, successes: int) -> float:
    """Multiplier from the experience store: a Beta(3, 1) prior, so new subagents start near 1.0 and only
    a record of repeated failures pulls one down (0 of 10 -> 0.29, 1 failure -> 0.8, 10 of 10 -> 1.24)."""
    prior_ok, prior_n = 3.0, 4.0
    runs, successes = max(0, runs), max(0, min(successes, runs))
    return ((successes + prior_ok) / (runs + prior_n)) / (prior_ok / prior_n)


class Index:
    def __init__(self, path: Path, git: Git) -> None:
        self.path = path
        self.git = git
        self._conn: sqlite3.Connection | None = None
        self._ranking: Ranking | None = None

    # ------------------------------------------------------------------ connection

    def connect(self) -> sqlite3.Connection:
        if self._conn is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            try:
                self._conn = self._open()
            except sqlite3.DatabaseError:
                # Derived data: a corrupt file is thrown away and rebuilt, never repaired.
                self.drop_files()
                self._conn = self._open()
            self._ranking = Ranking(self._conn)
        return self._conn

    @property
    def ranking(self) -> Ranking:
        self.connect()
        assert self._ranking is not None
        return self._ranking

    def _open(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=60, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.executescript(_SCHEMA)
        if "listing" not in {r[1] for r in conn.execute("PRAGMA table_info(subagents)")}:
            self._add_listing(conn)
        row = conn.execute("SELECT value FROM meta WHERE key='format'").fetchone()
        if row is None or row[0] != FORMAT:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("DROP TABLE IF EXISTS fts")  # formats before 5 ranked with an FTS5 table
            for table in ("subagents", "versions", "meta", "postings", "ranked"):
                conn.execute(f"DELETE FROM {table}")
            conn.execute("INSERT INTO meta VALUES ('format', ?)", (FORMAT,))
            conn.execute("COMMIT")
        return conn

    @staticmethod
    def _add_listing(conn: sqlite3.Connection) -> None:
        """An index made before rows carried their listing JSON gains the column, filled by SQLite."""
        conn.execute("BEGIN IMMEDIATE")
        try:
            if "listing" not in {r[1] for r in conn.execute("PRAGMA table_info(subagents)")}:
                conn.execute("ALTER TABLE subagents ADD COLUMN listing TEXT")
                conn.execute(f"UPDATE subagents SET listing = {_LISTING}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = self._ranking = None

    def drop_files(self) -> None:
        self.close()
        for suffix in ("", "-wal", "-shm"):
            Path(str(self.path) + suffix).unlink(missing_ok=True)

    def built_from(self) -> str | None:
        row = self.connect().execute("SELECT value FROM meta WHERE key='head'").fetchone()
        return row[0] if row else None

    # ------------------------------------------------------------------ freshness

    def refresh(self, head: str | None, *, full: bool = False) -> None:
        """Bring the index to `head`: nothing if already there, else incremental or full."""
        conn = self.connect()
        if not full and self.built_from() == (head or ZERO):
            return
        conn.execute("BEGIN IMMEDIATE")
        try:
            if not full:
                # HEAD may have moved while we waited for the write lock: index the newest, never go back.
                head = read_head(self.git.root / ".git") or head
            stored = None if full else self.built_from()
            if stored == (head or ZERO):
                conn.execute("COMMIT")
                return
            if head is None:
                self._clear(conn)
            elif (
                stored
                and stored != ZERO
                and self.git.object_exists(stored)
                and self.git.is_ancestor(stored, head)
            ):
                self._incremental(conn, stored, head)
            else:
                self._clear(conn)
                self._rebuild_subagents(conn, head)
                self._add_versions(conn, None, head)
            conn.execute("INSERT OR REPLACE INTO meta VALUES ('head', ?)", (head or ZERO,))
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    def note_commit(
        self, parent: str, head: str, subagent: Subagent | None, name: str, version: VersionInfo
    ) -> None:
        """After our own commit on top of `parent`: update the one subagent without re-reading git."""
        conn = self.connect()
        conn.execute("BEGIN IMMEDIATE")
        try:
            if self.built_from() != parent:
                conn.execute("ROLLBACK")
                self.refresh(head)
                return
            self._delete(conn, [name])
            if subagent is not None:
                self._insert(conn, [subagent])
            conn.execute(
                "INSERT INTO versions(name, version, commit_sha, date, message, run_id, task, removed)"
                " VALUES (?,?,?,?,?,?,?,?)",
                (
                    name,
                    version.version,
                    head,
                    version.date,
                    version.message,
                    version.run_id,
                    version.task,
                    int(version.removed),
                ),
            )
            conn.execute("INSERT OR REPLACE INTO meta VALUES ('head', ?)", (head,))
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    def _clear(self, conn: sqlite3.Connection) -> None:
        for table in ("subagents", "versions"):
            conn.execute(f"DELETE FROM {table}")
        self.ranking.clear()

    def _delete(self, conn: sqlite3.Connection, names: Iterable[str]) -> None:
        ids = []
        for name in names:
            row = conn.execute("SELECT id FROM subagents WHERE name=?", (name,)).fetchone()
            if row:
                conn.execute("DELETE FROM subagents WHERE id=?", (row[0],))
                ids.append(row[0])
        self.ranking.remove(ids)

    def _insert(self, conn: sqlite3.Connection, subs: Iterable[Subagent]) -> None:
        self.ranking.add([self._insert_one(conn, sub) for sub in subs])

    def _insert_one(self, conn: sqlite3.Connection, sub: Subagent) -> tuple[int, tuple[str, ...]]:
        cur = conn.execute(
            "INSERT INTO subagents(name, version, description, signature, tools, tags, entry, listing)"
            f" VALUES (?,?,?,?,?,?,?, {_LISTING_OF_PARAMS})",
            (
                sub.name,
                sub.version,
                sub.description,
                sub.signature,
                json.dumps(sub.tools),
                json.dumps(sub.tags),
                sub.entry,
            ),
        )
        assert cur.lastrowid is not None
        return cur.lastrowid, search_columns(sub)

    def _parse_many(self, head: str, names: set[str] | None) -> list[Subagent]:
        """Parse the HEAD version of the given subagents (all when None) with one batch read of blobs."""
        if names is not None and not names:
            return []
        if names is not None and len(names) <= 256:
            # Only the named folders: git matches them in the root tree, nothing else is listed.
            tree = self.git.ls_tree(head, sorted(names), recursive=True)
        else:
            tree = self.git.ls_tree(head, recursive=True)
        wanted: dict[str, dict[str, str]] = defaultdict(dict)
        for path, entry in tree.items():
            top, sep, rest = path.partition("/")
            if not sep or (names is not None and top not in names) or entry.kind != "blob":
                continue
            if rest in (SKILL_FILE, SCHEMA_FILE) or ("/" not in rest and rest.endswith(".py")):
                wanted[top][rest] = entry.sha
        blobs = self.git.blobs([sha for files in wanted.values() for sha in files.values()])
        out: list[Subagent] = []
        for name, files in sorted(wanted.items()):
            if SKILL_FILE not in files:
                continue
            try:
                out.append(parse_subagent(name, {rel: blobs[sha] for rel, sha in files.items()}, commit=head))
            except AgentFactoryError:
                continue  # an invalid folder committed by hand is not served; `library show` explains why
        return out

    def _rebuild_subagents(self, conn: sqlite3.Connection, head: str) -> None:
        self._insert(conn, self._parse_many(head, None))

    def _incremental(self, conn: sqlite3.Connection, old: str, head: str) -> None:
        changed = {
            p.split("/", 1)[0]
            for p in self.git.text("diff", "--name-only", "--no-renames", old, head).splitlines()
            if "/" in p
        }
        self._delete(conn, changed)
        self._insert(conn, self._parse_many(head, changed))
        self._add_versions(conn, old, head)

    # ------------------------------------------------------------------ versions from history

    def _add_versions(self, conn: sqlite3.Connection, old: str | None, head: str) -> None:
        """Versions per subagent along the first-parent history (merges diffed against ours)."""
        revs = f"{old}..{head}" if old else head
        out = self.git.run(
            "log",
            "--first-parent",
            "--reverse",
            "--no-renames",
            "--raw",
            "--no-abbrev",
            "--format=%x1e%H%x1f%cI%x1f%B%x1f",
            revs,
            strip=False,
        ).decode("utf-8", "replace")
        commits = []
        need: set[str] = set()
        for chunk in out.split("\x1e")[1:]:
            parts = chunk.split("\x1f")
            if len(parts) < 4:
                continue
            sha, date, body, raw = parts[0], parts[1], parts[2], parts[3]
            skill: dict[str, str] = {}
            touched: set[str] = set()
            for line in raw.splitlines():
                if not line.startswith(":") or "\t" not in line:
                    continue
                meta, path = line.split("\t", 1)
                top, sep, rest = path.partition("/")
                if not sep:
                    continue
                touched.add(top)
                if rest == SKILL_FILE:
                    skill[top] = meta.split()[3]
            trailers = parse_trailers(body)
            for name in skill.values():
                if name != ZERO:
                    need.add(name)
            commits.append((sha, date, body, trailers, touched, skill))
        texts = self.git.blobs(sorted(need))
        last: dict[str, int] = {}
        for name, version in conn.execute("SELECT name, version FROM versions ORDER BY seq"):
            last[name] = version
        for sha, date, body, trailers, touched, skill in commits:
            subject = body.strip().splitlines()[0] if body.strip() else ""
            for name in sorted(touched):
                blob = skill.get(name)
                removed = blob == ZERO
                version = last.get(name, 0)
                if blob and not removed:
                    version = _version_of(texts.get(blob, b"")) or version
                if trailers.get("subagent") == name and trailers.get("version", "").isdigit():
                    version = int(trailers["version"])
                last[name] = version
                conn.execute(
                    "INSERT INTO versions(name, version, commit_sha, date, message, run_id, task, removed)"
                    " VALUES (?,?,?,?,?,?,?,?)",
                    (
                        name,
                        version,
                        sha,
                        date,
                        subject,
                        trailers.get("run-id"),
                        trailers.get("task"),
                        int(removed),
                    ),
                )

    # ------------------------------------------------------------------ queries

    def list(self) -> list[SubagentInfo]:
        rows = self.connect().execute(
            "SELECT name, version, description, signature, tools, tags FROM subagents ORDER BY name"
        )
        return [SubagentInfo(n, v, d, s, json.loads(t), json.loads(g)) for n, v, d, s, t, g in rows]

    def list_json(self) -> Iterator[str]:
        """Each row of `list()` as a JSON object (the SubagentInfo fields), built by SQLite and yielded
        one at a time: a listing of any size is streamed, never held. Strict JSON; the characters
        `events.to_json` escapes are escaped here too, so the text is safe to print."""
        for chunk in self._json_rows(500):
            yield from (_escape_unsafe(row) for row in chunk)

    def list_json_chunks(self, size: int = 2000) -> Iterator[str]:
        """The rows of `list_json` joined by ",\n  ", up to `size` rows a chunk: what a JSON array
        printed one object per line is made of, written in a few large writes instead of one per row."""
        for chunk in self._json_rows(size):
            text = ",\n  ".join(chunk)
            plain = text.isascii() and "\x7f" not in text  # the common case, checked at C speed
            yield text if plain or not _UNSAFE.search(text) else _escape_unsafe(text)

    def _json_rows(self, size: int) -> Iterator[list[str]]:
        # Each row's JSON was built by SQLite when the row was written (NULL from a writer that predates
        # the column: built now).
        cursor = self.connect().execute(f"SELECT coalesce(listing, {_LISTING}) FROM subagents ORDER BY name")
        while rows := cursor.fetchmany(size):
            yield [row for (row,) in rows]

    def versions(self, name: str) -> list[VersionInfo]:
        rows = self.connect().execute(
            "SELECT version, commit_sha, date, message, run_id, task, removed FROM versions"
            " WHERE name=? ORDER BY seq",
            (name,),
        )
        return [VersionInfo(v, c, d, m, r, t, bool(x)) for v, c, d, m, r, t, x in rows]

    def max_version(self, name: str) -> int:
        row = self.connect().execute("SELECT max(version) FROM versions WHERE name=?", (name,)).fetchone()
        return int(row[0] or 0)

    def search(
        self, query: str, k: int, success_rates: dict[str, tuple[int, int]] | None = None
    ) -> list[SearchHit]:
        terms = query_terms(query)
        if not terms or k <= 0:
            return []
        pool = k if not success_rates else max(4 * k, k + 20)
        # Ranked by the postings (ranking.py); only the best `pool` rows are joined.
        phrases = query_phrases(terms)
        stems = self.ranking.stems([word for word, _prefix in phrases])
        top = self.ranking.top(
            [(stem, prefix) for stem, (_w, prefix) in zip(stems, phrases, strict=True) if stem], pool
        )
        if not top:
            return []
        scores = dict(top)
        marks = ",".join("?" * len(scores))
        rows = [
            (name, version, desc, sig, -scores[id_])
            for id_, name, version, desc, sig in self.connect().execute(
                f"SELECT id, name, version, description, signature FROM subagents WHERE id IN ({marks})",
                list(scores),
            )
        ]
        hits = []
        for name, version, desc, sig, rank in rows:
            score = -rank
            if success_rates and name in success_rates:
                score *= success_factor(*success_rates[name])
            hits.append(SearchHit(name, version, desc, sig, score))
        hits.sort(key=lambda h: (-h.score, h.name))
        return hits[:k]


def parse_trailers(body: str) -> dict[str, str]:
    """`Key: value` lines of a commit message's last paragraph, keys lower-cased."""
    paragraphs = [p for p in body.strip().split("\n\n") if p.strip()]
    if not paragraphs:
        return {}
    out: dict[str, str] = {}
    for line in paragraphs[-1].splitlines():
        key, sep, value = line.partition(": ")
        if sep and re.fullmatch(r"[A-Za-z][A-Za-z0-9-]*", key):
            out[key.lower()] = value.strip()
    return out


def _version_of(skill_md: bytes) -> int | None:
    try:
        front, _ = split_skill_md(skill_md.decode("utf-8"))
    except (AgentFactoryError, UnicodeDecodeError):
        return None
    meta: Any = front.get("metadata") or {}
    value = str(meta.get("version", "")) if isinstance(meta, dict) else ""
    return int(value) if value.isdigit() else None
