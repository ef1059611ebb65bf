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

from .conftest import HostRunError, get, run_on_host

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


def _recipes(categories):
    return {
        name: [(f"{name} dish {i}", f"/r/{name.lower()}-{i}.html") for i in range(count)]
        for name, count in categories
    }


def test_categories_that_each_wrap_a_sub_list_are_merged_with_their_sections(site, tmp_path):
    recipes = _recipes([("Breakfast", 3), ("Mains", 4), ("Desserts", 2)])
    cats = "".join(
        f"<li><strong>{cat}</strong><ul>"
        + "".join(f"<li><a href='{url}'>{name}</a> <em>(20 min)</em></li>" for name, url in items)
        + "</ul></li>"
        for cat, items in recipes.items()
    )
    result = _page_items(site, tmp_path, f"<main><h1>Recipes</h1><ul class='categories'>{cats}</ul></main>")
    expected = [(cat, name) for cat, items in recipes.items() for name, _ in items]
    assert [(i["section"], i["name"]) for i in result["items"]] == expected
    markdown = (tmp_path / "outputs" / "items.md").read_text()
    assert markdown.index("## Breakfast") < markdown.index("Breakfast dish 0") < markdown.index("## Mains")


def test_many_small_categories_are_not_read_as_one_item_each(site, tmp_path):
    recipes = _recipes([(f"Cat{c}", 2) for c in "ABCDEF"])
    nested = "".join(
        f"<li>{cat}<ul>" + "".join(f"<li><a href='{u}'>{n}</a></li>" for n, u in items) + "</ul></li>"
        for cat, items in recipes.items()
    )
    result = _page_items(site, tmp_path, f"<main><ul class='cats'>{nested}</ul></main>")
    assert result["count"] == 12 and result["items"][-1]["section"] == "CatF"


def test_sibling_lists_under_headings_are_merged_and_a_sidebar_list_is_not(site, tmp_path):
    sections = _recipes([("Fiction", 3), ("History", 2), ("Science", 4)])
    body = "".join(
        f"<h2>{title}</h2><ul class='books'>"
        + "".join(f"<li><a href='{url}'>{name}</a> by Someone</li>" for name, url in items)
        + "</ul>"
        for title, items in sections.items()
    )
    side = (
        "<ul class='books'>" + "".join(f"<li><a href='/t/{i}'>tag {i}</a></li>" for i in range(9)) + "</ul>"
    )
    result = _page_items(site, tmp_path, f"<div><div>{body}</div><div class='sidebar'>{side}</div></div>")
    assert [i["name"] for i in result["items"]] == [n for items in sections.values() for n, _ in items]
    assert [i["section"] for i in result["items"]][2:4] == ["Fiction", "History"]


def test_a_single_list_has_no_sections(site, tmp_path):
    rows = "".join(f"<li><a href='/c/{i}.html'>Course {i}</a> an introduction</li>" for i in range(5))
    result = _page_items(site, tmp_path, f"<main><h2>Courses</h2><ul>{rows}</ul></main>")
    assert result["count"] == 5 and all("section" not in i for i in result["items"])
    assert "##" not in (tmp_path / "outputs" / "items.md").read_text()


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
        run_on_host(get("json-api-aggregate").draft(), "json_api_aggregate", inputs, tmp_path)


def _deals(n):
    return [{"id": i, "stage": "won" if i % 2 else "lead", "amount": float(i)} for i in range(n)]


def _expected_sums(records):
    out = {}
    for r in records:
        out[r["stage"]] = out.get(r["stage"], 0.0) + r["amount"]
    return out


@pytest.mark.parametrize("name", ["page-{n}.json", "page_{n}.json", "p{n}.json"])
def test_page_numbers_in_the_path_are_followed_up_to_total_pages(site, tmp_path, name):
    folder, base = site
    (folder / "api").mkdir()
    deals = _deals(7)
    for n, chunk in enumerate([deals[:3], deals[3:6], deals[6:]], start=1):
        body = {"page": n, "total_pages": 3, "data": chunk}
        (folder / "api" / name.format(n=n)).write_text(json.dumps(body), encoding="utf-8")
    inputs = {
        "url": f"{base}/api/{name.format(n=1)}",
        "group_by": "stage",
        "operation": "sum",
        "field": "amount",
    }
    result = _run("json-api-aggregate", "json_api_aggregate", inputs, tmp_path)
    assert result["pages"] == 3 and result["records"] == 7 and result["complete"]
    assert result["values"] == pytest.approx(_expected_sums(deals))


def test_a_bare_page_number_after_a_page_folder_with_total_and_per_page(site, tmp_path):
    folder, base = site
    deals = _deals(5)
    for n, chunk in enumerate([deals[:2], deals[2:4], deals[4:]], start=1):
        (folder / "page").mkdir(exist_ok=True)
        body = {"meta": {"total": 5, "per_page": 2}, "items": chunk}
        (folder / "page" / str(n)).write_text(json.dumps(body), encoding="utf-8")
    inputs = {"url": f"{base}/page/1", "group_by": "stage", "operation": "count"}
    result = _run("json-api-aggregate", "json_api_aggregate", inputs, tmp_path)
    assert result["pages"] == 3 and result["values"] == {"lead": 3, "won": 2} and result["complete"]


class _QueryApiHandler(_QuietHandler):
    """Serves /api/<name>?<param>=<value> from the file <name>-<value>.json, as a real API reads its query."""

    def do_GET(self):  # noqa: N802 (the http.server name)
        from urllib.parse import parse_qsl, urlsplit

        parts = urlsplit(self.path)
        query = dict(parse_qsl(parts.query))
        if query:
            key = "-".join(f"{k}={v}" for k, v in sorted(query.items()))
            self.path = f"{parts.path}-{key}.json"
        else:
            self.path = f"{parts.path}.json"
        super().do_GET()


@pytest.fixture()
def query_site(tmp_path):
    folder = tmp_path / "qsite"
    (folder / "api").mkdir(parents=True)
    handler = functools.partial(_QueryApiHandler, directory=str(folder))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield folder, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_a_page_query_parameter_is_increased_while_pages_remain(query_site, tmp_path):
    folder, base = query_site
    deals = _deals(5)
    for n, chunk in enumerate([deals[:2], deals[2:4], deals[4:]], start=1):
        body = {"pagination": {"page": n, "last_page": 3}, "results": chunk}
        (folder / "api" / f"deals-page={n}.json").write_text(json.dumps(body), encoding="utf-8")
    inputs = {"url": f"{base}/api/deals?page=1", "group_by": "stage", "operation": "count"}
    result = _run("json-api-aggregate", "json_api_aggregate", inputs, tmp_path)
    assert result["pages"] == 3 and result["values"] == {"lead": 3, "won": 2}


def test_a_cursor_is_sent_as_the_query_parameter_named_after_it(query_site, tmp_path):
    folder, base = query_site
    deals = _deals(5)
    pages = {"": (deals[:2], "abc"), "token=abc": (deals[2:4], "xyz"), "token=xyz": (deals[4:], None)}
    for query, (chunk, token) in pages.items():
        name = f"deals-{query}.json" if query else "deals.json"
        body = {"data": chunk, "meta": {"next_token": token}}
        (folder / "api" / name).write_text(json.dumps(body), encoding="utf-8")
    inputs = {"url": f"{base}/api/deals", "group_by": "stage", "operation": "count"}
    result = _run("json-api-aggregate", "json_api_aggregate", inputs, tmp_path)
    assert result["pages"] == 3 and result["values"] == {"lead": 3, "won": 2}


def test_a_cursor_replaces_the_value_of_the_cursor_parameter_the_url_has(query_site, tmp_path):
    folder, base = query_site
    deals = _deals(4)
    (folder / "api" / "deals-after=0.json").write_text(
        json.dumps({"data": deals[:2], "next_cursor": "k2"}), encoding="utf-8"
    )
    (folder / "api" / "deals-after=k2.json").write_text(
        json.dumps({"data": deals[2:], "next_cursor": ""}), encoding="utf-8"
    )
    inputs = {"url": f"{base}/api/deals?after=0", "group_by": "stage", "operation": "count"}
    result = _run("json-api-aggregate", "json_api_aggregate", inputs, tmp_path)
    assert result["pages"] == 2 and result["records"] == 4


def test_a_cursor_names_the_next_file_when_the_server_ignores_the_query(site, tmp_path):
    folder, base = site
    deals = _deals(5)
    (folder / "feed").mkdir()
    chain = [("first", deals[:2], "q1"), ("q1", deals[2:4], "q2"), ("q2", deals[4:], None)]
    for name, chunk, cursor in chain:
        body = {"records": chunk, "next_cursor": cursor}
        (folder / "feed" / f"{name}.json").write_text(json.dumps(body), encoding="utf-8")
    inputs = {"url": f"{base}/feed/first.json", "group_by": "stage", "operation": "count"}
    result = _run("json-api-aggregate", "json_api_aggregate", inputs, tmp_path)
    assert result["pages"] == 3 and result["values"] == {"lead": 3, "won": 2} and result["complete"]


def test_a_repeated_cursor_ends_the_walk(query_site, tmp_path):
    folder, base = query_site
    (folder / "api" / "loop.json").write_text(json.dumps({"data": [{"k": "a"}], "cursor": "same"}), "utf-8")
    (folder / "api" / "loop-cursor=same.json").write_text(
        json.dumps({"data": [{"k": "b"}], "cursor": "same"}), "utf-8"
    )
    inputs = {"url": f"{base}/api/loop", "group_by": "k", "operation": "count"}
    result = _run("json-api-aggregate", "json_api_aggregate", inputs, tmp_path)
    assert result["pages"] == 2 and result["values"] == {"a": 1, "b": 1}


def test_a_reported_total_above_what_was_fetched_is_flagged(site, tmp_path):
    folder, base = site
    _api_pages(folder, [{"data": [{"k": "a", "v": 1}, {"k": "b", "v": 2}], "total_count": 40}])
    inputs = {"url": f"{base}/api/page-1.json", "group_by": "k", "operation": "sum", "field": "v"}
    result = _run("json-api-aggregate", "json_api_aggregate", inputs, tmp_path)
    assert result["complete"] is False and "incomplete" in result["answer"] and "40" in result["answer"]


def test_a_missing_numbered_page_is_flagged_not_fatal(site, tmp_path):
    folder, base = site
    _api_pages(folder, [{"page": 1, "total_pages": 3, "data": [{"k": "a", "v": 1}]}])
    inputs = {"url": f"{base}/api/page-1.json", "group_by": "k", "operation": "sum", "field": "v"}
    result = _run("json-api-aggregate", "json_api_aggregate", inputs, tmp_path)
    assert result["pages"] == 1 and result["complete"] is False and "HTTP 404" in result["answer"]


def test_a_total_without_pagination_fields_is_not_a_record_count(site, tmp_path):
    folder, base = site
    _api_pages(folder, [{"data": [{"k": "a", "v": 1}], "total": 250}])
    inputs = {"url": f"{base}/api/page-1.json", "group_by": "k", "operation": "sum", "field": "v"}
    result = _run("json-api-aggregate", "json_api_aggregate", inputs, tmp_path)
    assert result["complete"] is True and "incomplete" not in result["answer"]


SALES = [
    {"id": 1, "product": {"category": "audio", "sku": "A1"}, "qty": 2, "unit_price": 10.5, "discount": 1},
    {"id": 2, "product": {"category": "phones", "sku": "P1"}, "qty": 1, "unit_price": 300.0, "discount": 20},
    {"id": 3, "product": {"category": "audio", "sku": "A2"}, "qty": 3, "unit_price": 4.0, "discount": 0},
    {"id": 4, "product": {"category": "phones", "sku": "P2"}, "qty": 2, "unit_price": 99.99, "discount": 5},
]


def _sales(site, tmp_path, **inputs):
    folder, base = site
    _api_pages(folder, [{"results": SALES[:2], "links": {"next": "page-2.json"}}, {"results": SALES[2:]}])
    return _run(
        "json-api-aggregate", "json_api_aggregate", {"url": f"{base}/api/page-1.json", **inputs}, tmp_path
    )


@pytest.mark.parametrize("group_by", ["product.category", "category"])
def test_group_by_a_key_of_a_nested_object(site, tmp_path, group_by):
    result = _sales(site, tmp_path, group_by=group_by, operation="count")
    assert result["values"] == {"audio": 2, "phones": 2} and result["group_by"] == "product.category"


@pytest.mark.parametrize(
    ("field", "expected"),
    [
        ("qty*unit_price", {"audio": 33.0, "phones": 499.98}),
        ("qty * unit_price", {"audio": 33.0, "phones": 499.98}),
        ("unit_price-discount", {"audio": 13.5, "phones": 374.99}),
        ("qty+discount", {"audio": 6, "phones": 28}),
    ],
)
def test_a_field_computed_from_two_keys(site, tmp_path, field, expected):
    result = _sales(site, tmp_path, group_by="category", field=field)
    assert result["values"] == pytest.approx(expected) and result["top"] == "phones"
    assert json.loads((tmp_path / "outputs" / "aggregate.json").read_text()) == pytest.approx(expected)


def test_a_key_found_in_two_nested_objects_is_ambiguous(site, tmp_path):
    folder, base = site
    _api_pages(folder, [{"data": [{"a": {"name": "x"}, "b": {"name": "y"}, "v": 1}]}])
    inputs = {"url": f"{base}/api/page-1.json", "group_by": "name", "field": "v"}
    with pytest.raises(HostRunError, match="several"):
        _run("json-api-aggregate", "json_api_aggregate", inputs, tmp_path)


def test_no_group_by_aggregates_over_all_records(site, tmp_path):
    result = _sales(site, tmp_path, field="qty", output_key="total_qty")
    assert result["values"] == {"all": 8} and result["top"] == "all" and result["group_by"] is None
    assert "sum of qty over all 4 records: 8" in result["answer"]
    assert json.loads((tmp_path / "outputs" / "aggregate.json").read_text()) == {"total_qty": 8}


@pytest.mark.parametrize(("operation", "expected"), [("count", 4), ("maximum", 300.0), ("min", 4.0)])
def test_operations_over_all_records(site, tmp_path, operation, expected):
    result = _sales(site, tmp_path, group_by=None, operation=operation, field="unit_price")
    assert result["values"] == {"all": expected}


def test_a_large_total_is_written_in_full(site, tmp_path):
    folder, base = site
    _api_pages(folder, [{"data": [{"k": "a", "v": 905473}, {"k": "b", "v": 1234567}]}])
    inputs = {"url": f"{base}/api/page-1.json", "group_by": "k", "field": "v"}
    result = _run("json-api-aggregate", "json_api_aggregate", inputs, tmp_path)
    assert "a: 905473, b: 1234567" in result["answer"]


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
        run_on_host(get("csv-to-json-validate").draft(), "csv_to_json_validate", inputs, tmp_path)


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


def test_an_aspect_before_the_subject_is_not_the_subject(site, tmp_path):
    # "health effects of noise pollution" is about noise pollution: pages on it that never say
    # "health" are sources, a page on another subject is not.
    docs = [
        ("n1", "Noise pollution and heart disease", "Traffic noise raises blood pressure."),
        ("n2", "How city noise affects sleep", "Night-time noise fragments sleep."),
        ("v1", "The health problem of vertical farms", "Vertical farms use much energy."),
    ]
    base = _serve_docs(site, docs)
    inputs = {"query": "health effects of noise pollution", "k": 3, "sources_path": "outputs/sources.json"}
    result = _run("web-research", "web_research", inputs, tmp_path, _docs(tmp_path, base, docs))
    assert sorted(s["url"].rsplit("/", 1)[1] for s in result["sources"]) == ["n1.html", "n2.html"]


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
