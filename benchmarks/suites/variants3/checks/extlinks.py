import re
def check(answer, outputs_dir, fixtures_dir):
    a = answer.lower()
    ok = re.search(r"(?<![\w./:-])(1|one)(?![\w.%/-])", a) is not None and "facebook" in a
    return ok, "answer: " + a[:200]
