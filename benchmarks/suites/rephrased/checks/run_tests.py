"""Python check: run every test_* function of the task's test files against the module in outputs/."""
import importlib.util
import sys
import traceback
from pathlib import Path


def check(answer, outputs_dir, fixtures_dir):
    sys.path.insert(0, str(Path(outputs_dir).resolve()))
    failures, count = [], 0
    for test_file in sorted(Path(fixtures_dir).glob("test_*.py")):
        spec = importlib.util.spec_from_file_location(test_file.stem, test_file)
        module = importlib.util.module_from_spec(spec)
        try:
            spec.loader.exec_module(module)
        except Exception as exc:
            return False, f"{test_file.name} cannot import the solution: {type(exc).__name__}: {exc}"
        for name in sorted(dir(module)):
            if name.startswith("test_") and callable(getattr(module, name)):
                count += 1
                try:
                    getattr(module, name)()
                except Exception:
                    failures.append(f"{name}: {traceback.format_exc(limit=1).strip().splitlines()[-1]}")
    if count == 0:
        return False, "no tests found"
    if failures:
        return False, f"{len(failures)} of {count} tests failed: " + "; ".join(failures[:3])
    return True, f"all {count} tests pass"
