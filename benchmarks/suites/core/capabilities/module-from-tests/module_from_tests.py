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
    plain `test_*` functions, `Test*` classes and unittest.TestCase classes are run; pytest fixtures
    and parametrisation are not supported. The module to write is the tests' first import that is
    neither the standard library nor a test framework (pytest, unittest, hypothesis, ...), preferring
    one that is not installed. A draft reply without code is recorded as a failed attempt; it is never
    written into the module. A draft that covers only some functions is kept and reported as a partial
    result ("k of n tests pass").
"""

import ast
import builtins
import importlib.util
import os
import re
import sys
import traceback
import unittest

TEST_FRAMEWORKS = (
    "pytest",
    "_pytest",
    "unittest",
    "hypothesis",
    "nose",
    "nose2",
    "mock",
    "doctest",
    "conftest",
)


def _is_framework(module):
    top = module.split(".")[0]
    return top in TEST_FRAMEWORKS or top.startswith("pytest_") or top in sys.stdlib_module_names


def _installed(module):
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def _imports(source, tests_module):
    """(module the tests import that is to be written, names they take from it)."""
    tree = ast.parse(source)
    candidates = []  # (module, names) in source order
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and not node.level:
            candidates.append((node.module, [a.name for a in node.names if a.name != "*"]))
        elif isinstance(node, ast.Import):
            candidates += [(alias.name, []) for alias in node.names]
    candidates = [(m, n) for m, n in candidates if m != tests_module and not _is_framework(m)]
    if not candidates:
        return None, _called_names(tree, None)
    not_installed = [c for c in candidates if not _installed(c[0])]
    module, names = (not_installed or candidates)[0]
    return module, names or _called_names(tree, module)


def _called_names(tree, module):
    """Functions the tests call but neither define nor import: `module.name(...)` or a bare `name(...)`."""
    defined = set(dir(builtins))
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            defined.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            defined.update((a.asname or a.name).split(".")[0] for a in node.names)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            defined.add(node.id)
        elif isinstance(node, ast.arg):
            defined.add(node.arg)
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        if module and isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
            name = func.attr if func.value.id == module.split(".")[-1] else None
        else:
            name = func.id if isinstance(func, ast.Name) and func.id not in defined else None
        if name and name not in found:
            found.append(name)
    return found


def _code_from(reply):
    """The code in an llm reply, or None when the reply holds none (a refusal or an explanation)."""
    fenced = re.findall(r"```(?:python|py)?\n(.*?)```", reply, re.S)
    code = (fenced[0] if fenced else reply).strip()
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return None
    has_code = any(not isinstance(n, ast.Expr) for n in tree.body)  # prose parses as a bare expression
    return code + "\n" if has_code else None


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
        count, failures = 0, []
        for name in sorted(dir(tests)):
            obj = getattr(tests, name)
            if isinstance(obj, type) and obj.__module__ != tests.__name__:
                continue  # a class the tests import, not one of their test classes
            if isinstance(obj, type) and issubclass(obj, unittest.TestCase):
                result = unittest.TestResult()
                unittest.defaultTestLoader.loadTestsFromTestCase(obj).run(result)
                count += result.testsRun
                for case, text in result.failures + result.errors:
                    failures.append(f"{case.id().split('.', 1)[-1]}: {text.strip().splitlines()[-1]}")
            elif isinstance(obj, type) and name.startswith("Test"):
                for method in sorted(m for m in dir(obj) if m.startswith("test_")):
                    count += 1
                    failures += _call(f"{name}.{method}", lambda cls=obj, m=method: getattr(cls(), m)())
            elif name.startswith("test_") and callable(obj):
                count += 1
                failures += _call(name, obj)
        return count, failures
    finally:
        sys.path.pop(0)


def _call(name, test):
    try:
        test()
    except Exception:
        return [f"{name}: {traceback.format_exc(limit=2).strip().splitlines()[-1]}"]
    return []


def run(tests_path, module_name=None, output_dir="outputs", attempts=2):
    from agentfactory_tools import llm

    with open(tests_path, encoding="utf-8") as fh:
        tests_source = fh.read()
    test_module = os.path.splitext(os.path.basename(tests_path))[0]
    imported, functions = _imports(tests_source, test_module)
    module = module_name or imported
    if not module:
        raise ValueError(f"{tests_path} imports no module to write: pass module_name")
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
        code = _code_from(reply)
        if code is None:
            count, failures = 0, [f"the draft held no code: {' '.join(reply.split())[:200]}"]
            feedback = "\n\nThe previous reply held no code: reply with the module's code only."
            continue
        with open(module_path, "w", encoding="utf-8") as fh:
            fh.write(code)
        count, failures = _run_tests(tests_path, module, output_dir)
        if count and not failures:
            break
        feedback = "\n\nThe previous draft failed: " + "; ".join(failures[:3] or ["no tests ran"])
    tests_name = os.path.basename(tests_path)
    if count and not failures:
        answer = f"Wrote {module_path}: all {count} tests in {tests_name} pass."
    elif count:
        answer = (
            f"Wrote {module_path}, but only {count - len(failures)} of {count} tests in {tests_name} pass; "
            f"{len(failures)} still fail: " + "; ".join(failures[:3])
        )
    else:
        written = f"wrote {module_path}, but" if os.path.exists(module_path) else "wrote no module:"
        answer = f"Could not make {tests_name} pass: {written} no test ran. " + "; ".join(failures[:3])
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
