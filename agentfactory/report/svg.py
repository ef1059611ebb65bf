"""Small inline SVG charts (bars and lines) drawn by hand, so a report needs no script and no network.

Every label is XML-escaped here; the result is `markupsafe.Markup` for the templates. Hover text uses
SVG `<title>` elements, which browsers show natively.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape

from markupsafe import Markup

WIDTH, HEIGHT = 760, 240
LEFT, RIGHT, TOP, BOTTOM = 64, 16, 28, 40
OK_COLOR, FAIL_COLOR, NEUTRAL = "#2e8b57", "#c0392b", "#3b6ea8"
PALETTE = ("#3b6ea8", "#e07b39", "#2e8b57", "#8e44ad", "#c0392b", "#16a085")


def nice_ticks(maximum: float, count: int = 4) -> list[float]:
    """Round tick values from 0 to at least `maximum` (1-2-5 steps)."""
    if maximum <= 0:
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


def _frame(title: str, ticks: list[float], y_of, y_label: str, percent: bool) -> list[str]:
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'width="{WIDTH}" height="{HEIGHT}" role="img" aria-label="{escape(title)}">',
        f"<title>{escape(title)}</title>",
        f'<rect x="0" y="0" width="{WIDTH}" height="{HEIGHT}" fill="#ffffff"/>',
        f'<text x="{LEFT}" y="18" class="chart-title">{escape(title)}</text>',
    ]
    for tick in ticks:
        y = y_of(tick)
        label = f"{tick * 100:g}%" if percent else _fmt(tick)
        parts.append(
            f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" stroke="#e3e6ea"/>'
            f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" class="tick">{label}</text>'
        )
    if y_label:
        parts.append(
            f'<text x="14" y="{TOP + (HEIGHT - TOP - BOTTOM) / 2:.1f}" class="tick" '
            f'transform="rotate(-90 14 {TOP + (HEIGHT - TOP - BOTTOM) / 2:.1f})" '
            f'text-anchor="middle">{escape(y_label)}</text>'
        )
    return parts


def _x_labels(labels: Sequence[str], x_of, max_labels: int = 8) -> list[str]:
    if not labels:
        return []
    every = max(1, math.ceil(len(labels) / max_labels))
    out = []
    for i, label in enumerate(labels):
        if i % every == 0 or i == len(labels) - 1:
            out.append(
                f'<text x="{x_of(i):.1f}" y="{HEIGHT - BOTTOM + 16}" text-anchor="middle" '
                f'class="tick">{escape(label)}</text>'
            )
    return out


def _empty(title: str) -> Markup:
    return Markup(
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {WIDTH} 60" width="{WIDTH}" '
        f'height="60"><text x="{LEFT}" y="34" class="tick">{escape(title)}: no data yet</text></svg>'
    )


def bar_chart(
    values: Sequence[float],
    labels: Sequence[str],
    title: str,
    colors: Sequence[str] | None = None,
    hovers: Sequence[str] | None = None,
    y_label: str = "",
) -> Markup:
    """One bar per value; `colors` per bar (default one colour), `hovers` as native tooltips."""
    if not values:
        return _empty(title)
    ticks = nice_ticks(max(values))
    top = ticks[-1] or 1.0
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_w / len(values)
    bar_w = max(1.0, min(36.0, slot * 0.75))

    def y_of(v: float) -> float:
        return TOP + plot_h * (1 - v / top)

    def x_of(i: int) -> float:
        return LEFT + slot * (i + 0.5)

    parts = _frame(title, ticks, y_of, y_label, percent=False)
    for i, value in enumerate(values):
        y = y_of(value)
        color = colors[i] if colors else NEUTRAL
        hover = escape(hovers[i]) if hovers else f"{escape(labels[i])}: {_fmt(value)}"
        parts.append(
            f'<rect x="{x_of(i) - bar_w / 2:.1f}" y="{y:.1f}" width="{bar_w:.1f}" '
            f'height="{TOP + plot_h - y:.1f}" fill="{color}"><title>{hover}</title></rect>'
        )
    parts += _x_labels(labels, x_of)
    parts.append("</svg>")
    return Markup("".join(parts))


def line_chart(
    series: Sequence[tuple[str, Sequence[float | None]]],
    labels: Sequence[str],
    title: str,
    percent: bool = False,
    y_label: str = "",
) -> Markup:
    """Lines over a shared x axis; None values break a line. `percent` plots 0-1 values as 0-100%."""
    points = [v for _, values in series for v in values if v is not None]
    if not points:
        return _empty(title)
    ticks = [0, 0.25, 0.5, 0.75, 1.0] if percent else nice_ticks(max(points))
    top = ticks[-1] or 1.0
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    n = max(len(values) for _, values in series)

    def y_of(v: float) -> float:
        return TOP + plot_h * (1 - v / top)

    def x_of(i: int) -> float:
        return LEFT + (plot_w * (i / (n - 1)) if n > 1 else plot_w / 2)

    parts = _frame(title, ticks, y_of, y_label, percent)
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
        legend_x = WIDTH - RIGHT - 150 * (len(series) - index)
        parts.append(
            f'<rect x="{legend_x}" y="9" width="10" height="10" fill="{color}"/>'
            f'<text x="{legend_x + 14}" y="18" class="tick">{escape(name)}</text>'
        )
    parts += _x_labels(labels, x_of)
    parts.append("</svg>")
    return Markup("".join(parts))


def rolling(values: Sequence[float | None], window: int) -> list[float | None]:
    """Mean of the last `window` known values at each position (None until one is known)."""
    out: list[float | None] = []
    for i in range(len(values)):
        known = [v for v in values[max(0, i - window + 1) : i + 1] if v is not None]
        out.append(sum(known) / len(known) if known else None)
    return out
