"""web_fetch: IPv4 addresses wrapped in IPv6 forms are checked like the IPv4 they carry, and one total
deadline bounds a fetch (connect, redirects and the whole body), never past the execution's own clock.

No packet leaves the machine: names are resolved by an injected resolver, DNS and non-loopback connects
fail the test (`no_network`), and the slow servers listen on 127.0.0.1 with a bounded request loop.
"""

from __future__ import annotations

import contextlib
import json
import socket
import struct
import threading
import time
from collections.abc import Iterator

import pytest

from agentfactory.sandbox import ToolBroker
from agentfactory.tools.web_fetch import (
    FetchRefused,
    FetchTimeout,
    WebFetchTool,
    check_address,
    embedded_ipv4,
    resolve_allowed,
)

from .test_tools import no_network  # noqa: F401  (fixture)

# ---- address classification ---------------------------------------------------------------------

REFUSED_WRAPPED = [
    ("2002:7f00:1::", "6to4", "loopback"),  # 6to4 of 127.0.0.1
    ("2002:7f00:0001:0000:0000:0000:0000:0001", "6to4", "loopback"),
    ("2002:a9fe:a9fe::", "6to4", "link-local"),  # 6to4 of 169.254.169.254 (cloud metadata)
    ("2002:0a00:0001::1", "6to4", "non-public address 10.0.0.1"),
    ("2002:c0a8:0101::", "6to4", "non-public address 192.168.1.1"),
    ("2002:0000:0000::", "6to4", "non-public address 0.0.0.0"),
    ("64:ff9b::7f00:1", "NAT64", "loopback"),
    ("64:ff9b::a9fe:a9fe", "NAT64", "link-local"),
    ("64:ff9b::10.1.2.3", "NAT64", "non-public address 10.1.2.3"),
    ("64:ff9b:1::8.8.8.8", "", "local-use NAT64 prefix"),
    ("::ffff:127.0.0.1", "IPv4-mapped", "loopback"),
    ("::ffff:169.254.169.254", "IPv4-mapped", "link-local"),
    ("::127.0.0.1", "IPv4-compatible", "loopback"),
    ("::169.254.169.254", "IPv4-compatible", "link-local"),
    ("::10.0.0.1", "IPv4-compatible", "non-public address 10.0.0.1"),
    ("::ffff:0:127.0.0.1", "IPv4-translated", "loopback"),
    ("2001:0:4136:e378:8000:63bf:80ff:fffe", "Teredo client", "loopback"),  # client 127.0.0.1
    ("2001:0:a9fe:a9fe::1", "Teredo server", "link-local"),
    ("fec0::1", "", "site-local"),
]


@pytest.mark.parametrize(("address", "form", "words"), REFUSED_WRAPPED)
def test_ipv4_wrapped_in_ipv6_is_checked_as_the_ipv4(no_network, address, form, words):  # noqa: F811
    with pytest.raises(FetchRefused) as caught:
        check_address(address, allow_loopback=False)
    assert words in str(caught.value) and form in str(caught.value)
    # As a literal in a URL host too, and before any connection.
    with pytest.raises(FetchRefused):
        resolve_allowed(f"[{address}]", 80, allow_loopback=False)
    assert no_network == []


@pytest.mark.parametrize("address", ["2002:7f00:1::", "64:ff9b::7f00:1", "::ffff:0:127.0.0.1"])
def test_tunnelled_loopback_is_refused_even_when_loopback_is_allowed(address):
    # Only the mapped and compatible forms are this host's loopback; a 6to4, NAT64 or SIIT address
    # wrapping 127.0.0.1 leads elsewhere and is refused whatever web_fetch_allow_loopback says.
    with pytest.raises(FetchRefused, match="loopback"):
        check_address(address, allow_loopback=True)
    check_address("::ffff:127.0.0.1", allow_loopback=True)


@pytest.mark.parametrize("address", ["2002:808:808::1", "64:ff9b::8.8.8.8", "::ffff:8.8.8.8", "8.8.8.8"])
def test_public_addresses_in_any_form_stay_allowed(address):
    check_address(address, allow_loopback=False)


def test_embedded_forms_are_all_unwrapped():
    import ipaddress

    def forms(text):
        return [(f, str(ip)) for f, ip in embedded_ipv4(ipaddress.IPv6Address(text))]

    assert forms("2002:7f00:1::") == [("6to4", "127.0.0.1")]
    assert forms("64:ff9b::a9fe:a9fe") == [("NAT64", "169.254.169.254")]
    assert forms("::ffff:10.0.0.1") == [("IPv4-mapped", "10.0.0.1")]
    assert forms("::10.0.0.1") == [("IPv4-compatible", "10.0.0.1")]
    assert ("Teredo client", "127.0.0.1") in forms("2001:0:4136:e378:8000:63bf:80ff:fffe")
    assert forms("2606:4700::1111") == []


def test_a_name_resolving_to_a_wrapped_private_address_is_refused_before_connecting(no_network):  # noqa: F811
    answers = {
        "sixtofour.test": "2002:7f00:1::",
        "nat64.test": "64:ff9b::a9fe:a9fe",
        "mapped.test": "::ffff:10.0.0.7",
    }
    asked: list[str] = []

    def resolver(host, port, *args, **kwargs):
        asked.append(host)
        return [(socket.AF_INET6, socket.SOCK_STREAM, 6, "", (answers[host], port, 0, 0))]

    tool = WebFetchTool(allow_loopback=True, resolver=resolver)
    for host in answers:
        with pytest.raises(FetchRefused, match="wraps a refused one"):
            tool({"url": f"http://{host}/"})
    assert asked == list(answers)  # the injected resolver answered; DNS was never asked
    assert no_network == []  # and nothing was connected to


# ---- one deadline per fetch ------------------------------------------------------------------------


@contextlib.contextmanager
def slow_server(mode: str, max_requests: int = 4) -> Iterator[str]:
    """A 127.0.0.1 server: `drip` sends headers then one body byte a second, `stall` never answers.
    It serves at most `max_requests` connections and stops each after 30 s or when the client left."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)
    listener.settimeout(0.2)
    stop = threading.Event()

    def handle(conn: socket.socket) -> None:
        with conn:
            conn.settimeout(2)
            with contextlib.suppress(OSError):
                conn.recv(65536)
                if mode == "drip":
                    conn.sendall(
                        b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 100\r\n\r\n"
                    )
                for _ in range(30):
                    if stop.wait(1.0):
                        return
                    if mode == "drip":
                        conn.sendall(b"x")

    def serve() -> None:
        served = 0
        while served < max_requests and not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            served += 1
            threading.Thread(target=handle, args=(conn,), daemon=True).start()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        listener.close()
        thread.join(timeout=5)


@pytest.mark.parametrize("mode", ["drip", "stall"])
def test_a_dripping_or_stalled_server_is_cut_at_the_fetch_deadline(no_network, mode):  # noqa: F811
    with slow_server(mode) as base:
        tool = WebFetchTool(allow_loopback=True, timeout_s=2.0)
        started = time.monotonic()
        with pytest.raises(FetchTimeout, match="deadline of 2 s"):
            tool({"url": f"{base}/slow"})
        elapsed = time.monotonic() - started
    assert 1.8 <= elapsed < 3.0, elapsed  # per-read timeouts would let the drip run its 30 s


def test_the_execution_deadline_bounds_a_fetch_below_its_own_timeout(no_network):  # noqa: F811
    with slow_server("drip") as base:
        tool = WebFetchTool(allow_loopback=True, timeout_s=20.0)
        started = time.monotonic()
        with pytest.raises(FetchTimeout, match="deadline of 1.5 s"):
            tool({"url": f"{base}/slow"}, deadline=started + 1.5)
        elapsed = time.monotonic() - started
        assert elapsed < 2.5, elapsed
        # A deadline already passed refuses at once.
        with pytest.raises(FetchTimeout):
            tool({"url": f"{base}/slow"}, deadline=time.monotonic() - 1)


def test_broker_passes_the_executions_clock_to_web_fetch(tmp_path, no_network):  # noqa: F811
    """A broker session for a 2-second execution answers a fetch of a dripping page within those 2 s."""
    broker = ToolBroker({"web_fetch": WebFetchTool(allow_loopback=True, timeout_s=20.0)}).for_execution(2.0)
    with slow_server("drip") as base:
        session = broker.open_session(tmp_path / "t.sock", ["web_fetch"])
        try:
            started = time.monotonic()
            with socket.socket(socket.AF_UNIX) as s:
                s.connect(str(tmp_path / "t.sock"))
                body = json.dumps({"tool": "web_fetch", "args": {"url": f"{base}/slow"}}).encode()
                s.sendall(struct.pack(">I", len(body)) + body)
                s.settimeout(10)
                (n,) = struct.unpack(">I", s.recv(4))
                reply = json.loads(s.recv(n))
            elapsed = time.monotonic() - started
        finally:
            records = session.close()
    assert reply["ok"] is False and reply["error"].startswith("FetchTimeout: web_fetch gave up")
    assert elapsed < 3.0, elapsed
    assert [(r.tool, r.ok) for r in records] == [("web_fetch", False)]


def test_a_slow_name_lookup_counts_against_the_same_deadline(no_network):  # noqa: F811
    release = threading.Event()

    def slow_resolver(host, port, *args, **kwargs):
        release.wait(10)  # a resolver that does not answer in time
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port))]

    tool = WebFetchTool(allow_loopback=True, timeout_s=1.0, resolver=slow_resolver)
    started = time.monotonic()
    try:
        with pytest.raises(FetchTimeout, match="resolving slow.test outlasted the fetch's deadline"):
            tool({"url": "http://slow.test/"})
    finally:
        release.set()
    assert time.monotonic() - started < 2.0
    assert no_network == []


@contextlib.contextmanager
def one_reply_server(head: bytes, body: bytes) -> Iterator[str]:
    """A 127.0.0.1 server answering one request with `head` + `body`, then stopping."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    listener.settimeout(10)

    def serve() -> None:
        with contextlib.suppress(OSError):
            conn, _ = listener.accept()
            with conn:
                conn.settimeout(5)
                conn.recv(65536)
                conn.sendall(head + body)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        listener.close()
        thread.join(timeout=5)


def test_a_gzip_bomb_is_inflated_no_further_than_the_byte_limit(no_network):  # noqa: F811
    import gzip
    import tracemalloc

    bomb = gzip.compress(b"\0" * (200 << 20), compresslevel=9)  # 200 MB of zeros in ~200 KB
    head = (
        b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-encoding: gzip\r\n"
        b"content-length: " + str(len(bomb)).encode() + b"\r\n\r\n"
    )
    with one_reply_server(head, bomb) as base:
        tool = WebFetchTool(allow_loopback=True, timeout_s=10.0)
        tracemalloc.start()
        try:
            result = tool({"url": f"{base}/bomb", "max_bytes": 1_000_000})
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    assert result["truncated"] is True
    assert peak < 40 << 20, peak  # the whole body inflated at once would be 200 MB


def test_an_unknown_content_encoding_is_refused(no_network):  # noqa: F811
    head = b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-encoding: br\r\ncontent-length: 3\r\n\r\n"
    with one_reply_server(head, b"abc") as base:
        tool = WebFetchTool(allow_loopback=True, timeout_s=5.0)
        with pytest.raises(FetchRefused, match="encoded with 'br'"):
            tool({"url": f"{base}/br"})
