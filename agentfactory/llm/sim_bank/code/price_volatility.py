"""Annualised volatility, total return and a price chart from a CSV price series.

Purpose: summarise the risk and performance of one price series (a stock, fund, index or coin).
Inputs:
    csv_path (str): CSV file with a date column and a price column, e.g. "inputs/prices.csv".
    periods_per_year (int): return periods in a year: 252 for daily, 52 weekly, 12 monthly.
    chart_path (str): where to save the PNG line chart, e.g. "outputs/price.png".
    price_column (str | None): price column; default: adjusted close, close, price, then the last
        numeric column.
    title (str | None): chart title.
Outputs: dict with answer (the result in words), volatility (annualised std of log returns, ddof=1),
    total_return (last/first - 1), n_returns, start, end, first_price, last_price, price_column, chart.
Limitations: one series per file; rows with an unparsable date or price are dropped; no dividends.
"""

import math
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

PRICE_NAMES = [
    "adj close",
    "adj_close",
    "adjusted close",
    "adjclose",
    "close",
    "closing price",
    "price",
    "value",
    "last",
]


def _norm(name):
    return str(name).strip().lower().replace("-", " ")


def _pick_price_column(df, wanted):
    if wanted:
        for col in df.columns:
            if _norm(col) == _norm(wanted):
                return col
        raise ValueError(f"column {wanted!r} not in {list(df.columns)}")
    by_name = {_norm(c): c for c in df.columns}
    for name in PRICE_NAMES:
        if name in by_name:
            return by_name[name]
    numeric = [c for c in df.columns if pd.to_numeric(df[c], errors="coerce").notna().mean() > 0.9]
    if not numeric:
        raise ValueError(f"no numeric price column in {list(df.columns)}")
    return numeric[-1]


def _pick_date_column(df):
    for col in df.columns:
        if any(k in _norm(col) for k in ("date", "time", "day", "week", "month")):
            return col
    return df.columns[0]


def run(csv_path, periods_per_year=252, chart_path="outputs/price_chart.png", price_column=None, title=None):
    df = pd.read_csv(csv_path)
    price_col = _pick_price_column(df, price_column)
    date_col = _pick_date_column(df)
    data = pd.DataFrame(
        {
            "date": pd.to_datetime(df[date_col], errors="coerce"),
            "price": pd.to_numeric(df[price_col], errors="coerce"),
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
