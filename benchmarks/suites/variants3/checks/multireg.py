import re
COEF = [3.052099, 0.046485, 0.192859, 0.040086]  # intercept, tv, radio, online
def check(answer, outputs_dir, fixtures_dir):
    nums = [float(x) for x in re.findall(r"-?\d+(?:\.\d+)?", answer)]
    hit = [any(abs(n - c) <= max(0.01 * abs(c), 0.002) for n in nums) for c in COEF]
    return all(hit), f"coefficient hits {hit} expected {COEF}"
