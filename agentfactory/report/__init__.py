"""Self-contained HTML reports: one run's trajectory, or charts over every run of a team.

The page is one file: inline CSS, inline SVG drawn by `report.svg`, no script, no font, image or
stylesheet from anywhere; a Content-Security-Policy meta tag says so to the browser as well. Reports
only read: the event log, traces and the experience store.

Public: `render_run_report(run_dir, store=None)`, `render_all_report(store, workspaces=None)`,
`write_report(html, out)`.
"""

from __future__ import annotations

import datetime as dt
import os
import tempfile
from pathlib import Path
from typing import Any

import jinja2

from agentfactory import __version__
from agentfactory.events import read_events, summarize
from agentfactory.report import svg
from agentfactory.report.trajectory import build_trajectory

_env = jinja2.Environment(
    loader=jinja2.PackageLoader("agentfactory.report", "templates"),
    autoescape=jinja2.select_autoescape(["html", "j2"], default=True),
    trim_blocks=True,
    lstrip_blocks=True,
    undefined=jinja2.StrictUndefined,
)


def _when(ts: Any) -> str:
    if not isinstance(ts, (int, float)):
        return "-"
    return dt.datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M:%S")


def _pct(value: Any) -> str:
    return f"{value * 100:.0f}%" if isinstance(value, (int, float)) else "-"


def _num(value: Any, digits: int = 0) -> str:
    if not isinstance(value, (int, float)):
        return "-"
    return f"{value:,.{digits}f}"


_env.filters.update(when=_when, pct=_pct, num=_num)


def _common() -> dict[str, Any]:
    return {"version": __version__, "generated": _when(dt.datetime.now().timestamp())}


def render_run_report(run_dir: Path, store: Any = None) -> str:
    """HTML of one run from `workspaces/<run-id>/` (events.jsonl and traces/), plus its store rows."""
    run_dir = Path(run_dir)
    events = [_sane(e) for e in read_events(run_dir / "events.jsonl")]
    summary = summarize(events, run_id=run_dir.name)
    steps = build_trajectory(events, run_dir)
    finished = next((e for e in reversed(events) if e.get("type") == "run_finished"), {})
    numbered = [s for s in steps if s.number > 0]
    chart = svg.bar_chart(
        [s.usage.total_tokens for s in numbered],
        [str(s.number) for s in numbered],
        "Orchestrator and subagent tokens per step",
        hovers=[
            f"step {s.number}: {s.usage.total_tokens:,} tokens "
            f"(in {s.usage.input_tokens:,}, out {s.usage.output_tokens:,}, "
            f"cache read {s.usage.cache_read_tokens:,})"
            for s in numbered
        ],
        y_label="tokens",
    )
    record = store.get_run(summary.run_id) if store is not None and store.exists else None
    executions = store.executions(run_id=summary.run_id) if record is not None else []
    return _env.get_template("run.html.j2").render(
        **_common(),
        s=summary,
        finished=finished,
        steps=steps,
        chart=chart,
        record=record,
        executions=executions,
        lessons=_lessons_in_play(store, executions),
    )


def _sane(event: dict[str, Any]) -> dict[str, Any]:
    """Drop fields of the wrong type so one odd line cannot stop the report of a whole run."""
    event = dict(event)
    if "usage" in event and not isinstance(event["usage"], dict):
        del event["usage"]
    for key in ("step", "steps"):
        if key in event and not isinstance(event[key], int):
            del event[key]
    for key in ("ts", "cost_usd", "duration_s", "latency_s"):
        if key in event and not isinstance(event[key], (int, float)):
            del event[key]
    return event


def _lessons_in_play(store: Any, executions: list[Any]) -> dict[str, list[str]]:
    names = sorted({e.subagent for e in executions if not e.success})
    return store.lessons_for_many(names) if names else {}


def render_all_report(store: Any, window: int = 10) -> str:
    """HTML over every run in the store: tokens per task, library growth, success and reuse trends."""
    stats = store.stats(window=window) if store.exists else None
    series: list[dict[str, Any]] = store.run_series() if store.exists else []
    labels = [str(i + 1) for i in range(len(series))]
    charts = {
        "tokens": svg.bar_chart(
            [r["tokens"] for r in series],
            labels,
            "Tokens per task (run order; green = success, red = failure)",
            colors=[svg.OK_COLOR if r["success"] else svg.FAIL_COLOR for r in series],
            hovers=[
                f"#{i + 1} {r['run_id']} ({r['agent_id']}): {r['tokens']:,} tokens — {r['task'][:80]}"
                for i, r in enumerate(series)
            ],
            y_label="tokens",
        ),
        "library": svg.line_chart(
            [("subagents saved", [float(r["library_size"]) for r in series])],
            labels,
            "Library growth (distinct subagents saved)",
        ),
        "success": svg.line_chart(
            [
                (
                    f"success rate, last {window} runs",
                    svg.rolling([float(r["success"]) for r in series], window),
                )
            ],
            labels,
            "Success rate (rolling)",
            percent=True,
        ),
        "reuse": svg.line_chart(
            [
                (
                    f"reuse ratio, last {window} runs",
                    svg.rolling(
                        [
                            r["reused"] / (r["reused"] + r["created"]) if r["reused"] + r["created"] else None
                            for r in series
                        ],
                        window,
                    ),
                )
            ],
            labels,
            "Reuse ratio: subagents reused / (reused + created)",
            percent=True,
        ),
    }
    return _env.get_template("all.html.j2").render(
        **_common(), stats=stats, series=series, charts=charts, window=window, store_path=str(store.path)
    )


def write_report(html: str, out: Path) -> Path:
    """Write atomically: a reader (or a browser reloading) never sees half a page."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", dir=out.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(html)
        os.chmod(tmp, 0o644)  # mkstemp makes it private; a report is meant to be shared
        os.replace(tmp, out)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return out
