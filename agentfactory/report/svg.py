"""Small inline SVG charts (bars and lines) drawn by hand, so a report needs no script and no network.

Every label is XML-escaped here; the result is `markupsafe.Markup` for the templates. Hover text uses
SVG `<title>` elements, which browsers show natively.

Layout, top to bottom: the title on its own line, the plot, the x-axis labels, the legend. Text widths
are estimated generously (`text_width`) and every label is placed, thinned or shortened so that no two
texts overlap and none leaves the drawing; the legend wraps onto more lines instead of running into the
title or off the edge.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape

from markupsafe import Markup

WIDTH = 760
PLOT_HEIGHT = 172  # height of the plotting area itself
LEFT, RIGHT = 64, 16
TITLE_Y, TOP = 18, 34  # title baseline; top of the plotting area
X_LABEL_GAP = 16  # from the plot's bottom edge to the x-label baseline
LEGEND_ROW = 18
TITLE_SIZE, TICK_SIZE = 13, 11
CHAR_EM = 0.66  # estimated width of one character in em (a generous bound for digits and lower case)
OK_COLOR, FAIL_COLOR, NEUTRAL = "#2e8b57", "#c0392b", "#3b6ea8"
PALETTE = ("#3b6ea8", "#e07b39", "#2e8b57", "#8e44ad", "#c0392b", "#16a085")
MAX_X_LABEL_CHARS = 14
MIN_X_LABEL_GAP = 40  # distance between x labels, so that a long axis stays readable
MAX_LEGEND_CHARS = 64


def text_width(text: str, size: float) -> float:
    """Estimated rendered width of `text` at font size `size` (an upper bound for the report's fonts)."""
    return len(text) * size * CHAR_EM


def shorten(text: str, max_width: float, size: float) -> str:
    """`text`, cut with an ellipsis so that it fits `max_width`."""
    if text_width(text, size) <= max_width:
        return text
    keep = max(1, int(max_width / (size * CHAR_EM)) - 1)
    return text[:keep].rstrip() + "…"


def nice_ticks(maximum: float, count: int = 4) -> list[float]:
    """Round tick values from 0 to at least `maximum` (1-2-5 steps)."""
    if not math.isfinite(maximum) or maximum <= 0:
        return [0.0, 1.0]
    raw = maximum / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    top = math.ceil(maximum / step - 1e-9) * step
    return [round(i * step, 10) for i in range(int(round(top / step)) + 1)]


def _fmt(value: float) -> str:
    if abs(value) >= 1_000_000:
        return f"{value / 1_000_000:g}M"
    if abs(value) >= 1_000:
        return f"{value / 1_000:g}k"
    return f"{value:g}"


def _legend_rows(items: Sequence[tuple[str, str]]) -> list[list[tuple[float, str, str]]]:
    """Legend items (label, colour) placed left to right from LEFT, wrapping at the right edge."""
    rows: list[list[tuple[float, str, str]]] = [[]]
    x = float(LEFT)
    limit = WIDTH - RIGHT
    for label, color in items:
        label = shorten(label, min(limit - LEFT - 14, MAX_LEGEND_CHARS * TICK_SIZE * CHAR_EM), TICK_SIZE)
        width = 14 + text_width(label, TICK_SIZE)
        if rows[-1] and x + width > limit:
            rows.append([])
            x = float(LEFT)
        rows[-1].append((x, label, color))
        x += width + 18
    return [row for row in rows if row]


def _height(legend: list[list[tuple[float, str, str]]]) -> int:
    return TOP + PLOT_HEIGHT + X_LABEL_GAP + 8 + LEGEND_ROW * len(legend) + 6


def _frame(title: str, ticks: list[float], y_of, y_label: str, percent: bool, height: int) -> list[str]:
    shown = shorten(title, WIDTH - LEFT - RIGHT, TITLE_SIZE)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {WIDTH} {height}" '
        f'width="{WIDTH}" height="{height}" role="img" aria-label="{escape(title)}">',
        f"<title>{escape(title)}</title>",
        f'<rect x="0" y="0" width="{WIDTH}" height="{height}" fill="#ffffff"/>',
        f'<text x="{LEFT}" y="{TITLE_Y}" class="chart-title" font-size="{TITLE_SIZE}">{escape(shown)}</text>',
    ]
    for tick in ticks:
        y = y_of(tick)
        label = f"{tick * 100:g}%" if percent else _fmt(tick)
        parts.append(
            f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" stroke="#e3e6ea"/>'
            f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" class="tick" '
            f'font-size="{TICK_SIZE}">{label}</text>'
        )
    if y_label:
        middle = TOP + PLOT_HEIGHT / 2
        shown_y = shorten(y_label, PLOT_HEIGHT, TICK_SIZE)
        parts.append(
            f'<text x="14" y="{middle:.1f}" class="tick" font-size="{TICK_SIZE}" '
            f'transform="rotate(-90 14 {middle:.1f})" text-anchor="middle">{escape(shown_y)}</text>'
        )
    return parts


def _x_labels(labels: Sequence[str], x_of, slot: float) -> list[str]:
    """Labels under the plot: every n-th one, then any that would still touch its neighbour dropped
    (the last label is kept in preference to the one before it)."""
    if not labels:
        return []
    shown = [shorten(label, MAX_X_LABEL_CHARS * TICK_SIZE * CHAR_EM, TICK_SIZE) for label in labels]
    widest = max(text_width(label, TICK_SIZE) for label in shown)
    every = max(1, math.ceil(max(widest + 8, MIN_X_LABEL_GAP) / max(slot, 1e-9)))
    last = len(labels) - 1
    candidates = [i for i in range(len(labels)) if i % every == 0]
    if candidates[-1] != last:
        candidates.append(last)
    placed: list[tuple[int, float, float]] = []  # (index, centre, half width)
    for i in candidates:
        half = text_width(shown[i], TICK_SIZE) / 2
        x = min(max(x_of(i), LEFT + half), WIDTH - RIGHT - half)  # inside the drawing, right of the ticks
        while placed and x - half < placed[-1][1] + placed[-1][2] + 6:
            if i != last:
                break
            placed.pop()
        else:
            placed.append((i, x, half))
    y = TOP + PLOT_HEIGHT + X_LABEL_GAP
    return [
        f'<text x="{x:.1f}" y="{y}" text-anchor="middle" class="tick" font-size="{TICK_SIZE}">'
        f"{escape(shown[i])}</text>"
        for i, x, _ in placed
    ]


def _legend(rows: list[list[tuple[float, str, str]]]) -> list[str]:
    out = []
    base = TOP + PLOT_HEIGHT + X_LABEL_GAP + 8
    for r, row in enumerate(rows):
        y = base + LEGEND_ROW * (r + 1)
        for x, label, color in row:
            out.append(
                f'<g class="legend"><rect x="{x:.1f}" y="{y - 9}" width="10" height="10" fill="{color}"/>'
                f'<text x="{x + 14:.1f}" y="{y}" class="tick" font-size="{TICK_SIZE}">{escape(label)}</text></g>'
            )
    return out


def _empty(title: str) -> Markup:
    return Markup(
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {WIDTH} 60" width="{WIDTH}" '
        f'height="60"><text x="{LEFT}" y="34" class="tick" font-size="{TICK_SIZE}">'
        f"{escape(shorten(title + ': no data yet', WIDTH - LEFT - RIGHT, TICK_SIZE))}</text></svg>"
    )


def _finite(value: float | None) -> float | None:
    return float(value) if isinstance(value, (int, float)) and math.isfinite(value) else None


def bar_chart(
    values: Sequence[float],
    labels: Sequence[str],
    title: str,
    colors: Sequence[str] | None = None,
    hovers: Sequence[str] | None = None,
    y_label: str = "",
    legend: Sequence[tuple[str, str]] | None = None,
) -> Markup:
    """One bar per value; `colors` per bar (default one colour), `hovers` as native tooltips.

    `legend` is a list of (label, colour); without one, the y label (or the title) names the one colour.
    """
    if not values:
        return _empty(title)
    values = [max(0.0, _finite(v) or 0.0) for v in values]
    ticks = nice_ticks(max(values))
    top = ticks[-1] or 1.0
    plot_w = WIDTH - LEFT - RIGHT
    slot = plot_w / len(values)
    bar_w = max(1.0, min(36.0, slot * 0.75))
    rows = _legend_rows(legend or [(y_label or title, NEUTRAL)])
    height = _height(rows)

    def y_of(v: float) -> float:
        return TOP + PLOT_HEIGHT * (1 - v / top)

    def x_of(i: int) -> float:
        return LEFT + slot * (i + 0.5)

    parts = _frame(title, ticks, y_of, y_label, percent=False, height=height)
    for i, value in enumerate(values):
        y = y_of(value)
        color = colors[i] if colors else NEUTRAL
        hover = escape(hovers[i]) if hovers else f"{escape(labels[i])}: {_fmt(value)}"
        parts.append(
            f'<rect x="{x_of(i) - bar_w / 2:.1f}" y="{y:.1f}" width="{bar_w:.1f}" '
            f'height="{TOP + PLOT_HEIGHT - y:.1f}" fill="{color}"><title>{hover}</title></rect>'
        )
    parts += _x_labels(labels, x_of, slot)
    parts += _legend(rows)
    parts.append("</svg>")
    return Markup("".join(parts))


def line_chart(
    series: Sequence[tuple[str, Sequence[float | None]]],
    labels: Sequence[str],
    title: str,
    percent: bool = False,
    y_label: str = "",
) -> Markup:
    """Lines over a shared x axis, one legend entry each; None values break a line. `percent` plots 0-1
    values as 0-100%."""
    series = [(name, [_finite(v) for v in values]) for name, values in series]
    points = [v for _, values in series for v in values if v is not None]
    if not points:
        return _empty(title)
    ticks = [0, 0.25, 0.5, 0.75, 1.0] if percent else nice_ticks(max(points))
    top = ticks[-1] or 1.0
    plot_w = WIDTH - LEFT - RIGHT
    n = max(len(values) for _, values in series)
    rows = _legend_rows([(name, PALETTE[i % len(PALETTE)]) for i, (name, _) in enumerate(series)])
    height = _height(rows)

    def y_of(v: float) -> float:
        return TOP + PLOT_HEIGHT * (1 - min(max(v, 0.0), top) / top)

    def x_of(i: int) -> float:
        return LEFT + (plot_w * (i / (n - 1)) if n > 1 else plot_w / 2)

    parts = _frame(title, ticks, y_of, y_label, percent, height)
    for index, (name, values) in enumerate(series):
        color = PALETTE[index % len(PALETTE)]
        segments: list[list[str]] = [[]]
        for i, value in enumerate(values):
            if value is None:
                segments.append([])
                continue
            segments[-1].append(f"{x_of(i):.1f},{y_of(value):.1f}")
            shown = f"{value * 100:.0f}%" if percent else _fmt(round(value, 2))
            label = labels[i] if i < len(labels) else str(i)
            parts.append(
                f'<circle cx="{x_of(i):.1f}" cy="{y_of(value):.1f}" r="2.5" fill="{color}">'
                f"<title>{escape(name)} · {escape(label)}: {shown}</title></circle>"
            )
        for seg in segments:
            if len(seg) > 1:
                parts.append(
                    f'<polyline points="{" ".join(seg)}" fill="none" stroke="{color}" stroke-width="2"/>'
                )
    parts += _x_labels(labels, x_of, plot_w / max(n - 1, 1))
    parts += _legend(rows)
    parts.append("</svg>")
    return Markup("".join(parts))


def rolling(values: Sequence[float | None], window: int) -> list[float | None]:
    """Mean of the last `window` known values at each position (None until one is known)."""
    out: list[float | None] = []
    for i in range(len(values)):
        known = [v for v in values[max(0, i - window + 1) : i + 1] if v is not None]
        out.append(sum(known) / len(known) if known else None)
    return out
