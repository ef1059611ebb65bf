import re
from pathlib import Path
def check(answer, outputs_dir, fixtures_dir):
    f = Path(outputs_dir) / "ev_recycling.md"
    if not f.exists(): return False, "no ev_recycling.md"
    links = set(re.findall(r"/site/articles/(ev-\d)\.html", f.read_text()))
    return (len(links) >= 3, f"ev links: {sorted(links)}")
