"""Extract the main list of items (name + link) from a web page and write it as a markdown list.

Purpose: turn a catalogue, course list, project gallery or member directory page into markdown.
Inputs:
    url (str): the page address.
    output_path (str): markdown file to write, e.g. "outputs/items.md".
Outputs: dict with answer (the result in words), title (page title), count, items (list of {name, url}),
    output_path.
Limitations: finds the largest group of sibling elements that each hold a link (list items, table
    rows, cards); navigation, header and footer links are ignored; pages built by JavaScript are not
    rendered.
"""

import os
from urllib.parse import urljoin

from agentfactory_tools import web_fetch
from bs4 import BeautifulSoup

SKIP = ("nav", "header", "footer", "script", "style", "aside", "form")


def _item(child, base):
    link = child.find("a", href=True)
    if link is None:
        return None
    name = " ".join(link.get_text(" ", strip=True).split())
    if not name:
        heading = child.find(["h1", "h2", "h3", "h4", "strong"])
        name = " ".join((heading or child).get_text(" ", strip=True).split())
    return {"name": name, "url": urljoin(base, link["href"])}


def _main_group(soup):
    best, best_count = None, 0
    for parent in soup.find_all(True):
        children = [c for c in parent.find_all(True, recursive=False) if c.find("a", href=True)]
        if len(children) > best_count:
            best, best_count = children, len(children)
    return best or []


def run(url, output_path="outputs/items.md"):
    page = web_fetch(url)
    if page.get("status", 200) >= 400:
        raise ValueError(f"{url} answered HTTP {page.get('status')}")
    soup = BeautifulSoup(page.get("html") or "", "html.parser")
    title = soup.title.get_text(strip=True) if soup.title else url
    for tag in soup.find_all(SKIP):
        tag.decompose()
    items, seen = [], set()
    for child in _main_group(soup):
        item = _item(child, page.get("url") or url)
        if item and item["url"] not in seen:
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
