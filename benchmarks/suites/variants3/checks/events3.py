import csv
from pathlib import Path
def check(answer, outputs_dir, fixtures_dir):
    f = Path(outputs_dir) / "event_problems.csv"
    if not f.exists(): return False, "no event_problems.csv"
    rows = list(csv.DictReader(open(f, newline="")))
    return (len(rows) == 3, f"{len(rows)} rows")
