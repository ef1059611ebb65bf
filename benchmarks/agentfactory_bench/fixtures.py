"""Fixtures of a suite at run time: the local page server and the per-task inputs and search documents.

`FixtureServer` serves exactly the pages a suite declares, on 127.0.0.1 only, from a background
thread; text pages have `{base_url}` replaced by the server's own address so fixtures can hold
absolute links. It never serves a file that was not declared, whatever the request path.
"""

from __future__ import annotations

import mimetypes
import shutil
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

from agentfactory_bench.suite import BASE_URL, Suite, Task

_TEXT_TYPES = ("text/", "application/json", "application/xml", "application/javascript")


class FixtureServer:
    """`with FixtureServer(suite.pages()) as server: server.base_url` -> "http://127.0.0.1:PORT"."""

    def __init__(self, pages: dict[str, Path]):
        self.pages = {k.strip("/"): Path(v) for k, v in pages.items()}
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.requests: list[str] = []

    @classmethod
    def for_suite(cls, suite: Suite) -> FixtureServer:
        return cls(suite.pages())

    @property
    def base_url(self) -> str:
        if self._httpd is None:
            raise RuntimeError("the fixture server is not started")
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> FixtureServer:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
                server._serve(self)

            def log_message(self, *args: object) -> None:  # keep benchmark output clean
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True, name="fixtures")
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> FixtureServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _resolve(self, raw_path: str) -> Path | None:
        path = unquote(urlsplit(raw_path).path).strip("/")
        if path in self.pages:
            return self.pages[path]
        for index in ("index.html", "index.json"):
            candidate = f"{path}/{index}".strip("/")
            if candidate in self.pages:
                return self.pages[candidate]
        return None

    def _serve(self, handler: BaseHTTPRequestHandler) -> None:
        self.requests.append(handler.path)
        file = self._resolve(handler.path)
        if file is None or not file.is_file():
            body, ctype, status = b"not found\n", "text/plain; charset=utf-8", 404
        else:
            ctype = mimetypes.guess_type(file.name)[0] or "application/octet-stream"
            body = file.read_bytes()
            if ctype.startswith(_TEXT_TYPES):
                body = body.replace(BASE_URL.encode(), self.base_url.encode())
                ctype += "; charset=utf-8"
            status = 200
        handler.send_response(status)
        handler.send_header("Content-Type", ctype)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)


@dataclass(frozen=True)
class PreparedTask:
    """A task ready for one run: the text to give the agent, and where its inputs and documents are."""

    text: str
    inputs_dir: Path
    input_files: list[str]  # paths as the agent sees them, e.g. "inputs/prices.csv"
    search_dir: Path | None  # folder for the `local` web_search backend, or None


def prepare_task(task: Task, run_dir: Path, base_url: str | None = None) -> PreparedTask:
    """Copy the task's files into run_dir/inputs and its documents (with `{base_url}` filled) into
    run_dir/search_docs; return the rendered task text."""
    run_dir = Path(run_dir)
    inputs = run_dir / "inputs"
    inputs.mkdir(parents=True, exist_ok=True)
    for f in task.files:
        shutil.copyfile(f, inputs / f.name)
    search_dir = None
    if task.documents:
        search_dir = run_dir / "search_docs"
        search_dir.mkdir(parents=True, exist_ok=True)
        for doc in task.documents:
            text = doc.read_text(encoding="utf-8")
            if base_url is not None:
                text = text.replace(BASE_URL, base_url.rstrip("/"))
            (search_dir / doc.name).write_text(text, encoding="utf-8")
    return PreparedTask(
        text=task.render_text(base_url),
        inputs_dir=inputs,
        input_files=[f"inputs/{name}" for name in task.input_names],
        search_dir=search_dir,
    )
