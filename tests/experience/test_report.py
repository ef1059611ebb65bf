"""HTML reports and the stats / report / feedback commands; the page opened in headless Chromium."""

from __future__ import annotations

import base64
import json
import re
import shutil
import struct
import subprocess
import tempfile
import zlib
from html.parser import HTMLParser
from pathlib import Path
from xml.etree import ElementTree

import pytest
from typer.testing import CliRunner

from agentfactory.cli.app import app
from agentfactory.experience import ExperienceStore, RunRecord
from agentfactory.report import render_all_report, render_run_report, svg, write_all_reports, write_report
from agentfactory.report.images import MAX_IMAGE_BYTES

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
    store = ExperienceStore(default_store_path(settings.paths))
    html = render_run_report(Path(result.workspace), store)
    assert "word-count" in html and "create_subagent" in html
    page = write_report(html, tmp_path / "run.html")
    shot = tmp_path / "run.png"
    assert _console_messages(_screenshot(page, shot)) == []
    _check_not_blank(shot)


# ------------------------------------------------------------- simulated model, links, images, charts


class _Page(HTMLParser):
    """Tags and attributes of a report page, and its text."""

    def __init__(self, html: str):
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.text: list[str] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, {k: v or "" for k, v in attrs}))

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    def all(self, tag: str) -> list[dict[str, str]]:
        return [attrs for t, attrs in self.tags if t == tag]

    def plain(self) -> str:
        return " ".join(" ".join(self.text).split())


def _record(store: ExperienceStore, run_id: str, model: str, simulated: bool, started: float) -> None:
    store.record_run(
        RunRecord(
            run_id=run_id, agent_id="alice", task=f"task {run_id}", status="success", success=True,
            model=model, simulated=simulated, input_tokens=100, started=started,
        )
    )  # fmt: skip


def test_all_runs_page_says_simulated_model_when_runs_used_it(tmp_path: Path, store: ExperienceStore):
    _record(store, "r-real", "anthropic:claude-test", False, 1.0)
    page = _Page(render_all_report(store))
    assert "simulated model" not in page.plain()

    _record(store, "r-sim-1", "sim", True, 2.0)
    _record(store, "r-sim-2", "sim", True, 3.0)
    page = _Page(render_all_report(store))
    text = page.plain()
    assert "2 of 3 runs used a simulated model (sim)" in text
    assert "not a real model's" in text
    badges = [a for a in page.all("span") if a.get("class") == "badge sim"]
    assert len(badges) == 1 + 2  # the page header and each simulated run's row
    assert "Tokens per task, in run order (simulated model)" in text


def test_run_page_says_simulated_model(tmp_path: Path, store: ExperienceStore):
    run_dir = make_run(tmp_path / "ws")  # its run_started event says simulated=True (scripted)
    text = _Page(render_run_report(run_dir, store)).plain()
    assert "simulated model" in text and "This run used a simulated model (scripted)" in text


def test_all_runs_page_links_each_run_to_its_own_page(tmp_path: Path, store: ExperienceStore):
    workspaces = tmp_path / "workspaces"
    make_run(workspaces, RUN_ID)
    _record(store, RUN_ID, "scripted", True, 1.0)
    _record(store, "../../escape", "sim", True, 2.0)  # a store row (from a pulled library) is data
    _record(store, "no-folder-run", "sim", True, 3.0)
    (workspaces / "linked-run").symlink_to(workspaces / RUN_ID)
    _record(store, "linked-run", "sim", True, 4.0)

    out = write_all_reports(store, workspaces / "report.html", workspaces=workspaces)
    links = [a["href"] for a in _Page(out.read_text()).all("a")]
    assert links == [f"{RUN_ID}/report.html"]
    run_page = workspaces / RUN_ID / "report.html"
    assert run_page.is_file() and "Step 4" in run_page.read_text()
    assert [a["href"] for a in _Page(run_page.read_text()).all("a")] == ["../report.html"]
    assert not (tmp_path.parent / "escape").exists() and not (tmp_path / "escape").exists()
    assert sorted(p.name for p in workspaces.iterdir()) == [RUN_ID, "linked-run", "report.html"]

    # Written elsewhere, the links still lead to the run pages.
    elsewhere = write_all_reports(store, tmp_path / "out" / "all.html", workspaces=workspaces)
    assert [a["href"] for a in _Page(elsewhere.read_text()).all("a")] == [
        f"../workspaces/{RUN_ID}/report.html"
    ]
    assert (elsewhere.parent / f"../workspaces/{RUN_ID}/report.html").resolve() == run_page.resolve()


def test_cli_report_all_writes_and_links_the_run_pages(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(tmp_path)
    for var in ("AGENTFACTORY_EXPERIENCE_DB", "AGENTFACTORY_LIBRARY", "AGENTFACTORY_WORKSPACES"):
        monkeypatch.delenv(var, raising=False)
    store = ExperienceStore(tmp_path / "subagent_library.experience.sqlite")
    make_run(tmp_path / "workspaces", RUN_ID)
    _record(store, RUN_ID, "scripted", True, 1.0)
    result = CliRunner().invoke(app, ["report", "--all"])
    assert result.exit_code == 0, result.output
    page = _Page((tmp_path / "workspaces" / "report.html").read_text())
    assert [a["href"] for a in page.all("a")] == [f"{RUN_ID}/report.html"]
    assert (tmp_path / "workspaces" / RUN_ID / "report.html").is_file()


def _png(width: int, height: int) -> bytes:
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    rows = b"".join(b"\x00" + b"\x20\x80\xc0" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def _jpeg(width: int, height: int) -> bytes:
    app0 = b"\xff\xe0" + struct.pack(">H", 16) + b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    sof = b"\xff\xc0" + struct.pack(">HBHHB", 11, 8, height, width, 1) + b"\x01\x11\x00"
    return b"\xff\xd8" + app0 + sof + b"\xff\xd9"


HOSTILE_SVG = (
    b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)" width="10" height="10">'
    b'<script>alert(2)</script><image href="https://example.com/track.png"/>'
    b'<rect width="10" height="10" fill="red"/></svg>'
)


def test_output_images_are_embedded_checked_and_capped(tmp_path: Path):
    run_dir = make_run(tmp_path / "ws")
    outputs = run_dir / "outputs"
    good = {
        "chart.png": _png(4, 3),
        "photo.jpg": _jpeg(640, 480),
        "plots/hostile.svg": HOSTILE_SVG,
        "<b>bold</b>.png": _png(1, 1),
    }
    for rel, data in good.items():
        (outputs / rel).parent.mkdir(parents=True, exist_ok=True)
        (outputs / rel).write_bytes(data)
    (outputs / "fake.png").write_text("<html><script>alert(3)</script></html>")
    (outputs / "huge.png").write_bytes(_png(2, 2) + b"\0" * MAX_IMAGE_BYTES)
    (outputs / "wide.png").write_bytes(_png(1, 1)[:16] + struct.pack(">II", 60_000, 60_000) + _png(1, 1)[24:])
    (outputs / "bomb.svg").write_text('<!DOCTYPE svg [<!ENTITY a "aaaa">]><svg>&a;</svg>')
    (outputs / "passwd.png").symlink_to("/etc/passwd")
    deep = outputs
    for _ in range(40):  # deeper than the walk goes (it is a bounded loop, not a recursion)
        deep = deep / "d"
    deep.mkdir(parents=True)
    (deep / "deep.png").write_bytes(_png(1, 1))

    html = render_run_report(run_dir)
    page = _Page(html)
    sources = [img["src"] for img in page.all("img")]
    assert len(sources) == 4
    embedded = sorted(base64.b64decode(src.split(",", 1)[1]) for src in sources)
    assert embedded == sorted(good.values())
    assert {src.split(";", 1)[0] for src in sources} == {
        "data:image/png",
        "data:image/jpeg",
        "data:image/svg+xml",
    }
    # The SVG travels only inside an <img> data URI: nothing of it is markup on the page.
    assert "<script" not in html and "onload" not in html and "example.com" not in html
    assert page.all("svg") == [{"xmlns": "http://www.w3.org/2000/svg", **a} for a in page.all("svg")]
    assert not any("onload" in attrs for _, attrs in page.tags)
    assert "outputs/&lt;b&gt;bold&lt;/b&gt;.png" in html and "<b>bold</b>" not in html
    text = page.plain()
    assert "outputs/fake.png: not a PNG image (its content does not match its name)" in text
    assert f"outputs/huge.png: {MAX_IMAGE_BYTES + len(_png(2, 2)):,} bytes, larger than the" in text
    assert "outputs/wide.png: 60000x60000 pixels" in text
    assert "outputs/bomb.svg: an SVG with a DOCTYPE or entities" in text
    assert "outputs/passwd.png: could not be opened" in text
    assert "root:" not in html and "deep.png" not in html


def _boxes(chart: str) -> tuple[float, float, list[tuple[str, float, float, float, float]]]:
    root = ElementTree.fromstring(chart)
    _, _, width, height = (float(v) for v in root.get("viewBox").split())
    boxes = []
    for el in root.iter("{http://www.w3.org/2000/svg}text"):
        if el.get("transform"):
            continue  # the rotated y-axis label sits alone left of the tick labels
        text, size = el.text or "", float(el.get("font-size"))
        w = len(text) * size * 0.66
        x, y = float(el.get("x")), float(el.get("y"))
        left = {"end": x - w, "middle": x - w / 2}.get(el.get("text-anchor"), x)
        boxes.append((text, left, y - size, left + w, y + 0.3 * size))
    return width, height, boxes


def _assert_no_overlap(chart: str) -> list[str]:
    width, height, boxes = _boxes(chart)
    for text, x0, y0, x1, y1 in boxes:
        assert x0 >= 0 and x1 <= width and y0 >= 0 and y1 <= height, (text, x0, x1, width)
    for i, a in enumerate(boxes):
        for b in boxes[i + 1 :]:
            apart = a[3] <= b[1] or b[3] <= a[1] or a[4] <= b[2] or b[4] <= a[2]
            assert apart, f"{a[0]!r} overlaps {b[0]!r}"
    return [b[0] for b in boxes]


@pytest.mark.parametrize("count", [1, 2, 7, 31, 200, 1000])
def test_chart_labels_do_not_overlap_and_have_legends(count: int):
    labels = [str(i + 1) for i in range(count)]
    long_title = "Reuse ratio: subagents reused / (reused + created), over every recorded run of the team"
    bars = svg.bar_chart(
        [float(i * 997 % 50_000) for i in range(count)],
        labels,
        long_title,
        colors=[svg.OK_COLOR if i % 3 else svg.FAIL_COLOR for i in range(count)],
        legend=[("success", svg.OK_COLOR), ("failure", svg.FAIL_COLOR)],
        y_label="tokens",
    )
    texts = _assert_no_overlap(bars)
    assert "success" in texts and "failure" in texts and labels[-1] in texts
    names = [f"success rate of agent {n}, rolling window of the last 10 runs" for n in "abcde"]
    lines = svg.line_chart(
        [(name, [(i % 7) / 7 if i % 5 != 4 else None for i in range(count)]) for name in names],
        labels,
        long_title,
        percent=True,
    )
    texts = _assert_no_overlap(lines)
    assert all(name in texts for name in names), texts  # one legend entry per series, whole
    assert labels[-1] in texts


def test_chart_long_x_labels_are_thinned_not_overlapped():
    labels = [f"2026-01-{d:02d} run {d}" for d in range(1, 29)]
    _assert_no_overlap(svg.bar_chart([float(d) for d in range(28)], labels, "Runs by day"))
    _assert_no_overlap(svg.line_chart([("runs", [float(d) for d in range(28)])], labels, "Runs by day"))


@pytest.mark.slow
def test_demo_report_says_simulated_model_links_runs_and_embeds_their_charts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    import agentfactory_bench as bench
    import yaml

    # The demo on a two-task slice of the core suite (one price-series pair), in the local sandbox.
    suite = tmp_path / "suite"
    suite.mkdir()
    raw = yaml.safe_load((bench.CORE_SUITE / "suite.yaml").read_text())
    first = raw["tasks"][0]
    pair = next(t for t in raw["tasks"] if t["batch"] == 2 and t["family"] == first["family"])
    raw["tasks"] = [first, pair]
    (suite / "suite.yaml").write_text(yaml.safe_dump(raw))
    for entry in bench.CORE_SUITE.iterdir():
        if entry.is_dir():
            shutil.copytree(entry, suite / entry.name)
    monkeypatch.setattr(bench, "CORE_SUITE", suite)
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "demo"
    result = CliRunner().invoke(app, ["demo", "--sandbox", "local", "--out", str(out)])
    assert result.exit_code == 0, result.output

    page = _Page((out / "report.html").read_text())
    text = page.plain()
    assert "2 of 2 runs used a simulated model (sim)" in text  # the AgentFactory method's runs
    links = [a["href"] for a in page.all("a")]
    assert len(links) == 2
    run_pages = [(out / href).resolve() for href in links]
    assert all(
        p.is_file() and p.parent.parent == (out / "runs/agentfactory/workspaces").resolve() for p in run_pages
    )
    first_run = _Page(run_pages[-1].read_text())  # the table lists the newest run first
    assert "This run used a simulated model (sim)" in first_run.plain()
    images = [img["src"] for img in first_run.all("img")]
    assert len(images) == 1 and images[0].startswith("data:image/png;base64,")
    assert "outputs/acme_chart.png" in first_run.plain()


XSS = '<script>alert(1)</script><img src=x onerror="alert(2)"><svg onload=alert(3)>'


def test_run_and_all_pages_escape_everything_a_run_wrote(tmp_path: Path, store: ExperienceStore):
    from agentfactory import events as ev
    from agentfactory.engine.workspace import WorkspaceManager

    workspaces = tmp_path / "ws"
    ws = WorkspaceManager(workspaces).create("run-xss")
    trace = {
        "status": "error",
        "error": {
            "type": XSS,
            "message": XSS,
            "frames": [{"file": XSS, "line": 1, "function": XSS, "source": XSS}],
        },
        "result_preview": XSS,
        "stdout": XSS,
        "stderr": XSS,
        "tool_calls": [{"tool": XSS, "arguments": XSS, "ok": False, "error": XSS}],
        "output_files": [XSS],
    }
    (ws.traces / "0001-x.json").write_text(json.dumps(trace))
    (ws.outputs / f"{XSS.replace('/', '_')}.png").write_bytes(b"not a png")
    with ws.event_log() as log:
        log.strict = False  # a hostile log, written by hand: the report must cope with any
        log.emit(ev.RUN_STARTED, task=XSS, model=XSS, agent_id=XSS, simulated=True)
        log.emit(ev.MODEL_CALL, role="orchestrator", step=1, model=XSS, stop_reason=XSS, usage={})
        log.emit(ev.TOOL_CALL, step=1, tool=XSS, arguments={"code": XSS}, is_error=True, result=XSS)
        log.emit(ev.SUBAGENT_EXECUTION, subagent=XSS, status=XSS, trace="traces/0001-x.json")
        log.emit(ev.LIBRARY_CHANGE, action=XSS, subagent=XSS, reason=XSS, commit=XSS)
        log.emit(XSS, detail=XSS)
        log.emit(
            ev.RUN_FINISHED,
            status=XSS,
            reason=XSS,
            answer=XSS,
            created=[XSS],
            saved=[[XSS, 1]],
            rejected={XSS: XSS},
        )
    store.record_run(
        RunRecord(
            run_id="run-xss",
            agent_id=XSS,
            task=XSS,
            status="task_failed",
            success=False,
            model=XSS,
            simulated=True,
        )
    )
    run_html = render_run_report(ws.root, store)
    out = write_all_reports(store, workspaces / "report.html", workspaces=workspaces)
    for html in (run_html, out.read_text()):
        page = _Page(html)
        assert not any(tag in ("script", "img") for tag, _ in page.tags)
        assert not any(k.startswith("on") for _, attrs in page.tags for k in attrs)
        assert [a for a in page.all("svg") if "onload" in a] == []
        assert XSS in page.plain()  # shown, as text


def test_embedded_images_are_bounded_in_number_and_total_size(tmp_path: Path):
    from agentfactory.report.images import MAX_IMAGES, MAX_TOTAL_BYTES

    run_dir = make_run(tmp_path / "ws")
    for i in range(MAX_IMAGES + 6):
        (run_dir / "outputs" / f"small-{i:02d}.png").write_bytes(_png(1, 1))
    page = _Page(render_run_report(run_dir))
    assert len(page.all("img")) == MAX_IMAGES
    assert page.plain().count(f"more than {MAX_IMAGES} images in this run") == 6

    run_dir = make_run(tmp_path / "ws2")
    big = _png(1, 1) + b"\0" * (1_000_000 - len(_png(1, 1)))
    for i in range(9):
        (run_dir / "outputs" / f"big-{i}.png").write_bytes(big)
    html = render_run_report(run_dir)
    assert len(_Page(html).all("img")) == MAX_TOTAL_BYTES // len(big) == 8
    assert "outputs/big-8.png: the page already holds 8,000,000 bytes of images" in _Page(html).plain()
    assert len(html) < MAX_TOTAL_BYTES * 4 // 3 + 200_000
