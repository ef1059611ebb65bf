"""Fetch every page of a JSON API and aggregate one field per group (sum, mean, count, min, max).

Purpose: totals, averages or counts per category from a paginated JSON endpoint.
Inputs:
    url (str): first page of the endpoint.
    group_by (str): record field to group by (a close name such as "sensor" finds "sensor_id").
    operation (str): "sum", "mean", "count", "min" or "max".
    field (str | None): numeric field to aggregate (not needed for "count").
    output_path (str): JSON file for {group: value}, e.g. "outputs/totals.json".
    max_pages (int): safety limit on pages followed (default 100).
Outputs: dict with answer (the result in words), values ({group: value}, sorted by group), top (group
    with the largest value), records, pages, group_by, field, operation, output_path.
Limitations: records are the list under data, results, items, records, rows or entries, else the
    largest list of objects anywhere in the response (e.g. under "orders"), or the response itself.
    The next page is a link under next, next_page, next_url (...) at the top level or in a nested
    object such as pagination, links, meta or _links (a {"href": ...} object counts); a bare page
    number sets the `page` query parameter. A page already seen ends the walk.
"""

import json
import os
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

from agentfactory_tools import web_fetch

ITEM_KEYS = ("data", "results", "items", "records", "rows", "entries")
NEXT_KEYS = ("next", "next_page", "next_url", "nextPage", "next_link")


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
        parts = urlsplit(page_url)
        query = dict(parse_qsl(parts.query))
        query["page"] = str(nxt)
        return urlunsplit(parts._replace(query=urlencode(query)))
    return urljoin(page_url, nxt)


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


def run(url, group_by, operation="sum", field=None, output_path="outputs/aggregate.json", max_pages=100):
    operation = operation.lower()
    records, pages, page_url, seen = [], 0, url, set()
    while page_url and page_url not in seen and pages < int(max_pages):
        seen.add(page_url)
        response = web_fetch(page_url)
        if response.get("status", 200) >= 400:
            raise ValueError(f"{page_url} answered HTTP {response.get('status')}")
        body = json.loads(response["text"])
        records.extend(_records(body))
        pages += 1
        nxt = _next(body)
        page_url = _next_url(page_url, nxt) if nxt is not None else None
    if not records:
        raise ValueError(f"{url} returned no records")
    group_key = _key(records[0], group_by)
    field_key = _key(records[0], field) if field and operation != "count" else None
    groups = {}
    for record in records:
        value = 1.0 if field_key is None else float(record[field_key])
        groups.setdefault(str(record[group_key]), []).append(value)
    reducers = {"sum": sum, "count": len, "min": min, "max": max, "mean": lambda v: sum(v) / len(v)}
    if operation not in reducers:
        raise ValueError(f"unknown operation {operation!r}: use {', '.join(reducers)}")
    values = {}
    for group in sorted(groups):
        result = reducers[operation](groups[group])
        values[group] = int(result) if operation == "count" else round(float(result), 2)
    os.makedirs(os.path.dirname(output_path) or ".", exist_ok=True)
    with open(output_path, "w", encoding="utf-8") as fh:
        json.dump(values, fh, indent=2)
    top, low = max(values, key=values.get), min(values, key=values.get)
    what = "count" if field_key is None else f"{operation} of {field_key}"
    listing = ", ".join(f"{k}: {v:g}" for k, v in values.items())
    answer = (
        f"Fetched {len(records)} records from {pages} pages. {what} per {group_key}: {listing}. "
        f"Highest: {top} ({values[top]}); lowest: {low} ({values[low]}). Saved to {output_path}."
    )
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
    }
