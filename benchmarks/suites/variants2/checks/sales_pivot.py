"""sales_pivot.xlsx: an Excel workbook whose first sheet has quarters as rows and regions as columns.

Read with the standard library (an .xlsx is a zip of XML parts), so the check needs no package.
"""
import re
import zipfile
from xml.etree import ElementTree

NS = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
WANT = {("q1", "north"): 120, ("q1", "south"): 95, ("q2", "north"): 130, ("q2", "south"): 101}


def _column(ref):
    n = 0
    for ch in re.match(r"[A-Z]+", ref).group(0):
        n = n * 26 + ord(ch) - 64
    return n - 1


def _rows(book):
    names = book.namelist()
    shared = []
    if "xl/sharedStrings.xml" in names:
        for si in ElementTree.fromstring(book.read("xl/sharedStrings.xml")).iter(NS + "si"):
            shared.append("".join(t.text or "" for t in si.iter(NS + "t")))
    sheets = sorted(n for n in names if re.fullmatch(r"xl/worksheets/sheet\d+\.xml", n))
    if not sheets:
        return []
    rows = []
    for row in ElementTree.fromstring(book.read(sheets[0])).iter(NS + "row"):
        cells = {}
        for c in row.iter(NS + "c"):
            kind, v = c.get("t"), c.find(NS + "v")
            if kind == "s" and v is not None:
                value = shared[int(v.text)]
            elif kind == "inlineStr":
                value = "".join(t.text or "" for t in c.iter(NS + "t"))
            elif kind in ("str", "b", "e") or v is None:
                value = v.text if v is not None else None
            else:
                value = float(v.text)
            cells[_column(c.get("r"))] = value
        rows.append([cells.get(i) for i in range(max(cells, default=-1) + 1)])
    return rows


def _text(value):
    return str(value).strip().lower() if value is not None else ""


def check(answer, outputs_dir, fixtures_dir):
    path = outputs_dir / "sales_pivot.xlsx"
    if not path.is_file() or not zipfile.is_zipfile(path):
        return False, "no Excel workbook sales_pivot.xlsx"
    with zipfile.ZipFile(path) as book:
        rows = _rows(book)
    header = next((r for r in rows if {"north", "south"} <= {_text(v) for v in r}), None)
    if header is None:
        return False, "no row names the regions north and south as columns"
    col = {_text(v): i for i, v in enumerate(header)}
    got = {}
    for r in rows:
        quarter = next((_text(v) for v in r if _text(v) in ("q1", "q2")), None)
        if quarter:
            for region in ("north", "south"):
                got[(quarter, region)] = r[col[region]] if col[region] < len(r) else None
    ok = all(isinstance(got.get(k), float) and abs(got[k] - v) < 1e-6 for k, v in WANT.items())
    return ok, f"pivot cells {got}, expected {WANT}"
