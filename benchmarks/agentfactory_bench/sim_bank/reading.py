"""How the simulated model reads a task text: file names, URLs, numbers, output names, phrases.

These helpers are general over a family's phrasings; none of them knows a task of any suite.
"""

from __future__ import annotations

import re
from pathlib import PurePosixPath

# A file name, with the folders written before it ("reports/q3.md"); inputs/ and outputs/ are not kept.
_FILE = re.compile(r"(?<![\w/.:-])(?:(?:inputs|outputs)/)?((?:[\w-]+/){0,3}[A-Za-z0-9_][\w.-]*\.(?:%s))\b")
_URL = re.compile(r"https?://[^\s'\"<>)\]]+")
NUMBER_WORDS = {
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "a couple of": 2,
    "a few": 3,
}


def _file_matches(text: str, extensions: str) -> list[re.Match]:
    """Every file name with one of the `|`-separated extensions, as a match (group 1 is the name)."""
    return list(re.compile(_FILE.pattern % extensions, re.I).finditer(text))


def file_names(text: str, extensions: str) -> list[str]:
    """File names with one of the extensions, in order of appearance, with the folders written
    before them ("reports/q3.md")."""
    return list(dict.fromkeys(m.group(1) for m in _file_matches(text, extensions)))


def named_inputs(text: str, input_files: list[str], extensions: str) -> list[str]:
    """Names of the input files the text mentions, in order of appearance."""
    names = {PurePosixPath(f).name for f in input_files}
    named = (PurePosixPath(n).name for n in file_names(text, extensions))
    return list(dict.fromkeys(n for n in named if n in names))


def input_path(name: str) -> str:
    return f"inputs/{PurePosixPath(name).name}"


def output_path(name: str) -> str:
    """outputs/<name>, keeping a relative folder the task asked for ("reports/q3.md")."""
    parts = [p for p in PurePosixPath(name).parts if p not in ("/", "..", ".")]
    if parts[:1] == ["outputs"]:
        parts = parts[1:]
    return "outputs/" + "/".join(parts or [PurePosixPath(name).name])


def find_input(text: str, input_files: list[str], extensions: str) -> str | None:
    """The input file the task means: one named in the text that exists, else the only candidate."""
    named = named_inputs(text, input_files, extensions)
    if named:
        return input_path(named[0])
    exts = tuple("." + e.lower() for e in extensions.split("|"))
    candidates = [n for n in (PurePosixPath(f).name for f in input_files) if n.lower().endswith(exts)]
    if len(candidates) == 1:
        return input_path(candidates[0])
    return None


_SAVE_BEFORE = re.compile(
    r"\b(?:save|saved|saving|write|writes|written|store|export|output|put|keep)\b[^.;:!?]{0,40}$|"
    r"\b(?:as|to|into|called|named)\s*[`'\"(]?$",
    re.I,
)


def new_output(
    text: str, input_files: list[str], extensions: str, exclude: tuple[str, ...] = ()
) -> str | None:
    """A file name of that kind in the text that is not an input: where the user wants the result.

    A name the text says to save, write or export to wins over one merely mentioned ("page N is at
    page-N.json ... save it to means.json"); a name with a placeholder in it is never one."""
    names = {PurePosixPath(f).name for f in input_files}
    found = []
    for m in _file_matches(text, extensions):
        name = m.group(1)
        base = PurePosixPath(name).name
        if base in names or name in exclude or base in exclude or re.search(r"[-_.]N\.|\{|<|\bX\b", name):
            continue
        found.append((not _SAVE_BEFORE.search(text[max(0, m.start() - 60) : m.start()]), m.start(), name))
    return output_path(min(found)[2]) if found else None


def urls(text: str) -> list[str]:
    return [u.rstrip(".,;:!?") for u in _URL.findall(text)]


def count_word(text: str, default: int) -> int:
    """A small count the task asks for ("top 3", "three sources"), else `default`."""
    m = re.search(
        r"\b(?:top|first|best|most relevant)\s+(\d{1,2})\b|\b(\d{1,2})\s+(?:\w+\s+)?(?:sources|results|articles|pages)\b",
        text,
        re.I,
    )
    if m:
        return int(m.group(1) or m.group(2))
    low = text.lower()
    for word, n in NUMBER_WORDS.items():
        if re.search(rf"\b{word}\s+(?:\w+\s+){{0,2}}(?:sources|results|articles|pages|documents)\b", low):
            return n
    return default


def identifier_after(text: str, pattern: str) -> str | None:
    m = re.search(pattern, text, re.I)
    return m.group(1).strip("`'\"") if m else None


def entity_from_file(path: str) -> str:
    """A readable name from a file name: 'inputs/acme_prices.csv' -> 'acme'."""
    stem = PurePosixPath(path).stem
    parts = [p for p in re.split(r"[_\-\s]+", stem) if p]
    generic = {"prices", "price", "daily", "weekly", "monthly", "data", "posts", "quotes", "close", "closes"}
    kept = [p for p in parts if p.lower() not in generic]
    return " ".join(kept or parts)
