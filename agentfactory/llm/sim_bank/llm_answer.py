"""The simulated model in its `llm`-tool role: deterministic answers to what subagents ask.

It recognises three kinds of request by their wording, as a model would: sentiment classification
(a small lexicon with negation), summaries (extractive: the most central sentences, in their original
order), and small Python modules for well-known functions (a fixed set it "knows"). Anything else gets
an honest "cannot answer", never a made-up result.
"""

from __future__ import annotations

import re
from collections import Counter

POSITIVE = frozenset(
    [
        "love",
        "loved",
        "loves",
        "lovely",
        "great",
        "excellent",
        "amazing",
        "awesome",
        "happy",
        "perfect",
        "perfectly",
        "fantastic",
        "recommend",
        "recommended",
        "delighted",
        "best",
        "good",
        "nice",
        "impressed",
        "impressive",
        "reliable",
        "wonderful",
        "enjoy",
        "enjoyed",
        "brilliant",
        "superb",
        "smooth",
        "pleased",
        "satisfied",
        "favourite",
        "favorite",
        "easy",
        "beautiful",
        "solid",
        "glad",
        "improved",
        "better",
    ]  # noqa: SIM905 (a word list reads better as text)
)
NEGATIVE = frozenset(
    [
        "hate",
        "hated",
        "hates",
        "terrible",
        "awful",
        "broke",
        "broken",
        "disappointed",
        "disappointing",
        "disappointment",
        "worst",
        "bad",
        "poor",
        "refund",
        "leak",
        "leaks",
        "leaking",
        "noisy",
        "slow",
        "useless",
        "annoying",
        "faulty",
        "failing",
        "fails",
        "failed",
        "fail",
        "crash",
        "crashes",
        "crashed",
        "horrible",
        "defective",
        "waste",
        "problem",
        "problems",
        "angry",
        "frustrating",
        "frustrated",
        "worse",
        "junk",
        "unreliable",
        "rude",
        "overpriced",
    ]  # noqa: SIM905 (a word list reads better as text)
)
NEGATORS = frozenset("not no never hardly barely isn't wasn't don't doesn't didn't can't won't".split())  # noqa: SIM905
STOPWORDS = frozenset(
    [
        "a",
        "an",
        "the",
        "and",
        "or",
        "but",
        "if",
        "of",
        "to",
        "in",
        "on",
        "at",
        "by",
        "for",
        "with",
        "from",
        "as",
        "is",
        "are",
        "was",
        "were",
        "be",
        "been",
        "being",
        "it",
        "its",
        "this",
        "that",
        "these",
        "those",
        "there",
        "their",
        "they",
        "them",
        "he",
        "she",
        "we",
        "you",
        "i",
        "our",
        "your",
        "his",
        "her",
        "not",
        "no",
        "so",
        "than",
        "then",
        "too",
        "very",
        "can",
        "could",
        "will",
        "would",
        "should",
        "may",
        "might",
        "also",
        "into",
        "over",
        "more",
        "most",
        "such",
        "which",
        "who",
        "whom",
        "what",
        "when",
        "where",
        "while",
        "about",
        "after",
        "before",
        "between",
        "during",
        "each",
        "some",
        "any",
        "all",
        "both",
        "other",
        "only",
        "own",
        "same",
        "just",
        "now",
    ]  # noqa: SIM905 (a word list reads better as text)
)
CANNOT = "I cannot answer that request."


def sim_llm_answer(prompt: str, system: str | None = None) -> str:
    """The simulated subagent model's reply to one `llm` tool call. Deterministic."""
    request = f"{system or ''}\n{prompt}".lower()
    material = _material(prompt)
    if "sentiment" in request:
        return classify_sentiment(material)
    if re.search(r"\bsummar", request):
        return summarise(material, _sentence_count(prompt))
    if re.search(r"\bwrite\b.*\b(?:python|module|function)\b", request):
        return _write_module(prompt)
    return CANNOT


def _material(prompt: str) -> str:
    """The text a request is about: after a 'Post:'/'Text:' label, else after the first blank line."""
    m = re.search(r"^(?:post|text|review|comment|document|content)\s*:\s*(.+)", prompt, re.I | re.S | re.M)
    if m:
        return m.group(1).strip()
    if "\n\n" in prompt:
        return prompt.split("\n\n", 1)[1].strip()
    return prompt.split(":", 1)[-1].strip()


def classify_sentiment(text: str) -> str:
    words = re.findall(r"[a-z']+", text.lower())
    score = 0
    for i, word in enumerate(words):
        polarity = 1 if word in POSITIVE else -1 if word in NEGATIVE else 0
        if polarity and any(w in NEGATORS or w.endswith("n't") for w in words[max(0, i - 3) : i]):
            polarity = -polarity
        score += polarity
    return "positive" if score > 0 else "negative" if score < 0 else "neutral"


_NUMBERS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6}


def _sentence_count(prompt: str) -> int:
    m = re.search(r"\b(\d{1,2}|one|two|three|four|five|six)\s+sentences?\b", prompt, re.I)
    if not m:
        return 3
    token = m.group(1).lower()
    return int(token) if token.isdigit() else _NUMBERS[token]


def summarise(text: str, sentences: int = 3) -> str:
    """Extractive summary: the `sentences` sentences richest in the text's frequent content words."""
    parts = [s.strip() for s in re.split(r"(?<=[.!?])\s+", " ".join(text.split())) if len(s.strip()) > 20]
    if not parts:
        return " ".join(text.split())[:300]
    if len(parts) <= sentences:
        return " ".join(parts)

    def words(s: str) -> list[str]:
        return [w for w in re.findall(r"[a-z][a-z-]+", s.lower()) if w not in STOPWORDS]

    freq = Counter(w for s in parts for w in set(words(s)))
    scores = [
        (sum(freq[w] for w in set(words(s))) / (1 + len(words(s))) ** 0.5 + (0.5 if i == 0 else 0.0), -i)
        for i, s in enumerate(parts)
    ]
    chosen = sorted(sorted(range(len(parts)), key=lambda i: scores[i], reverse=True)[:sentences])
    return " ".join(parts[i] for i in chosen)


# ---- small modules the simulated model knows how to write -------------------------------------------

KNOWN_FUNCTIONS: dict[str, str] = {
    "slugify": '''import re
import unicodedata


def slugify(text, sep="-"):
    """Lowercase ASCII slug of `text`: accents removed, runs of other characters become `sep`."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    words = re.findall(r"[a-z0-9]+", ascii_text.lower())
    return sep.join(words)
''',
    "to_roman": '''_NUMERALS = [(1000, "M"), (900, "CM"), (500, "D"), (400, "CD"), (100, "C"), (90, "XC"),
             (50, "L"), (40, "XL"), (10, "X"), (9, "IX"), (5, "V"), (4, "IV"), (1, "I")]


def to_roman(number):
    """Roman numeral of an integer from 1 to 3999."""
    if not isinstance(number, int) or not 0 < number < 4000:
        raise ValueError("to_roman needs an integer from 1 to 3999")
    out = []
    for value, letters in _NUMERALS:
        count, number = divmod(number, value)
        out.append(letters * count)
    return "".join(out)
''',
    "from_roman": '''_VALUES = {"I": 1, "V": 5, "X": 10, "L": 50, "C": 100, "D": 500, "M": 1000}


def from_roman(text):
    """Integer value of a Roman numeral."""
    text = text.strip().upper()
    if not text or any(c not in _VALUES for c in text):
        raise ValueError(f"not a Roman numeral: {text!r}")
    total = 0
    for i, c in enumerate(text):
        value = _VALUES[c]
        total += -value if i + 1 < len(text) and _VALUES[text[i + 1]] > value else value
    return total
''',
    "is_palindrome": '''def is_palindrome(text):
    """True when `text` reads the same backwards, ignoring case, spaces and punctuation."""
    letters = [c.lower() for c in text if c.isalnum()]
    return letters == letters[::-1]
''',
    "fizzbuzz": '''def fizzbuzz(n):
    """The FizzBuzz sequence from 1 to n as strings."""
    out = []
    for i in range(1, n + 1):
        word = ("Fizz" if i % 3 == 0 else "") + ("Buzz" if i % 5 == 0 else "")
        out.append(word or str(i))
    return out
''',
    "word_count": '''import re
from collections import Counter


def word_count(text):
    """Occurrences of each lowercase word in `text`."""
    return dict(Counter(re.findall(r"[a-z0-9']+", text.lower())))
''',
    "top_words": '''import re
from collections import Counter


def top_words(text, n=3):
    """The n most frequent lowercase words as (word, count), ties broken alphabetically."""
    counts = Counter(re.findall(r"[a-z0-9']+", text.lower()))
    return sorted(counts.items(), key=lambda wc: (-wc[1], wc[0]))[:n]
''',
    "rle_encode": '''def rle_encode(text):
    """Run-length encoding: 'aaab' -> 'a3b1'."""
    out, i = [], 0
    while i < len(text):
        j = i
        while j < len(text) and text[j] == text[i]:
            j += 1
        out.append(f"{text[i]}{j - i}")
        i = j
    return "".join(out)
''',
    "rle_decode": '''import re


def rle_decode(text):
    """Inverse of rle_encode: 'a3b1' -> 'aaab'."""
    return "".join(ch * int(count) for ch, count in re.findall(r"(\\D)(\\d+)", text))
''',
}


def _write_module(prompt: str) -> str:
    m = re.search(r"defining\s+([\w, ]+?)\s+so that", prompt)
    wanted = [f.strip() for f in m.group(1).split(",")] if m else []
    if not wanted:
        wanted = sorted({name for name in KNOWN_FUNCTIONS if re.search(rf"\b{name}\s*\(", prompt)})
    if not wanted or any(f not in KNOWN_FUNCTIONS for f in wanted):
        return "I do not know how to write that module."
    imports: list[str] = []
    bodies: list[str] = []
    for name in wanted:
        for line in KNOWN_FUNCTIONS[name].splitlines():
            if line.startswith(("import ", "from ")) and line not in imports:
                imports.append(line)
        body = "\n".join(
            line for line in KNOWN_FUNCTIONS[name].splitlines() if not line.startswith(("import ", "from "))
        )
        bodies.append(body.strip("\n"))
    code = ("\n".join(sorted(imports)) + "\n\n\n" if imports else "") + "\n\n\n".join(bodies) + "\n"
    return f"```python\n{code}```"
