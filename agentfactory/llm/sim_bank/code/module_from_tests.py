"""Write a Python module that passes a given test file, checking it by running the tests.

Purpose: small programming tasks specified by tests (plain `test_*` functions with asserts).
Inputs:
    tests_path (str): the test file, e.g. "inputs/test_slugify.py"; it imports the module to write.
    module_name (str | None): module to write; default: the one the tests import.
    output_dir (str): where to write the module (default "outputs").
    attempts (int): how many drafts to try, each one shown the previous failures (default 2).
Outputs: dict with answer (the result in words), module_path, module, functions, tests, passed,
    failures, attempts.
Limitations: the code is drafted by the `llm` tool; tests run in this process with a fresh import;
    pytest fixtures and parametrisation are not supported.
"""

import ast
import importlib.util
import os
import re
import sys
import traceback


def _imports(source, tests_module):
    tree = ast.parse(source)
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module != tests_module:
            return node.module, [a.name for a in node.names]
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name not in sys.stdlib_module_names:
                    return alias.name, []
    raise ValueError("the tests import no module to write")


def _code_from(reply):
    fenced = re.findall(r"```(?:python)?\n(.*?)```", reply, re.S)
    return (fenced[0] if fenced else reply).strip() + "\n"


def _run_tests(tests_path, module, output_dir):
    sys.path.insert(0, os.path.abspath(output_dir))
    try:
        for name in [module, os.path.splitext(os.path.basename(tests_path))[0]]:
            sys.modules.pop(name, None)
        spec = importlib.util.spec_from_file_location("_tests_under_check", tests_path)
        tests = importlib.util.module_from_spec(spec)
        try:
            spec.loader.exec_module(tests)
        except Exception as exc:
            return 0, [f"import failed: {type(exc).__name__}: {exc}"]
        names = sorted(n for n in dir(tests) if n.startswith("test_") and callable(getattr(tests, n)))
        failures = []
        for name in names:
            try:
                getattr(tests, name)()
            except Exception:
                failures.append(f"{name}: {traceback.format_exc(limit=2).strip().splitlines()[-1]}")
        return len(names), failures
    finally:
        sys.path.pop(0)


def run(tests_path, module_name=None, output_dir="outputs", attempts=2):
    from agentfactory_tools import llm

    with open(tests_path, encoding="utf-8") as fh:
        tests_source = fh.read()
    test_module = os.path.splitext(os.path.basename(tests_path))[0]
    imported, functions = _imports(tests_source, test_module)
    module = module_name or imported
    os.makedirs(output_dir, exist_ok=True)
    module_path = os.path.join(output_dir, f"{module}.py")
    feedback, count, failures, used = "", 0, [], 0
    for _ in range(int(attempts)):
        used += 1
        prompt = (
            f"Write a Python module named {module}.py defining {', '.join(functions) or 'what the tests use'} "
            f"so that these tests pass. Reply with only the code.{feedback}\n\n```python\n{tests_source}```"
        )
        reply = llm(prompt, system="You are a careful Python programmer.", max_tokens=2048)
        with open(module_path, "w", encoding="utf-8") as fh:
            fh.write(_code_from(reply))
        count, failures = _run_tests(tests_path, module, output_dir)
        if count and not failures:
            break
        feedback = "\n\nThe previous draft failed: " + "; ".join(failures[:3])
    if count and not failures:
        answer = f"Wrote {module_path}: all {count} tests in {os.path.basename(tests_path)} pass."
    else:
        answer = (
            f"Wrote {module_path}, but {len(failures)} of {count} tests in {os.path.basename(tests_path)} "
            "still fail: " + "; ".join(failures[:3])
        )
    return {
        "answer": answer,
        "module_path": module_path,
        "module": module,
        "functions": functions,
        "tests": count,
        "passed": count - len(failures) if count else 0,
        "failures": failures,
        "attempts": used,
    }
