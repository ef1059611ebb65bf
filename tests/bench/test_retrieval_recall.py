"""Retrieval recall with no model: the product's first message offers the subagent a batch-2 task needs
(its first capability), measured on a library holding the suite's capabilities and distractors saved
through the Library API."""

from __future__ import annotations

from dataclasses import dataclass

from agentfactory_bench.retrieval import build_library, distractors, offered, recall

from agentfactory.config import Settings
from agentfactory.library.names import validate_name

VOLATILITY = '''"""Annualised volatility of a price series.

Purpose: annualised volatility of the daily returns of a closing-price CSV file.
Inputs: path (str), a CSV with date and close columns.
Outputs: volatility (float).
Limitations: daily data, 252 trading days a year.
"""
import csv
import math


def run(path: str) -> dict:
    with open(path, encoding="utf-8") as fh:
        closes = [float(r["close"]) for r in csv.DictReader(fh)]
    returns = [b / a - 1 for a, b in zip(closes, closes[1:])]
    mean = sum(returns) / len(returns)
    var = sum((r - mean) ** 2 for r in returns) / (len(returns) - 1)
    return {"volatility": math.sqrt(var * 252)}
'''
# Reference code without the subagent docstring: the benchmark adds one, the code stays as written.
WORDS = "def run(path: str) -> dict:\n    return {'words': len(open(path).read().split())}\n"


@dataclass(frozen=True)
class Cap:
    name: str
    description: str
    code: str
    tools: tuple[str, ...] = ()
    entry: str = ""


@dataclass(frozen=True)
class Task:
    id: str
    batch: int
    text: str
    capabilities: tuple[str, ...]


class TinySuite:
    """The suite contract the benchmark codes against: Task.capabilities and Suite.capability(name)."""

    caps = {
        "price-volatility": Cap(
            "price-volatility",
            "Annualised volatility of daily stock price returns from a CSV of closing prices.",
            VOLATILITY,
        ),
        "vendor-tally": Cap("vendor-tally", "Count the words of a text file.", WORDS),
    }
    tasks = (
        Task("vol-1", 1, "Compute the annualised volatility of acme.csv.", ("price-volatility",)),
        Task("words-1", 1, "How many words does notes.txt hold?", ("vendor-tally",)),
        Task("vol-2", 2, "What is the annualised volatility of the daily returns in globex prices?",
             ("price-volatility",)),
        # Worded so that nothing in the text points at the subagent it needs: retrieval must miss it.
        Task("words-2", 2, "Plot exchange rates over time and save the chart.", ("vendor-tally",)),
    )  # fmt: skip

    def capability(self, name: str) -> Cap:
        return self.caps[name]


def test_distractors_are_deterministic_distinct_and_valid():
    first, again = distractors(300), distractors(300)
    assert first == again and first != distractors(300, seed=16)
    assert len({d.name for d in first}) == 300
    for d in first:
        validate_name(d.name)
        assert d.description.endswith(".") and len(d.description.split()) >= 6


def test_recall_on_a_small_library_with_distractors(tmp_path):
    settings = Settings.from_keys(library=tmp_path / "lib")
    library = build_library(tmp_path / "lib", TinySuite(), 40)
    names = {info.name for info in library.list()}
    assert len(names) == 42 and {"price-volatility", "vendor-tally"} <= names
    assert library.get("vendor-tally").code.endswith(WORDS)

    found = recall(TinySuite(), library, settings, 40)
    assert (found.tasks, found.distractors) == (2, 40)
    assert found.at1 == 0.5  # vol-2 is found first; words-2 cannot be
    [(task, need, shown)] = found.misses
    assert (task, need) == ("words-2", "vendor-tally") and "vendor-tally" not in shown


def test_offered_names_come_from_the_products_first_message(tmp_path):
    library = build_library(tmp_path / "lib", TinySuite(), 0)
    settings = Settings.from_keys(library=tmp_path / "lib")
    assert offered(library, settings, "annualised volatility of daily price returns")[0] == "price-volatility"
    assert offered(library, settings, "Compose a sonnet in Latin.") == []


def test_distractors_grow_as_the_script_grows_them(tmp_path):
    from agentfactory_bench.retrieval import add_distractors

    grown = build_library(tmp_path / "grown", TinySuite(), 0)
    skip = set(TinySuite.caps)
    add_distractors(grown, 0, 5, skip)
    add_distractors(grown, 5, 12, skip)
    direct = build_library(tmp_path / "direct", TinySuite(), 12)
    assert {i.name for i in grown.list()} == {i.name for i in direct.list()}
    assert len(grown.list()) == 14
