"""Annualised volatility, total return and a price chart from a CSV price series.

Purpose: summarise the risk and performance of one price series (a stock, fund, index or coin).
Inputs:
    csv_path (str): CSV file with a date column and a price column, e.g. "inputs/prices.csv".
    periods_per_year (int): return periods in a year: 252 for daily, 52 weekly, 12 monthly.
    chart_path (str): where to save the PNG line chart, e.g. "outputs/price.png".
    price_column (str | None): price column; default: the column whose name says adjusted close, then
        close, then price/NAV/value/last, never volume, counts, ids or changes; else the last numeric one.
    title (str | None): chart title.
Outputs: dict with answer (the result in words), volatility (annualised std of log returns, ddof=1),
    total_return (last/first - 1), n_returns, start, end, first_price, last_price, price_column, chart.
Limitations: one series per file; rows with an unparsable date or price are dropped; no dividends.
    Prices may carry thousands separators, currency signs or "%"; dates may be ISO, day-first or
    written out ("Dec 29, 2023").
"""

import math
import os
import re
import warnings

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

# Name tokens that mark a price column, best first; a column scores by its best token.
PRICE_TOKENS = {
    "adjclose": 6,
    "adj": 6,
    "adjusted": 6,
    "close": 5,
    "closing": 5,
    "price": 4,
    "nav": 4,
    "value": 3,
    "last": 3,
    "level": 3,
    "px": 3,
    "rate": 2,
    "mid": 2,
}
# Columns that are numeric but never a price level: traded amounts, counters, ids and changes.
NOT_PRICE_TOKENS = {
    "volume",
    "vol",
    "count",
    "id",
    "shares",
    "turnover",
    "trades",
    "qty",
    "quantity",
    "amount",
    "change",
    "chg",
    "pct",
    "percent",
    "return",
    "returns",
    "interest",
    "cap",
}
DATE_TOKENS = ("date", "time", "timestamp", "datetime", "day", "week", "month", "year", "period")
CURRENCY_SIGNS = "$€£¥₹"


def _norm(name):
    return str(name).strip().lower().replace("-", " ")


def _tokens(name):
    """'Adj Close' -> ['adj', 'close']; 'close_price' -> ['close', 'price']; 'AdjClose' -> ['adj', 'close']."""
    words = re.findall(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+", str(name))
    return [w.lower() for w in words]


def _number(value):
    """A float from '3,493.00', '$1,200', '12.5%', ' 7 ' or '3.493,00'; NaN when it is not a number."""
    if isinstance(value, (int, float, np.integer, np.floating)):
        return float(value)
    text = str(value).strip().replace("\u00a0", "").replace(" ", "").rstrip("%")
    text = text.strip(CURRENCY_SIGNS)
    if "," in text and "." in text:
        # Whichever separator comes last is the decimal point.
        if text.rfind(",") > text.rfind("."):
            text = text.replace(".", "").replace(",", ".")
        else:
            text = text.replace(",", "")
    elif re.fullmatch(r"-?\d{1,3}(,\d{3})+", text):
        text = text.replace(",", "")
    else:
        text = text.replace(",", ".")
    try:
        return float(text)
    except ValueError:
        return float("nan")


def _numbers(series):
    if pd.api.types.is_numeric_dtype(series):
        return pd.to_numeric(series, errors="coerce")
    return pd.to_numeric(series.map(_number), errors="coerce")


def _dates(series):
    """Parse dates as pandas reads them, or day-first, or element by element: whichever parses most."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tries = [
            pd.to_datetime(series, errors="coerce"),
            pd.to_datetime(series, errors="coerce", dayfirst=True),
            pd.to_datetime(series, errors="coerce", format="mixed"),
        ]
    return max(tries, key=lambda parsed: parsed.notna().sum())


def _is_date_name(col):
    return any(token in DATE_TOKENS for token in _tokens(col))


def _squash(name):
    return re.sub(r"[^a-z0-9]", "", str(name).lower())


def _resolve_column(df, wanted):
    """The column named `wanted`, ignoring case, spaces and punctuation, or the one column containing it."""
    for col in df.columns:
        if _norm(col) == _norm(wanted) or _squash(col) == _squash(wanted):
            return col
    partial = [col for col in df.columns if _squash(wanted) and _squash(wanted) in _squash(col)]
    if len(partial) == 1:
        return partial[0]
    raise ValueError(f"column {wanted!r} not in {list(df.columns)}")


def _pick_price_column(df, wanted):
    if wanted:
        return _resolve_column(df, wanted)
    numeric = [c for c in df.columns if not _is_date_name(c) and _numbers(df[c]).notna().mean() > 0.9]
    candidates = [c for c in numeric if not NOT_PRICE_TOKENS.intersection(_tokens(c))]
    scored = [(max((PRICE_TOKENS.get(t, 0) for t in _tokens(c)), default=0), c) for c in candidates]
    best = max((score for score, _ in scored), default=0)
    if best > 0:
        return next(c for score, c in scored if score == best)
    if not candidates:
        raise ValueError(f"no numeric price column in {list(df.columns)}")
    return candidates[-1]


def _pick_date_column(df):
    for col in df.columns:
        if _is_date_name(col):
            return col
    # No column is named like a date: take the one whose values parse as dates most often.
    text_columns = [c for c in df.columns if not pd.api.types.is_numeric_dtype(df[c])]
    if not text_columns:
        return df.columns[0]
    return max(text_columns, key=lambda c: _dates(df[c]).notna().sum())


def _read_table(csv_path):
    df = pd.read_csv(csv_path)
    if len(df.columns) == 1:
        # One column usually means another delimiter (';' or tab): let pandas sniff it.
        df = pd.read_csv(csv_path, sep=None, engine="python")
    return df


def run(csv_path, periods_per_year=252, chart_path="outputs/price_chart.png", price_column=None, title=None):
    df = _read_table(csv_path)
    price_col = _pick_price_column(df, price_column)
    date_col = _pick_date_column(df)
    data = pd.DataFrame(
        {
            "date": _dates(df[date_col]),
            "price": _numbers(df[price_col]),
        }
    ).dropna()
    data = data[data["price"] > 0].sort_values("date")
    if len(data) < 3:
        raise ValueError(f"need at least 3 valid prices, found {len(data)}")
    prices = data["price"].to_numpy(dtype=float)
    returns = np.diff(np.log(prices))
    volatility = float(np.std(returns, ddof=1) * math.sqrt(float(periods_per_year)))

    os.makedirs(os.path.dirname(chart_path) or ".", exist_ok=True)
    fig, ax = plt.subplots(figsize=(8, 4))
    ax.plot(data["date"], prices, linewidth=1.2)
    ax.set_title(title or f"{os.path.basename(csv_path)}: {price_col}")
    ax.set_xlabel("date")
    ax.set_ylabel(str(price_col))
    ax.grid(alpha=0.3)
    fig.autofmt_xdate()
    fig.tight_layout()
    fig.savefig(chart_path, dpi=100)
    plt.close(fig)
    total = float(prices[-1] / prices[0] - 1)
    start, end = data["date"].iloc[0].date().isoformat(), data["date"].iloc[-1].date().isoformat()
    per = {252: "daily", 52: "weekly", 12: "monthly"}.get(int(periods_per_year), "periodic")
    answer = (
        f"Annualised volatility: {volatility:.2%} ({volatility:.4f}) for {os.path.basename(csv_path)}, "
        f"from {len(returns)} {per} log returns of '{price_col}' between {start} and {end}, annualised "
        f"with {periods_per_year} periods a year. Total return over the period: {total:.2%} "
        f"({prices[0]:g} to {prices[-1]:g}). Chart saved to {chart_path}."
    )
    return {
        "answer": answer,
        "volatility": round(volatility, 6),
        "total_return": round(total, 6),
        "n_returns": int(len(returns)),
        "start": start,
        "end": end,
        "first_price": float(prices[0]),
        "last_price": float(prices[-1]),
        "price_column": str(price_col),
        "chart": chart_path,
    }
