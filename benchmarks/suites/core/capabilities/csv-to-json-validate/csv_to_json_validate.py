"""Convert a CSV file to JSON, validating each row against a JSON schema; report the invalid rows.

Purpose: clean conversion of tabular data with a record of what was rejected and why.
Inputs:
    csv_path (str): the CSV file, e.g. "inputs/data.csv"; comma, semicolon, tab or pipe separated
        (detected from the first lines, comma when unsure).
    schema_path (str): JSON schema of one row (type object, properties, required), or of the whole
        file (type array with `items` describing a row); local "$ref"s ("#/definitions/...",
        "#/$defs/...") are resolved.
    json_path (str): JSON file for the valid rows (a list of objects), e.g. "outputs/data.json".
    invalid_path (str): CSV file for the invalid rows with columns row, field, error, e.g.
        "outputs/invalid.csv".
Outputs: dict with answer (the result in words), total, valid, invalid, errors (list of {row, field,
    error}), json_path, invalid_path.
Columns the schema does not list are copied to the output as text, unless the row schema says
    "additionalProperties": false: then they are left out of the records. An extra column does not
    make a row invalid: it is a property of the file (every row has it), not a fault of one row, and a
    user asking for output that follows a strict schema wants the output to validate, not every row
    rejected.
Limitations: supports type (string, integer, number, boolean, null), required, enum, minimum, maximum,
    exclusiveMinimum, exclusiveMaximum, minLength, maxLength and pattern; a number may use a decimal
    comma ("2,50"); row numbers count data rows from 1; the first failing field of a row is reported.
"""

import csv
import io
import json
import os
import re

TRUE, FALSE = {"true", "yes", "1", "y"}, {"false", "no", "0", "n"}


def _coerce(value, kind):
    """The CSV text as the schema's type, or raise ValueError."""
    kinds = kind if isinstance(kind, list) else [kind]
    text = value.strip()
    for k in kinds:
        try:
            if k == "integer":
                number = float(text)
                if number != int(number):
                    raise ValueError
                return int(number)
            if k == "number":
                if re.fullmatch(r"[-+]?\d+,\d{1,2}", text):  # decimal comma, as in European exports
                    text = text.replace(",", ".")
                return float(text)
            if k == "boolean":
                if text.lower() in TRUE:
                    return True
                if text.lower() in FALSE:
                    return False
                raise ValueError
            if k == "null" and text == "":
                return None
            if k == "string":
                return value
        except ValueError:
            continue
    raise ValueError(f"{value!r} is not of type {kind}")


def _check(value, rule):
    if "enum" in rule and value not in rule["enum"]:
        return f"{value!r} is not one of {rule['enum']}"
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if "minimum" in rule and value < rule["minimum"]:
            return f"{value} is less than the minimum {rule['minimum']}"
        if "maximum" in rule and value > rule["maximum"]:
            return f"{value} is more than the maximum {rule['maximum']}"
        if "exclusiveMinimum" in rule and value <= rule["exclusiveMinimum"]:
            return f"{value} must be more than {rule['exclusiveMinimum']}"
        if "exclusiveMaximum" in rule and value >= rule["exclusiveMaximum"]:
            return f"{value} must be less than {rule['exclusiveMaximum']}"
    if isinstance(value, str):
        if "minLength" in rule and len(value) < rule["minLength"]:
            return f"{value!r} is shorter than {rule['minLength']} characters"
        if "maxLength" in rule and len(value) > rule["maxLength"]:
            return f"{value!r} is longer than {rule['maxLength']} characters"
        if "pattern" in rule and not re.search(rule["pattern"], value):
            return f"{value!r} does not match {rule['pattern']}"
    return None


def _validate_row(row, schema):
    props = schema.get("properties", {})
    required = set(schema.get("required", []))
    record = {}
    for name, rule in props.items():
        raw = row.get(name)
        if raw is None or raw.strip() == "":
            if name in required:
                return None, name, "missing required value"
            continue
        try:
            value = _coerce(raw, rule.get("type", "string"))
        except ValueError as exc:
            return None, name, str(exc)
        problem = _check(value, rule)
        if problem:
            return None, name, problem
        record[name] = value
    if schema.get("additionalProperties", True) is not False:
        for name, raw in row.items():
            if name not in props and name is not None:
                record[name] = raw
    return record, None, None


def _resolve(node, root, depth=0):
    """`node` with a local "$ref" replaced by its target (sibling keywords kept)."""
    if not isinstance(node, dict) or "$ref" not in node or depth > 10:
        return node
    ref = node["$ref"]
    if not ref.startswith("#"):
        raise ValueError(f"only local $refs are supported, not {ref!r}")
    target = root
    for part in [p for p in ref[1:].split("/") if p]:
        part = part.replace("~1", "/").replace("~0", "~")
        if not isinstance(target, dict) or part not in target:
            raise ValueError(f"$ref {ref!r} points to nothing in the schema")
        target = target[part]
    merged = {**_resolve(target, root, depth + 1), **{k: v for k, v in node.items() if k != "$ref"}}
    return _resolve(merged, root, depth + 1)


def _row_schema(schema):
    """The schema of one row: the schema itself, or its `items` when it describes the whole file."""
    row = _resolve(schema, schema)
    if row.get("type") == "array" or ("items" in row and "properties" not in row):
        items = row.get("items")
        row = _resolve(items if isinstance(items, dict) else {}, schema)
    props = {name: _resolve(rule, schema) for name, rule in row.get("properties", {}).items()}
    return {**row, "properties": props}


def _delimiter(sample):
    """The field separator of a CSV sample: comma, semicolon, tab or pipe; comma when unsure."""
    header = sample.splitlines()[0] if sample else ""
    try:
        found = csv.Sniffer().sniff(sample, delimiters=",;\t|").delimiter
    except csv.Error:
        found = None
    if found and found in header:
        return found
    counts = {d: header.count(d) for d in ",;\t|"}
    best = max(counts, key=counts.get)
    return best if counts[best] else ","


def run(csv_path, schema_path, json_path="outputs/data.json", invalid_path="outputs/invalid_rows.csv"):
    with open(schema_path, encoding="utf-8") as fh:
        schema = _row_schema(json.load(fh))
    with open(csv_path, encoding="utf-8-sig", newline="") as fh:
        text = fh.read()
    reader = csv.DictReader(io.StringIO(text), delimiter=_delimiter(text[:8192]))
    reader.fieldnames = [name.strip() for name in reader.fieldnames or []]
    rows = list(reader)
    valid, errors = [], []
    for number, row in enumerate(rows, start=1):
        record, field, error = _validate_row(row, schema)
        if record is None:
            errors.append({"row": number, "field": field, "error": error})
        else:
            valid.append(record)
    for path in (json_path, invalid_path):
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    with open(json_path, "w", encoding="utf-8") as fh:
        json.dump(valid, fh, indent=2, ensure_ascii=False)
    with open(invalid_path, "w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=["row", "field", "error"])
        writer.writeheader()
        writer.writerows(errors)
    answer = (
        f"Invalid rows: {len(errors)} of {len(rows)}. The {len(valid)} valid rows were converted to "
        f"{json_path}; the invalid ones, with the reason, are in {invalid_path}"
    )
    answer += "".join(f"\n- row {e['row']}: {e['field']}: {e['error']}" for e in errors) or "."
    return {
        "answer": answer,
        "total": len(rows),
        "valid": len(valid),
        "invalid": len(errors),
        "errors": errors,
        "json_path": json_path,
        "invalid_path": invalid_path,
    }
