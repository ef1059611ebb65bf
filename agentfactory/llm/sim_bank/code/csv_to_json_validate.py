"""Convert a CSV file to JSON, validating each row against a JSON schema; report the invalid rows.

Purpose: clean conversion of tabular data with a record of what was rejected and why.
Inputs:
    csv_path (str): the CSV file, e.g. "inputs/data.csv".
    schema_path (str): JSON schema of one row (type object, properties, required).
    json_path (str): JSON file for the valid rows (a list of objects), e.g. "outputs/data.json".
    invalid_path (str): CSV file for the invalid rows with columns row, field, error, e.g.
        "outputs/invalid.csv".
Outputs: dict with answer (the result in words), total, valid, invalid, errors (list of {row, field,
    error}), json_path, invalid_path.
Limitations: supports type (string, integer, number, boolean, null), required, enum, minimum, maximum,
    exclusiveMinimum, exclusiveMaximum, minLength, maxLength and pattern; row numbers count data rows
    from 1; the first failing field of a row is reported.
"""

import csv
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
    for name, raw in row.items():
        if name not in props and name is not None:
            record[name] = raw
    return record, None, None


def run(csv_path, schema_path, json_path="outputs/data.json", invalid_path="outputs/invalid_rows.csv"):
    with open(schema_path, encoding="utf-8") as fh:
        schema = json.load(fh)
    with open(csv_path, encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
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
