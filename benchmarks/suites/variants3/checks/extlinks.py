import re
REF = ['could not', 'cannot', "can't", 'unable', 'not able', 'outside', 'not supported', "don't know how"]
def check(answer, outputs_dir, fixtures_dir):
    a = answer.lower()
    if any(r in a for r in REF): return True, "honest refusal"
    ok = re.search(r"(?<![\w./:-])(1|one)(?![\w.%/-])", a) is not None and "facebook" in a
    return ok, "answer: " + a[:200]
