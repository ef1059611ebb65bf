"""Two-variable linear regression (ordinary least squares) with a scatter plot and fitted line.

Purpose: quantify how one numeric column depends on another in a table file.
Inputs:
    csv_path (str): CSV file, e.g. "inputs/data.csv" (also TSV, another delimited .txt, or JSON records).
    x (str | None): explanatory column. Names match loosely, in this order: the same name ignoring case
        and punctuation ("monthly_sales" finds "Monthly Sales ($k)"); a header holding all its words
        ("age" finds "Age (years)", never "Mileage"); a header with words starting with its words; a
        header containing it. Default (or when the name matches no column): when the file has exactly
        two measure columns (numeric, not an id: a column named id, *_id, id_*, index, or holding just
        0..n-1 or 1..n), the first of them; with more, a ValueError that lists them and asks which two.
    y (str | None): response column; default: the other measure column, as for x.
    chart_path (str): where to save the PNG scatter plot, e.g. "outputs/scatter.png".
    predict_at (float | list[float] | None): x values at which to predict y from the fitted line.
Outputs: dict with answer (the result in words), slope, intercept, r_squared, r (Pearson correlation),
    n (rows used), dropped (rows with missing values), x, y, chart, predictions (list of {x, y}; empty
    without predict_at).
Limitations: straight-line fit only; rows where x or y is missing or not numeric are dropped.
"""

import contextlib
import csv
import json
import math
import os
import re

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

# Columns with these names label rows rather than measure something.
ID_NAMES = {"id", "index", "student", "week", "row", "day", "date", "no", "number", "key"}
CURRENCY_SIGNS = "$€£¥₹"


def _tokens(name):
    """'employee_id' -> ['employee', 'id']; 'EmployeeID' -> ['employee', 'id']."""
    words = re.findall(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+", str(name))
    return [w.lower() for w in words]


def _squash(name):
    return re.sub(r"[^a-z0-9]", "", str(name).lower())


def _number(value):
    """A float from '1,200', '$3.5', '12%' or ' 7 '; NaN when it is not a number (e.g. 'NA' or '')."""
    if isinstance(value, (int, float, np.integer, np.floating)):
        return float(value)
    text = str(value).strip().replace("\u00a0", "").replace(" ", "").rstrip("%").strip(CURRENCY_SIGNS)
    if re.fullmatch(r"-?\d{1,3}(,\d{3})+(\.\d+)?", text):
        text = text.replace(",", "")
    try:
        return float(text)
    except ValueError:
        return float("nan")


def _numbers(series):
    if pd.api.types.is_numeric_dtype(series):
        return pd.to_numeric(series, errors="coerce")
    return pd.to_numeric(series.map(_number), errors="coerce")


def _is_identifier(df, col):
    """True for id-like columns: named id, *_id, id_*, index..., or holding just 0..n-1 or 1..n."""
    name = str(col).strip().lower()
    tokens = _tokens(col)
    if name in ID_NAMES or name.startswith("unnamed") or "id" in tokens:
        return True
    values = _numbers(df[col])
    if values.isna().any() or len(values) < 3 or not (values == values.round()).all():
        return False
    start = int(values.iloc[0])
    return start in (0, 1) and list(values.astype(int)) == list(range(start, start + len(values)))


def _words(name):
    """Words of a header for matching: 'Monthly Sales ($k)' -> ['monthly', 'sales', 'k']."""
    return _tokens(name) or [_squash(name)]


def _resolve(df, name):
    """The column meant by `name`, or None. Tried in order: the same name ignoring case and punctuation;
    a header holding every word of it ('age' -> 'Age (years)', never 'Mileage'); a header with a word
    starting with each of its words; a header containing it (or contained in it); the one header sharing
    most words with it. Ties go to the header with fewest extra words."""
    key = _squash(name)
    if not key:
        return None
    columns = list(df.columns)
    for col in columns:
        if _squash(col) == key:
            return col
    words = _words(name)

    def fewest_extra(matches):
        return min(matches, key=lambda col: abs(len(_words(col)) - len(words))) if matches else None

    whole = [col for col in columns if set(words) <= set(_words(col))]
    prefix = [col for col in columns if all(any(h.startswith(w) for h in _words(col)) for w in words)]
    inside = [col for col in columns if key in _squash(col)]
    # 'engine_size' named as 'engine size in litres': the header sits inside the name.
    around = [col for col in columns if len(_squash(col)) >= 3 and _squash(col) in key]
    found = fewest_extra(whole) or fewest_extra(prefix) or fewest_extra(inside) or fewest_extra(around)
    if found is not None:
        return found
    shared = {col: len(set(words).intersection(_words(col))) for col in columns}
    best = max(shared.values(), default=0)
    if best > 0 and list(shared.values()).count(best) == 1:
        return max(shared, key=shared.get)
    return None


def _measure_columns(df):
    """Numeric columns that measure something, and the id-like numeric ones (row numbers, keys)."""
    numeric = [c for c in df.columns if _numbers(df[c]).notna().mean() > 0.5]
    measures = [c for c in numeric if not _is_identifier(df, c)]
    return measures, [c for c in numeric if c not in measures]


def _pick_columns(df, x, y):
    """(x column, y column): the named ones, else the file's only two measure columns; never a guess
    among three or more."""
    x_col, y_col = _resolve(df, x), _resolve(df, y)
    if x_col is not None and x_col == y_col:
        raise ValueError(f"x {x!r} and y {y!r} both match column {x_col!r}: name two different columns")
    if x_col is not None and y_col is not None:
        return x_col, y_col
    unmatched = [f"{n!r}" for n, c in ((x, x_col), (y, y_col)) if n and c is None]
    note = f" ({' and '.join(unmatched)} matched no column)" if unmatched else ""
    measures, ids = _measure_columns(df)
    needed = (x_col is None) + (y_col is None)
    rest = [c for c in measures if c not in (x_col, y_col)]
    if len(rest) > needed:
        raise ValueError(
            f"which columns should be regressed? {len(measures)} numeric columns could be x or y: "
            f"{measures}{note}; pass x (explanatory) and y (response) by name"
        )
    rest += [c for c in ids if c not in (x_col, y_col)]
    if len(rest) < needed:
        raise ValueError(f"not enough numeric columns to regress in {list(df.columns)}{note}")
    x_col = x_col if x_col is not None else rest.pop(0)
    y_col = y_col if y_col is not None else rest.pop(0)
    return x_col, y_col


def _read_table(path):
    suffix = os.path.splitext(path)[1].lower()
    if suffix in (".json", ".jsonl", ".ndjson"):
        with open(path, encoding="utf-8-sig") as fh:
            text = fh.read().strip()
        try:
            data = json.loads(text)
        except json.JSONDecodeError:
            data = [json.loads(line) for line in text.splitlines() if line.strip()]
        if isinstance(data, dict):
            lists = [v for v in data.values() if isinstance(v, list)]
            data = max(lists, key=len) if lists else [data]
        return pd.json_normalize(data)
    if suffix == ".tsv":
        return pd.read_csv(path, sep="\t")
    df = pd.read_csv(path)
    if len(df.columns) == 1:
        # One column usually means another delimiter (';', tab or spaces): let pandas sniff it.
        with contextlib.suppress(pd.errors.ParserError, csv.Error):
            df = pd.read_csv(path, sep=None, engine="python")
        if len(df.columns) == 1:
            df = pd.read_csv(path, sep=r"\s+", engine="python")
    return df


def run(csv_path, x=None, y=None, chart_path="outputs/scatter.png", predict_at=None):
    df = _read_table(csv_path)
    x_col, y_col = _pick_columns(df, x, y)
    data = pd.DataFrame({"x": _numbers(df[x_col]), "y": _numbers(df[y_col])})
    clean = data.dropna()
    if len(clean) < 3:
        raise ValueError(f"need at least 3 complete rows, found {len(clean)}")
    xs, ys = clean["x"].to_numpy(dtype=float), clean["y"].to_numpy(dtype=float)
    slope, intercept = np.polyfit(xs, ys, 1)
    fitted = intercept + slope * xs
    ss_res = float(np.sum((ys - fitted) ** 2))
    ss_tot = float(np.sum((ys - ys.mean()) ** 2))
    r_squared = 1.0 - ss_res / ss_tot if ss_tot else 0.0
    # For a least-squares line, Pearson's r is the root of R² with the sign of the slope.
    r = math.copysign(math.sqrt(max(r_squared, 0.0)), slope)
    at = [] if predict_at is None else predict_at if isinstance(predict_at, (list, tuple)) else [predict_at]
    predictions = [{"x": float(v), "y": round(float(intercept + slope * float(v)), 6)} for v in at]

    os.makedirs(os.path.dirname(chart_path) or ".", exist_ok=True)
    fig, ax = plt.subplots(figsize=(6, 4.5))
    ax.scatter(xs, ys, s=14, alpha=0.7, label="data")
    line_x = np.linspace(xs.min(), xs.max(), 50)
    ax.plot(
        line_x,
        intercept + slope * line_x,
        color="crimson",
        label=f"y = {intercept:.3g} + {slope:.3g}x (R² = {r_squared:.3f})",
    )
    ax.set_xlabel(str(x_col))
    ax.set_ylabel(str(y_col))
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(chart_path, dpi=100)
    plt.close(fig)
    dropped = int(len(data) - len(clean))
    note = f", {dropped} rows with missing values dropped" if dropped else ""
    answer = (
        f"Linear regression of {y_col} on {x_col} (n = {len(clean)}{note}): slope = {slope:.4f}, "
        f"intercept = {intercept:.4f}, R² = {r_squared:.4f}, correlation r = {r:.4f}. Each unit of {x_col} "
        f"goes with {slope:.4f} more {y_col}."
        + "".join(f" Predicted {y_col} at {x_col} = {p['x']:g}: {p['y']:.4f}." for p in predictions)
        + f" Scatter plot with the fitted line: {chart_path}."
    )
    return {
        "answer": answer,
        "slope": round(float(slope), 6),
        "intercept": round(float(intercept), 6),
        "r_squared": round(float(r_squared), 6),
        "r": round(r, 6),
        "n": int(len(clean)),
        "dropped": dropped,
        "x": str(x_col),
        "y": str(y_col),
        "chart": chart_path,
        "predictions": predictions,
    }
