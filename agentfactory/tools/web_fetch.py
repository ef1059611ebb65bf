"""The `web_fetch` tool skill: HTTP(S) GET from the host with an address policy, size and time limits.

The policy is checked on the resolved addresses before any connection, on every redirect hop, and the
connection goes to the checked address (no second DNS lookup), so a rebinding name cannot slip through.
Private, link-local (cloud metadata), multicast, reserved and unspecified addresses are always refused;
loopback only when `allow_loopback` is set (tests serve pages on 127.0.0.1).
"""

from __future__ import annotations

import ipaddress
import socket
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urljoin, urlsplit, urlunsplit

import httpx

MAX_BYTES = 2_000_000
TIMEOUT_S = 20.0
MAX_REDIRECTS = 5


class FetchRefused(ValueError):
    """The address policy refused a URL; the message says why."""


def _check_ip(ip: ipaddress.IPv4Address | ipaddress.IPv6Address, allow_loopback: bool) -> None:
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    if ip.is_loopback:
        if not allow_loopback:
            raise FetchRefused(f"loopback address {ip} is refused (web_fetch_allow_loopback is off)")
        return
    if ip.is_link_local:
        raise FetchRefused(f"link-local address {ip} is refused (cloud metadata services live there)")
    if ip.is_private or ip.is_multicast or ip.is_reserved or ip.is_unspecified or not ip.is_global:
        raise FetchRefused(f"non-public address {ip} is refused")


def resolve_allowed(host: str, port: int, allow_loopback: bool) -> str:
    """The first address of `host` after checking all of them against the policy."""
    try:
        literal = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        literal = None
    if literal is not None:
        _check_ip(literal, allow_loopback)
        return str(literal)
    if host.lower() in ("localhost", "localhost.localdomain") or host.lower().endswith(".localhost"):
        _check_ip(ipaddress.ip_address("127.0.0.1"), allow_loopback)
        return "127.0.0.1"
    try:
        infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    except socket.gaierror as exc:
        raise FetchRefused(f"cannot resolve {host}: {exc.strerror}") from None
    addresses = [ipaddress.ip_address(info[4][0]) for info in infos]
    for ip in addresses:
        _check_ip(ip, allow_loopback)
    return str(addresses[0])


class _TextExtractor(HTMLParser):
    """Title, readable text and links. The text leaves out page chrome (nav, aside, and header and
    footer outside an article or main), as a reader view would; links are kept from everywhere."""

    _SKIP = {"script", "style", "noscript", "template", "svg"}
    _CHROME = {"nav", "aside", "header", "footer"}
    _CONTENT = {"main", "article"}
    _BLOCK = {
        "p",
        "div",
        "br",
        "li",
        "tr",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "section",
        "article",
        "header",
        "footer",
        "ul",
        "ol",
        "table",
        "pre",
        "blockquote",
        "title",
    }

    def __init__(self, base_url: str):
        super().__init__(convert_charrefs=True)
        self.base_url = base_url
        self.parts: list[str] = []
        self.chrome_parts: list[str] = []  # everything, chrome included: the text if nothing else
        self._chrome = 0
        self._content = 0
        self.links: list[dict[str, str]] = []
        self.title = ""
        self._skip = 0
        self._in_title = False
        self._href: str | None = None
        self._link_text: list[str] = []

    def _is_chrome(self, tag: str) -> bool:
        return tag in ("nav", "aside") or (tag in self._CHROME and not self._content)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._CONTENT:
            self._content += 1
        elif self._is_chrome(tag):
            self._chrome += 1
        if tag in self._SKIP:
            self._skip += 1
        elif tag == "title":
            self._in_title = True
        elif tag == "a":
            href = dict(attrs).get("href")
            if href and not href.startswith(("javascript:", "mailto:", "#")):
                self._href = urljoin(self.base_url, href)
                self._link_text = []
        if tag in self._BLOCK:
            self._add("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._CONTENT and self._content:
            self._content -= 1
        elif self._chrome and self._is_chrome(tag):
            self._chrome -= 1
        if tag in self._SKIP and self._skip:
            self._skip -= 1
        elif tag == "title":
            self._in_title = False
        elif tag == "a" and self._href:
            self.links.append({"text": " ".join("".join(self._link_text).split()), "href": self._href})
            self._href = None
        if tag in self._BLOCK:
            self._add("\n")

    def _add(self, text: str) -> None:
        self.chrome_parts.append(text)
        if not self._chrome:
            self.parts.append(text)

    def handle_data(self, data: str) -> None:
        if self._skip:
            return
        if self._in_title:
            self.title += data
            return
        self._add(data)
        if self._href is not None:
            self._link_text.append(data)

    def text(self) -> str:
        for parts in (self.parts, self.chrome_parts):
            lines = (" ".join(line.split()) for line in "".join(parts).splitlines())
            text = "\n".join(line for line in lines if line)
            if text:
                return text
        return ""


def html_to_text(html: str, base_url: str = "") -> tuple[str, str, list[dict[str, str]]]:
    """(title, text, links) of an HTML document."""
    parser = _TextExtractor(base_url)
    parser.feed(html)
    parser.close()
    return " ".join(parser.title.split()), parser.text(), parser.links


class WebFetchTool:
    def __init__(
        self, allow_loopback: bool = False, timeout_s: float = TIMEOUT_S, max_bytes: int = MAX_BYTES
    ):
        self.allow_loopback = allow_loopback
        self.timeout_s = timeout_s
        self.max_bytes = max_bytes

    def __call__(self, args: dict[str, Any]) -> dict[str, Any]:
        url = str(args.get("url", ""))
        limit = min(int(args.get("max_bytes", self.max_bytes) or self.max_bytes), self.max_bytes)
        for _ in range(MAX_REDIRECTS + 1):
            response, body, truncated = self._get(url, limit)
            if response.is_redirect and response.headers.get("location"):
                url = urljoin(url, response.headers["location"])
                continue
            break
        else:
            raise FetchRefused(f"more than {MAX_REDIRECTS} redirects")
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
            result["title"], result["text"], result["links"] = html_to_text(raw, url)
        else:
            result["title"], result["text"], result["links"] = "", raw, []
        return result

    def _get(self, url: str, limit: int) -> tuple[httpx.Response, bytes, bool]:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise FetchRefused(f"only http and https URLs with a host are fetched, not {url!r}")
        port = parts.port or (443 if parts.scheme == "https" else 80)
        ip = resolve_allowed(parts.hostname, port, self.allow_loopback)
        host_ip = f"[{ip}]" if ":" in ip else ip
        pinned = urlunsplit((parts.scheme, f"{host_ip}:{port}", parts.path or "/", parts.query, ""))
        headers = {"Host": parts.netloc, "User-Agent": "agentfactory-web-fetch/0.1"}
        extensions = {"sni_hostname": parts.hostname} if parts.scheme == "https" else {}
        with httpx.Client(timeout=self.timeout_s, follow_redirects=False, trust_env=False) as client:
            request = client.build_request("GET", pinned, headers=headers, extensions=extensions)
            response = client.send(request, stream=True)
            try:
                chunks, size, truncated = [], 0, False
                for chunk in response.iter_bytes():
                    chunks.append(chunk)
                    size += len(chunk)
                    if size > limit:
                        truncated = True
                        break
                return response, b"".join(chunks)[:limit], truncated
            finally:
                response.close()
