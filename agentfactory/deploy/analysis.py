"""Static facts about a subagent's code for export: its imports, its dependencies, its package name.

Everything here reads source text with `ast`; it never imports or runs the subagent's code on the host.
"""

from __future__ import annotations

import ast
import re
import sys
from dataclasses import field

from agentfactory.errors import ValidationError
from agentfactory.library.introspect import parse_module
from agentfactory.records import record

# The third-party modules of the sandbox image and the distributions that provide them. Code that ran
# in the sandbox can only have imported these (besides the standard library and the tool module).
SANDBOX_DISTRIBUTIONS: dict[str, str] = {
    "numpy": "numpy",
    "pandas": "pandas",
    "matplotlib": "matplotlib",
    "requests": "requests",
    "bs4": "beautifulsoup4",
    "yaml": "pyyaml",
}
TOOLS_MODULE = "agentfactory_tools"


@record(frozen=True)
class ImportScan:
    """What a module imports, split by where the imported code comes from."""

    modules: frozenset[str]  # top-level names of absolute imports
    dependencies: tuple[str, ...]  # distributions from the sandbox image set, sorted
    tools: tuple[str, ...]  # names taken from agentfactory_tools ("*" when the module is imported whole)
    unknown: tuple[str, ...] = field(default=())  # neither stdlib, image set, nor the tool module


def scan_imports(code: str, filename: str = "<subagent>") -> ImportScan:
    """The imports of `code`, including those nested in functions (they run too when called)."""
    try:
        tree = parse_module(code, filename)  # bounded: the code is untrusted
    except ValidationError as exc:
        why = str(exc).removeprefix(f"{filename} ").rstrip(".")
        raise ValidationError(f"{filename} does not parse ({why}).") from None
    modules: set[str] = set()
    tools: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                top = alias.name.split(".")[0]
                modules.add(top)
                if top == TOOLS_MODULE:
                    tools.add("*")
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            top = node.module.split(".")[0]
            modules.add(top)
            if top == TOOLS_MODULE:
                tools.update(alias.name for alias in node.names)
    deps = sorted({SANDBOX_DISTRIBUTIONS[m] for m in modules if m in SANDBOX_DISTRIBUTIONS})
    unknown = sorted(
        m
        for m in modules
        if m not in SANDBOX_DISTRIBUTIONS and m != TOOLS_MODULE and m not in sys.stdlib_module_names
    )
    return ImportScan(frozenset(modules), tuple(deps), tuple(sorted(tools)), tuple(unknown))


_SKILL_NAME_RE = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")


def valid_skill_name(name: str) -> bool:
    """Agent Skills naming: 1-64 chars of [a-z0-9-], no leading, trailing or doubled hyphen."""
    return 1 <= len(name) <= 64 and bool(_SKILL_NAME_RE.match(name))
