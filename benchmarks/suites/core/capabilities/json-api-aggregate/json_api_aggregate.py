"""Fetch every page of a JSON API and aggregate one field per group (sum, mean, count, min, max).

Purpose: totals, averages or counts per category, or over all records, from a paginated JSON endpoint.
Inputs:
    url (str): first page of the endpoint.
    group_by (str | None): record field to group by (a close name such as "sensor" finds "sensor_id";
        "product.category" reads a nested object, and a plain name found only in one nested object is
        read there). None aggregates over all records as the one group "all".
    operation (str): "sum", "mean", "count", "min" or "max" (or total, average, maximum, minimum...).
    field (str | None): numeric field to aggregate (not needed for "count"); may be two fields joined by
        *, +, - or /, e.g. "qty * unit_price", computed per record.
    output_path (str): JSON file for {group: value}, e.g. "outputs/totals.json".
    max_pages (int): safety limit on pages followed (default 100).
    output_key (str | None): when given, the file holds {output_key: value} for all records, or
        {output_key: {group: value}} per group.
Outputs: dict with answer (the result in words), values ({group: value}, sorted by group), top (group
    with the largest value), records, pages, group_by, field, operation, output_path, complete (False
    when the API reports more records or pages than were fetched; the answer then says so).
    Records whose value is missing or null are left out of the figures.
Limitations: records are the list under data, results, items, records, rows or entries, else the
    largest list of objects anywhere in the response (e.g. under "orders"), or the response itself.
    The next page is, in this order: a link under next, next_page, next_url (...) at the top level or in
    a nested object such as pagination, links, meta or _links (a {"href": ...} object counts; a bare
    page number sets the page in the URL); a cursor token (next_cursor, cursor, next_token,
    continuation, ...) sent as the matching query parameter, or as the file name when the server ignores
    the query; the page number in the URL (page-2.json, page_2, p2, ?page=2, /page/2) increased by one
    while the response says more pages exist (page with total_pages, pages, last_page or page_count, or
    total with per_page). A page already seen, or a guessed page that fails or repeats one, ends the walk.
"""

import contextlib
import json
import math
import os
import re
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

from agentfactory_tools import web_fetch

ITEM_KEYS = ("data", "results", "items", "records", "rows", "entries")
NEXT_KEYS = ("next", "next_page", "next_url", "nextPage", "next_link")
CURSOR_KEYS = (
    "next_cursor",
    "nextCursor",
    "cursor",
    "next_token",
    "nextToken",
    "next_page_token",
    "nextPageToken",
    "continuation",
    "continuation_token",
    "continuationToken",
)
CURSOR_PARAMS = ("cursor", "token", "page_token", "pagetoken", "continuation", "continuation_token", "after")
PAGE_KEYS = ("page", "current_page", "currentPage", "page_number", "pageNumber")
PAGE_COUNT_KEYS = ("total_pages", "totalPages", "pages", "last_page", "lastPage", "page_count", "pageCount")
PER_PAGE_KEYS = ("per_page", "perPage", "page_size", "pageSize", "limit")
TOTAL_KEYS = ("total", "total_count", "totalCount", "count", "total_records", "totalRecords", "total_items")
PAGE_PARAMS = ("page", "p", "pagenumber", "page_number", "pg")
# A path segment holding the page number: "page-2.json", "page_2", "p2", or a bare "2".
PAGE_SEGMENT = re.compile(r"^(page[-_]?|p)?(\d+)(\.\w+)?$", re.I)


class NoKnownRecordsKey(ValueError):
    """The response holds no list under a well-known key; look for the records elsewhere."""


def _records(body):
    """The records of one page: under a well-known key first, else the largest list of objects."""
    if isinstance(body, list):
        return body
    try:
        return _records_under_known_key(body)
    except NoKnownRecordsKey:
        found = _largest_object_list(body)
        if found is None:
            raise ValueError(f"no list of records in the response (keys: {list(body)})") from None
        return found


def _records_under_known_key(body):
    for key in ITEM_KEYS:
        if isinstance(body.get(key), list):
            return body[key]
    raise NoKnownRecordsKey(f"no list under {', '.join(ITEM_KEYS)}")


def _largest_object_list(value, depth=0):
    """The longest list of dicts in `value`, searching nested objects a few levels deep."""
    best = None
    if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        best = value
    children = value.values() if isinstance(value, dict) else []
    for child in children:
        if depth < 3 and isinstance(child, (dict, list)):
            found = _largest_object_list(child, depth + 1)
            if found is not None and (best is None or len(found) > len(best)):
                best = found
    return best


def _next(body, depth=0):
    """The next-page link (str) or page number (int) in `body` or its nested objects, else None."""
    if not isinstance(body, dict) or depth > 3:
        return None
    for key in NEXT_KEYS:
        value = body.get(key)
        if isinstance(value, dict):  # HAL style: "next": {"href": "..."}
            value = value.get("href") or value.get("url")
        if isinstance(value, str) and value.strip():
            return value.strip()
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    for value in body.values():
        found = _next(value, depth + 1) if isinstance(value, dict) else None
        if found is not None:
            return found
    return None


def _next_url(page_url, nxt):
    if isinstance(nxt, int):
        return _with_page_number(page_url, nxt)
    return urljoin(page_url, nxt)


def _find(body, keys, depth=0):
    """The first scalar under one of `keys` at the top level or in nested objects (meta, pagination)."""
    if not isinstance(body, dict) or depth > 2:
        return None
    for key in keys:
        value = body.get(key)
        if isinstance(value, (str, int, float)) and not isinstance(value, bool):
            return value
    for value in body.values():
        found = _find(value, keys, depth + 1) if isinstance(value, dict) else None
        if found is not None:
            return found
    return None


def _whole(value):
    """`value` as an int when it is a whole number (or its text), else None."""
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    if isinstance(value, (int, float)) and not isinstance(value, bool) and float(value).is_integer():
        return int(value)
    return None


def _page_count(body):
    """Pages the response says exist: total_pages (...) or total / per_page; None when unknown."""
    pages = _whole(_find(body, PAGE_COUNT_KEYS))
    if pages is not None:
        return pages
    total, per_page = _whole(_find(body, TOTAL_KEYS)), _whole(_find(body, PER_PAGE_KEYS))
    return math.ceil(total / per_page) if total is not None and per_page else None


def _page_in_url(url, current=None):
    """(where, number) of the page number in `url`: ("query", name) or ("path", segment index)."""
    parts = urlsplit(url)
    for name, value in parse_qsl(parts.query):
        if name.lower() in PAGE_PARAMS and value.isdigit():
            return ("query", name), int(value)
    segments = parts.path.split("/")
    for index in range(len(segments) - 1, -1, -1):
        m = PAGE_SEGMENT.match(segments[index])
        if not m:
            continue
        after_page_word = index > 0 and segments[index - 1].lower() in ("page", "p", "pages")
        # A bare number ("/users/42") is a page only when it is the last segment and agrees with the body.
        if m.group(1) or after_page_word or (index == len(segments) - 1 and int(m.group(2)) == current):
            return ("path", index), int(m.group(2))
    return None, None


def _with_page_number(url, number, slot=None):
    """`url` asking for page `number`: in the page slot it already has, else as ?page=."""
    slot = slot or _page_in_url(url)[0]
    parts = urlsplit(url)
    if slot and slot[0] == "path":
        segments = parts.path.split("/")
        m = PAGE_SEGMENT.match(segments[slot[1]])
        segments[slot[1]] = f"{m.group(1) or ''}{number}{m.group(3) or ''}"
        return urlunsplit(parts._replace(path="/".join(segments)))
    name = slot[1] if slot else "page"
    query = [(k, v) for k, v in parse_qsl(parts.query) if k != name] + [(name, str(number))]
    return urlunsplit(parts._replace(query=urlencode(query)))


def _numbered_next(page_url, body, pages_fetched):
    """The next numbered page's URL when the response says more pages exist, else None."""
    count = _page_count(body)
    if count is None:
        return None
    current = _whole(_find(body, PAGE_KEYS))
    slot, in_url = _page_in_url(page_url, current)
    if current is None:
        current = in_url if in_url is not None else pages_fetched
    if current >= count:
        return None
    return _with_page_number(page_url, (in_url if in_url is not None else current) + 1, slot)


def _cursor(body):
    """(key, token) of a cursor in the response, else None; an empty or null token ends the walk."""
    for key in CURSOR_KEYS:
        token = _find(body, (key,))
        if token is not None and str(token).strip():
            return key, str(token).strip()
    return None


def _cursor_urls(page_url, key, token):
    """Where the page after `token` may be: the same URL with the token as a query parameter (the one
    the URL already has, else named after the key), then the token as the last path segment's name."""
    if "/" in token:
        return [urljoin(page_url, token)]
    parts = urlsplit(page_url)
    query = parse_qsl(parts.query)
    stem = re.sub(r"^next_?", "", key)
    name = next((k for k, _ in query if k.lower() in CURSOR_PARAMS), stem[:1].lower() + stem[1:])
    query = [(k, v) for k, v in query if k != name] + [(name, token)]
    urls = [urlunsplit(parts._replace(query=urlencode(query)))]
    head, _, last = parts.path.rpartition("/")
    extension = os.path.splitext(last)[1]
    if last:
        urls.append(urlunsplit(parts._replace(path=f"{head}/{token}{extension}")))
    return urls


def _following(page_url, body, pages_fetched):
    """(candidate URLs of the next page, whether they are guesses) from one response."""
    nxt = _next(body)
    if nxt is not None:
        return [_next_url(page_url, nxt)], False
    cursor = _cursor(body)
    if cursor is not None:
        return _cursor_urls(page_url, *cursor), True
    numbered = _numbered_next(page_url, body, pages_fetched)
    return ([numbered] if numbered else []), True


def _fetch(url):
    """(status, text) of one request."""
    response = web_fetch(url)
    return response.get("status", 200), response.get("text", "")


def _walk(url, max_pages):
    """(records, bodies, cut) over every page from `url`; `cut` says why pages were left, else None."""
    records, bodies, seen_urls, seen_texts, tokens = [], [], set(), set(), set()
    status, text = _fetch(url)
    if status >= 400:
        raise ValueError(f"{url} answered HTTP {status}")
    page_url = url
    while True:
        seen_urls.add(page_url)
        seen_texts.add(text)
        body = json.loads(text)
        bodies.append(body)
        records.extend(_records(body))
        cursor = _cursor(body)
        if cursor is not None:
            if cursor[1] in tokens:
                return records, bodies, None  # a repeated cursor would loop forever
            tokens.add(cursor[1])
        candidates, guessed = _following(page_url, body, len(bodies))
        candidates = [c for c in candidates if c not in seen_urls]
        if not candidates:
            return records, bodies, None
        if len(bodies) >= int(max_pages):
            return records, bodies, f"stopped after {len(bodies)} pages (max_pages) with more pages left"
        for candidate in candidates:
            status, text = _fetch(candidate)
            if status >= 400 and not guessed:
                raise ValueError(f"{candidate} answered HTTP {status}")
            if status < 400 and text not in seen_texts:
                page_url = candidate
                break
        else:
            if status >= 400:
                return (
                    records,
                    bodies,
                    f"the page after page {len(bodies)} ({candidates[-1]}) answered HTTP {status}",
                )
            return records, bodies, None  # the server ignored the page asked for: no new page


def _reported(body, keys):
    """A whole number the response reports under `keys`. A bare "total" or "count" is taken as a record
    count only when the response also carries pagination fields: alone it may be a sum of the records."""
    if not isinstance(body, dict):
        return None
    plain = tuple(k for k in keys if k not in ("total", "count"))
    found = _whole(_find(body, plain))
    if found is not None or plain == keys:
        return found
    paging = PAGE_KEYS + PAGE_COUNT_KEYS + PER_PAGE_KEYS + NEXT_KEYS + CURSOR_KEYS
    return _whole(_find(body, keys)) if _has_key(body, paging) else None


def _has_key(body, keys, depth=0):
    if not isinstance(body, dict) or depth > 2:
        return False
    return any(k in body for k in keys) or any(_has_key(v, keys, depth + 1) for v in body.values())


def _shortfall(records, bodies, cut):
    """Why the fetched records may be partial (in words), or None when they agree with the API."""
    if cut:
        return cut
    reported = _reported(bodies[-1], TOTAL_KEYS)
    if reported is not None and len(records) < reported:
        return f"the API reports {reported} records but only {len(records)} were fetched"
    page_count = _reported(bodies[-1], PAGE_COUNT_KEYS)
    if page_count is not None and len(bodies) < page_count:
        return f"the API reports {page_count} pages but only {len(bodies)} were fetched"
    return None


def _key(record, name):
    if name in record:
        return name
    lowered = {k.lower(): k for k in record}
    name = name.lower()
    for candidate in (name, name.rstrip("s"), name + "_id", name + "_name"):
        if candidate in lowered:
            return lowered[candidate]
    for k in record:
        if k.lower().startswith(name.rstrip("s")):
            return k
    raise ValueError(f"field {name!r} not in records (fields: {list(record)})")


def _path(record, name):
    """The keys leading to `name` in a record: a dotted path, a (close) top-level key, else the one
    nested object that has it. Words ("product category") may name a key or a path."""
    if " " in name.strip():
        for form in ("_".join(name.split()), ".".join(name.split()), name.split()[-1]):
            with contextlib.suppress(ValueError):
                return _path(record, form)
    head, dot, rest = name.partition(".")
    if dot and name not in record:
        key = _key(record, head)
        if isinstance(record[key], dict):
            return (key, *_path(record[key], rest))
        raise ValueError(f"field {key!r} of the records is not an object, so it has no {rest!r}")
    try:
        return (_key(record, name),)
    except ValueError:
        found = []
        for key, value in record.items():
            with contextlib.suppress(ValueError):
                found += [(key, *_path(value, name))] if isinstance(value, dict) else []
        if len(found) == 1:
            return found[0]
        where = (
            f"found in several objects ({', '.join('.'.join(f) for f in found)})"
            if found
            else "not in records"
        )
        raise ValueError(f"field {name!r} {where} (fields: {list(record)})") from None


def _get(record, path):
    for key in path:
        record = record.get(key) if isinstance(record, dict) else None
    return record


EXPRESSION = re.compile(r"^\s*([\w.]+)\s*([-+*/×x])\s*([\w.]+)\s*$")
ARITHMETIC = {
    "*": lambda a, b: a * b,
    "×": lambda a, b: a * b,
    "x": lambda a, b: a * b,
    "+": lambda a, b: a + b,
    "-": lambda a, b: a - b,
    "/": lambda a, b: a / b if b else None,
}


def _measure(record, field):
    """(label, function giving a record's number) for a field, or for two fields joined by * + - /."""
    m = None if field in record else EXPRESSION.match(field)
    if m is None or (m.group(2) == "x" and " x " not in field):
        path = _path(record, field)
        return ".".join(path), lambda r: _number(_get(r, path))
    left, op, right = _path(record, m.group(1)), m.group(2), _path(record, m.group(3))

    def value(r):
        a, b = _number(_get(r, left)), _number(_get(r, right))
        return None if a is None or b is None else ARITHMETIC[op](a, b)

    return f"{'.'.join(left)} {'*' if op in '×x' else op} {'.'.join(right)}", value


def _number(value):
    if value is None or value == "":
        return None
    return float(value)


def _plain(value):
    """A figure as it reads best: whole numbers without ".0"."""
    return int(value) if float(value).is_integer() else value


SYNONYMS = {
    "total": "sum",
    "average": "mean",
    "avg": "mean",
    "maximum": "max",
    "highest": "max",
    "largest": "max",
    "minimum": "min",
    "lowest": "min",
    "smallest": "min",
    "number": "count",
}
REDUCERS = {"sum": sum, "count": len, "min": min, "max": max, "mean": lambda v: sum(v) / len(v)}


def run(
    url,
    group_by=None,
    operation="sum",
    field=None,
    output_path="outputs/aggregate.json",
    max_pages=100,
    output_key=None,
):
    operation = SYNONYMS.get(operation.lower().strip(), operation.lower().strip())
    if operation not in REDUCERS:
        raise ValueError(f"unknown operation {operation!r}: use {', '.join(REDUCERS)}")
    records, bodies, cut = _walk(url, max_pages)
    pages = len(bodies)
    if not records:
        raise ValueError(f"{url} returned no records")
    group_path = _path(records[0], group_by) if group_by else None
    field_key, measure = _measure(records[0], field) if field and operation != "count" else (None, None)
    groups = {}
    for record in records:
        value = 1.0 if measure is None else measure(record)
        group = "all" if group_path is None else str(_get(record, group_path))
        if value is not None:
            groups.setdefault(group, []).append(value)
    if not groups:
        raise ValueError(f"no record of {url} has a value for {field_key}")
    values = {}
    for group in sorted(groups):
        result = REDUCERS[operation](groups[group])
        values[group] = int(result) if operation == "count" else _plain(round(float(result), 2))
    os.makedirs(os.path.dirname(output_path) or ".", exist_ok=True)
    with open(output_path, "w", encoding="utf-8") as fh:
        saved = (
            values if output_key is None else {output_key: values["all"] if group_path is None else values}
        )
        json.dump(saved, fh, indent=2)
    top, low = max(values, key=values.get), min(values, key=values.get)
    what = "count" if field_key is None else f"{operation} of {field_key}"
    group_key = None if group_path is None else ".".join(group_path)
    if group_path is None:
        answer = (
            f"Fetched {len(records)} records from {pages} pages. {what} over all {len(records)} records: "
        )
        answer += f"{values['all']}. Saved to {output_path}."
    else:
        listing = ", ".join(f"{k}: {v}" for k, v in values.items())
        answer = (
            f"Fetched {len(records)} records from {pages} pages. {what} per {group_key}: {listing}. "
            f"Highest: {top} ({values[top]}); lowest: {low} ({values[low]}). Saved to {output_path}."
        )
    skipped = len(records) - sum(map(len, groups.values()))
    if skipped:
        answer += f" {skipped} records without a value for {field_key} were left out."
    shortfall = _shortfall(records, bodies, cut)
    if shortfall:
        answer += f" Warning: the figures are incomplete: {shortfall}."
    return {
        "answer": answer,
        "values": values,
        "top": top,
        "records": len(records),
        "pages": pages,
        "group_by": group_key,
        "field": field_key,
        "operation": operation,
        "output_path": output_path,
        "complete": shortfall is None,
    }
