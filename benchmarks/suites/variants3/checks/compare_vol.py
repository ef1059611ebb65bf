import re
VOLS = {'alpha': 0.223167, 'beta': 0.468687, 'gamma': 0.29214}
def check(answer, outputs_dir, fixtures_dir):
    a = answer.lower().replace(".csv", "")
    # Decimal points are not sentence ends: "beta: 48.1%, the highest" names beta as highest.
    words = re.sub(r"(?<=\d)\.(?=\d)", "", a)
    nearest = []  # per "highest" / "most volatile": the file named nearest to it in its sentence
    for sentence in re.split(r"[.;\n]", words):
        for kw in re.finditer(r"highest|most volatile", sentence):
            near = [(max(kw.start() - m.end(), m.start() - kw.end()), m.group(0))
                    for m in re.finditer(r"\b(alpha|beta|gamma)\b", sentence)]
            nearest += [min(near)[1]] if near else []
    named = bool(nearest) and set(nearest) == {"beta"}
    nums = [float(x) for x in re.findall(r"\d+(?:\.\d+)?", a)]
    given = {k: any(abs(n - v) <= 0.02 * v or abs(n - 100 * v) <= 2 * v for n in nums) for k, v in VOLS.items()}
    ok = named and all(given.values())
    return ok, f"beta named as highest: {named}; volatility given {given} (expected {VOLS})"
