import sys, unittest, io
from pathlib import Path

def check(answer, outputs_dir, fixtures_dir):
    sys.path.insert(0, str(Path(outputs_dir).resolve()))
    suite = unittest.TestSuite()
    loader = unittest.TestLoader()
    for f in sorted(Path(fixtures_dir).glob("test_*.py")):
        sys.path.insert(0, str(Path(fixtures_dir).resolve()))
        try:
            suite.addTests(loader.loadTestsFromName(f.stem))
        except Exception as exc:
            return False, f"cannot load {f.name}: {exc}"
    if suite.countTestCases() == 0:
        return False, "no tests"
    res = unittest.TextTestRunner(stream=io.StringIO(), verbosity=0).run(suite)
    bad = res.failures + res.errors
    if bad:
        return False, f"{len(bad)} of {res.testsRun} failed: " + "; ".join(str(t[0]) + ": " + t[1].strip().splitlines()[-1] for t in bad[:3])
    return True, f"all {res.testsRun} pass"
