"""Tool skills: allocation enforced by the broker, web_fetch and its address policy, local web_search.

Pages are served on 127.0.0.1 by a server the test starts; the address-policy tests prove that a
refused address is never connected to (a guard on socket connect) and never looked up in DNS.
"""

from __future__ import annotations

import contextlib
import ipaddress
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from agentfactory.tools.web_fetch import FetchRefused, WebFetchTool, resolve_allowed
from agentfactory.tools.web_search import WebSearchTool

from .conftest import call, make_env

PAGE = b"<html><head><title>Quarterly report</title></head><body><p>Revenue rose.</p></body></html>"

FETCH_TITLE = '''"""Fetch a web page and return its title.

Purpose: the title and HTTP status of the page at `url`.
Inputs: url (str).
Outputs: title (str), status (int).
Limitations: HTML pages only.
"""
from agentfactory_tools import web_fetch


def run(url: str) -> dict:
    page = web_fetch(url)
    return {"title": page["title"], "status": page["status"]}
'''


@contextlib.contextmanager
def page_server(routes: dict[str, tuple[int, dict[str, str], bytes]]) -> Iterator[str]:
    """Serve fixed answers on 127.0.0.1; yields the base URL. Unknown paths get a 404."""

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):  # keep test output quiet
            pass

        def do_GET(self):
            status, headers, body = routes.get(self.path, (404, {}, b"not found"))
            self.send_response(status)
            for key, value in {"content-type": "text/html; charset=utf-8", **headers}.items():
                self.send_header(key, value)
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        thread.join(timeout=5)
        server.server_close()


# ---- allocation, end to end through the Meta-Agent ------------------------------------------------


def fetch_run(env, name: str, tools: list[str], url: str):
    return env.run(
        f"Get the title of the page at {url}.",
        [
            call(
                "create_subagent",
                name=name,
                description="Fetch a web page and return its title.",
                code=FETCH_TITLE,
                tools=tools,
            ),
            call("run_subagent", name=name, inputs={"url": url}),
            call("finish", answer="done"),
        ],
    )


def test_allocation_enforced_and_web_fetch_on_loopback(tmp_path, sandbox):
    env = make_env(tmp_path, sandbox, web_fetch_allow_loopback=True)
    with page_server({"/report": (200, {}, PAGE)}) as base:
        url = f"{base}/report"
        refused = fetch_run(env, "page-title-none", [], url)
        allowed = fetch_run(env, "page-title", ["web_fetch"], url)

    # tools=[]: the import works, the call is refused by the broker, and the trace says so.
    trace = env.providers[0].requests[2][1][-1].tool_results[0].content
    assert "status: error" in trace and "ToolError" in trace
    assert "tool web_fetch(" in trace
    assert "refused/failed: tool 'web_fetch' is not allocated to this subagent" in trace
    execution = next(e for e in env.events(refused) if e["type"] == "subagent_execution")
    assert execution["status"] == "error" and execution["tool_calls"] == 1

    # tools=["web_fetch"]: the same code fetches the page through the host.
    trace = env.providers[1].requests[2][1][-1].tool_results[0].content
    assert "status: ok" in trace
    assert '"title": "Quarterly report"' in trace and '"status": 200' in trace
    assert "tool web_fetch(" in trace and "-> ok" in trace
    execution = next(e for e in env.events(allowed) if e["type"] == "subagent_execution")
    assert execution["status"] == "ok" and execution["tool_calls"] == 1


def test_unknown_tool_allocation_is_refused_before_anything_runs(env):
    result = env.run(
        "Fetch a page.",
        [
            call(
                "create_subagent",
                name="page-title",
                description="Fetch a page title.",
                code=FETCH_TITLE,
                tools=["shell"],
            ),
            call("finish", answer="could not"),
        ],
    )
    assert result.created == [] and result.status == "success"
    reply = env.providers[0].requests[1][1][-1].tool_results[0].content
    # The schema's enum catches it first: an invalid call, reported back to the model.
    assert "shell" in reply
    candidates = env.settings.paths.workspaces / result.run_id / "candidates"
    assert not candidates.exists() or not any(candidates.iterdir())


# ---- the address policy, without a packet to anything but loopback ---------------------------------


@pytest.fixture
def no_network(monkeypatch):
    """Fail on any DNS lookup and on any connect to a non-loopback address; record connects."""
    attempts: list[object] = []
    real_connect = socket.socket.connect

    def guarded_connect(self, address):
        attempts.append(address)
        if self.family in (socket.AF_INET, socket.AF_INET6):
            host = address[0]
            if not ipaddress.ip_address(host).is_loopback:
                raise AssertionError(f"connect to non-loopback address {address}")
        return real_connect(self, address)

    real_getaddrinfo = socket.getaddrinfo

    def no_dns(host, *args, **kwargs):
        # The socket layer "resolves" numeric addresses too; only names would go to DNS.
        try:
            ipaddress.ip_address(str(host).strip("[]"))
        except ValueError:
            raise AssertionError(f"DNS lookup of {host!r}") from None
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket.socket, "connect", guarded_connect)
    monkeypatch.setattr(socket, "getaddrinfo", no_dns)
    return attempts


@pytest.mark.parametrize(
    ("host", "words"),
    [
        ("10.0.0.1", "non-public address 10.0.0.1"),
        ("192.168.1.20", "non-public address"),
        ("172.16.0.1", "non-public address"),
        ("169.254.169.254", "link-local address 169.254.169.254"),
        ("fe80::1", "link-local address"),
        ("[fd00::1]", "non-public address"),
        ("::ffff:10.0.0.1", "non-public address 10.0.0.1"),
        ("0.0.0.0", "non-public address"),
        ("224.0.0.1", "non-public address"),
        ("127.0.0.1", "loopback address 127.0.0.1 is refused"),
        ("::1", "loopback address ::1 is refused"),
        ("localhost", "loopback address 127.0.0.1 is refused"),
        ("api.localhost", "loopback"),
    ],
)
def test_resolve_allowed_refuses_without_lookup(no_network, host, words):
    with pytest.raises(FetchRefused, match=words.replace("[", r"\[").replace(".", r"\.")):
        resolve_allowed(host, 80, allow_loopback=False)
    assert no_network == []


def test_resolve_allowed_loopback_only_when_configured(no_network):
    assert resolve_allowed("127.0.0.1", 80, allow_loopback=True) == "127.0.0.1"
    assert resolve_allowed("localhost", 80, allow_loopback=True) == "127.0.0.1"
    assert resolve_allowed("[::1]", 80, allow_loopback=True) == "::1"
    with pytest.raises(FetchRefused, match="link-local"):
        resolve_allowed("169.254.169.254", 80, allow_loopback=True)
    with pytest.raises(FetchRefused, match="non-public"):
        resolve_allowed("10.0.0.1", 80, allow_loopback=True)


def test_a_name_resolving_to_any_private_address_is_refused(monkeypatch):
    """Every address of a name is checked (a public first answer does not let a private one in)."""
    answers = {
        "intranet.test": ["10.1.2.3"],
        "mixed.test": ["93.184.216.34", "192.168.0.9"],
        "metadata.test": ["169.254.169.254"],
    }

    def resolver(host, port, *args, **kwargs):
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (ip, port)) for ip in answers[host]]

    monkeypatch.setattr(socket, "getaddrinfo", resolver)
    for host, words in [
        ("intranet.test", "10.1.2.3"),
        ("mixed.test", "192.168.0.9"),
        ("metadata.test", "link-local"),
    ]:
        with pytest.raises(FetchRefused, match=words):
            resolve_allowed(host, 443, allow_loopback=True)


@pytest.mark.parametrize(
    "url",
    [
        "http://10.0.0.1/",
        "http://169.254.169.254/latest/meta-data/",
        "https://[fe80::1]:8443/x",
        "http://localhost:9/",
        "http://127.0.0.1:9/",
    ],
)
def test_web_fetch_tool_refuses_before_connecting(no_network, url):
    with pytest.raises(FetchRefused):
        WebFetchTool(allow_loopback=False)({"url": url})
    assert no_network == []


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://127.0.0.1/x", "http:///nohost", "gopher://x"])
def test_web_fetch_tool_refuses_other_schemes(no_network, url):
    with pytest.raises(FetchRefused, match="only http and https"):
        WebFetchTool(allow_loopback=True)({"url": url})
    assert no_network == []


def test_web_fetch_redirect_to_metadata_is_refused_at_the_hop(no_network):
    routes = {
        "/go": (302, {"location": "http://169.254.169.254/latest/meta-data/"}, b""),
        "/private": (301, {"location": "http://10.0.0.1/admin"}, b""),
    }
    with page_server(routes) as base:
        tool = WebFetchTool(allow_loopback=True)
        with pytest.raises(FetchRefused, match="link-local"):
            tool({"url": f"{base}/go"})
        with pytest.raises(FetchRefused, match="non-public address 10.0.0.1"):
            tool({"url": f"{base}/private"})
    # Only the loopback server was ever connected to.
    assert no_network and all(ipaddress.ip_address(a[0]).is_loopback for a in no_network)


def test_web_fetch_on_loopback_text_links_redirects_and_size_limit(no_network):
    body = (
        b"<html><head><title> Notes </title><style>p{}</style></head><body><h1>Hello</h1>"
        b"<script>alert(1)</script><p>See <a href='/next'>next page</a>.</p></body></html>"
    )
    routes = {
        "/page": (200, {}, body),
        "/moved": (302, {"location": "/page"}, b""),
        "/big": (200, {"content-type": "text/plain"}, b"x" * 50_000),
    }
    with page_server(routes) as base:
        tool = WebFetchTool(allow_loopback=True)
        page = tool({"url": f"{base}/moved"})
        big = tool({"url": f"{base}/big", "max_bytes": 1000})
        missing = tool({"url": f"{base}/nothing"})
    assert page["status"] == 200 and page["url"] == f"{base}/page"
    assert page["title"] == "Notes"
    assert page["text"] == "Hello\nSee next page."
    assert page["links"] == [{"text": "next page", "href": f"{base}/next"}]
    assert big["truncated"] is True and len(big["text"]) == 1000
    assert missing["status"] == 404


# ---- the local web_search backend ---------------------------------------------------------------


def test_local_web_search_ranks_and_reads_frontmatter(tmp_path):
    docs = tmp_path / "docs"
    (docs / "sub").mkdir(parents=True)
    (docs / "tides.md").write_text(
        "---\ntitle: Tide tables of Brest\nurl: https://example.org/tides\n---\n"
        "High and low water times for the harbour.\n"
    )
    (docs / "harbour.txt").write_text("Harbour news\nThe tide was mentioned once in passing.\n")
    (docs / "sub" / "page.html").write_text(
        "<html><head><title>Sailing club</title></head><body><p>Tide tide tide and boats.</p></body></html>"
    )
    (docs / "recipes.md").write_text("# Bread\nFlour, water, salt.\n")
    (docs / "image.png").write_bytes(b"\x89PNG tide")

    settings = make_env(tmp_path, web_search_backend="local", web_search_dir=str(docs)).settings
    tool = WebSearchTool.from_settings(settings.tools, settings.credentials)
    found = tool({"query": "tide", "k": 10})
    assert found["backend"] == "local"
    results = found["results"]
    # A title match outranks body matches; files of other kinds are not indexed.
    assert [r["title"] for r in results] == ["Tide tables of Brest", "Sailing club", "Harbour news"]
    assert [r["url"] for r in results] == [
        "https://example.org/tides",
        "local:sub/page.html",
        "local:harbour.txt",
    ]
    assert "tide" in results[2]["snippet"].lower()
    assert tool({"query": "tide", "k": 1})["results"][0]["title"] == "Tide tables of Brest"
    assert tool({"query": "submarine"})["results"] == []
    # New files are picked up without a restart.
    (docs / "more.md").write_text("---\ntitle: Submarine cables\n---\nA submarine cable.\n")
    assert [r["title"] for r in tool({"query": "submarine"})["results"]] == ["Submarine cables"]
    with pytest.raises(ValueError, match="non-empty query"):
        tool({"query": "  "})


def test_local_web_search_without_a_folder_says_what_to_set(tmp_path):
    settings = make_env(tmp_path, web_search_backend="local").settings
    with pytest.raises(ValueError, match="web_search_dir"):
        WebSearchTool.from_settings(settings.tools, settings.credentials)({"query": "tide"})


def test_page_text_leaves_out_chrome_but_keeps_article_headers_and_every_link():
    from agentfactory.tools.html_text import html_to_text

    html = (
        "<html><head><title>T</title></head><body>"
        '<header><a href="/">Home</a> <a href="/about">About</a></header><nav><a href="/n">News</a></nav>'
        "<main><article><header><h1>Coral bleaching</h1></header>"
        '<p>Scientists confirmed <a href="/x">a fourth event</a>.</p></article></main>'
        '<aside>Tags: <a href="/t">reef</a></aside><footer>Privacy · Terms</footer></body></html>'
    )
    title, text, links = html_to_text(html, "http://h/")
    assert title == "T"
    assert text == "Coral bleaching\nScientists confirmed a fourth event."
    assert [link["text"] for link in links] == ["Home", "About", "News", "a fourth event", "reef"]
    # A page that is nothing but chrome still has text.
    assert html_to_text("<nav>Only the menu</nav>")[1] == "Only the menu"
