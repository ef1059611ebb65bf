"""The simulated model in its `llm`-tool role: deterministic answers to what subagents ask.

It recognises three kinds of request by their wording, as a model would: sentiment classification
(a small lexicon with negation), summaries (extractive: the most central sentences, in their original
order), and small Python modules for well-known functions (a fixed set it "knows", under their usual
names, in the shape the tests call them). Anything else gets an honest "cannot answer" or "cannot
write", never a made-up result or code.
"""

from __future__ import annotations

import ast
import builtins
import functools
import re
from collections import Counter
from dataclasses import dataclass

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
NEGATORS = frozenset(
    "not no never hardly barely cannot isn't wasn't don't doesn't didn't can't won't couldn't".split()  # noqa: SIM905
)
# Verbs of a product or service doing its job: neutral alone, a complaint when negated ("never
# replied", "doesn't work", "no longer charges") or stopped ("stopped syncing").
FUNCTIONING = frozenset(
    [
        "work",
        "works",
        "worked",
        "working",
        "reply",
        "replies",
        "replied",
        "replying",
        "respond",
        "responds",
        "responded",
        "answer",
        "answers",
        "answered",
        "arrive",
        "arrives",
        "arrived",
        "sync",
        "syncs",
        "synced",
        "syncing",
        "load",
        "loads",
        "loaded",
        "loading",
        "charge",
        "charges",
        "charged",
        "charging",
        "connect",
        "connects",
        "connected",
        "connecting",
        "start",
        "starts",
        "started",
        "starting",
        "turn",
        "turns",
        "boot",
        "boots",
        "open",
        "opens",
        "help",
        "helps",
        "helped",
        "fix",
        "fixed",
        "deliver",
        "delivers",
        "delivered",
        "show",
        "showed",
        "come",
        "came",
        "last",
        "lasted",
        "fit",
        "fits",
        "update",
        "updates",
        "updating",
        "save",
        "saves",
        "saving",
        "print",
        "prints",
        "printing",
        "function",
        "functions",
        "functioning",
        "run",
        "runs",
        "running",
    ]  # noqa: SIM905 (a word list reads better as text)
)
STOPPERS = frozenset("stop stops stopped quit quits ceased".split())  # noqa: SIM905
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
# A refusal, never code: module_from_tests records it as a failed draft.
CANNOT_WRITE = "I cannot write that module."


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
    score = sum(_polarity(words, i) for i in range(len(words)))
    return "positive" if score > 0 else "negative" if score < 0 else "neutral"


def _negated(words: list[str], i: int) -> bool:
    return any(w in NEGATORS or w.endswith("n't") for w in words[max(0, i - 3) : i])


def _polarity(words: list[str], i: int) -> int:
    word = words[i]
    if word in FUNCTIONING:
        if i and words[i - 1] in STOPPERS:
            return 1 if _negated(words, i - 1) else -1  # "stopped syncing"; "never stopped working"
        return -1 if _negated(words, i) else 0  # "never replied", "doesn't work", "no longer charges"
    polarity = 1 if word in POSITIVE else -1 if word in NEGATIVE else 0
    return -polarity if polarity and _negated(words, i) else polarity


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
    if not isinstance(n, int) or isinstance(n, bool):
        raise TypeError("fizzbuzz needs an integer")
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
    "number_of_words": '''def number_of_words(text):
    """How many whitespace-separated words `text` holds."""
    return len(text.split())
''',
    "top_words": '''import re
from collections import Counter


def top_words(text, n=3):
    """The n most frequent lowercase words as (word, count), ties broken alphabetically."""
    counts = Counter(re.findall(r"[a-z0-9']+", text.lower()))
    return sorted(counts.items(), key=lambda wc: (-wc[1], wc[0]))[:n]
''',
    "caesar_encrypt": '''def caesar_encrypt(text, shift=3):
    """Shift each letter `shift` places along the alphabet, keeping case; other characters stay."""
    out = []
    for c in text:
        if c.isascii() and c.isalpha():
            base = ord("A") if c.isupper() else ord("a")
            c = chr(base + (ord(c) - base + shift) % 26)
        out.append(c)
    return "".join(out)
''',
    "caesar_decrypt": '''def caesar_decrypt(text, shift=3):
    """Undo a Caesar shift of `shift` places, keeping case; other characters stay."""
    out = []
    for c in text:
        if c.isascii() and c.isalpha():
            base = ord("A") if c.isupper() else ord("a")
            c = chr(base + (ord(c) - base - shift) % 26)
        out.append(c)
    return "".join(out)
''',
    "reverse_words": '''def reverse_words(text):
    """The words of `text` in reverse order, separated by single spaces."""
    return " ".join(reversed(text.split()))
''',
    "is_anagram": '''def is_anagram(first, second):
    """True when the two texts use the same letters, ignoring case, spaces and punctuation."""
    def letters(text):
        return sorted(c.lower() for c in text if c.isalnum())

    return letters(first) == letters(second)
''',
    "count_vowels": '''def count_vowels(text):
    """How many vowels (a, e, i, o, u, either case) `text` holds."""
    return sum(1 for c in text.lower() if c in "aeiou")
''',
    "flatten": '''def flatten(items):
    """A flat list of the items in arbitrarily nested lists and tuples."""
    out = []
    for item in items:
        if isinstance(item, (list, tuple)):
            out.extend(flatten(item))
        else:
            out.append(item)
    return out
''',
    "chunk": '''def chunk(items, size):
    """`items` cut into lists of `size` items; the last may be shorter."""
    if not isinstance(size, int) or size < 1:
        raise ValueError("size must be a positive integer")
    items = list(items)
    return [items[i : i + size] for i in range(0, len(items), size)]
''',
    "fibonacci": '''def fibonacci(n):
    """The n-th Fibonacci number, with fibonacci(0) == 0 and fibonacci(1) == 1."""
    if not isinstance(n, int) or n < 0:
        raise ValueError("n must be a non-negative integer")
    a, b = 0, 1
    for _ in range(n):
        a, b = b, a + b
    return a
''',
    "factorial": '''def factorial(n):
    """n! for a non-negative integer n."""
    if not isinstance(n, int) or n < 0:
        raise ValueError("n must be a non-negative integer")
    result = 1
    for i in range(2, n + 1):
        result *= i
    return result
''',
    "gcd": '''def gcd(a, b):
    """Greatest common divisor (non-negative; gcd(0, 0) == 0)."""
    a, b = abs(a), abs(b)
    while b:
        a, b = b, a % b
    return a
''',
    "lcm": '''def lcm(a, b):
    """Least common multiple (0 when either is 0)."""
    if a == 0 or b == 0:
        return 0
    x, y = abs(a), abs(b)
    while y:
        x, y = y, x % y
    return abs(a * b) // x
''',
    "is_prime": '''def is_prime(n):
    """True for a prime integer; False for 0, 1 and negatives."""
    if n < 2:
        return False
    i = 2
    while i * i <= n:
        if n % i == 0:
            return False
        i += 1
    return True
''',
    "is_leap_year": '''def is_leap_year(year):
    """True for a Gregorian leap year."""
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
''',
    "transpose": """def transpose(matrix):
    \"\"\"Rows become columns: a list of lists ([] for an empty matrix).\"\"\"
    return [list(column) for column in zip(*matrix)]
""",
    "matrix_multiply": """def matrix_multiply(a, b):
    \"\"\"The matrix product of two lists of rows.\"\"\"
    if a and b and len(a[0]) != len(b):
        raise ValueError("the first matrix needs as many columns as the second has rows")
    return [[sum(x * y for x, y in zip(row, column)) for column in zip(*b)] for row in a]
""",
    "dot_product": """def dot_product(a, b):
    \"\"\"Sum of the products of two equally long sequences.\"\"\"
    if len(a) != len(b):
        raise ValueError("the vectors need the same length")
    return sum(x * y for x, y in zip(a, b))
""",
    "binary_search": """def binary_search(items, target):
    \"\"\"Index of `target` in the sorted sequence `items`, or -1 when it is absent.\"\"\"
    low, high = 0, len(items) - 1
    while low <= high:
        middle = (low + high) // 2
        if items[middle] == target:
            return middle
        if items[middle] < target:
            low = middle + 1
        else:
            high = middle - 1
    return -1
""",
    "is_balanced": """def is_balanced(text):
    \"\"\"True when every (, [ and { in `text` is closed in the right order; other characters are ignored.\"\"\"
    pairs = {")": "(", "]": "[", "}": "{"}
    stack = []
    for c in text:
        if c in "([{":
            stack.append(c)
        elif c in pairs:
            if not stack or stack.pop() != pairs[c]:
                return False
    return not stack
""",
    "mean": """def mean(values):
    \"\"\"Arithmetic mean; ValueError for no values.\"\"\"
    values = list(values)
    if not values:
        raise ValueError("mean of no values")
    return sum(values) / len(values)
""",
    "median": """def median(values):
    \"\"\"Middle value of the sorted values (mean of the two middle ones for an even count).\"\"\"
    ordered = sorted(values)
    if not ordered:
        raise ValueError("median of no values")
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) / 2
""",
    "mode": """from collections import Counter


def mode(values):
    \"\"\"Most common value; the first one seen wins a tie.\"\"\"
    values = list(values)
    if not values:
        raise ValueError("mode of no values")
    counts = Counter(values)
    return max(values, key=lambda v: (counts[v], -values.index(v)))
""",
    "variance": """def variance(values):
    \"\"\"Sample variance (divides by n - 1), as statistics.variance.\"\"\"
    values = list(values)
    if len(values) < 2:
        raise ValueError("variance needs at least two values")
    average = sum(values) / len(values)
    return sum((v - average) ** 2 for v in values) / (len(values) - 1)
""",
    "population_variance": """def population_variance(values):
    \"\"\"Population variance (divides by n), as statistics.pvariance.\"\"\"
    values = list(values)
    if not values:
        raise ValueError("variance of no values")
    average = sum(values) / len(values)
    return sum((v - average) ** 2 for v in values) / len(values)
""",
    "stdev": """def stdev(values):
    \"\"\"Sample standard deviation (n - 1), as statistics.stdev.\"\"\"
    values = list(values)
    if len(values) < 2:
        raise ValueError("standard deviation needs at least two values")
    average = sum(values) / len(values)
    return (sum((v - average) ** 2 for v in values) / (len(values) - 1)) ** 0.5
""",
    "population_stdev": """def population_stdev(values):
    \"\"\"Population standard deviation (n), as statistics.pstdev.\"\"\"
    values = list(values)
    if not values:
        raise ValueError("standard deviation of no values")
    average = sum(values) / len(values)
    return (sum((v - average) ** 2 for v in values) / len(values)) ** 0.5
""",
    "clamp": """def clamp(value, low, high):
    \"\"\"`value` limited to the range low..high.\"\"\"
    if low > high:
        raise ValueError("low must not exceed high")
    return max(low, min(value, high))
""",
    "dedupe": """def dedupe(items):
    \"\"\"`items` without repeats, first occurrences kept in order (a string stays a string).\"\"\"
    seen, out = set(), []
    for item in items:
        if item not in seen:
            seen.add(item)
            out.append(item)
    return "".join(out) if isinstance(items, str) else out
""",
    "merge_dicts": """def merge_dicts(*dicts):
    \"\"\"One dict with the keys of all; a later dict wins a shared key.\"\"\"
    merged = {}
    for d in dicts:
        merged.update(d)
    return merged
""",
    "title_case": """def title_case(text):
    \"\"\"Each word capitalised, the rest of it lowercase; spacing kept.\"\"\"
    return " ".join(word[:1].upper() + word[1:].lower() for word in text.split(" "))
""",
    "capitalize_words": """def capitalize_words(text):
    \"\"\"The first letter of each word in uppercase, the rest unchanged; spacing kept.\"\"\"
    return " ".join(word[:1].upper() + word[1:] for word in text.split(" "))
""",
    "remove_vowels": """def remove_vowels(text):
    \"\"\"`text` without the vowels a, e, i, o, u in either case.\"\"\"
    return "".join(c for c in text if c.lower() not in "aeiou")
""",
    "reverse_string": """def reverse_string(text):
    \"\"\"`text` backwards.\"\"\"
    return text[::-1]
""",
    "sum_of_digits": """def sum_of_digits(n):
    \"\"\"Sum of the decimal digits of an integer (its sign ignored).\"\"\"
    return sum(int(d) for d in str(abs(int(n))))
""",
    "digital_root": """def digital_root(n):
    \"\"\"Repeated digit sum down to one digit.\"\"\"
    n = abs(int(n))
    while n >= 10:
        n = sum(int(d) for d in str(n))
    return n
""",
    "power_set": """from itertools import combinations


def power_set(items):
    \"\"\"Every subset of `items` as a list, smallest first, in the order of `items`.\"\"\"
    items = list(items)
    return [list(subset) for size in range(len(items) + 1) for subset in combinations(items, size)]
""",
    "prime_factors": """def prime_factors(n):
    \"\"\"Prime factors of n >= 2 in ascending order, with repeats (12 -> [2, 2, 3]).\"\"\"
    factors, d = [], 2
    while d * d <= n:
        while n % d == 0:
            factors.append(d)
            n //= d
        d += 1
    if n > 1:
        factors.append(n)
    return factors
""",
    "primes_up_to": """def primes_up_to(n):
    \"\"\"The primes up to and including n (sieve of Eratosthenes).\"\"\"
    if n < 2:
        return []
    sieve = [True] * (n + 1)
    sieve[0] = sieve[1] = False
    for i in range(2, int(n**0.5) + 1):
        if sieve[i]:
            sieve[i * i :: i] = [False] * len(sieve[i * i :: i])
    return [i for i, prime in enumerate(sieve) if prime]
""",
    "is_sorted": """def is_sorted(items):
    \"\"\"True when `items` is in ascending order.\"\"\"
    return all(a <= b for a, b in zip(items, items[1:]))
""",
    "cumulative_sum": """def cumulative_sum(values):
    \"\"\"Running totals: [1, 2, 3] -> [1, 3, 6].\"\"\"
    out, total = [], 0
    for v in values:
        total += v
        out.append(total)
    return out
""",
    "is_valid_email": r'''import re

_EMAIL = re.compile(
    r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?\.)+[A-Za-z]{2,}"
)


def is_valid_email(address):
    """True for a plain address: a local part, one @, and a domain with a dot and a letter suffix."""
    return isinstance(address, str) and _EMAIL.fullmatch(address.strip()) is not None
''',
    "is_valid_isbn10": """def is_valid_isbn10(isbn):
    \"\"\"True for an ISBN-10 (hyphens and spaces ignored; X as the check digit means 10).\"\"\"
    chars = str(isbn).replace("-", "").replace(" ", "").upper()
    if len(chars) != 10 or not chars[:9].isdigit() or not (chars[9].isdigit() or chars[9] == "X"):
        return False
    values = [int(c) for c in chars[:9]] + [10 if chars[9] == "X" else int(chars[9])]
    return sum((10 - i) * v for i, v in enumerate(values)) % 11 == 0
""",
    "is_valid_isbn13": """def is_valid_isbn13(isbn):
    \"\"\"True for an ISBN-13 (hyphens and spaces ignored): digits weighted 1, 3, 1, ... sum to a multiple of 10.\"\"\"
    digits = str(isbn).replace("-", "").replace(" ", "")
    if len(digits) != 13 or not digits.isdigit():
        return False
    return sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(digits)) % 10 == 0
""",
    "is_valid_luhn": """def is_valid_luhn(number):
    \"\"\"Luhn checksum of a card or account number (spaces and hyphens ignored; at least two digits).\"\"\"
    digits = str(number).replace(" ", "").replace("-", "")
    if len(digits) < 2 or not digits.isdigit():
        return False
    total = 0
    for i, d in enumerate(reversed(digits)):
        n = int(d) * (2 if i % 2 else 1)
        total += n - 9 if n > 9 else n
    return total % 10 == 0
""",
    "is_valid_ipv4": """def is_valid_ipv4(address):
    \"\"\"True for a dotted-quad IPv4 address: four numbers 0-255 without leading zeros.\"\"\"
    parts = str(address).split(".")
    return len(parts) == 4 and all(
        p.isdigit() and p.isascii() and int(p) <= 255 and (p == "0" or not p.startswith("0")) for p in parts
    )
""",
    "is_valid_hex_color": """import re


def is_valid_hex_color(color):
    \"\"\"True for a CSS hex colour: '#' and 3 or 6 hexadecimal digits.\"\"\"
    return isinstance(color, str) and re.fullmatch(r"#(?:[0-9a-fA-F]{3}){1,2}", color) is not None
""",
    "is_valid_url": """import re

_URL = re.compile(
    r"https?://(?:localhost|(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?\\.)+[A-Za-z]{2,}|\\d{1,3}(?:\\.\\d{1,3}){3})"
    r"(?::\\d{1,5})?(?:[/?#][^\\s]*)?",
    re.IGNORECASE,
)


def is_valid_url(url):
    \"\"\"True for an http or https URL with a host name (or localhost, or an IPv4 address).\"\"\"
    return isinstance(url, str) and _URL.fullmatch(url.strip()) is not None
""",
    "to_snake_case": """import re


def to_snake_case(text):
    \"\"\"camelCase, PascalCase, spaced or hyphenated words as snake_case.\"\"\"
    text = re.sub(r"([a-z0-9])([A-Z])", r"\\1_\\2", text)
    return "_".join(w.lower() for w in re.split(r"[^A-Za-z0-9]+", text) if w)
""",
    "to_camel_case": """import re


def to_camel_case(text):
    \"\"\"snake_case, spaced or hyphenated words as camelCase.\"\"\"
    words = [w for w in re.split(r"[^A-Za-z0-9]+", text) if w]
    if not words:
        return ""
    return words[0].lower() + "".join(w[:1].upper() + w[1:].lower() for w in words[1:])
""",
}

# Either kind of ISBN: the two checks above and a dispatch on the length.
KNOWN_FUNCTIONS["is_valid_isbn"] = (
    KNOWN_FUNCTIONS["is_valid_isbn10"]
    + "\n\n"
    + KNOWN_FUNCTIONS["is_valid_isbn13"]
    + '''

def is_valid_isbn(isbn):
    """True for a valid ISBN-10 or ISBN-13 (hyphens and spaces ignored)."""
    return is_valid_isbn10(isbn) or is_valid_isbn13(isbn)
'''
)

# Other names tests use for the same functions.
ALIASES = {
    "fizz_buzz": "fizzbuzz",
    "palindrome": "is_palindrome",
    "count_words": "word_count",
    "word_counts": "word_count",
    "word_frequencies": "word_count",
    "caesar": "caesar_encrypt",
    "caesar_cipher": "caesar_encrypt",
    "caesar_encode": "caesar_encrypt",
    "caesar_shift": "caesar_encrypt",
    "encrypt": "caesar_encrypt",
    "caesar_decode": "caesar_decrypt",
    "decrypt": "caesar_decrypt",
    "run_length_encode": "rle_encode",
    "run_length_decode": "rle_decode",
    "are_anagrams": "is_anagram",
    "flatten_list": "flatten",
    "chunks": "chunk",
    "chunked": "chunk",
    "chunk_list": "chunk",
    "fib": "fibonacci",
    "nth_fibonacci": "fibonacci",
    "is_leap": "is_leap_year",
    "transpose_matrix": "transpose",
    "matmul": "matrix_multiply",
    "multiply_matrices": "matrix_multiply",
    "dot": "dot_product",
    "bsearch": "binary_search",
    "balanced": "is_balanced",
    "balanced_brackets": "is_balanced",
    "is_balanced_brackets": "is_balanced",
    "brackets_balanced": "is_balanced",
    "check_brackets": "is_balanced",
    "balanced_parentheses": "is_balanced",
    "valid_parentheses": "is_balanced",
    "is_valid_parentheses": "is_balanced",
    "std_dev": "stdev",
    "standard_deviation": "stdev",
    "pvariance": "population_variance",
    "pstdev": "population_stdev",
    "unique": "dedupe",
    "uniq": "dedupe",
    "dedup": "dedupe",
    "deduplicate": "dedupe",
    "remove_duplicates": "dedupe",
    "distinct": "dedupe",
    "merge": "merge_dicts",
    "to_title_case": "title_case",
    "titlecase": "title_case",
    "capitalize": "capitalize_words",
    "reverse": "reverse_string",
    "digit_sum": "sum_of_digits",
    "powerset": "power_set",
    "subsets": "power_set",
    "all_subsets": "power_set",
    "sieve": "primes_up_to",
    "sieve_of_eratosthenes": "primes_up_to",
    "primes_below": "primes_up_to",
    "running_total": "cumulative_sum",
    "running_sum": "cumulative_sum",
    "prefix_sums": "cumulative_sum",
    "cumsum": "cumulative_sum",
    "snake_case": "to_snake_case",
    "camel_case": "to_camel_case",
    "num_words": "number_of_words",
    "n_words": "number_of_words",
    "total_words": "number_of_words",
    "luhn": "is_valid_luhn",
    "luhn_valid": "is_valid_luhn",
}

# Words that name the same thing in function names ("word_freq" is "word_count"), and words that add
# nothing ("get_", "compute_", "sum_of_digits" is "sum_digits").
NAME_SYNONYMS = {
    "freq": "count",
    "frequency": "count",
    "frequencie": "count",
    "occurrence": "count",
    "tally": "count",
    "average": "mean",
    "avg": "mean",
    "capitalise": "capitalize",
    "std": "stdev",
    "stddev": "stdev",
    "deviation": "dev",
    "var": "variance",
    "population": "pop",
    "str": "string",
    "text": "string",
    "uniq": "unique",
    "char": "character",
    "colour": "color",
}
FILLER_WORDS = frozenset({"get", "compute", "calculate", "calc", "find", "of", "the", "a"})

# Other conventions of a function, tried in order when the default does not give the results the
# tests expect for their literal examples (variance: sample or population; title case: rest lowered).
VARIANTS = {
    "variance": ("population_variance",),
    "population_variance": ("variance",),
    "stdev": ("population_stdev",),
    "population_stdev": ("stdev",),
    "title_case": ("capitalize_words",),
    "capitalize_words": ("title_case",),
    "word_count": ("number_of_words",),
    "number_of_words": ("word_count",),
}

# Other shapes of a function, chosen when the tests call it that way ({name} is the called name):
# fizzbuzz(15) == "FizzBuzz" wants one value, fibonacci(5) == [...] wants the sequence.
SHAPES = {
    "fizzbuzz": (
        (
            r"\b{name}\(\s*\d+\s*\)\s*==\s*[\"']",
            '''def fizzbuzz(n):
    """'Fizz', 'Buzz', 'FizzBuzz' or the number itself as a string, for one positive integer n."""
    if not isinstance(n, int) or isinstance(n, bool):
        raise TypeError("fizzbuzz needs an integer")
    word = ("Fizz" if n % 3 == 0 else "") + ("Buzz" if n % 5 == 0 else "")
    return word or str(n)
''',
        ),
    ),
    "fibonacci": (
        (
            r"\b{name}\(\s*\d+\s*\)\s*==\s*\[",
            '''def fibonacci(n):
    """The first n Fibonacci numbers, starting 0, 1."""
    if not isinstance(n, int) or n < 0:
        raise ValueError("n must be a non-negative integer")
    out, a, b = [], 0, 1
    for _ in range(n):
        out.append(a)
        a, b = b, a + b
    return out
''',
        ),
    ),
}


def _rle_code(name: str, count_first: bool, omit_one: bool) -> str:
    """Run-length encoder or decoder in one convention: 'a3b1', 'a3b', '3a1b' or '3ab'."""
    if name == "rle_encode":
        count = '"" if j - i == 1 else str(j - i)' if omit_one else "str(j - i)"
        piece = "count + text[i]" if count_first else "text[i] + count"
        return f'''def rle_encode(text):
    """Run-length encoding: each run of a character as the character and its count."""
    out, i = [], 0
    while i < len(text):
        j = i
        while j < len(text) and text[j] == text[i]:
            j += 1
        count = {count}
        out.append({piece})
        i = j
    return "".join(out)
'''
    pattern, pair = (
        (r"(\d*)(\D)", "ch * int(n or 1) for n, ch")
        if count_first
        else (r"(\D)(\d*)", "ch * int(n or 1) for ch, n")
    )
    return f'''import re


def rle_decode(text):
    """Inverse of rle_encode: each character repeated its count (1 when no count is written)."""
    return "".join({pair} in re.findall(r"{pattern}", text))
'''


def _rle_style(prompt: str) -> tuple[bool, bool]:
    """(count first, count of 1 omitted): the first convention matching the examples in the tests."""
    pairs = re.findall(r"\w*encode\w*\(\s*([\"'])(.*?)\1\s*\)\s*==\s*([\"'])(.*?)\3", prompt)
    examples = [(plain, encoded) for _, plain, _, encoded in pairs]
    pairs = re.findall(r"\w*decode\w*\(\s*([\"'])(.*?)\1\s*\)\s*==\s*([\"'])(.*?)\3", prompt)
    examples += [(plain, encoded) for _, encoded, _, plain in pairs]
    for style in ((False, False), (True, False), (True, True), (False, True)):
        if all(_rle(plain, *style) == encoded for plain, encoded in examples):
            return style
    return False, False


def _rle(text: str, count_first: bool, omit_one: bool) -> str:
    out = []
    for run in re.finditer(r"(.)\1*", text, re.S):
        count = "" if omit_one and len(run.group()) == 1 else str(len(run.group()))
        out.append(count + run.group(1) if count_first else run.group(1) + count)
    return "".join(out)


def _words(name: str) -> list[str]:
    """A name's words by meaning: camelCase and snake_case split, lowercase, singular, synonyms
    merged and filler dropped."""
    out = []
    for word in (w.lower() for w in re.findall(r"[A-Z]?[a-z0-9]+|[A-Z]+(?![a-z])", name)):
        if word.endswith("ies") and len(word) > 4:
            word = word[:-3] + "y"
        elif word.endswith("s") and not word.endswith(("ss", "us", "is")) and len(word) > 3:
            word = word[:-1]
        word = NAME_SYNONYMS.get(word, word)
        if word not in FILLER_WORDS:
            out.append(word)
    return out


def _normal(name: str) -> str:
    """A function name reduced to its meaning ("getWordFrequencies" and "word_count" are both
    "wordcount")."""
    return "".join(_words(name))


def _names() -> dict[str, str]:
    """Every known name and alias, normalised, to the function it means."""
    names = {_normal(n): n for n in [*KNOWN_FUNCTIONS, "rle_encode", "rle_decode"]}
    for alias, canonical in ALIASES.items():
        names.setdefault(_normal(alias), canonical)
    return names


def _resolve(name: str) -> str | None:
    """The known function a called name means, or None."""
    if name in KNOWN_FUNCTIONS or name in ("rle_encode", "rle_decode"):
        return name
    if name in ALIASES:
        return ALIASES[name]
    return _names().get(_normal(name)) or _validator(name)


# Words that make a name a yes/no check ("validate_email", "email_is_valid", "check_isbn10"), and
# other names for what the known validators check.
CHECK_WORDS = frozenset({"is", "valid", "validate", "check", "verify", "checker", "validator"})
CHECKED_THINGS = {
    "emailaddress": "email",
    "ip": "ipv4",
    "ipaddress": "ipv4",
    "ipv4address": "ipv4",
    "hex": "hexcolor",
    "creditcard": "luhn",
    "creditcardnumber": "luhn",
    "card": "luhn",
    "cardnumber": "luhn",
    "link": "url",
}


def _validator(name: str) -> str | None:
    """The known `is_valid_*` function a check named another way means ("validate_email")."""
    words = _words(name)
    core = [w for w in words if w not in CHECK_WORDS]
    if len(core) == len(words) or not core:
        return None
    thing = "".join(core)
    thing = CHECKED_THINGS.get(thing, thing)
    return f"is_valid_{thing}" if f"is_valid_{thing}" in KNOWN_FUNCTIONS else None


@functools.lru_cache(maxsize=8)
def _test_tree(prompt: str) -> ast.Module | None:
    """The syntax tree of the tests quoted in the prompt (its first fenced block), or None."""
    fenced = re.findall(r"```(?:python|py)?\n(.*?)```", prompt, re.S)
    try:
        return ast.parse(fenced[0] if fenced else prompt)
    except SyntaxError:
        return None


def _callee(node: ast.expr) -> str | None:
    """The name a call is made by: `f(...)` and `obj.f(...)` are both "f"."""
    return node.attr if isinstance(node, ast.Attribute) else getattr(node, "id", None)


def _examples(prompt: str, name: str) -> list[tuple[tuple, object]]:
    """(arguments, expected result) of the tests' literal examples of `name`: `name(...) == value`,
    assertEqual(name(...), value) or assertAlmostEqual(name(...), value)."""
    tree = _test_tree(prompt)
    if tree is None:
        return []
    pairs = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare) and len(node.ops) == 1 and isinstance(node.ops[0], ast.Eq):
            pairs.append((node.left, node.comparators[0]))
        elif isinstance(node, ast.Call) and _is_equality_assert(node.func) and len(node.args) >= 2:
            pairs.append((node.args[0], node.args[1]))
        elif _is_closeness(node):  # abs(name(...) - value) < tolerance
            pairs.append((node.left.args[0].left, node.left.args[0].right))
    examples = []
    for call, expected in pairs:
        if not isinstance(call, ast.Call) or call.keywords:
            continue
        if isinstance(expected, ast.Call) and _callee(expected.func) == "approx" and expected.args:
            expected = expected.args[0]
        if _callee(call.func) != name:
            continue
        try:
            examples.append((tuple(ast.literal_eval(a) for a in call.args), ast.literal_eval(expected)))
        except ValueError:
            continue  # not a literal example
    return examples


def _is_closeness(node: ast.AST) -> bool:
    return (
        isinstance(node, ast.Compare)
        and isinstance(node.ops[0], (ast.Lt, ast.LtE))
        and isinstance(node.left, ast.Call)
        and _callee(node.left.func) == "abs"
        and len(node.left.args) == 1
        and isinstance(node.left.args[0], ast.BinOp)
        and isinstance(node.left.args[0].op, ast.Sub)
    )


def _is_equality_assert(func: ast.expr) -> bool:
    return isinstance(func, ast.Attribute) and func.attr in (
        "assertEqual",
        "assertAlmostEqual",
        "assertEquals",
    )


def _agrees(code: str, name: str, examples: list[tuple[tuple, object]]) -> bool:
    namespace: dict = {}
    try:
        exec(code, namespace)  # the model "reading its draft against the examples"
        for args, expected in examples:
            got = namespace[name](*args)
            if isinstance(expected, float) and isinstance(got, (int, float)):
                if abs(got - expected) > 1e-7 * max(1.0, abs(expected)):
                    return False
            elif got != expected:
                return False
    except Exception:
        return False
    return True


def _renamed(code: str, canonical: str, name: str) -> str:
    return re.sub(rf"\b{canonical}\(", f"{name}(", code) if name != canonical else code


def _code_for(name: str, prompt: str) -> str:
    """The code of one known function, in the shape the tests expect, under the name they call."""
    canonical = _resolve(name)
    if canonical in ("rle_encode", "rle_decode"):
        return _renamed(_rle_code(canonical, *_rle_style(prompt)), canonical, name)
    code = KNOWN_FUNCTIONS[canonical]
    for pattern, alternative in SHAPES.get(canonical, ()):
        if re.search(pattern.format(name=re.escape(name)), prompt):
            code = alternative
            break
    code = _renamed(code, canonical, name)
    return _first_agreeing(
        name, prompt, code, [_renamed(KNOWN_FUNCTIONS[o], o, name) for o in VARIANTS.get(canonical, ())]
    )


def _first_agreeing(name: str, prompt: str, code: str, alternatives: list[str]) -> str:
    """`code`, unless it disagrees with the tests' literal examples of `name` and an alternative agrees."""
    examples = _examples(prompt, name) if alternatives else []
    if examples and not _agrees(code, name, examples):
        for alternative in alternatives:
            if _agrees(alternative, name, examples):
                return alternative
    return code


# ---- what the tests expect to fail --------------------------------------------------------------------


def _expected_errors(prompt: str) -> dict[str, list[str]]:
    """The exceptions the tests expect from each called name (a function or a method), in order:
    from `with pytest.raises(E):` / `with self.assertRaises(E):` blocks, `assertRaises(E, f, ...)` and
    `try: ... except E:`."""
    found: dict[str, list[str]] = {}

    def note(nodes: list[ast.AST], errors: list[str]) -> None:
        for node in nodes:
            for call in ast.walk(node):
                if isinstance(call, ast.Call) and _callee(call.func):
                    found.setdefault(_callee(call.func), []).extend(errors)

    for node in ast.walk(_test_tree(prompt) or ast.Module(body=[], type_ignores=[])):
        if isinstance(node, ast.With):
            for item in node.items:
                if _is_raises(item.context_expr) and item.context_expr.args:
                    note(node.body, _exception_names(item.context_expr.args[0]))
        elif _is_raises(node) and len(node.args) >= 2 and _callee(node.args[1]):
            found.setdefault(_callee(node.args[1]), []).extend(_exception_names(node.args[0]))
        elif isinstance(node, ast.Try):
            errors = [e for h in node.handlers if h.type is not None for e in _exception_names(h.type)]
            note(node.body, errors)
    return found


def _is_raises(node: ast.AST) -> bool:
    return isinstance(node, ast.Call) and _callee(node.func) in (
        "raises",
        "assertRaises",
        "assertRaisesRegex",
    )


def _exception_names(node: ast.expr) -> list[str]:
    if isinstance(node, ast.Tuple):
        return [n for e in node.elts for n in _exception_names(e)]
    name = _callee(node)
    return [name] if name else []


def _errors_for(defaults: tuple[str, ...], expected: list[str]) -> tuple[str, ...]:
    """The exceptions to raise where the conventional ones are `defaults`: when the tests expect one
    exception there, it replaces every default that is not already a kind of it."""
    distinct = list(dict.fromkeys(expected))
    if len(distinct) != 1:
        return defaults
    base = getattr(builtins, distinct[0], None)
    is_base = isinstance(base, type) and issubclass(base, BaseException)
    return tuple(d if is_base and issubclass(getattr(builtins, d), base) else distinct[0] for d in defaults)


def _exception_class(name: str) -> str:
    """An exception the tests import from the module (InsufficientFundsError)."""
    return f'class {name}(Exception):\n    """Raised by this module: {name}."""\n'


# ---- temperature conversions --------------------------------------------------------------------------

SCALES = {
    "c": "celsius",
    "celsius": "celsius",
    "centigrade": "celsius",
    "f": "fahrenheit",
    "fahrenheit": "fahrenheit",
    "k": "kelvin",
    "kelvin": "kelvin",
}
ABSOLUTE_ZERO = {"celsius": -273.15, "fahrenheit": -459.67, "kelvin": 0}
CONVERSIONS = {
    ("celsius", "fahrenheit"): "{v} * 9 / 5 + 32",
    ("fahrenheit", "celsius"): "({v} - 32) * 5 / 9",
    ("celsius", "kelvin"): "{v} + 273.15",
    ("kelvin", "celsius"): "{v} - 273.15",
    ("fahrenheit", "kelvin"): "({v} - 32) * 5 / 9 + 273.15",
    ("kelvin", "fahrenheit"): "({v} - 273.15) * 9 / 5 + 32",
}
# "to_kelvin" alone: the scale it most often converts from.
USUAL_SOURCE = {"fahrenheit": "celsius", "kelvin": "celsius", "celsius": "fahrenheit"}
TEMPERATURE_FILLER = frozenset({"convert", "degree", "temp", "temperature", "deg", "get"})


def _temperature_scales(name: str) -> list[tuple[str, str]]:
    """(from, to) scales a conversion's name can mean, the likeliest first: "c_to_f", "celsius2kelvin",
    "fahrenheitToCelsius", "kelvin_from_celsius", "to_kelvin". Empty when it is no conversion."""
    words = re.findall(r"[a-z]+|\d+", re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower())
    words = ["to" if w == "2" else w for w in words if w not in TEMPERATURE_FILLER]
    scales = [SCALES.get(w) for w in words]
    if len(words) == 3 and words[1] in ("to", "from") and None not in (scales[0], scales[2]):
        pair = (scales[0], scales[2]) if words[1] == "to" else (scales[2], scales[0])
        return [pair] if pair[0] != pair[1] else []
    if len(words) == 2 and words[0] in ("to", "in", "as") and scales[1]:
        sources = [USUAL_SOURCE[scales[1]]] + [
            s for s in ABSOLUTE_ZERO if s not in (USUAL_SOURCE[scales[1]], scales[1])
        ]
        return [(source, scales[1]) for source in sources]
    return []


def _temperature_code(name: str, prompt: str) -> str | None:
    """A conversion rounded to 10 decimals (so 0 K is exactly -459.67 F); it refuses temperatures below
    absolute zero when the tests expect an error for them."""
    pairs = _temperature_scales(name)
    errors = _expected_errors(prompt).get(name)
    drafts = []
    for source, target in pairs:
        guard = ""
        if errors:
            error = _errors_for(("ValueError",), errors)[0]
            guard = (
                f"    if {source} < {ABSOLUTE_ZERO[source]}:\n"
                f'        raise {error}("{source} temperature below absolute zero")\n'
            )
        formula = CONVERSIONS[source, target].format(v=source)
        drafts.append(
            f'def {name}({source}):\n    """Degrees {source.title()} as {target.title()}."""\n{guard}'
            f"    return round({formula}, 10)\n"
        )
    return _first_agreeing(name, prompt, drafts[0], drafts[1:]) if drafts else None


# ---- small classes ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Method:
    """One conventional method: the names that mean it (normalised), its parameters and body. `errors`
    are the conventional exceptions it raises ({0}, {1} in the body); a `guard` is written only when
    the tests expect an error from it."""

    meanings: frozenset[str]
    params: str
    body: str
    errors: tuple[str, ...] = ()
    guard: str = ""

    def arities(self) -> range:
        params = [p for p in self.params.split(", ") if p]
        return range(sum("=" not in p for p in params), len(params) + 1)


@dataclass(frozen=True)
class _Kind:
    """A conventional container class: constructor parameters, state, methods, and dunders always written."""

    doc: str
    params: tuple[str, ...]
    init: str
    methods: tuple[_Method, ...]
    dunders: str = ""
    # A first parameter for when the tests construct it with a string first: BankAccount("Ann", 10).
    text_param: str = ""


def _m(meanings: str, params: str, body: str, errors: tuple[str, ...] = (), guard: str = "") -> _Method:
    return _Method(frozenset(meanings.split()), params, body, errors, guard)


_EMPTY = 'if not self._items:\n    raise {0}("empty")\n'
_SEQUENCE_METHODS = (
    _m("isempty empty", "", "return not self._items"),
    _m("size length len count", "", "return len(self._items)"),
    _m("clear", "", "self._items.clear()"),
    _m("tolist list item all", "", "return list(self._items)"),
)
_POSITIVE = 'if amount <= 0:\n    raise {0}("the amount must be positive")\n'
_FUNDS = 'if amount > self._balance:\n    raise {1}("insufficient funds")\n'
CLASS_KINDS = {
    "stack": _Kind(
        "Last in, first out.",
        ("items=()",),
        "self._items = list(items)",
        (
            _m("push add append put pushitem", "item", "self._items.append(item)"),
            _m("pop", "", _EMPTY + "return self._items.pop()", ("IndexError",)),
            _m("peek top last", "", _EMPTY + "return self._items[-1]", ("IndexError",)),
            *_SEQUENCE_METHODS,
        ),
        "def __len__(self):\n    return len(self._items)",
    ),
    "queue": _Kind(
        "First in, first out.",
        ("items=()",),
        "self._items = deque(items)",
        (
            _m("enqueue push add append put offer insert", "item", "self._items.append(item)"),
            _m(
                "dequeue pop get poll remove popleft",
                "",
                _EMPTY + "return self._items.popleft()",
                ("IndexError",),
            ),
            _m("peek front first head", "", _EMPTY + "return self._items[0]", ("IndexError",)),
            *_SEQUENCE_METHODS,
        ),
        "def __len__(self):\n    return len(self._items)",
    ),
    "account": _Kind(
        "A balance that deposits raise and withdrawals lower; it never goes below zero.",
        ("balance=0",),
        'if balance < 0:\n    raise ValueError("the opening balance cannot be negative")\nself._balance = balance',
        (
            _m(
                "deposit credit payin",
                "amount",
                _POSITIVE + "self._balance += amount\nreturn self._balance",
                ("ValueError",),
            ),
            _m(
                "withdraw withdrawal debit",
                "amount",
                _POSITIVE + _FUNDS + "self._balance -= amount\nreturn self._balance",
                ("ValueError", "ValueError"),
            ),
            _m("balance currentbalance", "", "return self._balance"),
            _m(
                "transfer transferto",
                "other, amount",
                _POSITIVE + _FUNDS + "self._balance -= amount\nother._balance += amount",
                ("ValueError", "ValueError"),
            ),
        ),
        text_param="owner=None",
    ),
    "inventory": _Kind(
        "Quantities (and unit prices, when given) of named items.",
        ("items=None",),
        "self._quantities = dict(items or {})\nself._prices = {}",
        (
            _m(
                "add additem addstock restock stock put store addproduct",
                "name, quantity=1, price=None",
                'if quantity <= 0:\n    raise {0}("the quantity must be positive")\n'
                "self._quantities[name] = self._quantities.get(name, 0) + quantity\n"
                "if price is not None:\n    self._prices[name] = price",
                ("ValueError",),
            ),
            _m(
                "remove removeitem removestock take sell use consume withdraw",
                "name, quantity=1",
                "if name not in self._quantities:\n    raise {0}(name)\n"
                "have = self._quantities[name]\n"
                'if quantity > have:\n    raise {1}(f"only {{have}} of {{name}} in stock")\n'
                "if quantity == have:\n    del self._quantities[name]\n"
                "else:\n    self._quantities[name] = have - quantity",
                ("KeyError", "ValueError"),
            ),
            _m(
                "count quantity qty get stockof quantityof amount level stocklevel howmany",
                "name",
                "return self._quantities.get(name, 0)",
            ),
            _m(
                "total totalitem totalquantity totalcount totalstock size",
                "",
                "return sum(self._quantities.values())",
            ),
            _m(
                "totalvalue value worth totalcost totalprice inventoryvalue stockvalue valuation",
                "",
                "return sum(q * self._prices.get(n, 0) for n, q in self._quantities.items())",
            ),
            _m("item todict asdict stock inventory content all getall", "", "return dict(self._quantities)"),
            _m("name itemname listitem list", "", "return sorted(self._quantities)"),
            _m("has hasitem contain instock isinstock", "name", "return self._quantities.get(name, 0) > 0"),
            _m("price priceof unitprice", "name", "return self._prices[name]"),
            _m("setprice updateprice", "name, price", "self._prices[name] = price"),
        ),
        "def __len__(self):\n    return len(self._quantities)\n\n"
        "def __contains__(self, name):\n    return name in self._quantities",
    ),
    "counter": _Kind(
        "A count that goes up and down in steps.",
        ("start=0",),
        "self._start = start\nself._value = start",
        (
            _m(
                "increment inc incr up tick click increase",
                "step=1",
                "self._value += step\nreturn self._value",
            ),
            _m(
                "decrement dec decr down decrease",
                "step=1",
                "self._value -= step\nreturn self._value",
                ("ValueError",),
                'if self._value - step < 0:\n    raise {0}("the count cannot go below zero")\n',
            ),
            _m("reset clear", "", "self._value = self._start"),
            _m("value count current get total read", "", "return self._value"),
        ),
        "def __int__(self):\n    return self._value",
    ),
}
KIND_WORDS = {
    "stack": "stack",
    "queue": "queue",
    "account": "account",
    "wallet": "account",
    "inventory": "inventory",
    "counter": "counter",
}


def _class_usage(prompt: str, cls: str) -> tuple[dict[str, set[int]], set[str], list[ast.Call]]:
    """How the tests use class `cls`: the argument counts of each method they call on an instance, the
    attributes they read without calling, and the constructor calls."""
    tree = _test_tree(prompt) or ast.Module(body=[], type_ignores=[])
    constructions = [n for n in ast.walk(tree) if isinstance(n, ast.Call) and _callee(n.func) == cls]
    instances = set()  # `x = Cls(...)`, `self.x = Cls(...)`, a fixture or helper `def x(): return Cls(...)`
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef) and any(
            isinstance(r, ast.Return) and r.value in constructions for r in ast.walk(node)
        ):
            instances.add(node.name)
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and (
            node.value in constructions
            or (isinstance(node.value, ast.Call) and _callee(node.value.func) in instances)
        ):
            instances.update(ast.unparse(t) for t in node.targets)
    called: dict[str, set[int]] = {}
    funcs = set()
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and _on_instance(node.func, instances, constructions)
        ):
            called.setdefault(node.func.attr, set()).add(len(node.args) + len(node.keywords))
            funcs.add(id(node.func))
    read = {
        n.attr
        for n in ast.walk(tree)
        if isinstance(n, ast.Attribute) and id(n) not in funcs and _on_instance(n, instances, constructions)
    }
    return called, read, constructions


def _on_instance(node: ast.Attribute, instances: set[str], constructions: list[ast.Call]) -> bool:
    made = node.value in constructions or (
        isinstance(node.value, ast.Call) and _callee(node.value.func) in instances
    )
    return made or ast.unparse(node.value) in instances


def _method_code(name: str, method: _Method, errors: list[str], as_property: bool) -> str:
    body = (method.guard if errors else "") + method.body
    body = body.format(*_errors_for(method.errors, errors))
    params = ", ".join(["self", *filter(None, method.params.split(", "))])
    head = "@property\n" if as_property else ""
    return f"{head}def {name}({params}):\n" + _indent(body)


def _indent(code: str, spaces: int = 4) -> str:
    return "\n".join(" " * spaces + line if line else line for line in code.splitlines())


def _class_code(name: str, prompt: str) -> str | None:
    """A conventional container class with the methods the tests use that mean something for it; the
    others are stubs that raise NotImplementedError. None for a class of unknown kind."""
    words = _words(name)
    kind = CLASS_KINDS.get(KIND_WORDS.get(words[-1], "")) if words else None
    if kind is None:
        return None
    called, read, constructions = _class_usage(prompt, name)
    errors = _expected_errors(prompt)
    params, init = list(kind.params), kind.init
    first_args = [c.args[0] for c in constructions if c.args]
    if kind.text_param and any(isinstance(a, ast.Constant) and isinstance(a.value, str) for a in first_args):
        params.insert(0, kind.text_param)
        init = f"self.{kind.text_param.split('=')[0]} = {kind.text_param.split('=')[0]}\n" + init
    for keyword in {k.arg for c in constructions for k in c.keywords if k.arg} - {
        p.split("=")[0] for p in params
    }:
        main = params[-1].split("=")[0]  # the tests name it otherwise: BankAccount(initial_balance=50)
        params[-1] = params[-1].replace(main, keyword, 1)
        init = f"{main} = {keyword}\n" + init
    members = [f"def __init__(self, {', '.join(params)}):\n" + _indent(init)]
    members += kind.dunders.split("\n\n") if kind.dunders else []
    for attr in sorted(called.keys() | read):
        if attr.startswith("__"):
            continue
        meaning = _normal(attr) or attr.lower()
        counts = called.get(attr, set())
        method = next(
            (m for m in kind.methods if meaning in m.meanings and all(n in m.arities() for n in counts)), None
        )
        if method is not None:
            as_property = attr not in called and not method.arities().start
            members.append(_method_code(attr, method, errors.get(attr, []), as_property))
        elif attr in called:
            members.append(
                f"def {attr}(self, *args, **kwargs):\n"
                f'    raise NotImplementedError("{name}.{attr} could not be written")'
            )
    imports = "from collections import deque\n\n\n" if "deque(" in kind.init else ""
    body = "\n\n".join(_indent(m) for m in members)
    return f'{imports}class {name}:\n    """{kind.doc}"""\n\n{body}\n'


def _draft(name: str, prompt: str) -> str | None:
    """The code for one name the tests import or call, or None when the model does not know it."""
    if name[:1].isupper() and name.endswith(("Error", "Exception")):
        return _exception_class(name)
    if name[:1].isupper():
        return _class_code(name, prompt)
    if _temperature_scales(name):
        return _temperature_code(name, prompt)
    return _code_for(name, prompt) if _resolve(name) else None


def _stub(name: str) -> str:
    """An honest placeholder for a function the model cannot write: calling it says so."""
    return (
        f"def {name}(*args, **kwargs):\n"
        f'    """Not written: no implementation of {name} is known."""\n'
        f'    raise NotImplementedError("{name} could not be written")\n'
    )


def _write_module(prompt: str) -> str:
    """The module's code with every function the tests want that is known; the others are stubs that
    raise NotImplementedError, named in the reply. Only when none is known is the reply a refusal."""
    m = re.search(r"defining\s+([\w, ]+?)\s+so that", prompt)
    wanted = [f.strip() for f in m.group(1).split(",")] if m else []
    wanted = [f for f in wanted if f.isidentifier()]
    if not wanted:
        known = set(KNOWN_FUNCTIONS) | set(ALIASES) | {"rle_encode", "rle_decode"}
        wanted = sorted({name for name in known if re.search(rf"\b{name}\s*\(", prompt)})
    drafts = {name: _draft(name, prompt) for name in wanted}
    unknown = [f for f in wanted if drafts[f] is None]
    if not wanted or len(unknown) == len(wanted):
        what = ", ".join(unknown) if unknown else "the functions these tests need"
        return f"{CANNOT_WRITE} I do not know how to implement {what}."
    imports: list[str] = []
    bodies: list[str] = []
    for name in wanted:
        code = drafts[name] or _stub(name)
        for line in code.splitlines():
            if line.startswith(("import ", "from ")) and line not in imports:
                imports.append(line)
        body = "\n".join(line for line in code.splitlines() if not line.startswith(("import ", "from ")))
        bodies.append(body.strip("\n"))
    code = ("\n".join(sorted(imports)) + "\n\n\n" if imports else "") + "\n\n\n".join(bodies) + "\n"
    note = f"I could not write {', '.join(unknown)}: it raises NotImplementedError.\n\n" if unknown else ""
    return f"{note}```python\n{code}```"
