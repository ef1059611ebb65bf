"""Search the web for a topic, fetch the most relevant results and keep their text as sources.

Purpose: the gathering step of research: find and read the most relevant pages on a topic.
Inputs:
    query (str): what to search for.
    k (int): how many results to read (default 3).
    sources_path (str): JSON file to write the sources to, e.g. "outputs/sources.json".
Outputs: dict with answer (the result in words), query, count, sources (list of {title, url, text}; text
    cut to 4000 characters), sources_path.
Relevance: the search backend ranks by shared words, so a page sharing only common words ("drinking
    water" for "microplastics in drinking water") can rank in. The module reads a few more results than
    k and keeps, in the backend's order, at most k that are about the query's subject: the content
    words before its first preposition ("microplastics"; "intermittent fasting" in "intermittent
    fasting for weight loss"), generic heads naming an aspect ("effects of", "health effects of",
    "pros and cons of") skipped, so the subject is what follows them. A page must mention a
    subject word of five letters or more, or subject words making up at least half of the subject's
    letters: short words ("week", "heat") are too common to tie a page to the subject alone. When no
    page qualifies, the module fails rather than research a different topic: a report built on
    off-topic sources would look fine and be wrong.
Limitations: results that cannot be fetched are skipped; words are matched by a crude prefix stem.
"""

import json
import os
import re

from agentfactory_tools import web_fetch, web_search

STOPWORDS = frozenset(
    "a an the and or but is are was were be it its this that these those what which who how why when where "  # noqa: SIM905 (a word list reads better as text)
    "does do did say says said recent latest new evidence research study studies article articles source "
    "sources report reports paper papers find look read web search top results result best good some few "
    "effect effects impact impacts role benefit benefits risk risks use uses history overview state future "
    "pros cons introduction guide information info facts news topic health economic economics "
    "environmental social cost costs safety science causes consequences advantages disadvantages "
    "arguments debate case trends challenges potential prospects status known understood".split()
)
PREPOSITIONS = frozenset(
    "in on for of about at by with without from to into among during within across under over between "  # noqa: SIM905 (a word list reads better as text)
    "versus vs against".split()
)


def _subject(query):
    """Content words of the query's subject: the first phrase before a preposition that has any."""
    words = re.findall(r"[a-z0-9]+(?:[-:][a-z0-9]+)*", query.lower())
    phrase = []
    for word in words + ["of"]:
        if word in PREPOSITIONS:
            if phrase:
                return list(dict.fromkeys(phrase))
            continue
        if word not in STOPWORDS and len(word) > 1:
            phrase.append(word)
    return []


def _mentions(text, term):
    """Whether `text` (lowercase) holds `term` or an inflected form (plural, -ing, -ed; hyphen or space)."""
    stem = re.sub(r"(?<=...)(?:ies|es|s|ing|ed|y)$", "", term) if len(term) > 4 else term
    pattern = r"[\s-]?".join(re.escape(part) for part in stem.split("-"))
    return re.search(rf"\b{pattern}(?:s|es|ing|ed|e|y|ies)?\b", text) is not None


def _relevant(query, candidates, k):
    """At most k candidates about the query's subject, in their search order (see the module docstring)."""
    subject = _subject(query)
    if not subject:
        return candidates[:k]
    total = sum(len(w) for w in subject)
    chosen = []
    for candidate in candidates:
        text = f"{candidate['title']} {candidate['text']}".lower()
        found = [w for w in subject if _mentions(text, w)]
        if any(len(w) >= 5 for w in found) or sum(len(w) for w in found) * 2 >= total:
            chosen.append(candidate)
    return chosen[:k]


def run(query, k=3, sources_path="outputs/sources.json"):
    k = int(k)
    results = web_search(query, k=2 * k + 2)
    candidates = []
    for hit in results:
        url = hit.get("url", "")
        try:
            page = web_fetch(url)
        except Exception:  # one unreachable result should not sink the research
            continue
        if page.get("status", 200) >= 400:
            continue
        text = " ".join((page.get("text") or hit.get("snippet") or "").split())
        candidates.append(
            {"title": page.get("title") or hit.get("title") or url, "url": url, "text": text[:4000]}
        )
    if not candidates:
        raise ValueError(f"no readable results for {query!r}")
    sources = _relevant(query, candidates, k)
    if not sources:
        titles = "; ".join(c["title"] for c in candidates[:5])
        raise ValueError(f"no result is about {query!r} (read: {titles}); try other search words")
    os.makedirs(os.path.dirname(sources_path) or ".", exist_ok=True)
    with open(sources_path, "w", encoding="utf-8") as fh:
        json.dump(sources, fh, indent=1)
    answer = f"Read {len(sources)} sources on {query}:\n" + "\n".join(
        f"- {s['title']}: {s['url']}" for s in sources
    )
    return {
        "answer": answer,
        "query": query,
        "count": len(sources),
        "sources_path": sources_path,
        "sources": sources,
    }
