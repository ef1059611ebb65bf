"""Sentiment of dated posts, aggregated by week (or day or month), with a trend chart.

Purpose: tell whether opinion in a set of posts, reviews or comments is improving or declining.
Inputs:
    posts_path (str): CSV or JSON (list of objects, or JSON lines) with a date field and a text field.
    chart_path (str): where to save the PNG chart, e.g. "outputs/sentiment.png".
    period (str): "week" (default), "day" or "month".
Outputs: dict with answer (the result in words), counts ({positive, negative, neutral}), periods (list
    of {period, mean, n}), slope (change of mean sentiment per period), trend ("improving", "declining"
    or "stable"), date_field, text_field, chart.
Limitations: one label per post from the `llm` tool (positive = +1, neutral = 0, negative = -1);
    posts with no parsable date are skipped.
"""

import csv
import json
import os
from datetime import datetime, timedelta

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from agentfactory_tools import llm  # noqa: E402

DATE_KEYS = ("date", "timestamp", "time", "created_at", "created", "posted_at", "datetime")
TEXT_KEYS = ("text", "content", "body", "message", "post", "review", "comment")
SCORES = {"positive": 1, "neutral": 0, "negative": -1}


def _load(path):
    with open(path, encoding="utf-8") as fh:
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


def _field(record, keys, kind):
    lower = {k.lower(): k for k in record}
    for key in keys:
        if key in lower:
            return lower[key]
    raise ValueError(f"no {kind} field among {list(record)}")


def _parse_date(value):
    text = str(value).strip().replace("Z", "+00:00")
    try:
        return datetime.fromisoformat(text).replace(tzinfo=None)
    except ValueError:
        for fmt in ("%d/%m/%Y", "%m/%d/%Y", "%Y/%m/%d", "%d.%m.%Y"):
            try:
                return datetime.strptime(text[:10], fmt)
            except ValueError:
                pass
    return None


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


def _period_start(day, period):
    if period == "day":
        return day.date()
    if period == "month":
        return day.date().replace(day=1)
    return (day - timedelta(days=day.weekday())).date()


def run(posts_path, chart_path="outputs/sentiment.png", period="week"):
    records = _load(posts_path)
    if not records:
        raise ValueError(f"{posts_path} has no posts")
    date_key = _field(records[0], DATE_KEYS, "date")
    text_key = _field(records[0], TEXT_KEYS, "text")
    counts = {"positive": 0, "negative": 0, "neutral": 0}
    buckets = {}
    for record in records:
        when = _parse_date(record.get(date_key, ""))
        if when is None:
            continue
        label = _label(str(record.get(text_key, "")))
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
    answer = (
        f"Classified {sum(counts.values())} posts — positive: {counts['positive']}, negative: "
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
        "periods": [
            {"period": str(k), "mean": round(m, 4), "n": len(buckets[k])}
            for k, m in zip(keys, means, strict=True)
        ],
    }
