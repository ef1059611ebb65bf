import csv
from pathlib import Path
def check(answer, outputs_dir, fixtures_dir):
    f = Path(outputs_dir) / "member_errors.csv"
    if not f.exists(): return False, "no member_errors.csv"
    rows = list(csv.DictReader(open(f, newline="")))
    return (len(rows) == 5, f"{len(rows)} rows, cols {list(rows[0].keys()) if rows else []}")
