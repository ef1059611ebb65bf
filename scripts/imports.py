"""Print the shape of the `agentfactory` package from its own source: size, imports and import cycles.

    python scripts/imports.py [ROOT]        (ROOT: the folder holding agentfactory/, default: this checkout)

Read with `ast`, nothing is imported. It prints lines per package, the largest files and functions, the
import arrows between packages, and the import cycles. An import at module level runs when the module is
loaded; one inside a function runs only when the function is called (a lazy import, often a cycle
hidden from the loader). The two kinds are counted apart: module-level cycles are the ones that break
loading; lazy cycles are reported separately. Imports under `if TYPE_CHECKING:` never run and are left
out.
"""

from __future__ import annotations

import ast
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

PACKAGE = "agentfactory"
TOP = 15  # rows in the "largest" tables
DATA_DIRS = ("sim_bank",)  # data kept as Python files: counted, but flagged


@dataclass
class Module:
    name: str
    path: Path
    lines: int
    eager: set[str] = field(default_factory=set)  # modules imported at module level
    lazy: set[str] = field(default_factory=set)  # modules imported inside functions only
    functions: list[tuple[int, str]] = field(default_factory=list)  # (lines, qualified name)


def module_name(root: Path, path: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def package_of(name: str) -> str:
    """The unit arrows are drawn between: `agentfactory.<first part>` (a sub-package or a top module)."""
    parts = name.split(".")
    return ".".join(parts[:2]) if len(parts) > 1 else parts[0]


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _targets(node: ast.Import | ast.ImportFrom, current: str, is_package: bool, known: set[str]) -> set[str]:
    """The project modules an import statement loads (the most specific one that exists)."""
    found: set[str] = set()
    if isinstance(node, ast.Import):
        for alias in node.names:
            name = alias.name
            while name and name not in known:
                name = name.rpartition(".")[0]
            if name:
                found.add(name)
        return found
    base = node.module or ""
    if node.level:
        anchor = current.split(".") if is_package else current.split(".")[:-1]
        anchor = anchor[: len(anchor) - (node.level - 1)]
        base = ".".join([*anchor, base] if base else anchor)
    if base.split(".")[0] != PACKAGE:
        return found
    for alias in node.names:
        sub = f"{base}.{alias.name}"
        if sub in known:
            found.add(sub)
            continue
        name = base
        while name and name not in known:
            name = name.rpartition(".")[0]
        if name:
            found.add(name)
    return found


class _Walker(ast.NodeVisitor):
    def __init__(self, module: Module, is_package: bool, known: set[str]):
        self.module = module
        self.is_package = is_package
        self.known = known
        self.depth = 0  # > 0 inside a function
        self.scope: list[str] = []

    def _import(self, node: ast.Import | ast.ImportFrom) -> None:
        targets = _targets(node, self.module.name, self.is_package, self.known) - {self.module.name}
        (self.module.lazy if self.depth else self.module.eager).update(targets)

    visit_Import = _import
    visit_ImportFrom = _import

    def visit_If(self, node: ast.If) -> None:
        if _is_type_checking(node):
            for child in node.orelse:
                self.visit(child)
            return
        self.generic_visit(node)

    def _function(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        qualified = ".".join([*self.scope, node.name])
        self.module.functions.append((node.end_lineno - node.lineno + 1, f"{self.module.name}:{qualified}"))
        self.scope.append(node.name)
        self.depth += 1
        self.generic_visit(node)
        self.depth -= 1
        self.scope.pop()

    visit_FunctionDef = _function
    visit_AsyncFunctionDef = _function

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        self.scope.append(node.name)
        self.generic_visit(node)
        self.scope.pop()


def load(root: Path) -> dict[str, Module]:
    paths = sorted((root / PACKAGE).rglob("*.py"))
    known = {module_name(root, p) for p in paths}
    modules: dict[str, Module] = {}
    for path in paths:
        name = module_name(root, path)
        text = path.read_text(encoding="utf-8")
        module = Module(name, path, len(text.splitlines()))
        _Walker(module, path.name == "__init__.py", known).visit(ast.parse(text, str(path)))
        module.lazy -= module.eager
        modules[name] = module
    return modules


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one node (Tarjan, iterative), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found: list[list[str]] = []
    counter = 0
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph.get(start, ()))))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            advanced = False
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                    advanced = True
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    item = stack.pop()
                    on_stack.discard(item)
                    component.append(item)
                    if item == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return sorted(found)


def package_graph(modules: dict[str, Module], lazy: bool) -> Counter[tuple[str, str]]:
    arrows: Counter[tuple[str, str]] = Counter()
    for module in modules.values():
        for target in module.lazy if lazy else module.eager:
            a, b = package_of(module.name), package_of(target)
            if a != b and b != PACKAGE:  # the package's own __init__ is the public face, not a layer
                arrows[(a, b)] += 1
    return arrows


def report(root: Path) -> str:
    modules = load(root)
    out: list[str] = []
    total = sum(m.lines for m in modules.values())
    out.append(f"{PACKAGE}/: {len(modules)} modules, {total:,} lines")

    per_package: Counter[str] = Counter()
    for module in modules.values():
        per_package[package_of(module.name)] += module.lines
    out.append("\n## Lines per package")
    for name, lines in sorted(per_package.items(), key=lambda kv: (-kv[1], kv[0])):
        out.append(f"{lines:>7,}  {name}")

    out.append(f"\n## Largest files (top {TOP}; * = data)")
    for module in sorted(modules.values(), key=lambda m: -m.lines)[:TOP]:
        data = " *" if any(d in module.path.parts for d in DATA_DIRS) else ""
        out.append(f"{module.lines:>7,}  {module.path.relative_to(root)}{data}")
    over = [m for m in modules.values() if m.lines > 600 and not any(d in m.path.parts for d in DATA_DIRS)]
    out.append(f"files over 600 lines (data aside): {len(over)}")

    out.append(f"\n## Largest functions (top {TOP})")
    functions = sorted((f for m in modules.values() for f in m.functions), key=lambda f: (-f[0], f[1]))
    for lines, name in functions[:TOP]:
        out.append(f"{lines:>7,}  {name}")

    for lazy in (False, True):
        arrows = package_graph(modules, lazy)
        title = "lazy (inside functions)" if lazy else "module level"
        out.append(
            f"\n## Import arrows between packages, {title}: {len(arrows)} arrows, {sum(arrows.values())} imports"
        )
        for (a, b), count in sorted(arrows.items()):
            back = " <->" if (b, a) in arrows else ""
            out.append(f"{count:>5}  {a} -> {b}{back}")

    eager = {m.name: set(m.eager) for m in modules.values()}
    both = {m.name: m.eager | m.lazy for m in modules.values()}
    module_cycles = cycles(eager)
    lazy_cycles = [c for c in cycles(both) if c not in module_cycles]
    packages_eager: dict[str, set[str]] = {}
    for a, b in package_graph(modules, lazy=False):
        packages_eager.setdefault(a, set()).add(b)
    packages_both: dict[str, set[str]] = {k: set(v) for k, v in packages_eager.items()}
    for a, b in package_graph(modules, lazy=True):
        packages_both.setdefault(a, set()).add(b)
    sections = [
        ("Module import cycles, module level (break loading)", module_cycles),
        ("Module import cycles closed only by lazy imports", lazy_cycles),
        ("Package cycles, module level", cycles(packages_eager)),
        ("Package cycles counting lazy imports", cycles(packages_both)),
    ]
    for title, found in sections:
        out.append(f"\n## {title}: {len(found)}")
        for component in found:
            out.append("  " + " <-> ".join(component))
    return "\n".join(out)


def main(argv: list[str]) -> int:
    root = Path(argv[1]) if len(argv) > 1 else Path(__file__).resolve().parent.parent
    if not (root / PACKAGE).is_dir():
        print(f"No {PACKAGE}/ folder in {root}: pass the folder that holds it.", file=sys.stderr)
        return 2
    print(report(root))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
