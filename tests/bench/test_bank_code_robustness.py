"""The bank's code on files shaped unlike the core suite's: other column names, number and date formats.

Each test is a regression test for a file a probe suite found the code could not read.
"""

from __future__ import annotations

import json
import math
import random

import numpy as np
import pandas as pd
import pytest

from .conftest import HostRunError, get, run_on_host

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


def _wide_prices(tmp_path):
    series = {"AAPL": _prices(30, seed=1), "MSFT": _prices(30, seed=2), "NVDA": _prices(30, seed=4)}
    rows = ["Date,AAPL,MSFT,NVDA"] + [
        f"2024-03-{d + 1:02d}," + ",".join(str(series[t][d]) for t in series) for d in range(30)
    ]
    return series, _write(tmp_path, "tech.csv", "\n".join(rows) + "\n")


def test_wide_file_uses_the_column_a_hint_word_names(tmp_path):
    series, path = _wide_prices(tmp_path)
    inputs = {"csv_path": path, "chart_path": "outputs/p.png", "hint_columns": ["volatility", "msft", "png"]}
    result = run_on_host(get("price-volatility").code, "price_volatility", inputs, tmp_path)
    assert result["price_column"] == "MSFT"
    assert result["volatility"] == pytest.approx(_volatility(series["MSFT"], 252), rel=1e-4)


def test_explicit_price_column_matches_loosely_or_fails_clearly(tmp_path):
    _, path = _wide_prices(tmp_path)
    code = get("price-volatility").code
    inputs = {"csv_path": path, "chart_path": "outputs/p.png", "price_column": " nvda "}
    assert run_on_host(code, "price_volatility", inputs, tmp_path)["price_column"] == "NVDA"
    with pytest.raises(HostRunError, match="'GOOG' is not in the file"):
        run_on_host(code, "price_volatility", {**inputs, "price_column": "GOOG"}, tmp_path)


def test_prices_in_json_records_and_in_a_tsv(tmp_path):
    prices = _prices(20)
    records = [{"date": f"2024-02-{d + 1:02d}", "close": p} for d, p in enumerate(prices)]
    path = _write(tmp_path, "kite.json", json.dumps({"ticker": "KITE", "meta": [1], "prices": records}))
    result = _volatility_run(tmp_path, path)
    assert result["price_column"] == "close" and result["n_returns"] == 19
    assert result["total_return"] == pytest.approx(prices[-1] / prices[0] - 1, abs=1e-6)
    rows = ["day\tprice"] + [f"2024-02-{d + 1:02d}\t{p}" for d, p in enumerate(prices)]
    result = _volatility_run(tmp_path, _write(tmp_path, "kite.tsv", "\n".join(rows) + "\n"))
    assert result["volatility"] == pytest.approx(_volatility(prices, 252), rel=1e-4)


def test_a_file_of_simple_returns_is_measured_directly(tmp_path):
    rng = random.Random(7)
    returns = [round(rng.gauss(0.0005, 0.012), 6) for _ in range(60)]
    rows = ["date,daily_return"] + [
        f"2024-{1 + d // 28:02d}-{1 + d % 28:02d},{r}" for d, r in enumerate(returns)
    ]
    result = _volatility_run(tmp_path, _write(tmp_path, "fund.csv", "\n".join(rows) + "\n"))
    assert result["source"] == "simple returns" and result["n_returns"] == 60
    assert result["volatility"] == pytest.approx(np.std(np.log1p(returns), ddof=1) * math.sqrt(252), rel=1e-4)
    assert result["total_return"] == pytest.approx(np.prod(1 + np.array(returns)) - 1, abs=1e-5)
    assert "simple returns" in result["answer"] and (tmp_path / "outputs" / "p.png").exists()


def test_a_price_column_wins_over_a_returns_column(tmp_path):
    prices = _prices(15)
    rows = ["date,close,ret"] + [
        f"2024-01-{d + 1:02d},{p},{0 if d == 0 else p / prices[d - 1] - 1:.6f}" for d, p in enumerate(prices)
    ]
    result = _volatility_run(tmp_path, _write(tmp_path, "both.csv", "\n".join(rows) + "\n"))
    assert (result["price_column"], result["source"]) == ("close", "prices")


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


def _cars(tmp_path):
    rng = random.Random(11)
    rows = ["Car Price,Age (years),Mileage"]
    for _ in range(25):
        age = rng.uniform(1, 10)
        rows.append(
            f"{30000 - 1800 * age + rng.gauss(0, 500):.0f},{age:.1f},{12000 * age + rng.gauss(0, 3000):.0f}"
        )
    return _write(tmp_path, "used_cars.csv", "\n".join(rows) + "\n")


def test_regression_name_matches_whole_words_before_substrings(tmp_path):
    # 'Age' is a substring of 'Mileage' but a word of 'Age (years)'.
    result = _regression_run(tmp_path, _cars(tmp_path), x="Age", y="car price")
    assert (result["x"], result["y"]) == ("Age (years)", "Car Price")
    assert result["slope"] == pytest.approx(-1800, rel=0.1)


@pytest.mark.parametrize("y", ["Monthly Sales ($k)", "monthly sales", "monthly_sales", "sales"])
def test_regression_headers_with_spaces_capitals_and_units(tmp_path, y):
    rows = ["Month,Ad Budget ($k),Site Visits,Monthly Sales ($k)"] + [
        f"2020-{m:02d},{b},{1000 + 37 * m},{100 + 4 * b}" for m, b in enumerate([5, 9, 14, 20, 26, 31], 1)
    ]
    result = _regression_run(
        tmp_path, _write(tmp_path, "marketing.csv", "\n".join(rows) + "\n"), "ad budget", y
    )
    assert (result["x"], result["y"]) == ("Ad Budget ($k)", "Monthly Sales ($k)")
    assert result["slope"] == pytest.approx(4.0)


def test_regression_will_not_guess_among_three_measure_columns(tmp_path):
    path = _cars(tmp_path)
    with pytest.raises(HostRunError, match=r"which columns.*'Car Price', 'Age \(years\)', 'Mileage'"):
        _regression_run(tmp_path, path)
    with pytest.raises(HostRunError, match="'weight' matched no column"):
        _regression_run(tmp_path, path, x="weight", y="Car Price")


def test_regression_unmatched_name_with_two_measure_columns_uses_them(tmp_path):
    rows = ["id,hours,score"] + [f"{i},{h},{50 + 5 * h}" for i, h in enumerate([1, 2, 4, 5, 8], 1)]
    result = _regression_run(tmp_path, _write(tmp_path, "study.csv", "\n".join(rows) + "\n"), x="time")
    assert (result["x"], result["y"], result["slope"]) == ("hours", "score", pytest.approx(5.0))


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


@pytest.mark.parametrize("scale", [1, 1000])
def test_sentiment_reads_unix_epoch_seconds_and_milliseconds(tmp_path, scale):
    start = 1714521600  # 2024-05-01 00:00 UTC
    posts = [(0, "I hate it, it broke."), (86400, "It is fine."), (2 * 86400 + 60, "I love it, great!")]
    rows = ["post_id,timestamp,text"] + [
        f'{i},{(start + t) * scale},"{text}"' for i, (t, text) in enumerate(posts)
    ]
    result = _sentiment_run(tmp_path, _write(tmp_path, "posts.csv", "\n".join(rows) + "\n"), "day")
    assert result["date_field"] == "timestamp"
    assert [p["period"] for p in result["periods"]] == ["2024-05-01", "2024-05-02", "2024-05-03"]
    assert result["trend"] == "improving"


def _dated_prices(tmp_path, n=120):
    prices = _prices(n, seed=9)
    days = [f"{d.date()}" for d in pd.bdate_range("2023-01-02", periods=n)]
    rows = ["Date,Close"] + [f"{d},{p}" for d, p in zip(days, prices, strict=True)]
    return days, prices, _write(tmp_path, "dated.csv", "\n".join(rows) + "\n")


def test_volatility_over_a_start_end_window_states_the_period_used(tmp_path):
    days, prices, path = _dated_prices(tmp_path)
    inputs = {"csv_path": path, "chart_path": "outputs/p.png", "start": "2023-02-01", "end": "2023-03-31"}
    result = run_on_host(get("price-volatility").code, "price_volatility", inputs, tmp_path)
    kept = [p for d, p in zip(days, prices, strict=True) if "2023-02-01" <= d <= "2023-03-31"]
    assert (result["start"], result["end"]) == ("2023-02-01", "2023-03-31")
    assert result["volatility"] == pytest.approx(_volatility(kept, 252), rel=1e-4)
    assert "between 2023-02-01 and 2023-03-31" in result["answer"]


def test_volatility_over_the_last_months_ends_at_the_last_date(tmp_path):
    days, prices, path = _dated_prices(tmp_path)
    inputs = {"csv_path": path, "chart_path": "outputs/p.png", "last": "2M"}
    result = run_on_host(get("price-volatility").code, "price_volatility", inputs, tmp_path)
    assert days[-1] == "2023-06-16" and result["end"] == days[-1]
    kept = [p for d, p in zip(days, prices, strict=True) if d >= "2023-04-16"]
    assert result["start"] == "2023-04-17" and result["n_returns"] == len(kept) - 1


def test_a_window_outside_the_file_names_the_files_dates(tmp_path):
    _, _, path = _dated_prices(tmp_path)
    inputs = {"csv_path": path, "chart_path": "outputs/p.png", "start": "2024-01-01"}
    with pytest.raises(HostRunError, match="file runs from 2023-01-02 to 2023-06-16"):
        run_on_host(get("price-volatility").code, "price_volatility", inputs, tmp_path)


def test_max_drawdown_of_prices_and_of_returns(tmp_path):
    rows = ["date,close"] + [f"2024-01-{d + 1:02d},{p}" for d, p in enumerate([100, 120, 90, 110, 60, 130])]
    result = _volatility_run(tmp_path, _write(tmp_path, "dd.csv", "\n".join(rows) + "\n"))
    assert result["max_drawdown"] == pytest.approx(0.5)
    assert "maximum drawdown 50.00% (0.5000" in result["answer"].lower()
    rows = ["date,daily_return"] + [f"2024-01-{d + 1:02d},{r}" for d, r in enumerate([-0.1, 0.05, -0.2, 0.3])]
    result = _volatility_run(tmp_path, _write(tmp_path, "ddr.csv", "\n".join(rows) + "\n"))
    # Growth of 1: 0.9, 0.945, 0.756, ...; the peak is the starting 1.
    assert result["max_drawdown"] == pytest.approx(1 - 0.9 * 1.05 * 0.8, abs=1e-6)


def test_regression_reports_correlation_and_predictions(tmp_path):
    rng = random.Random(13)
    xs = [rng.uniform(0, 10) for _ in range(30)]
    ys = [2 - 1.5 * x + rng.gauss(0, 2) for x in xs]
    rows = ["dose,response"] + [f"{x:.3f},{y:.3f}" for x, y in zip(xs, ys, strict=True)]
    path = _write(tmp_path, "dose.csv", "\n".join(rows) + "\n")
    inputs = {"csv_path": path, "chart_path": "outputs/s.png", "predict_at": [0, 4.5]}
    result = run_on_host(get("linear-regression").code, "linear_regression", inputs, tmp_path)
    table = np.loadtxt(tmp_path / path, delimiter=",", skiprows=1)
    r = np.corrcoef(table[:, 0], table[:, 1])[0, 1]
    assert r < 0 and result["r"] == pytest.approx(r, abs=1e-6)
    assert f"correlation r = {r:.4f}" in result["answer"]
    fitted = result["intercept"] + 4.5 * result["slope"]
    assert result["predictions"][1] == {"x": 4.5, "y": pytest.approx(fitted, abs=1e-5)}
    assert f"Predicted response at dose = 4.5: {fitted:.4f}" in result["answer"]
    assert _regression_run(tmp_path, path)["predictions"] == []


def _labelled_posts(tmp_path, header, labels):
    rows = [f"date,text,{header}"] + [
        f"2024-03-{1 + 7 * i:02d},Chat number {i}.,{label}" for i, label in enumerate(labels)
    ]
    return _write(tmp_path, "chats.csv", "\n".join(rows) + "\n")


@pytest.mark.parametrize(
    "header,labels",
    [
        ("sentiment", ["Positive", "POSITIVE", "neutral", "negative", "Negative"]),
        ("sentiment_label", ["pos", "pos", "neu", "neg", "neg"]),
        ("polarity", ["0.8", "1", "0.01", "-0.3", "-1"]),
    ],
)
def test_sentiment_uses_a_label_column_without_classifying(tmp_path, header, labels):
    # Bland texts the classifier would call neutral: only the labels can make the trend decline.
    result = _sentiment_run(tmp_path, _labelled_posts(tmp_path, header, labels))
    assert result["label_field"] == header and result["text_field"] == "text"
    assert result["counts"] == {"positive": 2, "negative": 2, "neutral": 1}
    assert result["trend"] == "declining" and f"labels taken from the '{header}' column" in result["answer"]


def test_sentiment_use_labels_false_classifies_and_true_requires_a_label_column(tmp_path):
    path = _labelled_posts(tmp_path, "mood", ["positive", "positive", "negative"])
    inputs = {"posts_path": path, "chart_path": "outputs/t.png", "use_labels": False}
    result = run_on_host(get("sentiment-trend").code, "sentiment_trend", inputs, tmp_path)
    assert result["label_field"] is None and result["counts"]["positive"] != 2
    path = _labelled_posts(tmp_path, "stars", ["5", "4", "1"])
    with pytest.raises(HostRunError, match="no sentiment label field"):
        run_on_host(
            get("sentiment-trend").code,
            "sentiment_trend",
            {**inputs, "posts_path": path, "use_labels": True},
            tmp_path,
        )
