"""names_sorted.txt: the names of names.txt, one per line, sorted, each once ignoring case."""
WANT = ["adam", "chen", "liam", "maria", "zoe"]


def check(answer, outputs_dir, fixtures_dir):
    path = outputs_dir / "names_sorted.txt"
    if not path.is_file():
        return False, "no names_sorted.txt"
    got = [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    # Alphabetical ignoring case, or by code point: either order of the five names, in any case.
    ok = [n.lower() for n in got] == WANT or (sorted(got) == got and sorted(n.lower() for n in got) == WANT)
    return ok, f"names_sorted.txt has {got}, expected {WANT} (any case)"
