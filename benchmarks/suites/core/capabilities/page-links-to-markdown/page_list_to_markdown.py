"""Extract the main list of items (name + link) from a web page and write it as a markdown list.

Purpose: turn a catalogue, course list, project gallery or member directory page into markdown.
Inputs:
    url (str): the page address.
    output_path (str): markdown file to write, e.g. "outputs/items.md".
Outputs: dict with answer (the result in words), title (page title), count, items (list of {name, url},
    plus section when the list comes in headed groups), output_path.
Limitations: the list is the best-scoring group of same-tag sibling elements that each hold a link
    (list items, table rows, cards): groups score by size and by how rich their items are (text,
    headings), gain inside <main>/<article> and lose under a class or id such as sidebar, tags, menu,
    nav, footer, breadcrumb or pagination; nav, header, footer and aside are dropped. An item's name is
    its link text, or its heading / bold text / first text when the link text is generic ("View
    profile", "Read more") or the same on every item. A list split into groups of the same structure
    (sibling lists under headings, or categories that each wrap a sub-list) is merged in page order,
    each item keeping its group's heading as its section; groups under sidebars, menus and the like are
    left out. Pages built by JavaScript are not rendered.
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
HEADINGS = ("h1", "h2", "h3", "h4", "h5", "h6", "strong", "b", "dt", "summary", "caption", "legend")


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


def _names(node):
    return " ".join([*(node.get("class") or []), node.get("id") or ""]) if node.name else ""


def _is_chrome(parent, shared=()):
    """Whether `parent` sits under a sidebar, menu, footer... other than the nodes in `shared` (ids)."""
    return any(SECONDARY.search(_names(n)) for n in [parent, *parent.parents] if id(n) not in shared)


def _context_factor(parent):
    """Lower for groups under sidebars, tag clouds and menus; higher inside <main> or <article>."""
    factor = 1.0
    for node in [parent, *parent.parents]:
        if SECONDARY.search(_names(node)):
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


def _link_children(parent):
    """The children of `parent` that hold a link, of its most common tag among them."""
    children = [c for c in parent.find_all(True, recursive=False) if c.find("a", href=True)]
    if not children:
        return []
    tag, _ = Counter(c.name for c in children).most_common(1)[0]
    return [c for c in children if c.name == tag]


def _main_group(soup):
    """The best-scoring group of two or more same-tag siblings with links; else a lone one."""
    best, best_score, lone = [], 0.0, []
    for parent in soup.find_all(True):
        children = _link_children(parent)
        if not children:
            continue
        if len(children) < 2:
            lone = lone or children
            continue
        score = _group_score(children) * _context_factor(parent)
        if score > best_score:
            best, best_score = children, score
    return best or lone


def _place(parent):
    """Where a group sits: its tag and classes and the tags above it."""
    return parent.name, tuple(sorted(parent.get("class") or [])), tuple(p.name for p in parent.parents)


def _shape(child):
    """An item's structure: its tag and classes and the tags between it and its first link."""
    link = child.find("a", href=True)
    path = []
    for node in link.parents:
        if node is child:
            break
        path.append(node.name)
    return child.name, tuple(sorted(child.get("class") or [])), tuple(path)


def _common_shape(children):
    return Counter(_shape(c) for c in children).most_common(1)[0][0]


def _sub_lists(best):
    """When each item of `best` only wraps a list (a category and its entries), those lists, else None."""
    links = sum(len(c.find_all("a", href=True)) for c in best)
    places = {}
    for child in best:
        for node in child.find_all(True):
            children = _link_children(node)
            if children:
                places.setdefault(_place(node), []).append(children)
    for groups in places.values():
        inner = sum(len(c.find_all("a", href=True)) for group in groups for c in group)
        if len(groups) > 1 and inner == links and sum(map(len, groups)) > len(best):
            return groups
    return None


def _parallel_groups(soup, best):
    """`best` and the groups placed and shaped like it elsewhere on the page (sibling lists under
    headings), in page order. A group under chrome (sidebar, menu...) that `best` is not under is left."""
    parent = best[0].parent
    place, shape = _place(parent), _common_shape(best)
    shared = {id(node) for node in [parent, *parent.parents]}
    groups = []
    for other in soup.find_all(parent.name):
        if other is parent:
            groups.append(best)
        elif _place(other) == place and not _is_chrome(other, shared):
            children = _link_children(other)
            if children and _common_shape(children) == shape:
                groups.append(children)
    return groups


def _own_text(wrapper):
    """The text right inside a sub-list's wrapper (<li>Category<ul>...), else None."""
    text = " ".join(t.strip() for t in wrapper.find_all(string=True, recursive=False) if t.strip())
    return text.strip(" :") or None


def _main_groups(soup):
    """The main list as [(section heading or None, items)]: one group, or several of one structure."""
    best = _main_group(soup)
    if not best:
        return []
    groups = _sub_lists(best) or _parallel_groups(soup, best)
    if len(groups) == 1:
        return [(None, best)]
    order = {id(node): i for i, node in enumerate(soup.find_all(True))}
    parents = [group[0].parent for group in groups]
    inside = {id(p) for p in parents}
    # A group's own wrapper (<li>Category<ul>...) names it; a wrapper shared by all groups does not.
    wrapped = len({id(p.parent) for p in parents}) == len(parents)
    found, previous = [], None
    for parent, group in zip(parents, groups, strict=True):
        heading = parent.find_previous(HEADINGS)
        # A heading belongs to this group only when it comes after the previous group and outside all.
        if heading is not None and (
            any(id(p) in inside for p in heading.parents)
            or (previous is not None and order[id(heading)] < order[id(previous)])
        ):
            heading = None
        if heading is not None:
            found.append((_text(heading), group))
        else:
            found.append((_own_text(parent.parent) if wrapped else None, group))
        previous = parent
    return found


def run(url, output_path="outputs/items.md"):
    page = web_fetch(url)
    if page.get("status", 200) >= 400:
        raise ValueError(f"{url} answered HTTP {page.get('status')}")
    soup = BeautifulSoup(page.get("html") or "", "html.parser")
    title = soup.title.get_text(strip=True) if soup.title else url
    for tag in soup.find_all(SKIP):
        tag.decompose()
    items, seen = [], set()
    for section, group in _main_groups(soup):
        for item in _items(group, page.get("url") or url):
            if item["url"] not in seen:
                seen.add(item["url"])
                items.append({**item, "section": section} if section else item)
    if not items:
        raise ValueError(f"no list of links found on {url}")
    os.makedirs(os.path.dirname(output_path) or ".", exist_ok=True)
    lines, section = [f"# {title}", "", f"Source: <{url}>", ""], None
    for item in items:
        if item.get("section", section) != section:
            section = item["section"]
            lines += ["", f"## {section}", ""] if lines[-1] else [f"## {section}", ""]
        lines.append(f"- [{item['name']}]({item['url']})")
    with open(output_path, "w", encoding="utf-8") as fh:
        fh.write("\n".join(lines) + "\n")
    sections = list(dict.fromkeys(i["section"] for i in items if i.get("section")))
    where = f" in {len(sections)} sections ({', '.join(sections)})" if sections else ""
    answer = (
        f'Found {len(items)} items{where} on "{title}" and wrote them as a markdown list to {output_path}:\n'
    )
    answer += "\n".join(f"- {i['name']}: {i['url']}" for i in items)
    return {
        "answer": answer,
        "title": title,
        "count": len(items),
        "items": items,
        "output_path": output_path,
    }
