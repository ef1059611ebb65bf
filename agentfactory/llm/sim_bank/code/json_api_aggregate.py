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
Limitations: follows a next-page link found under next, next_page, next_url or links.next; records
    are the list under data, results, items, records or the response itself.
"""

import json
import os
from urllib.parse import urljoin

from agentfactory_tools import web_fetch

ITEM_KEYS = ("data", "results", "items", "records", "rows", "entries")
NEXT_KEYS = ("next", "next_page", "next_url", "nextPage", "next_link")


def _records(body):
    if isinstance(body, list):
        return body
    for key in ITEM_KEYS:
        if isinstance(body.get(key), list):
            return body[key]
    raise ValueError(f"no list of records in the response (keys: {list(body)})")


def _next(body):
    if not isinstance(body, dict):
        return None
    for key in NEXT_KEYS:
        if body.get(key):
            return body[key]
    links = body.get("links")
    if isinstance(links, dict) and links.get("next"):
        return links["next"]
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


def run(url, group_by, operation="sum", field=None, output_path="outputs/aggregate.json", max_pages=100):
    operation = operation.lower()
    records, pages, page_url = [], 0, url
    while page_url and pages < int(max_pages):
        response = web_fetch(page_url)
        if response.get("status", 200) >= 400:
            raise ValueError(f"{page_url} answered HTTP {response.get('status')}")
        body = json.loads(response["text"])
        records.extend(_records(body))
        pages += 1
        nxt = _next(body)
        page_url = urljoin(page_url, nxt) if nxt else None
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
