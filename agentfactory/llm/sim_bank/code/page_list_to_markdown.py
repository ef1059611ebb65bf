"""Extract the main list of items (name + link) from a web page and write it as a markdown list.

Purpose: turn a catalogue, course list, project gallery or member directory page into markdown.
Inputs:
    url (str): the page address.
    output_path (str): markdown file to write, e.g. "outputs/items.md".
Outputs: dict with answer (the result in words), title (page title), count, items (list of {name, url}),
    output_path.
Limitations: the list is the best-scoring group of same-tag sibling elements that each hold a link
    (list items, table rows, cards): groups score by size and by how rich their items are (text,
    headings), gain inside <main>/<article> and lose under a class or id such as sidebar, tags, menu,
    nav, footer, breadcrumb or pagination; nav, header, footer and aside are dropped. An item's name is
    its link text, or its heading / bold text / first text when the link text is generic ("View
    profile", "Read more") or the same on every item. Pages built by JavaScript are not rendered.
"""

import math
import os
import re
from collections import Counter
from urllib.parse import urljoin

from agentfactory_tools import web_fetch
from bs4 import BeautifulSoup

SKIP = ("nav", "header", "footer", "script", "style", "aside", "form")
# Words of link texts that say what the link does, not what it names ("View profile", "Read more »").
GENERIC_WORDS = frozenset(
    "view more read details detail profile link here click learn see open visit go continue reading info "  # noqa: SIM905 (a word list reads better as text)
    "information website site page full story article this the now show buy get download".split()
)
SECONDARY = re.compile(
    r"(?:^|[\s_-])(?:sidebar|side|tags?|tag-?cloud|categories|menu|nav|navbar|navigation|footer|breadcrumbs?"
    r"|pagination|pager|social|share|widget|related|toc)(?:$|[\s_-])",
    re.I,
)


def _text(element):
    return " ".join(element.get_text(" ", strip=True).split())


def _is_generic(name):
    words = re.findall(r"[a-z]+", name.lower())
    return not words or all(w in GENERIC_WORDS for w in words)


def _label(child, link):
    """What an item is called when its link text does not say: heading, bold text, else first text."""
    for tag in child.find_all(["h1", "h2", "h3", "h4", "h5", "h6", "strong", "b", "dt", "figcaption"]):
        if not _is_generic(_text(tag)):
            return _text(tag)
    for piece in child.stripped_strings:
        text = " ".join(piece.split())
        if len(text) > 1 and not _is_generic(text):
            return text
    return link.get("title") or link.get("aria-label") or _text(link)


def _items(group, base):
    found = []
    for child in group:
        link = child.find("a", href=True)
        if link is not None:
            found.append((child, link, _text(link)))
    repeated = Counter(text for _, _, text in found)
    items = []
    for child, link, text in found:
        if _is_generic(text) or (len(found) > 2 and repeated[text] > 1):
            text = _label(child, link)
        items.append({"name": text, "url": urljoin(base, link["href"])})
    return items


def _context_factor(parent):
    """Lower for groups under sidebars, tag clouds and menus; higher inside <main> or <article>."""
    factor = 1.0
    for node in [parent, *parent.parents]:
        names = " ".join([*(node.get("class") or []), node.get("id") or ""]) if node.name else ""
        if names and SECONDARY.search(names):
            factor *= 0.2
        if node.name in ("main", "article") or node.get("role") == "main":
            factor *= 1.5
    return factor


def _group_score(children):
    """Size times richness: many items, each with real text and maybe a heading, few links apiece."""
    richness = 0.0
    for child in children:
        links = len(child.find_all("a", href=True))
        heading = child.find(["h1", "h2", "h3", "h4", "h5", "h6"]) is not None
        richness += (math.sqrt(min(len(_text(child)), 120)) + (3 if heading else 0)) / max(1, links - 1)
    return richness


def _main_group(soup):
    """The best-scoring group of two or more same-tag siblings with links; else a lone one."""
    best, best_score, lone = [], 0.0, []
    for parent in soup.find_all(True):
        children = [c for c in parent.find_all(True, recursive=False) if c.find("a", href=True)]
        if not children:
            continue
        tag, _ = Counter(c.name for c in children).most_common(1)[0]
        children = [c for c in children if c.name == tag]
        if len(children) < 2:
            lone = lone or children
            continue
        score = _group_score(children) * _context_factor(parent)
        if score > best_score:
            best, best_score = children, score
    return best or lone


def run(url, output_path="outputs/items.md"):
    page = web_fetch(url)
    if page.get("status", 200) >= 400:
        raise ValueError(f"{url} answered HTTP {page.get('status')}")
    soup = BeautifulSoup(page.get("html") or "", "html.parser")
    title = soup.title.get_text(strip=True) if soup.title else url
    for tag in soup.find_all(SKIP):
        tag.decompose()
    items, seen = [], set()
    for item in _items(_main_group(soup), page.get("url") or url):
        if item["url"] not in seen:
            seen.add(item["url"])
            items.append(item)
    if not items:
        raise ValueError(f"no list of links found on {url}")
    os.makedirs(os.path.dirname(output_path) or ".", exist_ok=True)
    lines = [f"# {title}", "", f"Source: <{url}>", ""]
    lines += [f"- [{i['name']}]({i['url']})" for i in items]
    with open(output_path, "w", encoding="utf-8") as fh:
        fh.write("\n".join(lines) + "\n")
    answer = f'Found {len(items)} items on "{title}" and wrote them as a markdown list to {output_path}:\n'
    answer += "\n".join(f"- {i['name']}: {i['url']}" for i in items)
    return {
        "answer": answer,
        "title": title,
        "count": len(items),
        "items": items,
        "output_path": output_path,
    }
