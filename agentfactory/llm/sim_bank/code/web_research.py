"""Search the web for a topic, fetch the top results and keep their text as sources.

Purpose: the gathering step of research: find and read the most relevant pages on a topic.
Inputs:
    query (str): what to search for.
    k (int): how many results to read (default 3).
    sources_path (str): JSON file to write the sources to, e.g. "outputs/sources.json".
Outputs: dict with answer (the result in words), query, count, sources (list of {title, url, text}; text
    cut to 4000 characters), sources_path.
Limitations: results that cannot be fetched are skipped; the ranking is the search backend's.
"""

import json
import os

from agentfactory_tools import web_fetch, web_search


def run(query, k=3, sources_path="outputs/sources.json"):
    results = web_search(query, k=int(k))
    sources = []
    for hit in results[: int(k)]:
        url = hit.get("url", "")
        try:
            page = web_fetch(url)
        except Exception:  # one unreachable result should not sink the research
            continue
        if page.get("status", 200) >= 400:
            continue
        text = " ".join((page.get("text") or hit.get("snippet") or "").split())
        sources.append(
            {"title": page.get("title") or hit.get("title") or url, "url": url, "text": text[:4000]}
        )
    if not sources:
        raise ValueError(f"no readable results for {query!r}")
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
