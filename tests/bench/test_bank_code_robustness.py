"""The bank's code on files shaped unlike the core suite's: other column names, number and date formats.

Each test is a regression test for a file a probe suite found the code could not read.
"""

from __future__ import annotations

import json
import math
import random

import numpy as np
import pytest

from agentfactory.llm.sim_bank import get

from .conftest import run_on_host

pytestmark = pytest.mark.slow


def _write(tmp_path, name, text):
    (tmp_path / "inputs").mkdir(exist_ok=True)
    (tmp_path / "inputs" / name).write_text(text, encoding="utf-8")
    return f"inputs/{name}"


def _prices(n, seed=3):
    rng = random.Random(seed)
    prices = [100.0]
    for _ in range(n - 1):
        prices.append(round(prices[-1] * math.exp(rng.gauss(0, 0.02)), 2))
    return prices


def _volatility(prices, periods):
    return float(np.std(np.diff(np.log(prices)), ddof=1) * math.sqrt(periods))


def _volatility_run(tmp_path, path, periods=252):
    inputs = {"csv_path": path, "periods_per_year": periods, "chart_path": "outputs/p.png"}
    return run_on_host(get("price-volatility").code, "price_volatility", inputs, tmp_path)


def test_price_column_found_by_name_words_never_volume(tmp_path):
    prices = _prices(30)
    rows = ["date,close_price,volume"] + [
        f"2024-03-{d + 1:02d},{p},{1_000_000 + 7919 * d}" for d, p in enumerate(prices)
    ]
    result = _volatility_run(tmp_path, _write(tmp_path, "coin.csv", "\n".join(rows) + "\n"), 365)
    assert result["price_column"] == "close_price"
    assert result["volatility"] == pytest.approx(_volatility(prices, 365), rel=1e-4)


def test_price_column_without_a_price_name_is_the_last_numeric_one_but_not_a_count(tmp_path):
    prices = _prices(12)
    rows = ["Day,Ticker,Level_A,Trade Count"] + [
        f"2024-01-{d + 1:02d},ABC,{p},{d * 3}" for d, p in enumerate(prices)
    ]
    result = _volatility_run(tmp_path, _write(tmp_path, "abc.csv", "\n".join(rows) + "\n"))
    assert result["price_column"] == "Level_A" and result["n_returns"] == 11


def test_investing_export_with_thousands_separators_and_written_dates(tmp_path):
    # Investing.com: newest first, quoted "3,493.00" prices, "Dec 29, 2023" dates, "Vol." and "Change %".
    prices = [p * 30 for p in _prices(20)]
    weeks = [f"Dec {d:02d}, 2023" for d in range(1, 21)]
    rows = ['"Date","Price","Open","Vol.","Change %"'] + [
        f'"{w}","{p:,.2f}","{p:,.2f}","114.71M","0.51%"'
        for w, p in reversed(list(zip(weeks, prices, strict=True)))
    ]
    result = _volatility_run(tmp_path, _write(tmp_path, "index.csv", "\n".join(rows) + "\n"), 52)
    assert result["price_column"] == "Price" and result["n_returns"] == 19
    assert result["start"] == "2023-12-01" and result["first_price"] == pytest.approx(round(prices[0], 2))
    assert result["volatility"] == pytest.approx(_volatility([round(p, 2) for p in prices], 52), rel=1e-4)


def test_currency_signs_and_day_first_dates(tmp_path):
    prices = _prices(25)
    rows = ["Date,Close"] + [f'{d + 1:02d}/01/2024,"${p:,.2f}"' for d, p in enumerate(prices)]
    result = _volatility_run(tmp_path, _write(tmp_path, "eu.csv", "\n".join(rows) + "\n"))
    assert result["n_returns"] == 24 and (result["start"], result["end"]) == ("2024-01-01", "2024-01-25")
    assert result["volatility"] == pytest.approx(_volatility(prices, 252), rel=1e-4)


def _regression_run(tmp_path, path, x=None, y=None):
    inputs = {"csv_path": path, "x": x, "y": y, "chart_path": "outputs/s.png"}
    return run_on_host(get("linear-regression").code, "linear_regression", inputs, tmp_path)


def test_regression_default_columns_skip_ids_and_row_numbers(tmp_path):
    rng = random.Random(5)
    rows = ["employee_id,seq,years_experience,salary_k"]
    for i in range(20):
        years = rng.uniform(0, 20)
        rows.append(f"{101 + i},{i + 1},{years:.2f},{40 + 3 * years + rng.gauss(0, 1):.2f}")
    result = _regression_run(tmp_path, _write(tmp_path, "staff.csv", "\n".join(rows) + "\n"))
    assert (result["x"], result["y"]) == ("years_experience", "salary_k")
    assert result["slope"] == pytest.approx(3.0, abs=0.2)


def test_regression_column_names_match_loosely(tmp_path):
    rows = ["model,MPG,engine_size_l"] + [
        f"car-{i},{40 - 4 * s:.1f},{s}" for i, s in enumerate([1.2, 2.0, 2.5, 3.0, 4.4])
    ]
    path = _write(tmp_path, "cars.csv", "\n".join(rows) + "\n")
    result = _regression_run(tmp_path, path, x="engine size", y="mpg")
    assert (result["x"], result["y"]) == ("engine_size_l", "MPG")
    assert result["slope"] == pytest.approx(-4.0, abs=1e-3)


def _sentiment_run(tmp_path, path, period="week"):
    inputs = {"posts_path": path, "chart_path": "outputs/t.png", "period": period}
    return run_on_host(get("sentiment-trend").code, "sentiment_trend", inputs, tmp_path)


def test_sentiment_reads_a_tweet_column(tmp_path):
    rows = ["Date,Tweet,Likes"] + [
        f'2024-0{m}-{d:02d},"{text}",{d}'
        for m, text in [(1, "I love this bike, great ride!"), (2, "Terrible, it broke again.")]
        for d in (3, 10, 17)
    ]
    result = _sentiment_run(tmp_path, _write(tmp_path, "tweets.csv", "\n".join(rows) + "\n"), "month")
    assert (result["date_field"], result["text_field"]) == ("Date", "Tweet")
    assert sum(result["counts"].values()) == 6 and result["trend"] == "declining"


def test_sentiment_finds_unnamed_fields_by_their_values(tmp_path):
    # No field is named like a date or a text: the dates are found by parsing (day-first), the text by length.
    posts = [
        {"handle": "@ann", "stamp": f"{d:02d}/03/2024", "said": text, "stars": 4}
        for d, text in [
            (4, "Awful support, I hate it."),
            (13, "Works fine now, really good."),
            (25, "Great, love it!"),
        ]
    ]
    result = _sentiment_run(tmp_path, _write(tmp_path, "posts.json", json.dumps(posts)))
    assert (result["date_field"], result["text_field"]) == ("stamp", "said")
    assert [p["period"] for p in result["periods"]] == ["2024-03-04", "2024-03-11", "2024-03-25"]
