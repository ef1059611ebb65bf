"""Annualised volatility, total return and a chart from a price (or returns) series in a table file.

Purpose: summarise the risk and performance of one price series (a stock, fund, index or coin).
Inputs:
    csv_path (str): table with a date column and a price column, e.g. "inputs/prices.csv": CSV, TSV or
        another delimited .txt, or JSON (a list of records, an object holding the largest such list, or
        pairs like [[epoch_ms, price], ...]).
    periods_per_year (int): return periods in a year: 252 for daily, 52 weekly, 12 monthly.
    chart_path (str): where to save the PNG line chart, e.g. "outputs/price.png".
    price_column (str | None): price column, matched loosely ("adj close" finds "Adj Close"); an error
        when no column matches. Default: the column named by a hint word, else the column whose name
        says adjusted close, then close, then price/NAV/value/last, never volume, counts, ids or
        changes; else the last numeric one.
    title (str | None): chart title.
    hint_columns (list[str] | None): words from the task that may name the series, e.g. ["MSFT"] for a
        file with one column per ticker; the first header equal to one of them (ignoring case, spaces
        and punctuation) is used. Words that name no column are ignored.
    start, end (str | None): ISO dates "YYYY-MM-DD" (inclusive) that restrict the series first.
    last (str | None): a window ending at the last date left, e.g. "6M", "90D", "2W", "1Y" ("6 months"
        also reads); it keeps the dates on or after that date minus the window. Applied after start/end.
Outputs: dict with answer (the result in words), volatility (annualised std of log returns, ddof=1),
    total_return (last/first - 1), max_drawdown (largest peak-to-trough fall as a positive fraction),
    n_returns, start, end (the period used), first_price, last_price, price_column, chart,
    source ("prices", "simple returns" or "log returns").
    A file with no price column but a returns column (daily_return, ret, log_return, pct_change...;
    values mostly within +-0.5) is read as returns: volatility from the log returns (simple returns go
    through log1p), total return compounded, first/last_price the growth of 1, and the chart shows that
    growth.
Limitations: one series per file; rows with an unparsable date or price are dropped; no dividends.
    Prices may carry thousands separators, currency signs or "%"; dates may be ISO, day-first, written
    out ("Dec 29, 2023") or Unix epoch seconds/milliseconds.
"""

import contextlib
import csv
import json
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
# Name tokens of a column that already holds returns rather than prices.
RETURN_TOKENS = {"return", "returns", "ret", "rets", "logret", "pctchange"}
DATE_TOKENS = ("date", "time", "timestamp", "datetime", "day", "week", "month", "year", "period")
CURRENCY_SIGNS = "$€£¥₹"


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


def _epoch_unit(series):
    """'s' or 'ms' when the values are Unix epoch seconds (~1e9..2e9) or milliseconds; else None."""
    values = pd.to_numeric(series, errors="coerce").dropna()
    if len(values) == 0 or len(values) < 0.9 * len(series):
        return None
    low, high = values.min(), values.max()
    if low >= 1e8 and high < 1e10:
        return "s"
    if low >= 1e11 and high < 1e13:
        return "ms"
    return None


def _dates(series):
    """Parse dates as pandas reads them, or day-first, or element by element: whichever parses most."""
    unit = _epoch_unit(series)
    if unit:
        return pd.to_datetime(pd.to_numeric(series, errors="coerce"), unit=unit, errors="coerce")
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


def _words(name):
    """Words of a header for matching: 'Monthly Sales ($k)' -> ['monthly', 'sales', 'k']."""
    return _tokens(name) or [_squash(name)]


def _match_column(columns, wanted):
    """The column meant by `wanted`, or None. Tried in order: the same name ignoring case and punctuation;
    a header holding every word of it ('age' -> 'Age (years)', never 'Mileage'); a header with a word
    starting with each of its words; a header containing it. Ties go to the header with fewest extra words."""
    key = _squash(wanted)
    if not key:
        return None
    for col in columns:
        if _squash(col) == key:
            return col
    words = _words(wanted)

    def fewest_extra(matches):
        return min(matches, key=lambda col: len(_words(col)) - len(words)) if matches else None

    whole = [col for col in columns if set(words) <= set(_words(col))]
    prefix = [col for col in columns if all(any(h.startswith(w) for h in _words(col)) for w in words)]
    inside = [col for col in columns if key in _squash(col)]
    return fewest_extra(whole) or fewest_extra(prefix) or fewest_extra(inside)


def _numeric_share(df, col):
    return _numbers(df[col]).notna().mean()


def _is_returns_column(df, col):
    """True for a column named like returns (daily_return, ret, log_return, pct_change) whose values are
    mostly small fractions, i.e. returns as decimals rather than prices."""
    tokens = set(_tokens(col))
    named = bool(tokens & RETURN_TOKENS) or _squash(col) in RETURN_TOKENS
    named = named or bool(tokens & {"pct", "percent"} and tokens & {"change", "chg"})
    if not named:
        return False
    values = _returns_values(df[col]).dropna()
    return len(values) > 0 and (values.abs() <= 0.5).mean() > 0.9


def _returns_values(series):
    values = _numbers(series)
    if series.astype(str).str.strip().str.endswith("%").mean() > 0.5:
        values = values / 100
    return values


def _price_candidates(df):
    """Numeric columns that could hold a price level: not dates, traded amounts, counts, ids or returns."""
    numeric = [c for c in df.columns if not _is_date_name(c) and _numeric_share(df, c) > 0.9]
    candidates = [c for c in numeric if not NOT_PRICE_TOKENS.intersection(_tokens(c))]
    return numeric, [c for c in candidates if not _is_returns_column(df, c)]


def _hinted_column(df, hints):
    """The first price-like header equal to a word of the task ("volatility of MSFT" -> MSFT), or None."""
    keys = {_squash(h) for h in hints or () if _squash(h)}
    return next((c for c in _price_candidates(df)[1] if _squash(c) in keys), None)


def _pick_price_column(df, wanted):
    if wanted:
        col = _match_column(df.columns, wanted)
        if col is None:
            raise ValueError(
                f"price column {wanted!r} is not in the file; its columns are {list(df.columns)}: "
                "pass one of them as price_column"
            )
        return col
    numeric, candidates = _price_candidates(df)
    scored = [(max((PRICE_TOKENS.get(t, 0) for t in _tokens(c)), default=0), c) for c in candidates]
    best = max((score for score, _ in scored), default=0)
    if best > 0:
        return next(c for score, c in scored if score == best)
    if not candidates:
        # No price level at all: a column of returns is the series to measure.
        returns = [c for c in numeric if _is_returns_column(df, c)]
        if returns:
            return returns[0]
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


def _records(data):
    """The rows in parsed JSON: a list of records, or the largest list of records an object holds."""
    if isinstance(data, dict):
        lists = [v for v in data.values() if isinstance(v, list) and v]
        lists += [_records(v) for v in data.values() if isinstance(v, dict)]
        lists = [rows for rows in lists if rows]
        if lists:
            return max(lists, key=len)
        # Columns as lists of equal length: {"date": [...], "close": [...]}.
        return [data] if data else []
    return data if isinstance(data, list) else []


def _read_json(path):
    with open(path, encoding="utf-8-sig") as fh:
        text = fh.read().strip()
    try:
        rows = _records(json.loads(text))
    except json.JSONDecodeError:
        rows = [json.loads(line) for line in text.splitlines() if line.strip()]
    if rows and all(isinstance(r, (list, tuple)) for r in rows):
        # Pairs like [[epoch_ms, price], ...] (CoinGecko and similar APIs).
        width = max(len(r) for r in rows)
        names = ["date", "price"] if width == 2 else ["date"] + [f"value_{i}" for i in range(1, width)]
        return pd.DataFrame([list(r) + [None] * (width - len(r)) for r in rows], columns=names)
    if len(rows) == 1 and isinstance(rows[0], dict) and all(isinstance(v, list) for v in rows[0].values()):
        return pd.DataFrame(rows[0])
    return pd.json_normalize([r for r in rows if isinstance(r, dict)])


def _read_table(csv_path):
    suffix = os.path.splitext(csv_path)[1].lower()
    if suffix in (".json", ".jsonl", ".ndjson"):
        return _read_json(csv_path)
    if suffix == ".tsv":
        return pd.read_csv(csv_path, sep="\t")
    df = pd.read_csv(csv_path)
    if len(df.columns) == 1:
        # One column usually means another delimiter (';', tab or spaces): let pandas sniff it.
        with contextlib.suppress(pd.errors.ParserError, csv.Error):
            df = pd.read_csv(csv_path, sep=None, engine="python")
        if len(df.columns) == 1:
            df = pd.read_csv(csv_path, sep=r"\s+", engine="python")
    return df


def _window(data, start, end, last, csv_path, minimum):
    """The rows of `data` (sorted by date) within start/end and the `last` window; a ValueError naming the
    file's own date range when fewer than `minimum` rows are left."""
    if data.empty or not (start or end or last):
        return data
    span = f"{data['date'].iloc[0].date()} to {data['date'].iloc[-1].date()}"
    if start:
        data = data[data["date"] >= pd.Timestamp(start)]
    if end:
        data = data[data["date"] < pd.Timestamp(end) + pd.Timedelta(days=1)]
    if last and not data.empty:
        match = re.fullmatch(r"\s*(\d+)\s*([dwmy])[a-z]*\s*", str(last), re.I)
        if not match:
            raise ValueError(f"last={last!r} is not a window like '6M', '90D', '2W' or '1Y'")
        n, unit = int(match.group(1)), match.group(2).lower()
        offset = {"d": pd.DateOffset(days=n), "w": pd.DateOffset(weeks=n), "m": pd.DateOffset(months=n)}
        data = data[data["date"] >= data["date"].iloc[-1] - offset.get(unit, pd.DateOffset(years=n))]
    if len(data) < minimum:
        asked = ", ".join(f"{k}={v}" for k, v in (("start", start), ("end", end), ("last", last)) if v)
        raise ValueError(
            f"{asked} leaves {len(data)} rows of {os.path.basename(csv_path)} (at least {minimum} are needed): "
            f"the file runs from {span}, so choose a period inside it"
        )
    return data


def _max_drawdown(values):
    """Largest fall from a running peak, as a positive fraction (0.25 = down 25% from the peak)."""
    return float(np.max(1 - values / np.maximum.accumulate(values)))


def _series(df, date_col, value_col, values):
    data = pd.DataFrame({"date": _dates(df[date_col]), "value": values}).dropna()
    return data.sort_values("date")


def _chart(dates, values, chart_path, title, ylabel):
    os.makedirs(os.path.dirname(chart_path) or ".", exist_ok=True)
    fig, ax = plt.subplots(figsize=(8, 4))
    ax.plot(dates, values, linewidth=1.2)
    ax.set_title(title)
    ax.set_xlabel("date")
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    fig.autofmt_xdate()
    fig.tight_layout()
    fig.savefig(chart_path, dpi=100)
    plt.close(fig)


def _drawdown_words(drawdown):
    return f"Maximum drawdown {drawdown:.2%} ({drawdown:.4f}; peak to trough {-drawdown:.4f})."


def _from_returns(df, date_col, ret_col, csv_path, periods_per_year, chart_path, title, window):
    """Volatility and total return of a file that holds returns rather than prices."""
    data = _series(df, date_col, ret_col, _returns_values(df[ret_col]))
    data = _window(data[data["value"] > -1], *window, csv_path, 2)
    if len(data) < 2:
        raise ValueError(f"need at least 2 valid returns in '{ret_col}', found {len(data)}")
    values = data["value"].to_numpy(dtype=float)
    is_log = "log" in _tokens(ret_col) or "logret" in _squash(ret_col)
    log_returns = values if is_log else np.log1p(values)
    kind = "log returns" if is_log else "simple returns"
    volatility = float(np.std(log_returns, ddof=1) * math.sqrt(float(periods_per_year)))
    growth = np.exp(np.cumsum(log_returns))
    total = float(growth[-1] - 1)
    drawdown = _max_drawdown(np.concatenate([[1.0], growth]))
    name = os.path.basename(csv_path)
    _chart(data["date"], growth, chart_path, title or f"{name}: growth of 1", "growth of 1")
    start, end = data["date"].iloc[0].date().isoformat(), data["date"].iloc[-1].date().isoformat()
    per = {252: "daily", 52: "weekly", 12: "monthly"}.get(int(periods_per_year), "periodic")
    how = "used as they are" if is_log else "converted to log returns with log1p"
    answer = (
        f"Annualised volatility: {volatility:.2%} ({volatility:.4f}) for {name}, from {len(values)} {per} "
        f"{kind} in '{ret_col}' ({how}) between {start} and {end}, annualised with {periods_per_year} "
        f"periods a year. Total return over the period (compounded): {total:.2%} ({total:.4f}); 1 grew "
        f"to {growth[-1]:.4f}. {_drawdown_words(drawdown)} Chart of the cumulative growth of 1 saved to "
        f"{chart_path}."
    )
    return {
        "answer": answer,
        "volatility": round(volatility, 6),
        "total_return": round(total, 6),
        "max_drawdown": round(drawdown, 6),
        "n_returns": int(len(values)),
        "start": start,
        "end": end,
        "first_price": 1.0,
        "last_price": round(float(growth[-1]), 6),
        "price_column": str(ret_col),
        "chart": chart_path,
        "source": kind,
    }


def run(
    csv_path,
    periods_per_year=252,
    chart_path="outputs/price_chart.png",
    price_column=None,
    title=None,
    hint_columns=None,
    start=None,
    end=None,
    last=None,
):
    df = _read_table(csv_path)
    price_column = price_column or _hinted_column(df, hint_columns)
    price_col = _pick_price_column(df, price_column)
    date_col = _pick_date_column(df)
    if _is_returns_column(df, price_col):
        window = (start, end, last)
        return _from_returns(df, date_col, price_col, csv_path, periods_per_year, chart_path, title, window)
    data = pd.DataFrame(
        {
            "date": _dates(df[date_col]),
            "price": _numbers(df[price_col]),
        }
    ).dropna()
    data = _window(data[data["price"] > 0].sort_values("date"), start, end, last, csv_path, 3)
    if len(data) < 3:
        raise ValueError(f"need at least 3 valid prices, found {len(data)}")
    prices = data["price"].to_numpy(dtype=float)
    returns = np.diff(np.log(prices))
    volatility = float(np.std(returns, ddof=1) * math.sqrt(float(periods_per_year)))

    _chart(
        data["date"],
        prices,
        chart_path,
        title or f"{os.path.basename(csv_path)}: {price_col}",
        str(price_col),
    )
    total = float(prices[-1] / prices[0] - 1)
    drawdown = _max_drawdown(prices)
    start, end = data["date"].iloc[0].date().isoformat(), data["date"].iloc[-1].date().isoformat()
    per = {252: "daily", 52: "weekly", 12: "monthly"}.get(int(periods_per_year), "periodic")
    answer = (
        f"Annualised volatility: {volatility:.2%} ({volatility:.4f}) for {os.path.basename(csv_path)}, "
        f"from {len(returns)} {per} log returns of '{price_col}' between {start} and {end}, annualised "
        f"with {periods_per_year} periods a year. Total return over the period: {total:.2%} "
        f"({prices[0]:g} to {prices[-1]:g}). {_drawdown_words(drawdown)} Chart saved to {chart_path}."
    )
    return {
        "answer": answer,
        "volatility": round(volatility, 6),
        "total_return": round(total, 6),
        "max_drawdown": round(drawdown, 6),
        "n_returns": int(len(returns)),
        "start": start,
        "end": end,
        "first_price": float(prices[0]),
        "last_price": float(prices[-1]),
        "price_column": str(price_col),
        "chart": chart_path,
        "source": "prices",
    }
