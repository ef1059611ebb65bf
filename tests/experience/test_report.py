"""HTML reports and the stats / report / feedback commands; the page opened in headless Chromium."""

from __future__ import annotations

import json
import re
import shutil
import struct
import subprocess
import tempfile
import zlib
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agentfactory.cli.app import app
from agentfactory.experience import ExperienceStore, RunRecord
from agentfactory.report import render_all_report, render_run_report, write_report

from .builders import make_run, record_history

RUN_ID = "20260101-120000-abc123"
EXTERNAL = re.compile(
    r"""(?:src|href|action)\s*=\s*["']?\s*(?:https?:|//|ftp:)|url\(\s*["']?(?:https?:|//)|@import""", re.I
)


def _team_history(store: ExperienceStore, n: int = 24) -> None:
    for i in range(n):
        agent = ("alice", "bob", "carol")[i % 3]
        store.record_run(
            RunRecord(
                run_id=f"run-{i:03d}",
                agent_id=agent,
                task=f"task {i} <script>alert(1)</script>",
                status="success" if i % 5 else "task_failed",
                success=bool(i % 5),
                input_tokens=20000 - 600 * i,
                output_tokens=2000 - 50 * i,
                cache_read_tokens=300 * i,
                subagents_created=[f"sub-{i}"] if i < 8 else [],
                subagents_reused=[f"sub-{j}" for j in range(min(i, 8)) if (i + j) % 3 == 0],
                subagents_saved=[f"sub-{i}"] if i < 8 else [],
                started=1_700_000_000 + 3600 * i,
            )
        )


def test_run_report_shows_the_trajectory(tmp_path: Path, store: ExperienceStore):
    run_dir = make_run(tmp_path / "ws")
    store.record_run(RunRecord(run_id=RUN_ID, agent_id="alice", task="t", status="success", success=True))
    store.add_feedback(RUN_ID, 0.7, "good enough")
    html = render_run_report(run_dir, store)
    for text in (
        "Step 1",
        "Step 4",
        "Model call (orchestrator)",
        "Tool create_subagent",
        "Subagent csv-stats",
        "ZeroDivisionError: division by zero",
        "csv_stats.py:12 in run",
        "Library save: csv-stats v1",
        "csv-stats v1",
        "The mean is 2.5",
        "score 0.7",
        "good enough",
        "9,400",
        "<svg",
    ):
        assert text in html, text
    assert "&lt;b&gt;now&lt;/b&gt;" in html and "<b>now</b>" not in html  # the task is data, escaped
    assert not EXTERNAL.search(html) and "<script" not in html
    assert "Content-Security-Policy" in html


def test_run_report_survives_odd_events(tmp_path: Path):
    run_dir = tmp_path / "ws" / "odd"
    run_dir.mkdir(parents=True)
    lines = [
        {"type": "run_started", "ts": 1.0, "run_id": "odd", "task": "x"},
        {"type": "model_call", "ts": 2.0, "run_id": "odd", "usage": "not a dict", "step": "two"},
        {"type": "subagent_execution", "ts": 3.0, "run_id": "odd", "trace": "../../../etc/passwd"},
        {"type": "something_new", "ts": 4.0, "run_id": "odd", "detail": [1, 2]},
    ]
    (run_dir / "events.jsonl").write_text("\n".join(json.dumps(x) for x in lines) + '\n{"type": "torn')
    html = render_run_report(run_dir, None)
    assert "something_new" in html and "root:" not in html


def test_all_runs_report_has_the_four_charts(tmp_path: Path, store: ExperienceStore):
    _team_history(store)
    html = render_all_report(store, window=5)
    for title in ("Tokens per task", "Success rate (rolling)", "Reuse ratio", "Library growth"):
        assert title in html
    assert html.count("<svg") == 4 and "alice" in html and "carol" in html
    assert "&lt;script&gt;" in html and "<script" not in html
    assert not EXTERNAL.search(html)
    empty = render_all_report(ExperienceStore(tmp_path / "none.sqlite"))
    assert "No runs recorded yet" in empty and not (tmp_path / "none.sqlite").exists()


def test_cli_stats_feedback_and_report(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(tmp_path)
    for var in ("AGENTFACTORY_EXPERIENCE_DB", "AGENTFACTORY_LIBRARY", "AGENTFACTORY_WORKSPACES"):
        monkeypatch.delenv(var, raising=False)
    runner = CliRunner()
    result = runner.invoke(app, ["stats"])
    assert result.exit_code == 0 and "No experience recorded yet" in result.output
    assert not (tmp_path / "subagent_library.experience.sqlite").exists()

    store = ExperienceStore(tmp_path / "subagent_library.experience.sqlite")
    record_history(store)
    make_run(tmp_path / "workspaces", RUN_ID)
    result = runner.invoke(app, ["stats", "--json", "--window", "1"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["team"]["runs"] == 2 and len(data["trends"]["windows"]) == 2
    assert data["agents"][1]["reused_from_others"] == 1
    result = runner.invoke(app, ["stats", "--agent", "bob"])
    assert result.exit_code == 0 and "csv-stats" in result.output and "team" in result.output
    result = runner.invoke(app, ["stats", "--agent", "nobody"])
    assert result.exit_code == 2 and "No agent 'nobody'" in result.output

    result = runner.invoke(app, ["feedback", "r1", "--score", "0.8", "--note", "nice"])
    assert result.exit_code == 0, result.output
    assert store.get_run("r1").feedback_score == 0.8
    result = runner.invoke(app, ["feedback", "nope", "--score", "0.8"])
    assert result.exit_code == 2 and "No run 'nope'" in result.output and "Traceback" not in result.output
    result = runner.invoke(app, ["feedback", "r1"])
    assert result.exit_code == 2
    result = runner.invoke(app, ["feedback", "r1", "--score", "3"])
    assert result.exit_code == 2

    result = runner.invoke(app, ["report", RUN_ID])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "workspaces" / RUN_ID / "report.html").is_file()
    result = runner.invoke(app, ["report", "--all", "--out", "out/all.html"])
    assert result.exit_code == 0 and "Tokens per task" in (tmp_path / "out" / "all.html").read_text()
    assert runner.invoke(app, ["report"]).exit_code == 2
    assert runner.invoke(app, ["report", "no-such-run"]).exit_code == 2


def test_cli_reports_a_corrupt_store_in_one_sentence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(tmp_path)
    db = tmp_path / "bad.sqlite"
    db.write_bytes(b"garbage" * 1000)
    result = CliRunner().invoke(app, ["stats", "--db", str(db)])
    assert result.exit_code == 3 and "is corrupt" in result.output and "Traceback" not in result.output


# ----------------------------------------------------------------------------------- real browser

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None, reason="headless Chromium not installed (Debian: apt-get install -y chromium)"
)


def _png_pixels(data: bytes) -> tuple[int, int, list[bytes]]:
    """Decode an 8-bit RGB/RGBA non-interlaced PNG (what Chromium writes) into rows of pixels."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, width = 8, b"", 0
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        body = data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, color, _, _, interlace = struct.unpack(">IIBBBBB", body)
            assert depth == 8 and color in (2, 6) and interlace == 0
            bpp = 3 if color == 2 else 4
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    raw, stride, rows, prev = zlib.decompress(idat), width * bpp, [], bytearray(width * bpp)
    for y in range(height):
        kind, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)])
        for x in range(stride):
            a = line[x - bpp] if x >= bpp else 0
            b, c = prev[x], prev[x - bpp] if x >= bpp else 0
            if kind == 1:
                line[x] = (line[x] + a) & 255
            elif kind == 2:
                line[x] = (line[x] + b) & 255
            elif kind == 3:
                line[x] = (line[x] + (a + b) // 2) & 255
            elif kind == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[x] = (line[x] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(bytes(line))
        prev = line
    return width, height, rows


def _screenshot(page: Path, out: Path) -> str:
    """Open `page` in a headless Chromium that contacts nothing; returns its log (stderr)."""
    with tempfile.TemporaryDirectory(prefix="af-chromium-") as profile:
        proc = subprocess.run(
            [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             "--disable-quic", f"--user-data-dir={profile}", "--enable-logging=stderr", "--v=0",
             "--window-size=1100,1800", f"--screenshot={out}", page.as_uri()],
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stderr


def _console_messages(log: str) -> list[str]:
    # Chromium logs every console message and uncaught exception as INFO:CONSOLE with --enable-logging.
    return [line for line in log.splitlines() if ":CONSOLE" in line or "Uncaught" in line]


def _check_not_blank(png: Path) -> None:
    assert png.stat().st_size > 10_000
    width, height, rows = _png_pixels(png.read_bytes())
    assert (width, height) == (1100, 1800)
    colours = {row[i : i + 3] for row in rows[::7] for i in range(0, len(row), 3 * 11)}
    assert len(colours) > 20  # text, charts, badges: far from one flat colour
    background = max(colours, key=lambda c: sum(row.count(c) for row in rows[::50]))
    inked = sum(1 for row in rows[::9] for i in range(0, len(row), 12) if row[i : i + 3] != background)
    assert inked > 2000


@needs_chromium
def test_detector_catches_console_errors(tmp_path: Path):
    # The control: a page that does raise is caught, so a clean log below means something.
    page = tmp_path / "bad.html"
    page.write_text("<html><body><script>console.error('boom'); nope();</script>x</body></html>")
    messages = _console_messages(_screenshot(page, tmp_path / "bad.png"))
    assert any("boom" in m for m in messages) and any("Uncaught" in m for m in messages)


@needs_chromium
@pytest.mark.parametrize("kind", ["run", "all"])
def test_report_in_headless_chromium(tmp_path: Path, store: ExperienceStore, kind: str):
    if kind == "run":
        run_dir = make_run(tmp_path / "ws")
        html = render_run_report(run_dir, store)
    else:
        _team_history(store)
        html = render_all_report(store, window=5)
    page = write_report(html, tmp_path / f"{kind}.html")
    shot = tmp_path / f"{kind}.png"
    log = _screenshot(page, shot)
    assert _console_messages(log) == []
    _check_not_blank(shot)


WORD_COUNT = '''"""Count words.

Purpose: word frequencies of a text file.
Inputs: path (str); top (int).
Outputs: top: [word, count] pairs.
Limitations: splits on whitespace.
"""
from collections import Counter


def run(path: str, top: int = 2) -> dict:
    words = open(path).read().split()
    return {"top": [list(x) for x in Counter(words).most_common(top)]}
'''


@needs_chromium
def test_report_of_a_real_scripted_run_in_headless_chromium(tmp_path: Path):
    from agentfactory.config import load_settings
    from agentfactory.experience import ExperienceStore, default_store_path
    from agentfactory.llm.scripted import ScriptedProvider
    from agentfactory.meta.agent import MetaAgent

    settings = load_settings({"model": "scripted", "sandbox": "local"}, env={}, cwd=tmp_path)
    (tmp_path / "a.txt").write_text("a b a c a b\n")
    provider = ScriptedProvider(
        [
            {
                "tool_calls": [
                    {
                        "name": "create_subagent",
                        "arguments": {
                            "name": "word-count",
                            "description": "Count the most frequent words of a text file.",
                            "code": WORD_COUNT,
                        },
                    }
                ]
            },
            {
                "tool_calls": [
                    {
                        "name": "run_subagent",
                        "arguments": {"name": "word-count", "inputs": {"path": "inputs/a.txt"}},
                    }
                ]
            },
            {"tool_calls": [{"name": "finish", "arguments": {"answer": "a (3)", "save": ["word-count"]}}]},
        ]
    )
    result = MetaAgent(settings, provider=provider).run(
        "Count words in a.txt", input_files=[tmp_path / "a.txt"]
    )
    assert result.status == "success" and result.saved == [("word-count", 1)]
    store = ExperienceStore(default_store_path(settings))
    html = render_run_report(Path(result.workspace), store)
    assert "word-count" in html and "create_subagent" in html
    page = write_report(html, tmp_path / "run.html")
    shot = tmp_path / "run.png"
    assert _console_messages(_screenshot(page, shot)) == []
    _check_not_blank(shot)
