"""The bank's code on pages, APIs, schemas, test files and searches shaped unlike the core suite's.

Each test is a regression test for a case a probe suite found the code could not handle: card layouts
and sidebars, records under an unknown key, strict and whole-file schemas, semicolon CSVs, pytest-style
test files, negated complaints and off-topic search results.
"""

from __future__ import annotations

import csv
import functools
import json
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import pytest

from agentfactory.llm.sim_bank import classify_sentiment, get, sim_llm_answer

from .conftest import HostRunError, run_on_host

pytestmark = pytest.mark.slow


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args):  # keep test output clean
        pass


@pytest.fixture()
def site(tmp_path):
    """A loopback web server over tmp_path/site; yields (folder, base url)."""
    folder = tmp_path / "site"
    folder.mkdir()
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_QuietHandler, directory=str(folder)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield folder, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def _run(capability, module, inputs, run_dir, search_dir=None):
    return run_on_host(get(capability).code, module, inputs, run_dir, search_dir)


def _write(tmp_path, name, text):
    (tmp_path / "inputs").mkdir(exist_ok=True)
    (tmp_path / "inputs" / name).write_text(text, encoding="utf-8")
    return f"inputs/{name}"


# ---- page list to markdown -----------------------------------------------------------------------------

PAGE = "<!doctype html><html><head><title>{title}</title></head><body>{body}</body></html>"


def _page_items(site, tmp_path, body, title="Page"):
    folder, base = site
    (folder / "list.html").write_text(PAGE.format(title=title, body=body), encoding="utf-8")
    inputs = {"url": f"{base}/list.html", "output_path": "outputs/items.md"}
    return _run("page-links-to-markdown", "page_list_to_markdown", inputs, tmp_path)


def test_card_names_come_from_the_heading_when_the_link_text_is_generic(site, tmp_path):
    people = ["Ada Lovelace", "Grace Hopper", "Alan Turing", "Edsger Dijkstra"]
    cards = "".join(
        f"<div class='card'><img src='x.jpg' alt=''><h3>{p}</h3><p>Talk about {p.split()[1]}</p>"
        f"<a href='/people/{p.split()[1].lower()}.html'>View profile</a></div>"
        for p in people
    )
    result = _page_items(site, tmp_path, f"<main><div class='grid'>{cards}</div></main>")
    assert [i["name"] for i in result["items"]] == people
    assert result["items"][0]["url"].endswith("/people/lovelace.html")
    assert "[Ada Lovelace](" in (tmp_path / "outputs" / "items.md").read_text()


def test_a_link_text_repeated_on_every_item_is_not_a_name(site, tmp_path):
    rows = "".join(
        f"<li><strong>{name}</strong> by the team <a href='/r/{i}'>Download</a></li>"
        for i, name in enumerate(["Orca", "Pelican", "Heron"])
    )
    result = _page_items(site, tmp_path, f"<ul>{rows}</ul>")
    assert [i["name"] for i in result["items"]] == ["Orca", "Pelican", "Heron"]


def test_a_sidebar_of_tag_links_loses_to_the_posts(site, tmp_path):
    posts = "".join(
        f"<article><h2><a href='/posts/{i}.html'>Post number {i} about something</a></h2>"
        f"<p class='meta'>2024-0{i}-01</p><p>Summary of the post.</p></article>"
        for i in range(1, 6)
    )
    tags = "".join(f"<li><a href='/tags/{t}.html'>{t}</a></li>" for t in "abcdefghijkl")
    body = f"<div class='layout'><main><div class='posts'>{posts}</div></main><div class='sidebar'><ul>{tags}</ul></div></div>"
    result = _page_items(site, tmp_path, body)
    assert result["count"] == 5
    assert all("/posts/" in i["url"] for i in result["items"])


def test_a_tag_cloud_inside_main_still_loses_to_the_richer_list(site, tmp_path):
    rows = "".join(
        f"<tr><td><a href='/p/{i}.html'>Product {i}</a></td><td>${i}9.99</td><td>In stock</td></tr>"
        for i in range(6)
    )
    tags = "".join(f"<a href='/t/{i}'>t{i}</a>" for i in range(15))
    body = f"<main><div class='tag-cloud'>{tags}</div><table class='products'>{rows}</table></main>"
    result = _page_items(site, tmp_path, body)
    assert [i["name"] for i in result["items"]] == [f"Product {i}" for i in range(6)]


# ---- json api aggregate --------------------------------------------------------------------------------


def _api_pages(folder, pages):
    (folder / "api").mkdir()
    for number, body in enumerate(pages, start=1):
        (folder / "api" / f"page-{number}.json").write_text(json.dumps(body), encoding="utf-8")


def test_records_under_an_unknown_key_and_next_link_in_a_pagination_object(site, tmp_path):
    folder, base = site
    orders = [{"order_id": i, "country": "FR" if i % 3 else "DE", "total": 10.0 + i} for i in range(9)]
    _api_pages(
        folder,
        [
            {"orders": orders[:4], "pagination": {"page": 1, "next": "page-2.json"}},
            {"orders": orders[4:8], "pagination": {"page": 2, "next": "page-3.json"}},
            {"orders": orders[8:], "pagination": {"page": 3, "next": None}},
        ],
    )
    inputs = {"url": f"{base}/api/page-1.json", "group_by": "country", "operation": "sum", "field": "total"}
    result = _run("json-api-aggregate", "json_api_aggregate", inputs, tmp_path)
    assert result["pages"] == 3 and result["records"] == 9
    expected = {"DE": sum(10.0 + i for i in range(9) if i % 3 == 0)}
    expected["FR"] = sum(10.0 + i for i in range(9)) - expected["DE"]
    assert result["values"] == pytest.approx(expected)


def test_hal_style_next_link_and_records_nested_under_embedded(site, tmp_path):
    folder, base = site
    _api_pages(
        folder,
        [
            {
                "_embedded": {"events": [{"severity": "info"}] * 3},
                "_links": {"next": {"href": "page-2.json"}},
            },
            {
                "_embedded": {"events": [{"severity": "warning"}] * 2},
                "_links": {"self": {"href": "page-2.json"}},
            },
        ],
    )
    inputs = {"url": f"{base}/api/page-1.json", "group_by": "severity", "operation": "count"}
    result = _run("json-api-aggregate", "json_api_aggregate", inputs, tmp_path)
    assert result["values"] == {"info": 3, "warning": 2} and result["pages"] == 2


def test_a_next_link_back_to_a_seen_page_ends_the_walk(site, tmp_path):
    folder, base = site
    _api_pages(folder, [{"data": [{"k": "a", "v": 1}], "meta": {"next": "page-1.json"}}])
    inputs = {"url": f"{base}/api/page-1.json", "group_by": "k", "operation": "sum", "field": "v"}
    result = _run("json-api-aggregate", "json_api_aggregate", inputs, tmp_path)
    assert result["pages"] == 1 and result["values"] == {"a": 1}


def test_the_buggy_draft_still_fails_on_records_under_data(site, tmp_path):
    folder, base = site
    _api_pages(folder, [{"data": [{"k": "a", "v": 1}], "next": None}])
    inputs = {"url": f"{base}/api/page-1.json", "group_by": "k", "operation": "sum", "field": "v"}
    with pytest.raises(HostRunError):
        run_on_host(get("json-api-aggregate").buggy_code, "json_api_aggregate", inputs, tmp_path)


# ---- csv to json validate ------------------------------------------------------------------------------


def _convert(tmp_path, csv_text, schema):
    inputs = {
        "csv_path": _write(tmp_path, "data.csv", csv_text),
        "schema_path": _write(tmp_path, "schema.json", json.dumps(schema)),
        "json_path": "outputs/data.json",
        "invalid_path": "outputs/invalid.csv",
    }
    result = _run("csv-to-json-validate", "csv_to_json_validate", inputs, tmp_path)
    return result, json.loads((tmp_path / "outputs" / "data.json").read_text())


ROW_SCHEMA = {
    "type": "object",
    "required": ["sku", "qty"],
    "properties": {
        "sku": {"type": "string", "pattern": "^[A-Z]{2}[0-9]{3}$"},
        "qty": {"type": "integer", "minimum": 0},
    },
}


def test_additional_properties_false_drops_unknown_columns_without_rejecting_rows(tmp_path):
    schema = {**ROW_SCHEMA, "additionalProperties": False}
    result, records = _convert(tmp_path, "sku,qty,note\nAB123,4,check\nAB124,-1,\n", schema)
    assert records == [{"sku": "AB123", "qty": 4}]
    assert result["invalid"] == 1 and result["errors"][0]["field"] == "qty"


def test_unknown_columns_are_kept_when_the_schema_allows_them(tmp_path):
    _, records = _convert(tmp_path, "sku,qty,note\nAB123,4,check\n", ROW_SCHEMA)
    assert records == [{"sku": "AB123", "qty": 4, "note": "check"}]


def test_a_schema_of_the_whole_file_uses_its_items_and_resolves_refs(tmp_path):
    schema = {
        "type": "array",
        "items": {"$ref": "#/$defs/row"},
        "$defs": {
            "row": {
                **ROW_SCHEMA,
                "properties": {**ROW_SCHEMA["properties"], "qty": {"$ref": "#/definitions/count"}},
            },
        },
        "definitions": {"count": {"type": "integer", "minimum": 0}},
    }
    result, records = _convert(tmp_path, "sku,qty\nAB123,4\nbad,2\nAB125,\nAB126,-3\n", schema)
    assert records == [{"sku": "AB123", "qty": 4}]
    assert [(e["row"], e["field"]) for e in result["errors"]] == [(2, "sku"), (3, "qty"), (4, "qty")]


@pytest.mark.parametrize("sep", [";", "\t", "|"])
def test_the_delimiter_is_detected(tmp_path, sep):
    text = "\n".join(sep.join(r) for r in [["sku", "qty"], ["AB123", "4"], ["AB124", "5"], ["x", "1"]]) + "\n"
    result, records = _convert(tmp_path, text, ROW_SCHEMA)
    assert records == [{"sku": "AB123", "qty": 4}, {"sku": "AB124", "qty": 5}]
    assert result["invalid"] == 1


def test_decimal_commas_in_a_semicolon_export(tmp_path):
    schema = {"type": "object", "properties": {"name": {"type": "string"}, "price": {"type": "number"}}}
    _, records = _convert(tmp_path, "\ufeffname ;price\nWidget;2,50\nGadget;10\n", schema)
    assert records == [{"name": "Widget", "price": 2.5}, {"name": "Gadget", "price": 10.0}]


def test_the_buggy_convert_draft_still_fails_on_an_empty_number(tmp_path):
    inputs = {
        "csv_path": _write(tmp_path, "data.csv", "sku,qty\nAB123,\n"),
        "schema_path": _write(tmp_path, "schema.json", json.dumps(ROW_SCHEMA)),
    }
    with pytest.raises(HostRunError):
        run_on_host(get("csv-to-json-validate").buggy_code, "csv_to_json_validate", inputs, tmp_path)


# ---- module from tests ---------------------------------------------------------------------------------


def _program(tmp_path, name, tests):
    inputs = {"tests_path": _write(tmp_path, name, tests), "output_dir": "outputs"}
    return _run("module-from-tests", "module_from_tests", inputs, tmp_path)


def test_pytest_import_before_the_module_is_skipped(tmp_path):
    tests = (
        "import pytest\n\nfrom fizz import fizzbuzz\n\n\ndef test_list():\n"
        '    assert fizzbuzz(5) == ["1", "2", "Fizz", "4", "Buzz"]\n\n\n'
        "def test_bad():\n    with pytest.raises(TypeError):\n        fizzbuzz('3')\n"
    )
    result = _program(tmp_path, "test_fizz.py", tests)
    assert result["module"] == "fizz" and result["functions"] == ["fizzbuzz"]
    assert result["passed"] == 2 and result["tests"] == 2


def test_functions_found_from_calls_when_the_module_is_imported_whole(tmp_path):
    tests = (
        "import unittest\n\nimport mathbits\n\n\nclass TestMath(unittest.TestCase):\n"
        "    def test_gcd(self):\n        self.assertEqual(mathbits.gcd(12, 18), 6)\n\n"
        "    def test_prime(self):\n        self.assertTrue(mathbits.is_prime(13))\n"
    )
    result = _program(tmp_path, "test_mathbits.py", tests)
    assert result["module"] == "mathbits" and set(result["functions"]) == {"gcd", "is_prime"}
    assert result["tests"] == 2 and not result["failures"]


def test_a_refusal_is_a_failure_not_the_module_text(tmp_path):
    tests = "from oddity import frobnicate\n\n\ndef test_it():\n    assert frobnicate(2) == 7\n"
    result = _program(tmp_path, "test_oddity.py", tests)
    assert not (tmp_path / "outputs" / "oddity.py").exists()
    assert result["tests"] == 0 and result["failures"] and "held no code" in result["failures"][0]
    assert "of 0 tests" not in result["answer"] and "no test ran" in result["answer"]


@pytest.mark.parametrize(
    ("name", "tests"),
    [
        (
            "test_cipher.py",
            "from cipher import caesar_decrypt, caesar_encrypt\n\n\ndef test_it():\n"
            '    assert caesar_encrypt("Hello, World!", 3) == "Khoor, Zruog!"\n'
            '    assert caesar_decrypt(caesar_encrypt("attack at dawn", 13), 13) == "attack at dawn"\n',
        ),
        (
            "test_fb.py",
            'from fb import fizzbuzz\n\n\ndef test_one():\n    assert fizzbuzz(15) == "FizzBuzz"\n'
            '    assert fizzbuzz(7) == "7"\n',
        ),
        (
            "test_rle2.py",
            "from rle2 import rle_decode, rle_encode\n\n\ndef test_it():\n"
            '    assert rle_encode("aaabcc") == "3a1b2c"\n    assert rle_decode("2x1y") == "xxy"\n',
        ),
        (
            "test_seq.py",
            "from seq import chunk, fibonacci, flatten, is_anagram, reverse_words\n\n\ndef test_it():\n"
            "    assert chunk([1, 2, 3, 4, 5], 2) == [[1, 2], [3, 4], [5]]\n"
            "    assert fibonacci(10) == 55\n    assert flatten([1, [2, [3, 4]], 5]) == [1, 2, 3, 4, 5]\n"
            '    assert is_anagram("Listen", "Silent")\n    assert reverse_words("a b  c") == "c b a"\n',
        ),
    ],
)
def test_common_small_programs_are_written_in_the_shape_the_tests_use(tmp_path, name, tests):
    result = _program(tmp_path, name, tests)
    assert result["tests"] == 1 and result["passed"] == 1, result["answer"]


def test_unknown_functions_get_a_refusal_without_code():
    reply = sim_llm_answer("Write a Python module named x.py defining frobnicate so that these tests pass.")
    assert "```" not in reply and "frobnicate" in reply


# ---- sentiment -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "Customer support never replied to my emails.",
        "It stopped syncing after the update.",
        "The app no longer works on my phone.",
        "It won't turn on.",
        "My parcel never arrived.",
    ],
)
def test_negated_or_stopped_functioning_is_negative(text):
    assert classify_sentiment(text) == "negative"


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("It works great.", "positive"),
        ("Never stopped working in three years, love it.", "positive"),
        ("The parcel arrived on Tuesday.", "neutral"),
        ("I can't stop using it!", "neutral"),
    ],
)
def test_functioning_verbs_alone_are_not_complaints(text, label):
    assert classify_sentiment(text) == label


# ---- web research --------------------------------------------------------------------------------------


def _docs(tmp_path, base, docs):
    folder = tmp_path / "search"
    folder.mkdir()
    for slug, title, text in docs:
        page = f"---\ntitle: {title}\nurl: '{base}/{slug}.html'\n---\n# {title}\n\n{text}\n"
        (folder / f"{slug}.md").write_text(page, encoding="utf-8")
    return folder


def _serve_docs(site, docs):
    folder, base = site
    for slug, title, text in docs:
        (folder / f"{slug}.html").write_text(PAGE.format(title=title, body=f"<h1>{title}</h1><p>{text}</p>"))
    return base


RESEARCH_DOCS = [
    (
        "m1",
        "Microplastics in tap and bottled drinking water",
        "Microplastics were found in most drinking water.",
    ),
    (
        "f1",
        "The debate over fluoride in drinking water",
        "Fluoride is added to drinking water in many towns.",
    ),
    (
        "m2",
        "How treatment plants filter microplastics",
        "Treatment plants remove most microplastic particles.",
    ),
    ("m3", "WHO review of microplastics and health", "The WHO reviewed microplastic exposure and health."),
    ("h1", "A beginner's guide to houseplants", "Water your houseplants once a week."),
]


def test_a_distractor_sharing_common_words_is_dropped(site, tmp_path):
    base = _serve_docs(site, RESEARCH_DOCS)
    search = _docs(tmp_path, base, RESEARCH_DOCS)
    inputs = {"query": "microplastics in drinking water", "k": 3, "sources_path": "outputs/sources.json"}
    result = _run("web-research", "web_research", inputs, tmp_path, search)
    assert sorted(s["url"].rsplit("/", 1)[1] for s in result["sources"]) == ["m1.html", "m2.html", "m3.html"]


def test_a_source_missing_one_subject_word_is_kept(site, tmp_path):
    docs = [
        ("u1", "Urban heat islands explained", "Cities are warmer than the countryside: the heat island."),
        ("u2", "Cool roofs reduce urban heat", "Reflective roofs lower temperatures in cities."),
        ("u3", "Mapping heat islands from satellites", "Satellites measure surface temperatures."),
    ]
    base = _serve_docs(site, docs)
    inputs = {"query": "urban heat islands", "k": 3, "sources_path": "outputs/sources.json"}
    result = _run("web-research", "web_research", inputs, tmp_path, _docs(tmp_path, base, docs))
    assert result["count"] == 3


def test_research_fails_when_no_result_is_about_the_subject(site, tmp_path):
    docs = RESEARCH_DOCS[1:2] + RESEARCH_DOCS[4:]
    base = _serve_docs(site, docs)
    inputs = {"query": "microplastics in drinking water", "k": 3, "sources_path": "outputs/sources.json"}
    with pytest.raises(HostRunError, match="no result is about"):
        _run("web-research", "web_research", inputs, tmp_path, _docs(tmp_path, base, docs))


def test_invalid_rows_file_has_the_reason(tmp_path):
    schema = {**ROW_SCHEMA, "additionalProperties": False}
    _convert(tmp_path, "sku;qty;extra\nAB123;x;1\nAB124;2;1\n", schema)
    with open(tmp_path / "outputs" / "invalid.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert rows == [{"row": "1", "field": "qty", "error": "'x' is not of type integer"}]


def test_plain_test_classes_run_and_imported_classes_are_not_tests(tmp_path):
    tests = (
        "from collections import Counter as TestingCounter\n\nfrom textbits import reverse_words\n\n\n"
        "class TestWords:\n    def test_reverse(self):\n        assert reverse_words('a b') == 'b a'\n\n"
        "    def test_single(self):\n        assert reverse_words('a') == 'a'\n"
    )
    result = _program(tmp_path, "test_textbits.py", tests)
    assert result["tests"] == 2 and result["passed"] == 2
