"""The `web_fetch` tool skill: HTTP(S) GET from the host with an address policy, size and time limits.

The policy is checked on the resolved addresses before any connection, on every redirect hop, and the
connection goes to the checked address (no second DNS lookup), so a rebinding name cannot slip through.
Private, link-local (cloud metadata), multicast, reserved and unspecified addresses are always refused;
loopback only when `allow_loopback` is set (tests serve pages on 127.0.0.1).
"""

from __future__ import annotations

import ipaddress
import math
import socket
import threading
import time
import zlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin, urlsplit, urlunsplit

if TYPE_CHECKING:
    import httpx

MAX_BYTES = 2_000_000
TIMEOUT_S = 20.0
MAX_REDIRECTS = 5


class FetchRefused(ValueError):
    """The address policy refused a URL; the message says why."""


class FetchTimeout(TimeoutError):
    """The fetch's one deadline (connect, redirects and the whole body) passed."""


_NAT64 = ipaddress.ip_network("64:ff9b::/96")  # RFC 6052 well-known prefix: the last 32 bits are IPv4
_NAT64_LOCAL = ipaddress.ip_network("64:ff9b:1::/48")  # RFC 8215 local-use translation prefix
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")  # deprecated ::a.b.c.d
_IPV4_TRANSLATED = ipaddress.ip_network("::ffff:0:0:0/96")  # RFC 2765 SIIT ::ffff:0:a.b.c.d

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[..., list[tuple[Any, ...]]]


def embedded_ipv4(ip: ipaddress.IPv6Address) -> list[tuple[str, ipaddress.IPv4Address]]:
    """The IPv4 addresses an IPv6 address carries, with the form that carries each: IPv4-mapped and
    IPv4-compatible (the IPv4 host itself), 6to4, Teredo (server and client), NAT64 and SIIT."""
    found: list[tuple[str, ipaddress.IPv4Address]] = []
    low32 = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    if ip.ipv4_mapped is not None:
        found.append(("IPv4-mapped", ip.ipv4_mapped))
    elif ip in _IPV4_COMPATIBLE and int(ip) > 1:
        found.append(("IPv4-compatible", low32))
    if ip in _IPV4_TRANSLATED:
        found.append(("IPv4-translated", low32))
    if ip.sixtofour is not None:
        found.append(("6to4", ip.sixtofour))
    if ip.teredo is not None:
        server, client = ip.teredo
        found += [("Teredo server", server), ("Teredo client", client)]
    if ip in _NAT64:
        found.append(("NAT64", low32))
    return found


def _check_ip(ip: Address, allow_loopback: bool) -> None:
    if isinstance(ip, ipaddress.IPv6Address):
        if ip in _NAT64_LOCAL:
            raise FetchRefused(f"non-public address {ip} is refused (local-use NAT64 prefix)")
        wrapped = embedded_ipv4(ip)
        for form, inner in wrapped:
            # An IPv4-mapped address is the IPv4 host itself (loopback as configured); any other form
            # carrying a non-public IPv4 address is refused outright, loopback included.
            try:
                _check_ip(inner, allow_loopback and form == "IPv4-mapped")
            except FetchRefused as exc:
                raise FetchRefused(f"{form} address {ip} wraps a refused one: {exc}") from None
        if wrapped and wrapped[0][0] in ("IPv4-mapped", "NAT64"):
            # The destination is the (public) IPv4 address: the translator prefix is how an IPv6-only
            # host reaches it. The other forms are also checked as IPv6 below (and mostly refused).
            return
        if ip.is_site_local:
            raise FetchRefused(f"site-local address {ip} is refused")
    if ip.is_loopback:
        if not allow_loopback:
            raise FetchRefused(f"loopback address {ip} is refused (web_fetch_allow_loopback is off)")
        return
    if ip.is_link_local:
        raise FetchRefused(f"link-local address {ip} is refused (cloud metadata services live there)")
    if ip.is_private or ip.is_multicast or ip.is_reserved or ip.is_unspecified or not ip.is_global:
        raise FetchRefused(f"non-public address {ip} is refused")


def check_address(address: str, allow_loopback: bool = False) -> None:
    """Raise FetchRefused unless `address` (an IP literal) may be fetched from."""
    _check_ip(ipaddress.ip_address(address.strip("[]").split("%", 1)[0]), allow_loopback)


def _lookup(resolver: Resolver, host: str, port: int, timeout: float | None) -> list[tuple[Any, ...]]:
    """`resolver(host, port)`, given up on after `timeout` seconds (the system resolver has no timeout
    of its own to pass; a lookup left behind ends with the resolver's own retries)."""
    if timeout is None:
        return resolver(host, port, proto=socket.IPPROTO_TCP)
    box: dict[str, Any] = {}

    def work() -> None:
        try:
            box["infos"] = resolver(host, port, proto=socket.IPPROTO_TCP)
        except BaseException as exc:  # handed to the caller below
            box["error"] = exc

    thread = threading.Thread(target=work, name="web-fetch-lookup", daemon=True)
    thread.start()
    thread.join(max(0.0, timeout))
    if thread.is_alive():
        raise FetchTimeout(f"resolving {host} outlasted the fetch's deadline")
    if "error" in box:
        raise box["error"]
    return box["infos"]


def resolve_allowed(
    host: str, port: int, allow_loopback: bool, resolver: Resolver | None = None, timeout: float | None = None
) -> str:
    """The first address of `host` after checking all of them against the policy. `resolver` stands in
    for `socket.getaddrinfo` (tests inject one; no test looks a name up in DNS); `timeout` bounds the
    lookup."""
    try:
        literal = ipaddress.ip_address(host.strip("[]").split("%", 1)[0])
    except ValueError:
        literal = None
    if literal is not None:
        _check_ip(literal, allow_loopback)
        return str(literal)
    if host.lower() in ("localhost", "localhost.localdomain") or host.lower().endswith(".localhost"):
        _check_ip(ipaddress.ip_address("127.0.0.1"), allow_loopback)
        return "127.0.0.1"
    try:
        infos = _lookup(resolver or socket.getaddrinfo, host, port, timeout)
    except FetchTimeout:
        raise
    except socket.gaierror as exc:
        raise FetchRefused(f"cannot resolve {host}: {exc.strerror}") from None
    except (UnicodeError, ValueError, OSError) as exc:
        raise FetchRefused(f"cannot resolve {host}: {exc}") from None
    addresses = [ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos]
    if not addresses:
        raise FetchRefused(f"cannot resolve {host}: no address")
    for ip in addresses:
        _check_ip(ip, allow_loopback)
    return str(addresses[0])


class _Deadline:
    """One instant every network operation of a fetch must finish by."""

    def __init__(self, at: float, total_s: float):
        self.at = at
        self.total_s = total_s

    def left(self, timeout: float | None, error: type[Exception]) -> float:
        left = self.at - time.monotonic()
        if left <= 0:
            raise error(f"the fetch's deadline of {self.total_s:g} s passed")
        return left if timeout is None else min(timeout, left)


class WebFetchTool:
    """`web_fetch(url, max_bytes?)`. One deadline per fetch (`timeout_s`, and never past the calling
    execution's own wall clock, which the broker passes as `deadline`) covers every redirect hop, each
    connection and the whole body."""

    takes_deadline = True  # the broker passes the execution's deadline (time.monotonic() instant)

    def __init__(
        self,
        allow_loopback: bool = False,
        timeout_s: float = TIMEOUT_S,
        max_bytes: int = MAX_BYTES,
        resolver: Resolver | None = None,
    ):
        self.allow_loopback = allow_loopback
        self.timeout_s = timeout_s
        self.max_bytes = max_bytes
        self.resolver = resolver

    def __call__(self, args: dict[str, Any], deadline: float | None = None) -> dict[str, Any]:
        url = str(args.get("url", ""))
        try:
            asked = int(args.get("max_bytes", self.max_bytes) or self.max_bytes)
        except (TypeError, ValueError):
            raise FetchRefused("max_bytes must be a whole number of bytes") from None
        limit = max(1, min(asked, self.max_bytes))
        start = time.monotonic()
        at = start + self.timeout_s
        if deadline is not None and math.isfinite(deadline):
            at = min(at, deadline)
        budget = _Deadline(at, round(max(0.0, at - start), 3))
        import httpcore  # the HTTP stack is imported at the first fetch, not by every run that allows one
        import httpx

        try:
            for _ in range(MAX_REDIRECTS + 1):
                response, body, truncated = self._get(url, limit, budget)
                if response.is_redirect and response.headers.get("location"):
                    url = urljoin(url, response.headers["location"])
                    continue
                break
            else:
                raise FetchRefused(f"more than {MAX_REDIRECTS} redirects")
        except (httpx.TimeoutException, httpcore.TimeoutException):
            raise FetchTimeout(
                f"web_fetch gave up after {time.monotonic() - start:.1f} s: its deadline of "
                f"{budget.total_s:g} s (connection and whole body, every redirect) passed"
            ) from None
        content_type = response.headers.get("content-type", "")
        charset = response.charset_encoding or "utf-8"
        raw = body.decode(charset, errors="replace")
        result: dict[str, Any] = {
            "url": url,
            "status": response.status_code,
            "content_type": content_type,
            "html": raw,
            "truncated": truncated,
        }
        if "html" in content_type or raw.lstrip()[:15].lower().startswith(("<!doctype html", "<html")):
            from agentfactory.tools.html_text import html_to_text  # html.parser, when a page is read

            result["title"], result["text"], result["links"] = html_to_text(raw, url)
        else:
            result["title"], result["text"], result["links"] = "", raw, []
        return result

    def _get(self, url: str, limit: int, deadline: _Deadline) -> tuple[httpx.Response, bytes, bool]:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise FetchRefused(f"only http and https URLs with a host are fetched, not {url!r}")
        port = parts.port or (443 if parts.scheme == "https" else 80)
        ip = resolve_allowed(
            parts.hostname, port, self.allow_loopback, self.resolver, deadline.left(None, FetchTimeout)
        )
        host_ip = f"[{ip}]" if ":" in ip else ip
        pinned = urlunsplit((parts.scheme, f"{host_ip}:{port}", parts.path or "/", parts.query, ""))
        headers = {
            "Host": parts.netloc,
            "User-Agent": "agentfactory-web-fetch/0.1",
            "Accept-Encoding": "gzip, deflate",  # decoded here within the byte limit (_bounded_body)
        }
        extensions = {"sni_hostname": parts.hostname} if parts.scheme == "https" else {}
        timeout = deadline.left(None, FetchTimeout)
        import httpx

        from agentfactory.tools._deadline_http import DeadlineTransport

        transport = DeadlineTransport(deadline)
        with httpx.Client(
            transport=transport, timeout=timeout, follow_redirects=False, trust_env=False
        ) as client:
            request = client.build_request("GET", pinned, headers=headers, extensions=extensions)
            response = client.send(request, stream=True)
            try:
                body, truncated = _bounded_body(response, limit)
                return response, body, truncated
            finally:
                response.close()


def _bounded_body(response: httpx.Response, limit: int) -> tuple[bytes, bool]:
    """At most `limit` bytes of the decoded body, and whether there was more. The raw stream is decoded
    here, never more than the limit at a time, so a small compressed body cannot expand in memory
    (httpx would inflate a whole chunk at once: a 1 MB gzip bomb is 1 GB)."""
    encoding = response.headers.get("content-encoding", "identity").strip().lower()
    if encoding in ("", "identity"):
        inflate = None
    elif encoding in ("gzip", "x-gzip", "deflate"):
        inflate = zlib.decompressobj(47 if encoding != "deflate" else 15)  # 47: gzip or zlib header
    else:
        raise FetchRefused(f"the response is encoded with {encoding[:40]!r}, which web_fetch does not decode")
    out = bytearray()
    for raw in response.iter_raw():
        data = raw
        while data:
            if inflate is None:
                piece, data = data, b""
            else:
                try:
                    piece = inflate.decompress(data, limit + 1 - len(out))
                except zlib.error:
                    raise FetchRefused("the response's compressed body is corrupt") from None
                data = inflate.unconsumed_tail
            out += piece
            if len(out) > limit:
                return bytes(out[:limit]), True
    return bytes(out), False
