"""Two-variable linear regression (ordinary least squares) with a scatter plot and fitted line.

Purpose: quantify how one numeric column depends on another in a CSV file.
Inputs:
    csv_path (str): CSV file, e.g. "inputs/data.csv".
    x (str | None): explanatory column; default: the first numeric column that is not an id.
    y (str | None): response column; default: the next numeric column.
    chart_path (str): where to save the PNG scatter plot, e.g. "outputs/scatter.png".
Outputs: dict with answer (the result in words), slope, intercept, r_squared, n (rows used), dropped
    (rows with missing values), x, y, chart.
Limitations: straight-line fit only; rows where x or y is missing or not numeric are dropped.
"""

import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

ID_NAMES = {"id", "index", "student", "week", "row", "day", "date"}


def _resolve(df, name):
    if name is None:
        return None
    wanted = str(name).strip().lower()
    for col in df.columns:
        if str(col).strip().lower() == wanted:
            return col
    for col in df.columns:
        if wanted in str(col).strip().lower():
            return col
    raise ValueError(f"column {name!r} not in {list(df.columns)}")


def run(csv_path, x=None, y=None, chart_path="outputs/scatter.png"):
    df = pd.read_csv(csv_path)
    x_col, y_col = _resolve(df, x), _resolve(df, y)
    if x_col is None or y_col is None:
        numeric = [
            c
            for c in df.columns
            if str(c).strip().lower() not in ID_NAMES
            and pd.to_numeric(df[c], errors="coerce").notna().mean() > 0.5
        ]
        rest = [c for c in numeric if c not in (x_col, y_col)]
        x_col = x_col if x_col is not None else rest.pop(0)
        y_col = y_col if y_col is not None else rest.pop(0)
    data = pd.DataFrame(
        {"x": pd.to_numeric(df[x_col], errors="coerce"), "y": pd.to_numeric(df[y_col], errors="coerce")}
    )
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
