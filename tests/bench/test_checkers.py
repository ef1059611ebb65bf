"""Checker kinds on hand-made outputs, and the fixture server."""

from __future__ import annotations

import json
import struct
import zlib
from pathlib import Path

import httpx
import pytest
from agentfactory_bench import Check, FixtureServer, Task, check_task, prepare_task
from agentfactory_bench.checkers import numbers_in


def png(width: int = 32, height: int = 32) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    raw = b"".join(b"\x00" + bytes((x * 7 + y * 13) % 256 for x in range(width * 3)) for y in range(height))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")
    )


def one(kind: str, arg, answer: str = "", outputs: Path | None = None, tmp: Path | None = None) -> bool:
    task = Task(id="t", batch=1, text="x", suite_dir=tmp or Path("."), checks=(Check(kind, arg),))
    return check_task(task, answer, outputs or Path("/nonexistent")).passed


def test_numbers_and_percentages():
    found = numbers_in("vol 23.4% and 1,234.5 or −2")
    assert found[0][1] == [23.4, pytest.approx(0.234)]
    assert found[1][1] == [1234.5] and found[2][1] == [-2.0]


def test_answer_number_with_label_and_tolerance():
    arg = {"label": "volatility", "value": 0.2828, "rel_tolerance": 0.02}
    assert one("answer_number", arg, "Annualised volatility: 28.3% over the year")
    assert not one(
        "answer_number", arg, "Annualised volatility: 1.78% (daily), and 28.3 apples later on" + " " * 80
    )
    assert not one("answer_number", arg, "28.3% somewhere, but no label")
    assert one("answer_number", {"value": 4, "tolerance": 0}, "4 invalid rows")
    assert not one("answer_number", {"value": 4, "tolerance": 0}, "5 invalid rows")


def test_answer_text_checks():
    assert one("answer_contains", ["North", "total"], "north has the largest total")
    assert not one("answer_contains", ["North", "south"], "north only")
    assert one("answer_contains_any", ["rising", "improving"], "Opinion is improving.")
    assert not one("answer_not_contains", "declining", "it is declining")
    assert one("answer_regex", r"(?<![\w.])8(?![\w.])", "found 8 items at http://127.0.0.1:38123/x")
    assert not one("answer_regex", r"(?<![\w.])8(?![\w.])", "found 9 items at http://127.0.0.1:38123/x")


def test_file_checks(tmp_path):
    out = tmp_path / "outputs"
    out.mkdir()
    (out / "chart.png").write_bytes(png())
    (out / "fake.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"0" * 300)
    (out / "data.json").write_text(json.dumps({"north": 10.004, "rows": [{"name": "Ada"}]}))
    (out / "bad.csv").write_text("row,field,error\n1,age,too young\n3,email,bad\n")
    (out / "list.md").write_text(
        "# L\n- [Compilers](http://127.0.0.1:5000/site/cs/cmp.html)\n- [Web](https://x.org/a)\n"
    )
    assert one("file_exists", "*.json", outputs=out)
    assert not one("file_exists", "missing.txt", outputs=out)
    assert one("file_is_png", "chart.png", outputs=out)
    assert not one("file_is_png", "fake.png", outputs=out)
    assert one(
        "json_equals", {"file": "data.json", "path": "north", "value": 10.0, "tolerance": 0.01}, outputs=out
    )
    assert not one("json_equals", {"file": "data.json", "path": "north", "value": 11.0}, outputs=out)
    assert one("json_equals", {"file": "data.json", "path": "rows.0.name", "value": "Ada"}, outputs=out)
    assert not one("json_equals", {"file": "data.json", "path": "rows.5.name", "value": "Ada"}, outputs=out)
    schema = {"type": "object", "required": ["north"], "properties": {"north": {"type": "number"}}}
    assert one("json_valid", {"file": "data.json", "schema": schema}, outputs=out)
    assert not one(
        "json_valid", {"file": "data.json", "schema": {**schema, "required": ["south"]}}, outputs=out
    )
    assert one("csv_columns", {"file": "bad.csv", "columns": ["Row", "error"], "rows": 2}, outputs=out)
    assert not one("csv_columns", {"file": "bad.csv", "columns": ["row", "reason"]}, outputs=out)
    assert not one("csv_columns", {"file": "bad.csv", "columns": ["row"], "rows": 3}, outputs=out)
    links = {"file": "list.md", "links": ["/site/cs/cmp.html", "https://x.org/a", "Compilers"]}
    assert one("markdown_links_include", links, outputs=out)
    assert not one("markdown_links_include", {**links, "links": ["/site/cs/os.html"]}, outputs=out)
    assert not one("markdown_links_include", {**links, "min_links": 3}, outputs=out)
    assert one("file_contains", {"file": "list.md", "text": ["compilers"]}, outputs=out)
    assert not one("file_not_contains", {"file": "list.md", "text": ["Web"]}, outputs=out)


def test_a_malformed_output_fails_the_check_without_crashing(tmp_path):
    out = tmp_path / "outputs"
    out.mkdir()
    (out / "data.json").write_text("{not json")
    task = Task(
        id="t",
        batch=1,
        text="x",
        suite_dir=tmp_path,
        checks=(Check("json_equals", {"file": "data.json", "value": {}}),),
    )
    result = check_task(task, "", out)
    assert not result.passed and "JSONDecodeError" in result.details[0]


def test_fixture_server_serves_declared_pages_only(tmp_path):
    page = tmp_path / "site" / "a.html"
    page.parent.mkdir()
    page.write_text("<a href='{base_url}/site/b.html'>b</a>")
    api = tmp_path / "site" / "p1.json"
    api.write_text('{"next": "{base_url}/site/p2.json"}')
    secret = tmp_path / "secret.txt"
    secret.write_text("no")
    with FixtureServer({"site/a.html": page, "site/p1.json": api}) as server:
        base = server.base_url
        assert base.startswith("http://127.0.0.1:")
        r = httpx.get(f"{base}/site/a.html", trust_env=False)
        assert (
            r.status_code == 200
            and f"{base}/site/b.html" in r.text
            and "text/html" in r.headers["content-type"]
        )
        assert (
            httpx.get(f"{base}/site/p1.json?page=1", trust_env=False).json()["next"] == f"{base}/site/p2.json"
        )
        for path in ("/secret.txt", "/site/../secret.txt", "/%2e%2e/secret.txt", "/site/b.html"):
            assert httpx.get(base + path, trust_env=False).status_code == 404
    assert server._httpd is None


def test_prepare_task_copies_inputs_and_renders_documents(tmp_path, core_suite):
    task = core_suite.task("research-battery")
    prepared = prepare_task(task, tmp_path / "run", "http://127.0.0.1:9")
    assert "{base_url}" not in prepared.text and prepared.search_dir is not None
    doc = (prepared.search_dir / "battery-1.md").read_text()
    assert "url: 'http://127.0.0.1:9/site/articles/battery-1.html'" in doc
    csv_task = core_suite.task("price-vol-acme")
    prepared = prepare_task(csv_task, tmp_path / "run2")
    assert (
        prepared.input_files == ["inputs/acme_prices.csv"]
        and (tmp_path / "run2/inputs/acme_prices.csv").is_file()
    )
