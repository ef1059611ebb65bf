import csv, glob, os

def check(answer, outputs_dir, fixtures_dir):
    inputs = {os.path.basename(p) for p in glob.glob(os.path.join(str(fixtures_dir), "*"))}
    for path in sorted(glob.glob(os.path.join(str(outputs_dir), "*.csv"))):
        if os.path.basename(path) in inputs:
            continue
        with open(path, newline="", encoding="utf-8") as fh:
            rows = list(csv.DictReader(fh))
        cols = [c.lower() for c in (rows[0].keys() if rows else [])]
        if len(rows) == 4 and any(k in c for c in cols for k in ("error", "reason", "message", "problem")):
            return True, f"{os.path.basename(path)}: 4 rows with a reason column"
        return False, f"{os.path.basename(path)}: {len(rows)} rows, columns {cols}"
    return False, "no invalid-rows CSV in outputs"
