"""Readable text of an HTML page for the `web_fetch` and `web_search` tool skills: title, text without
page chrome, and links. Imported when a page is read (html.parser is not needed to start a run)."""

from __future__ import annotations

from html.parser import HTMLParser
from urllib.parse import urljoin


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
