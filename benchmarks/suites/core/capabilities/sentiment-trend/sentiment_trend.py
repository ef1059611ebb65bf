"""Sentiment of dated posts, aggregated by week (or day or month), with a trend chart.

Purpose: tell whether opinion in a set of posts, reviews or comments is improving or declining.
Inputs:
    posts_path (str): CSV or JSON (list of objects, or JSON lines) with a date field and a text field.
        Fields are found by name (date, timestamp, created_at, *_at...; text, tweet, review, body,
        *_text...), else by value: the field that parses as dates, the string field with the longest values.
        Dates may be ISO, written in a common format, or Unix epoch seconds or milliseconds (read as UTC).
    chart_path (str): where to save the PNG chart, e.g. "outputs/sentiment.png".
    period (str): "week" (default), "day" or "month".
    use_labels (bool | None): None (default) uses a sentiment label field when the posts have one (named
        sentiment, label, polarity, mood...; values positive/negative/neutral or pos/neg/neu in any case,
        -1/0/1, or scores in [-1, 1] where > 0.05 is positive and < -0.05 negative) and classifies the
        text otherwise; False always classifies; True requires a label field (an error without one).
Outputs: dict with answer (the result in words), counts ({positive, negative, neutral}), periods (list
    of {period, mean, n}), slope (change of mean sentiment per period), trend ("improving", "declining"
    or "stable"), date_field, text_field, label_field (None when classified), chart.
Limitations: without labels, one label per post from the `llm` tool (positive = +1, neutral = 0,
    negative = -1); posts with no parsable date are skipped; a post missing its label is classified.
"""

import csv
import json
import os
import re
from datetime import UTC, datetime, timedelta

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from agentfactory_tools import llm  # noqa: E402

# Words that name a text field or a date field, best first; a field name matches by any of its words.
TEXT_WORDS = (
    "text",
    "tweet",
    "post",
    "review",
    "comment",
    "message",
    "content",
    "body",
    "description",
    "feedback",
    "caption",
    "note",
    "summary",
    "title",
)
DATE_WORDS = ("date", "datetime", "timestamp", "time", "created", "posted", "published", "day", "when")
# Words of fields that sit next to a post but are not its text: ids, links, counts, ratings, authors.
NOT_TEXT_WORDS = {"id", "url", "link", "count", "likes", "rating", "score", "author", "user", "date", "at"}
SCORES = {"positive": 1, "neutral": 0, "negative": -1}
# Names of a field holding a ready sentiment label, and the label words it may hold.
LABEL_WORDS = {"sentiment", "label", "polarity", "mood"}
LABEL_VALUES = {"pos": "positive", "neg": "negative", "neu": "neutral"}
DATE_FORMATS = (
    "%d/%m/%Y",
    "%m/%d/%Y",
    "%Y/%m/%d",
    "%d.%m.%Y",
    "%d-%m-%Y",
    "%b %d, %Y",
    "%B %d, %Y",
    "%d %b %Y",
    "%d %B %Y",
    "%a %b %d %H:%M:%S %z %Y",
)


def _load(path):
    with open(path, encoding="utf-8-sig") as fh:
        raw = fh.read()
    if path.lower().endswith(".csv"):
        return list(csv.DictReader(raw.splitlines()))
    stripped = raw.strip()
    if stripped.startswith("["):
        return json.loads(stripped)
    if stripped.startswith("{"):
        try:
            data = json.loads(stripped)
        except json.JSONDecodeError:
            return [json.loads(line) for line in stripped.splitlines() if line.strip()]
        for value in data.values():
            if isinstance(value, list):
                return value
        return [data]
    raise ValueError(f"{path} is neither CSV nor JSON")


def _words(name):
    """'created_at' -> ['created', 'at']; 'TweetText' -> ['tweet', 'text']."""
    return [w.lower() for w in re.findall(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+", str(name))]


def _keys(records):
    keys = []
    for record in records[:20]:
        keys += [k for k in record if isinstance(k, str) and k not in keys]
    return keys


def _parse_one(text, fmt):
    for candidate in (text, text.split(" ")[0], text[:10]):
        try:
            return datetime.strptime(candidate, fmt).replace(tzinfo=None)
        except ValueError:
            pass
    return None


def _parse_iso(value):
    text = str(value).strip().replace("Z", "+00:00")
    try:
        return datetime.fromisoformat(text).replace(tzinfo=None)
    except ValueError:
        return None


def _parse_epoch(value):
    """A UTC datetime from Unix epoch seconds (~1e9..2e9) or milliseconds (~1e12..2e12), else None."""
    if isinstance(value, bool):
        return None
    try:
        number = float(str(value).strip())
    except ValueError:
        return None
    if 1e8 <= number < 1e10:
        seconds = number
    elif 1e11 <= number < 1e13:
        seconds = number / 1000
    else:
        return None
    return datetime.fromtimestamp(seconds, tz=UTC).replace(tzinfo=None)


def _parse_dates(values):
    """Dates of `values` (None where unparsable): epoch numbers, then ISO; for the rest the one format that
    reads most of them, so a column of 03/04/2024-style dates is read consistently day-first or month-first."""
    parsed = [(_parse_epoch(v) or _parse_iso(v)) if v not in (None, "") else None for v in values]
    rest = [str(v).strip() for v, p in zip(values, parsed, strict=True) if p is None and v not in (None, "")]
    if not rest:
        return parsed
    best = max(DATE_FORMATS, key=lambda fmt: sum(_parse_one(v, fmt) is not None for v in rest))
    return [
        p if p is not None or v in (None, "") else _parse_one(str(v).strip(), best)
        for v, p in zip(values, parsed, strict=True)
    ]


def _date_share(records, key):
    values = [record.get(key) for record in records]
    return sum(p is not None for p in _parse_dates(values)) / len(values)


def _date_field(records):
    keys = _keys(records)
    named = [k for k in keys if set(_words(k)).intersection(DATE_WORDS)]
    named += [k for k in keys if k not in named and _words(k)[-1:] in (["at"], ["on"])]
    for key in named:
        if _date_share(records, key) > 0.5:
            return key
    # No field is named like a date: take the one whose values parse as dates most often.
    shares = {k: _date_share(records, k) for k in keys if "id" not in _words(k)}
    best = max(shares, key=shares.get, default=None)
    if best is None or shares[best] <= 0.5:
        raise ValueError(f"no date field among {keys}")
    return best


def _is_text(value):
    """True for a string that is not empty, a number or a date."""
    if not isinstance(value, str) or not value.strip() or _parse_iso(value) is not None:
        return False
    try:
        float(value)
    except ValueError:
        return True
    return False


def _mean_text_length(records, key):
    values = [record.get(key) for record in records]
    texts = [v for v in values if _is_text(v)]
    if len(texts) < len(values) / 2:
        return 0.0
    return sum(len(v) for v in texts) / len(values)


def _text_field(records, date_key, label_key=None):
    keys = [k for k in _keys(records) if k not in (date_key, label_key)]
    for word in TEXT_WORDS:
        for key in keys:
            words = _words(key)
            if word in words and not NOT_TEXT_WORDS.intersection(words) and _mean_text_length(records, key):
                return key
    # No field is named like a text: take the string field with the longest values.
    lengths = {k: _mean_text_length(records, k) for k in keys}
    best = max(lengths, key=lengths.get, default=None)
    if best is None or lengths[best] == 0:
        raise ValueError(f"no text field among {keys}")
    return best


def _label(text):
    answer = (
        llm(
            "Classify the sentiment of this post as positive, negative or neutral. Answer with one word.\n\n"
            f"Post: {text}",
            system="You are a sentiment classifier.",
            max_tokens=5,
        )
        .strip()
        .lower()
    )
    for label in SCORES:
        if label in answer:
            return label
    return "neutral"


def _given_label(value):
    """'Positive', 'neg', '-1' or a score like 0.42 as a label; None when it is not a sentiment label."""
    text = str(value).strip().lower() if value is not None else ""
    if text in SCORES or text in LABEL_VALUES:
        return LABEL_VALUES.get(text, text)
    try:
        score = float(text)
    except ValueError:
        return None
    if not -1 <= score <= 1:
        return None
    return "positive" if score > 0.05 else "negative" if score < -0.05 else "neutral"


def _label_field(records, use_labels):
    """The field holding ready sentiment labels (None to classify the text), as `use_labels` asks."""
    if use_labels is False:
        return None
    for key in _keys(records):
        values = [r.get(key) for r in records if r.get(key) not in (None, "")]
        named = LABEL_WORDS.intersection(_words(key)) or key.lower() in LABEL_WORDS
        readable = named and sum(_given_label(v) is not None for v in values)
        if readable and len(values) >= len(records) / 2 and readable >= 0.9 * len(values):
            return key
    if use_labels:
        raise ValueError(
            f"no sentiment label field among {_keys(records)} (named like sentiment, label, polarity or mood, "
            "holding positive/negative/neutral or scores in [-1, 1]): pass use_labels=False to classify the text"
        )
    return None


def _period_start(day, period):
    if period == "day":
        return day.date()
    if period == "month":
        return day.date().replace(day=1)
    return (day - timedelta(days=day.weekday())).date()


def run(posts_path, chart_path="outputs/sentiment.png", period="week", use_labels=None):
    records = _load(posts_path)
    if not records:
        raise ValueError(f"{posts_path} has no posts")
    label_key = _label_field(records, use_labels)
    date_key = _date_field(records)
    try:
        text_key = _text_field(records, date_key, label_key)
    except ValueError:
        if label_key is None:
            raise
        text_key = None  # labelled posts need no text
    dates = _parse_dates([record.get(date_key) for record in records])
    counts = {"positive": 0, "negative": 0, "neutral": 0}
    buckets, classified = {}, 0
    for record, when in zip(records, dates, strict=True):
        if when is None:
            continue
        label = _given_label(record.get(label_key)) if label_key else None
        if label is None:
            if text_key is None:
                continue
            label = _label(str(record.get(text_key, "")))
            classified += 1
        counts[label] += 1
        buckets.setdefault(_period_start(when, period), []).append(SCORES[label])
    keys = sorted(buckets)
    means = [float(np.mean(buckets[k])) for k in keys]
    slope = float(np.polyfit(np.arange(len(means)), means, 1)[0]) if len(means) > 1 else 0.0
    trend = "improving" if slope > 0.02 else "declining" if slope < -0.02 else "stable"

    os.makedirs(os.path.dirname(chart_path) or ".", exist_ok=True)
    fig, ax = plt.subplots(figsize=(8, 4))
    ax.plot([str(k) for k in keys], means, marker="o")
    ax.axhline(0, color="grey", linewidth=0.8)
    ax.set_ylim(-1.05, 1.05)
    ax.set_title(f"Mean sentiment per {period} ({trend})")
    ax.set_ylabel("mean sentiment (-1 .. 1)")
    ax.tick_params(axis="x", rotation=45)
    fig.tight_layout()
    fig.savefig(chart_path, dpi=100)
    plt.close(fig)
    first, last = (means[0], means[-1]) if means else (0.0, 0.0)
    how = f"Classified {sum(counts.values())} posts"
    if label_key:
        extra = f", {classified} without one classified from their text" if classified else ""
        how = f"Counted {sum(counts.values())} posts with labels taken from the '{label_key}' column{extra}"
    answer = (
        f"{how} — positive: {counts['positive']}, negative: "
        f"{counts['negative']}, neutral: {counts['neutral']}. Mean sentiment per {period} moved from "
        f"{first:+.2f} in the first {period} to {last:+.2f} in the last (trend slope {slope:+.3f} per "
        f"{period}), so sentiment is {trend}. Chart: {chart_path}."
    )
    # Summary fields first: a long per-period list should not push them out of a cut preview.
    return {
        "answer": answer,
        "trend": trend,
        "slope": round(slope, 4),
        "counts": counts,
        "first_mean": round(first, 4),
        "last_mean": round(last, 4),
        "chart": chart_path,
        "date_field": date_key,
        "text_field": text_key,
        "label_field": label_key,
        "periods": [
            {"period": str(k), "mean": round(m, 4), "n": len(buckets[k])}
            for k, m in zip(keys, means, strict=True)
        ],
    }
