"""Write a markdown report that summarises a set of sources and cites them.

Purpose: the writing step of research: one summary over several documents, with a source list.
Inputs:
    sources_path (str | None): JSON file holding a list of {title, url, text}.
    sources (list | None): the same list given inline (used when sources_path is not given).
    title (str): report title.
    report_path (str): markdown file to write, e.g. "outputs/report.md".
    sentences (int): length of the overall summary in sentences (default 4).
Outputs: dict with answer (the result in words), report_path, title, sources (count), summary.
Limitations: summaries come from the `llm` tool; facts are not cross-checked between sources.
"""

import json
import os

from agentfactory_tools import llm


def _summarise(text, sentences):
    prompt = f"Summarise the following text in {sentences} sentences.\n\n{text}"
    return llm(prompt, system="You write concise, factual summaries.").strip()


def run(title, report_path="outputs/report.md", sources_path=None, sources=None, sentences=4):
    if sources is None:
        if not sources_path:
            raise ValueError("give sources_path or sources")
        with open(sources_path, encoding="utf-8") as fh:
            sources = json.load(fh)
    if not sources:
        raise ValueError("no sources to summarise")
    per_source = [_summarise(s.get("text", ""), 2) for s in sources]
    overall = _summarise(" ".join(s.get("text", "") for s in sources), int(sentences))
    lines = [f"# {title}", "", "## Summary", "", overall, "", "## Key points by source", ""]
    for src, summary in zip(sources, per_source, strict=True):
        lines += [f"### {src.get('title') or src.get('url')}", "", summary, ""]
    lines += ["## Sources", ""]
    lines += [f"{i}. [{s.get('title') or s['url']}]({s['url']})" for i, s in enumerate(sources, 1)]
    os.makedirs(os.path.dirname(report_path) or ".", exist_ok=True)
    with open(report_path, "w", encoding="utf-8") as fh:
        fh.write("\n".join(lines) + "\n")
    answer = (
        f"Wrote the markdown report {report_path} ({title}), summarising and citing {len(sources)} "
        f"sources.\n\nSummary: {overall}"
    )
    return {
        "answer": answer,
        "report_path": report_path,
        "title": title,
        "sources": len(sources),
        "summary": overall,
    }
