"""A project with a real library, served by `agentfactory mcp serve` in a subprocess, for the MCP tests.

The server runs this checkout's code (`python -m agentfactory` with PYTHONPATH at the repository), the
official mcp client talks to it over stdio or streamable HTTP on 127.0.0.1, and subagents execute in the
real local sandbox (bubblewrap where installed) unless a test asks for Docker.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from agentfactory.library import Library, build_subagent_folder

REPO = Path(__file__).resolve().parents[2]
NAME = "word-count"
DESCRIPTION = "Count the words of a text or of a text file and write a small report file."
CODE = '''"""Count the words of a text.

Purpose: the number of whitespace-separated words of `text`, or of the file at `path`.
Inputs: text (str), or path (str) of a file under inputs/.
Outputs: words (int); writes outputs/report.txt with the count.
Limitations: none.
"""

import os


def run(text: str = "", path: str = "") -> dict:
    if path:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
    words = len(text.split())
    os.makedirs("outputs", exist_ok=True)
    with open("outputs/report.txt", "w", encoding="utf-8") as fh:
        fh.write(f"words: {words}\\n")
    return {"words": words}
'''
CASES = [{"inputs": {"text": "a b c"}, "expected": {"words": 3}}]


@dataclass
class Project:
    root: Path
    sandbox: str = "local"
    env: dict[str, str] = field(default_factory=dict)

    @property
    def library(self) -> Library:
        return Library(self.root / "lib")

    def serve_args(self, *extra: str) -> list[str]:
        return [
            "-m",
            "agentfactory",
            "mcp",
            "serve",
            "--project",
            str(self.root),
            "--sandbox",
            self.sandbox,
            "--library",
            str(self.root / "lib"),
            "--workspaces",
            str(self.root / "ws"),
            *extra,
        ]

    def stdio_params(self):
        from mcp import StdioServerParameters

        return StdioServerParameters(command=sys.executable, args=self.serve_args(), env=self.env)


def server_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AGENTFACTORY_")}
    env.pop("ANTHROPIC_API_KEY", None)
    env.pop("OPENAI_API_KEY", None)
    env["PYTHONPATH"] = str(REPO)
    env.update(extra)
    return env


@pytest.fixture
def project(tmp_path: Path) -> Project:
    root = tmp_path / "proj"
    root.mkdir()
    library = Library(root / "lib")
    library.ensure()
    folder = build_subagent_folder(
        tmp_path / "src" / NAME, name=NAME, description=DESCRIPTION, code=CODE, cases=CASES
    )
    library.save(folder, message="seed")
    return Project(root, env=server_env())


@dataclass
class HttpServer:
    process: subprocess.Popen
    url: str


def start_http(project: Project, *extra: str, env: dict[str, str] | None = None) -> HttpServer:
    """Start `mcp serve --http --port 0` and read the address it prints; the caller stops it."""
    process = subprocess.Popen(
        [sys.executable, *project.serve_args("--http", "--port", "0", *extra)],
        env=env or project.env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    assert process.stderr is not None
    while time.monotonic() < deadline:
        line = process.stderr.readline()
        if not line:
            break
        found = re.search(r"listening on (http://\S+)", line)
        if found:
            # Keep draining stderr so the server never blocks on a full pipe.
            threading.Thread(target=process.stderr.read, daemon=True).start()
            return HttpServer(process, found.group(1))
    process.kill()
    raise AssertionError(f"the server did not start: {process.stderr.read()}")


def stop(server: HttpServer) -> None:
    server.process.terminate()
    try:
        server.process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait()
