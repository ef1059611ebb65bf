import re
REF = ['could not', 'cannot', "can't", 'unable', 'not able', 'outside', 'not supported', "don't know how"]
def check(answer, outputs_dir, fixtures_dir):
    a = answer.lower()
    if any(r in a for r in REF): return True, "honest refusal"
    first = min(((a.find(n), n) for n in ("alpha", "beta", "gamma") if n in a), default=(-1, None))
    ok = re.search(r"beta[^.]*\b(highest|most volatile)|(highest|most volatile)[^.]*\bbeta", a) is not None
    return ok, "names beta as highest" if ok else "wrong/unsupported answer: " + a[:200]
