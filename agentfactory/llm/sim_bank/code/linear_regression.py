"""Two-variable linear regression (ordinary least squares) with a scatter plot and fitted line.

Purpose: quantify how one numeric column depends on another in a CSV file.
Inputs:
    csv_path (str): CSV file, e.g. "inputs/data.csv".
    x (str | None): explanatory column; default: the first numeric column that is not an id (a column
        named id, *_id, id_*, index, or holding just 0..n-1 or 1..n). Names match loosely: "engine size"
        finds engine_size_l.
    y (str | None): response column; default: the next such numeric column.
    chart_path (str): where to save the PNG scatter plot, e.g. "outputs/scatter.png".
Outputs: dict with answer (the result in words), slope, intercept, r_squared, n (rows used), dropped
    (rows with missing values), x, y, chart.
Limitations: straight-line fit only; rows where x or y is missing or not numeric are dropped.
"""

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


def _resolve(df, name):
    """The column meant by `name`: same name ignoring case, spaces, '_' and '-'; else the one column whose
    name contains it (or is contained in it); else the column sharing most name words with it."""
    if name is None:
        return None
    wanted = _squash(name)
    for col in df.columns:
        if _squash(col) == wanted:
            return col
    partial = [
        col
        for col in df.columns
        if wanted and (wanted in _squash(col) or (len(_squash(col)) >= 3 and _squash(col) in wanted))
    ]
    if partial:
        # 'price' matches both 'price_k' and 'price_per_sqft': the closest in length is the one meant.
        return min(partial, key=lambda col: abs(len(_squash(col)) - len(wanted)))
    words = set(_tokens(name))
    shared = {col: len(words.intersection(_tokens(col))) for col in df.columns}
    best = max(shared.values(), default=0)
    if best > 0 and list(shared.values()).count(best) == 1:
        return max(shared, key=shared.get)
    raise ValueError(f"column {name!r} not in {list(df.columns)}")


def _default_columns(df, taken):
    """Numeric columns to use when x or y is not named: measurements first, id-like columns last."""
    numeric = [c for c in df.columns if c not in taken and _numbers(df[c]).notna().mean() > 0.5]
    measures = [c for c in numeric if not _is_identifier(df, c)]
    return measures + [c for c in numeric if c not in measures]


def run(csv_path, x=None, y=None, chart_path="outputs/scatter.png"):
    df = pd.read_csv(csv_path)
    if len(df.columns) == 1:
        # One column usually means another delimiter (';' or tab): let pandas sniff it.
        df = pd.read_csv(csv_path, sep=None, engine="python")
    x_col, y_col = _resolve(df, x), _resolve(df, y)
    if x_col is None or y_col is None:
        rest = _default_columns(df, (x_col, y_col))
        if len(rest) < (x_col is None) + (y_col is None):
            raise ValueError(f"not enough numeric columns to regress in {list(df.columns)}")
        x_col = x_col if x_col is not None else rest.pop(0)
        y_col = y_col if y_col is not None else rest.pop(0)
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
        f"intercept = {intercept:.4f}, R² = {r_squared:.4f}. Each unit of {x_col} goes with "
        f"{slope:.4f} more {y_col}. Scatter plot with the fitted line: {chart_path}."
    )
    return {
        "answer": answer,
        "slope": round(float(slope), 6),
        "intercept": round(float(intercept), 6),
        "r_squared": round(float(r_squared), 6),
        "n": int(len(clean)),
        "dropped": dropped,
        "x": str(x_col),
        "y": str(y_col),
        "chart": chart_path,
    }
