"""Retrieval quality on its own, with no model: is the subagent a batch-2 task needs among the matches
the Meta-Agent's first message offers?

The library holds the suite's capabilities (each saved under its own name, with its reference code and
description, as the simulated Meta-Agent would have saved it in batch 1) plus N distractors: plausible
subagents across many domains, generated deterministically, saved through the product's Library API.
For each batch-2 task the product's own first-message builder (`MetaAgent._first_message`, over the
engine's LibraryView, the library's search) renders the message, and the offered names are read from it in
order. recall@k is the share of tasks whose first capability is among the first k offered.
"""

from __future__ import annotations

import random
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agentfactory.config import Settings
from agentfactory.errors import ValidationError
from agentfactory.library import Library
from agentfactory.library.writing import build_subagent_folder

SEED = 15
_OFFERED = re.compile(r"^- ([a-z0-9][a-z0-9-]*) v\d+ — ", re.M)

_VERBS = {
    "parse": "Parse {n} from raw text exports into structured records with typed fields",
    "summarise": "Summarise {n} into a short markdown report with the key figures",
    "validate": "Validate {n} against a JSON schema and list every record that breaks it",
    "forecast": "Forecast {n} for the next periods with a seasonal exponential smoothing model",
    "plot": "Plot {n} over time and save the chart as a PNG file",
    "rank": "Rank {n} by a weighted score and return the top entries with their scores",
    "cluster": "Cluster {n} by similarity with k-means and label each group",
    "dedupe": "Remove duplicate {n} using fuzzy matching on their key fields",
    "convert": "Convert {n} between CSV, JSON and Excel formats, keeping column types",
    "scrape": "Scrape {n} from HTML pages with CSS selectors and follow pagination links",
    "classify": "Classify {n} into categories with keyword rules and report the counts",
    "anonymise": "Mask personal data in {n} (names, emails, phone numbers) before sharing",
    "compare": "Compare two snapshots of {n} and report what was added, removed or changed",
    "aggregate": "Aggregate {n} per month and per group with sums, means and counts",
    "flag-outliers-in": "Flag outliers in {n} with a robust z-score and explain each flag",
    "reconcile": "Reconcile {n} against a reference ledger and list the mismatches",
    "normalise": "Normalise {n}: units, date formats and spelling of categorical values",
    "resample": "Resample {n} to a regular time grid, filling short gaps by interpolation",
    "search": "Search the web for recent {n} and return the titles and URLs of the best sources",
    "fetch": "Fetch {n} from a paginated JSON API and save every record to a CSV file",
    "map": "Map {n} with latitude and longitude onto a scatter chart saved as PNG",
    "correlate": "Correlate {n} with a second series and report Pearson and Spearman coefficients",
    "tabulate": "Tabulate {n} as a pivot table with row and column totals",
    "alert-on": "Check {n} against thresholds and list the alerts to raise",
    "trend-of": "Fit a linear trend to {n} and report the slope per year",
    "histogram-of": "Draw a histogram of {n} with sensible bins and save it as PNG",
    "merge": "Merge several files of {n} on a shared key and report unmatched rows",
    "sample": "Draw a stratified random sample of {n} with a fixed seed",
    "describe": "Describe {n} with summary statistics per column: count, mean, quartiles",
    "extract-entities-from": "Extract people, places and organisations mentioned in {n}",
}
_NOUNS = (
    "invoices", "sensor readings", "gps tracks", "lab results", "playlists", "match statistics",
    "weather observations", "retail orders", "court filings", "student grades", "shipping manifests",
    "server logs", "survey answers", "gene expression tables", "star catalogues", "patient vitals",
    "energy meter data", "social media posts", "product reviews", "bank transactions", "payroll records",
    "flight schedules", "crop yields", "air quality measurements", "traffic counts", "real estate listings",
    "job postings", "customer tickets", "exchange rates", "recipe ingredients", "library loans",
    "election results", "earthquake records", "hotel bookings", "warehouse stock levels", "clinical trials",
    "paper citations", "podcast transcripts", "satellite image metadata", "bus timetables",
    "insurance claims", "tax returns", "music charts", "chess games", "fitness workouts", "wine ratings",
    "parking tickets", "power outages", "river levels", "solar panel output", "pharmacy prescriptions",
    "museum collections", "app crash reports", "ad impressions", "email threads", "contract clauses",
    "bird sightings", "marathon results", "rental prices", "vaccination records",
)  # fmt: skip


@dataclass(frozen=True)
class Distractor:
    name: str
    description: str
    code: str


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def distractors(count: int, seed: int = SEED) -> list[Distractor]:
    """`count` distinct plausible subagents (at most len(verbs) x len(nouns)), the same for a given seed."""
    pairs = [(v, n) for v in _VERBS for n in _NOUNS]
    if count > len(pairs):
        raise ValueError(f"at most {len(pairs)} distractors can be generated")
    random.Random(seed).shuffle(pairs)
    out = []
    for verb, noun in pairs[:count]:
        name = _slug(f"{verb} {noun}")[:64].strip("-")
        description = _VERBS[verb].format(n=noun) + "."
        out.append(Distractor(name, description, _module(description)))
    return out


def _module(description: str, body: str | None = None) -> str:
    body = body or (
        "import json\n\n\n"
        "def run(path: str) -> dict:\n"
        '    with open(path, encoding="utf-8") as fh:\n'
        "        data = fh.read()\n"
        '    return {"characters": len(data), "lines": data.count("\\n")}\n'
    )
    return (
        f'"""{description}\n\nPurpose: {description}\nInputs: path (str), a file under inputs/.\n'
        'Outputs: a JSON object of figures.\nLimitations: reads the whole file into memory.\n"""\n' + body
    )


def _save(library: Library, scratch: Path, name: str, description: str, code: str, tools: Any = ()) -> None:
    try:
        folder = build_subagent_folder(
            scratch, name=name, description=description, code=code, tools=tuple(tools)
        )
    except ValidationError:
        # Reference code written without the subagent docstring gets one; its code is unchanged.
        folder = build_subagent_folder(
            scratch, name=name, description=description, code=_module(description, code), tools=tuple(tools)
        )
    library.save(folder, message=f"retrieval benchmark: {name}")


def needed(task: Any) -> str | None:
    """The subagent a task needs: its first capability's name (None for a task that declares none)."""
    caps = tuple(getattr(task, "capabilities", ()) or ())
    return caps[0] if caps else None


def build_library(path: Path, suite: Any, n_distractors: int, seed: int = SEED) -> Library:
    """A library at `path` with every capability the suite's tasks declare and `n_distractors` more."""
    library = Library(path)
    library.ensure()
    names = dict.fromkeys(c for t in suite.tasks for c in (getattr(t, "capabilities", ()) or ()))
    with tempfile.TemporaryDirectory(prefix="af-retrieval-") as tmp:
        for i, name in enumerate(names):
            cap = suite.capability(name)
            _save(
                library, Path(tmp) / f"c{i}", cap.name, cap.description, cap.code, getattr(cap, "tools", ())
            )
    add_distractors(library, 0, n_distractors, set(names), seed)
    return library


def add_distractors(library: Library, have: int, want: int, skip: set[str], seed: int = SEED) -> None:
    """Grow the library's distractors from the first `have` to the first `want` of the seeded sequence
    (names in `skip`, the suite's own capabilities, are passed over)."""
    sequence = [
        d for d in distractors(min(want + len(skip), len(_VERBS) * len(_NOUNS)), seed) if d.name not in skip
    ]
    with tempfile.TemporaryDirectory(prefix="af-retrieval-") as tmp:
        for i, d in enumerate(sequence[have:want], start=have):
            _save(library, Path(tmp) / f"d{i}", d.name, d.description, d.code)


def offered(library: Library, settings: Settings, text: str) -> list[str]:
    """The names the Meta-Agent's first message offers for `text`, in order, from the product's own
    builder over the engine's view of the library (no model, no sandbox)."""
    from types import SimpleNamespace

    from agentfactory.engine.library_view import LibraryView
    from agentfactory.engine.workspace import WorkspaceManager
    from agentfactory.meta.agent import MetaAgent

    with tempfile.TemporaryDirectory(prefix="af-retrieval-ws-") as tmp:
        ws = WorkspaceManager(Path(tmp)).create()
        # What the first message reads of a run: its task, its workspace, its view of the library and
        # (none here) the MCP tools of agentfactory.toml.
        run = SimpleNamespace(task=text, workspace=ws, library=LibraryView(library), mcp_tools=None)
        message = MetaAgent(settings)._first_message(run)
    return _OFFERED.findall(message)


@dataclass(frozen=True)
class Recall:
    distractors: int
    tasks: int
    at1: float
    at3: float
    misses: tuple[tuple[str, str, tuple[str, ...]], ...]  # (task, needed, offered)

    def to_json(self) -> dict[str, Any]:
        return {
            "distractors": self.distractors,
            "tasks": self.tasks,
            "recall@1": self.at1,
            "recall@3": self.at3,
            "misses": [{"task": t, "needed": n, "offered": list(o)} for t, n, o in self.misses],
        }


def recall(suite: Any, library: Library, settings: Settings, n_distractors: int) -> Recall:
    """recall@1 and @3 over the suite's batch-2 tasks that declare a capability."""
    tasks = [t for t in suite.tasks if t.batch == 2 and needed(t)]
    hits1 = hits3 = 0
    misses = []
    for task in tasks:
        text = task.render_text("http://127.0.0.1:8000") if hasattr(task, "render_text") else task.text
        names = offered(library, settings, text)
        want = needed(task)
        hits1 += names[:1] == [want]
        hits3 += want in names[:3]
        if names[:1] != [want]:
            misses.append((task.id, want, tuple(names)))
    n = max(1, len(tasks))
    return Recall(n_distractors, len(tasks), round(hits1 / n, 4), round(hits3 / n, 4), tuple(misses))
