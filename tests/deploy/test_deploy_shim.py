"""The exported tool shim: the unchanged subagent's `from agentfactory_tools import llm, web_fetch` works
in the package, with llm through the real anthropic and openai SDKs (local wire-format server) and
web_fetch through httpx (a local page). Also the import scan that picks the package's dependencies."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import tomllib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from agentfactory.deploy import deploy
from agentfactory.deploy.analysis import scan_imports
from agentfactory.errors import ValidationError
from tests.fakes.wire_server import WireServer, anthropic_message, openai_completion

from .conftest import Env

CODE = '''"""Title and a shouted summary of a web page.

Inputs:
- url (str): the page
"""

from agentfactory_tools import llm, web_fetch


def run(url: str) -> dict:
    page = web_fetch(url)
    answer = llm("Summarise: " + page["text"], system="Be brief.", max_tokens=50)
    return {"title": page["title"], "summary": answer.upper(), "links": len(page["links"])}
'''
PAGE = b"<html><head><title>Cats</title></head><body><p>Cats sleep a lot.</p><a href='/more'>more</a></body></html>"


class _Page(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(PAGE)))
        self.end_headers()
        self.wfile.write(PAGE)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def page_url():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Page)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/cats"
    server.shutdown()
    server.server_close()


def _run_exported(src: Path, url: str, env: dict[str, str]) -> dict:
    script = (
        "import json, sys\n"
        "from af_page_summary import run\n"
        "result = run(url=sys.argv[1])\n"
        "result['shim'] = sys.modules['agentfactory_tools'].__file__\n"
        "print(json.dumps(result))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", script, url],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PYTHONPATH": str(src), "PATH": "/usr/bin:/bin", **env},
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_shim_serves_llm_and_web_fetch_to_the_unchanged_module(
    env: Env, tmp_path: Path, page_url: str
) -> None:
    env.save("page-summary", CODE, [], tools=["llm", "web_fetch"])
    # No cases and no runs: the gate refuses, --force exports anyway (the gate needs no model here).
    result = deploy(env.settings, "page-summary", formats=("package",), out=tmp_path / "out", force=True)
    assert result.forced and "no stored cases" in " ".join(result.gate.reasons)
    project = tmp_path / "out" / "package"
    pyproject = tomllib.loads((project / "pyproject.toml").read_text())
    assert pyproject["project"]["dependencies"] == []
    assert set(pyproject["project"]["optional-dependencies"]) >= {"anthropic", "openai", "web", "mcp"}
    readme = (project / "README.md").read_text()
    assert "The maturity gate was overridden with `--force`." in readme
    assert "pip install '.[anthropic,openai,web]'" in readme
    src = project / "src"

    with WireServer() as wire:
        wire.push(anthropic_message(text="cats nap"))
        out = _run_exported(
            src,
            page_url,
            {
                "ANTHROPIC_API_KEY": "test-key",
                "ANTHROPIC_BASE_URL": wire.url,
                "AGENTFACTORY_SUBAGENT_MODEL": "anthropic:claude-test",
            },
        )
        assert out["title"] == "Cats" and out["summary"] == "CATS NAP" and out["links"] == 1
        assert out["shim"].endswith("af_page_summary/agentfactory_tools.py")
        body = wire.bodies()[-1]
        assert body["model"] == "claude-test" and body["system"] == "Be brief." and body["max_tokens"] == 50
        assert "Cats sleep a lot." in body["messages"][0]["content"]

        wire.push(openai_completion(text="they doze"))
        out = _run_exported(
            src, page_url, {"OPENAI_API_KEY": "test-key", "OPENAI_BASE_URL": wire.openai_base_url}
        )
        assert out["summary"] == "THEY DOZE"
        body = wire.bodies()[-1]
        assert body["model"] == "gpt-4.1-mini"  # the default when only OPENAI_API_KEY is set
        assert body["messages"][0] == {"role": "system", "content": "Be brief."}


def test_shim_without_credentials_says_what_to_set(env: Env, tmp_path: Path, page_url: str) -> None:
    env.save("page-summary", CODE, [], tools=["llm", "web_fetch"])
    deploy(env.settings, "page-summary", formats=("package",), out=tmp_path / "out", force=True)
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "af_page_summary",
            "--inputs",
            json.dumps({"url": page_url}),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PYTHONPATH": str(tmp_path / "out" / "package" / "src"), "PATH": "/usr/bin:/bin"},
    )
    assert proc.returncode == 1
    assert "ToolError: llm needs a model: set ANTHROPIC_API_KEY or OPENAI_API_KEY" in proc.stderr
    assert proc.stdout == ""


def test_import_scan_maps_sandbox_modules_to_distributions() -> None:
    code = (
        "import os, json\nimport numpy as np\nfrom bs4 import BeautifulSoup\nimport yaml.constructor\n"
        "def run():\n    import pandas\n    from agentfactory_tools import llm\n    import mystery_lib\n"
    )
    scan = scan_imports(code)
    assert scan.dependencies == ("beautifulsoup4", "numpy", "pandas", "pyyaml")
    assert scan.tools == ("llm",)
    assert scan.unknown == ("mystery_lib",)
    with pytest.raises(ValidationError, match="does not parse"):
        scan_imports("def run(:\n", "broken.py")
