"""Self-contained HTML reports: one run's trajectory, or charts over every run of a team.

The page is one file: inline CSS, inline SVG drawn by `report.svg`, the run's output images as `data:`
URIs (`report.images`: checked, size-capped, never inline SVG), no script, no font, image or stylesheet
from anywhere; a Content-Security-Policy meta tag says so to the browser as well. Reports only read the
event log, traces, output images and the experience store; everything they show from a run (task,
model output, subagent output, file names) is HTML-escaped by the templates' autoescaping.

Runs made with a simulated model (`sim`, `scripted`) are labelled "simulated model" on both pages.

Public: `render_run_report(run_dir, store=None, all_href=None)`,
`render_all_report(store, window=10, run_links=None)`, `write_all_reports(store, out, workspaces=None,
window=10)` (the all-runs page and each run's own page, linked), `write_report(html, out)`.
"""

from __future__ import annotations

import datetime as dt
import functools
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote

from agentfactory import __version__
from agentfactory.errors import UsageError
from agentfactory.events import read_events, summarize
from agentfactory.experience.records import USE
from agentfactory.report import svg
from agentfactory.report.images import collect_images
from agentfactory.report.trajectory import build_trajectory

RUN_PAGE = "report.html"  # a run's own page, in its workspace folder


@functools.cache
def _env() -> Any:
    import jinja2  # on first use: importing the report package renders nothing

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("agentfactory.report", "templates"),
        autoescape=jinja2.select_autoescape(["html", "j2"], default=True),
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters.update(when=_when, pct=_pct, num=_num)
    return env


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


def _common() -> dict[str, Any]:
    return {"version": __version__, "generated": _when(dt.datetime.now().timestamp())}


def render_run_report(run_dir: Path, store: Any = None, all_href: str | None = None) -> str:
    """HTML of one run from `workspaces/<run-id>/` (events.jsonl, traces/, images in outputs/), plus its
    store rows. `all_href` links back to the all-runs page."""
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
        legend=[("tokens of the step (orchestrator + subagents)", svg.NEUTRAL)],
        hovers=[
            f"step {s.number}: {s.usage.total_tokens:,} tokens "
            f"(in {s.usage.input_tokens:,}, out {s.usage.output_tokens:,}, "
            f"cache read {s.usage.cache_read_tokens:,})"
            for s in numbered
        ],
        y_label="tokens",
    )
    record = store.get_run(summary.run_id) if store is not None and store.exists else None
    # Usage only: a gate's case runs in this run are checks, not what the run did with its subagents.
    executions = store.executions(run_id=summary.run_id, kind=USE) if record is not None else []
    images, skipped_images = collect_images(run_dir)
    return (
        _env()
        .get_template("run.html.j2")
        .render(
            **_common(),
            s=summary,
            simulated=summary.simulated or bool(record is not None and record.simulated),
            images=images,
            skipped_images=skipped_images,
            all_href=all_href,
            finished=finished,
            steps=steps,
            chart=chart,
            record=record,
            executions=executions,
            lessons=_lessons_in_play(store, executions),
        )
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


def render_all_report(store: Any, window: int = 10, run_links: Mapping[str, str] | None = None) -> str:
    """HTML over every run in the store: tokens per task, library growth, success and reuse trends.

    `run_links` maps run ids to the href of their own page (see `write_all_reports`).
    """
    stats = store.stats(window=window) if store.exists else None
    series: list[dict[str, Any]] = store.run_series() if store.exists else []
    records = {r.run_id: r for r in store.runs()} if store.exists else {}
    for row in series:
        record = records.get(row["run_id"])
        row["model"] = record.model if record is not None else ""
        row["simulated"] = bool(record is not None and record.simulated)
    simulated = [r for r in series if r["simulated"]]
    labels = [str(i + 1) for i in range(len(series))]
    charts = {
        "tokens": svg.bar_chart(
            [r["tokens"] for r in series],
            labels,
            "Tokens per task, in run order" + (" (simulated model)" if simulated else ""),
            colors=[svg.OK_COLOR if r["success"] else svg.FAIL_COLOR for r in series],
            legend=[("success", svg.OK_COLOR), ("failure", svg.FAIL_COLOR)],
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
    return (
        _env()
        .get_template("all.html.j2")
        .render(
            **_common(),
            stats=stats,
            series=series,
            charts=charts,
            window=window,
            store_path=str(store.path),
            simulated_runs=len(simulated),
            simulated_models=sorted({r["model"] or "unknown" for r in simulated}),
            links=dict(run_links or {}),
        )
    )


def _href(target: Path, start: Path) -> str:
    """A relative link from a page in `start` to `target`, percent-encoded."""
    return quote(Path(os.path.relpath(target, start)).as_posix(), safe="/")


def write_all_reports(store: Any, out: Path, workspaces: Path | None = None, window: int = 10) -> Path:
    """Write the all-runs page to `out` and, for every recorded run whose workspace is under
    `workspaces`, that run's own page (`<workspaces>/<run-id>/report.html`), linked both ways.

    Run ids come from the store, which a pulled library feeds: one is used as a folder name only when it
    is a valid run id naming a real folder (not a link) with an event log in it.
    """
    from agentfactory.engine.workspace import WorkspaceManager

    out = Path(out)
    links: dict[str, str] = {}
    if workspaces is not None and store.exists:
        manager = WorkspaceManager(Path(workspaces))
        for record in store.runs():
            try:
                ws = manager.get(record.run_id)
            except UsageError:
                continue
            if ws.root.is_symlink() or not ws.events_path.is_file():
                continue
            page = ws.root / RUN_PAGE
            try:
                html = render_run_report(ws.root, store, all_href=_href(out, ws.root))
                write_report(html, page)
            except OSError:
                continue  # an unwritable run folder: that run is listed without a link
            links[record.run_id] = _href(page, out.parent)
    return write_report(render_all_report(store, window=window, run_links=links), out)


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
