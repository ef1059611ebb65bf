import re

DRAWDOWN = 0.465349
NUMBER = re.compile(r"[-\u2212]?\d+(?:\.\d+)?(\s*%)?")


def check(answer, outputs_dir, fixtures_dir):
    seen = []
    for label in re.finditer(r"drawdown", answer, re.I):
        m = NUMBER.search(answer, label.end(), label.end() + 60)
        if m:
            value = abs(float(m.group(0).rstrip(" %").replace("\u2212", "-")))
            seen.append(m.group(0))
            if any(abs(v - DRAWDOWN) <= 0.003 for v in ([value, value / 100] if m.group(1) else [value])):
                return True, f"maximum drawdown {m.group(0)} (expected {DRAWDOWN} as a fall, either sign)"
    return False, f"no number after /drawdown/ within 0.003 of {DRAWDOWN} in either sign (saw {seen})"
