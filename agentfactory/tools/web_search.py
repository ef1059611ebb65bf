"""The `web_search` tool skill with pluggable backends.

- `brave` (BRAVE_API_KEY) and `tavily` (TAVILY_API_KEY): real search APIs, called from the host.
- `local`: a folder of documents (`.md`, `.txt`, `.html`) ranked with SQLite FTS5 bm25, for offline use,
  tests and the benchmark. A document may start with YAML frontmatter giving `title` and `url`; an HTML
  document's `<title>` is used otherwise; without a `url` the result's url is `local:<relative path>`.
`auto` picks the first API whose key is set, else `local` when a folder is configured.
"""

from __future__ import annotations

import re
import sqlite3
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from agentfactory.config import ToolSettings
from agentfactory.errors import ConfigError

_FRONTMATTER = re.compile(r"\A---\s*\n(.*?)\n---\s*\n", re.S)
_WORD = re.compile(r"[A-Za-z0-9]+")
MAX_DOC_BYTES = 1_000_000


class LocalSearch:
    """bm25 search over a folder of documents, indexed in memory and re-indexed when files change."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None
        self._stamp: tuple | None = None

    def _files(self) -> list[Path]:
        return sorted(
            p
            for p in self.folder.rglob("*")
            if p.suffix.lower() in (".md", ".txt", ".html", ".htm") and p.is_file()
        )

    def _load(self, path: Path) -> tuple[str, str, str]:
        text = path.read_bytes()[:MAX_DOC_BYTES].decode("utf-8", errors="replace")
        rel = path.relative_to(self.folder).as_posix()
        title, url = "", f"local:{rel}"
        match = _FRONTMATTER.match(text)
        if match:
            import yaml  # only the local backend reads frontmatter

            try:
                front = yaml.safe_load(match.group(1)) or {}
            except yaml.YAMLError as exc:
                mark = getattr(exc, "problem_mark", None)
                where = f" (line {mark.line + 1})" if mark is not None else ""
                import logging  # only for this warning: logging is not imported for every run

                logging.getLogger(__name__).warning(
                    "%s: front matter is not valid YAML%s; its title and url are ignored", rel, where
                )
                front = {}
            if isinstance(front, dict):
                title = str(front.get("title", "") or "")
                url = str(front.get("url", "") or url)
            text = text[match.end() :]
        if path.suffix.lower() in (".html", ".htm"):
            from agentfactory.tools.html_text import html_to_text

            html_title, text, _ = html_to_text(text)
            title = title or html_title
        if not title:
            first = next((line.lstrip("# ").strip() for line in text.splitlines() if line.strip()), "")
            title = first[:120] or path.stem
        return title, url, text

    def _index(self) -> sqlite3.Connection:
        files = self._files()
        stamp = tuple((str(p), p.stat().st_mtime_ns, p.stat().st_size) for p in files)
        if self._db is not None and stamp == self._stamp:
            return self._db
        db = sqlite3.connect(":memory:", check_same_thread=False)
        db.execute("CREATE VIRTUAL TABLE docs USING fts5(title, url UNINDEXED, body, tokenize='porter')")
        db.executemany("INSERT INTO docs VALUES (?, ?, ?)", [self._load(p) for p in files])
        self._db, self._stamp = db, stamp
        return db

    def search(self, query: str, k: int) -> list[dict[str, str]]:
        terms = _WORD.findall(query.lower())
        if not terms:
            return []
        match = " OR ".join(f'"{t}"' for t in terms)
        with self._lock:
            rows = (
                self._index()
                .execute(
                    "SELECT title, url, snippet(docs, 2, '', '', ' … ', 24) FROM docs WHERE docs MATCH ? "
                    "ORDER BY bm25(docs, 5.0, 0.0, 1.0) LIMIT ?",
                    (match, k),
                )
                .fetchall()
            )
        return [{"title": t, "url": u, "snippet": " ".join(s.split())} for t, u, s in rows]


class WebSearchTool:
    def __init__(self, backend: str, folder: Path | None = None, timeout_s: float = 20.0, api_key: str = ""):
        self.backend = backend
        self.api_key = api_key  # of the brave or tavily backend
        self.timeout_s = timeout_s
        self.local = LocalSearch(folder) if folder is not None else None

    @classmethod
    def from_settings(cls, tools: ToolSettings, credentials: Mapping[str, str]) -> WebSearchTool:
        backend = tools.web_search_backend
        keys = {"brave": credentials.get("BRAVE_API_KEY", ""),
                "tavily": credentials.get("TAVILY_API_KEY", "")}  # fmt: skip
        if backend == "auto":
            backend = next((name for name, key in keys.items() if key), "local")
        if backend not in ("local", "brave", "tavily"):
            raise ConfigError(f"Unknown web_search_backend '{backend}': use auto, local, brave or tavily.")
        return cls(backend, tools.web_search_dir, api_key=keys.get(backend, ""))

    def __call__(self, args: dict[str, Any]) -> dict[str, Any]:
        query = str(args.get("query", "")).strip()
        if not query:
            raise ValueError("web_search needs a non-empty query")
        k = max(1, min(int(args.get("k", 5) or 5), 20))
        if self.backend == "local":
            if self.local is None or not self.local.folder.is_dir():
                raise ValueError(
                    "no search backend: set BRAVE_API_KEY or TAVILY_API_KEY, or web_search_dir "
                    "for the local backend"
                )
            return {"results": self.local.search(query, k), "backend": "local"}
        if self.backend == "brave":
            return {"results": self._brave(query, k), "backend": "brave"}
        return {"results": self._tavily(query, k), "backend": "tavily"}

    def _brave(self, query: str, k: int) -> list[dict[str, str]]:
        import httpx  # imported at the first search, not by every run that allows one

        response = httpx.get(
            "https://api.search.brave.com/res/v1/web/search",
            params={"q": query, "count": k},
            headers={
                "X-Subscription-Token": self.api_key,
                "Accept": "application/json",
            },
            timeout=self.timeout_s,
        )
        response.raise_for_status()
        items = response.json().get("web", {}).get("results", [])
        return [
            {"title": i.get("title", ""), "url": i.get("url", ""), "snippet": i.get("description", "")}
            for i in items[:k]
        ]

    def _tavily(self, query: str, k: int) -> list[dict[str, str]]:
        import httpx

        response = httpx.post(
            "https://api.tavily.com/search",
            json={"query": query, "max_results": k},
            headers={"Authorization": f"Bearer {self.api_key}"},
            timeout=self.timeout_s,
        )
        response.raise_for_status()
        items = response.json().get("results", [])
        return [
            {"title": i.get("title", ""), "url": i.get("url", ""), "snippet": i.get("content", "")}
            for i in items[:k]
        ]
