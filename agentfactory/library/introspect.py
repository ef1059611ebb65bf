"""Read an entry module's docstring, `run` signature and JSON schemas with `ast`, never by importing it.

Subagent code is untrusted: the host parses it as text, and only through `parse_module`, which bounds
the work (source size, the parser's own stack, the tree's nesting depth) so hostile code is refused with
a sentence instead of exhausting memory or the recursion limit. Every later pass over the tree (unparse,
literal_eval, schema derivation) then stays within the bound. Schemas are derived from annotations,
literal defaults and the docstring's Inputs / Outputs sections when the author gave none.
"""

from __future__ import annotations

import ast
import contextlib
import json
from collections.abc import Iterator
from dataclasses import field
from typing import Any

from agentfactory.errors import ValidationError
from agentfactory.records import record

# Docstring headings and `- name (type): description` items are recognised with str methods, in one
# linear pass: the docstring is hostile text, and a regex with overlapping quantifiers over a long line of
# blanks backtracks quadratically. Only this much of a docstring, and lines this long, are examined.
MAX_DOC_CHARS = 64 * 1024
MAX_DOC_LINE = 1000
_SECTION_WORDS = {
    "purpose": "purpose",
    "input": "inputs",
    "inputs": "inputs",
    "output": "outputs",
    "outputs": "outputs",
    "return": "outputs",
    "returns": "outputs",
    "limitation": "limitations",
    "limitations": "limitations",
    "known limitations": "limitations",
}
_IDENT_START = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_")
_IDENT_CHARS = _IDENT_START | frozenset("0123456789")
_TYPE_MAP = {
    "str": "string",
    "int": "integer",
    "float": "number",
    "bool": "boolean",
    "list": "array",
    "tuple": "array",
    "List": "array",
    "Sequence": "array",
    "dict": "object",
    "Dict": "object",
    "Mapping": "object",
    "None": "null",
}


MAX_SOURCE_CHARS = 1024 * 1024  # the library's size limit for a .py file
# Deeper than any module a person writes; shallow enough that every recursive pass over the tree (ours,
# ast.unparse, ast.literal_eval, the deploy analysis) stays far below Python's recursion limit.
MAX_AST_DEPTH = 100


# What analysing hostile code can raise besides a syntax error: a literal too large to convert to text
# (ValueError: int over 4300 digits), a tree too large or deep (MemoryError, RecursionError), a number
# out of range (OverflowError). Each means "cannot analyse", said in one sentence.
_HUGE_LITERAL = "it holds a value too large to analyse, such as an integer of thousands of digits"


@contextlib.contextmanager
def analysing(filename: str) -> Iterator[None]:
    """Every ast/introspection step on untrusted code runs inside this: a SyntaxError, ValueError,
    OverflowError, MemoryError or RecursionError becomes a ValidationError sentence, never a traceback."""
    try:
        yield
    except ValidationError:
        raise
    except (SyntaxError, ValueError, OverflowError, MemoryError, RecursionError) as exc:
        raise _cannot_analyse(filename, exc) from None


def _cannot_analyse(filename: str, exc: BaseException) -> ValidationError:
    if isinstance(exc, SyntaxError):
        where = f" at line {exc.lineno}" if exc.lineno else ""
        return ValidationError(f"{filename} has a syntax error{where}: {exc.msg}; fix the code.")
    if isinstance(exc, MemoryError | RecursionError):
        return _too_deep(filename)
    if isinstance(exc, OverflowError):
        why = "it holds a number out of range"
    elif "digits" in str(exc) or "integer string conversion" in str(exc):
        why = _HUGE_LITERAL
    else:  # e.g. NUL bytes in the source (older Pythons)
        why = "its text cannot be parsed (" + " ".join(str(exc).split())[:200].rstrip(".") + ")"
    return ValidationError(f"{filename} cannot be analysed: {why}; simplify the code.")


def check_compiles(source: str, filename: str) -> None:
    """`compile` for untrusted code (a syntax check), bounded like `parse_module`."""
    parse_module(source, filename)
    with analysing(filename):
        compile(source, filename, "exec")


def parse_module(source: str, filename: str) -> ast.Module:
    """`ast.parse` for untrusted code: a ValidationError sentence for anything that cannot be parsed within
    bounded resources (too large, too deeply nested, a parser stack overflow), never MemoryError or
    RecursionError."""
    if not isinstance(source, str):
        raise ValidationError(f"{filename} must be Python source text.")
    if len(source) > MAX_SOURCE_CHARS:
        raise ValidationError(
            f"{filename} is {len(source)} characters long; the limit is {MAX_SOURCE_CHARS}."
        )
    with analysing(filename):  # the parser signals its own stack overflow as MemoryError/RecursionError
        tree = ast.parse(source, filename=filename)
    if _depth_exceeds(tree, MAX_AST_DEPTH):
        raise _too_deep(filename)
    return tree


def _too_deep(filename: str) -> ValidationError:
    return ValidationError(
        f"{filename} is nested too deeply to analyse (more than {MAX_AST_DEPTH} levels of expressions "
        "or blocks); simplify the code."
    )


def _depth_exceeds(tree: ast.AST, limit: int) -> bool:
    """Whether any node lies deeper than `limit` below the root (iterative: the tree may be hostile)."""
    stack = [(tree, 0)]
    while stack:
        node, depth = stack.pop()
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in ast.iter_child_nodes(node))
    return False


@record
class ModuleInfo:
    docstring: str
    signature: str  # e.g. "run(path: str, window: int = 30)"
    params: list[str]
    inputs_schema: dict[str, Any]
    outputs_schema: dict[str, Any]
    sections: dict[str, str] = field(default_factory=dict)


def inspect_module(source: str, filename: str) -> ModuleInfo:
    tree = parse_module(source, filename)
    with analysing(filename):
        return _inspect(tree, filename)


def _inspect(tree: ast.Module, filename: str) -> ModuleInfo:
    run = next(
        (n for n in tree.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef) and n.name == "run"),
        None,
    )
    if run is None:
        raise ValidationError(
            f"{filename} has no top-level `def run(...)`; the entry module must define one."
        )
    if isinstance(run, ast.AsyncFunctionDef):
        raise ValidationError(f"{filename}: `run` must be a plain function, not `async def`.")
    docstring = ast.get_docstring(tree) or ""
    sections = split_sections(docstring)
    params, schema = _inputs_schema(run.args, _items(sections.get("inputs", "")))
    return ModuleInfo(
        docstring=docstring,
        signature=format_signature(run.args),
        params=params,
        inputs_schema=schema,
        outputs_schema=_outputs_schema(_items(sections.get("outputs", ""))),
        sections=sections,
    )


def split_sections(docstring: str) -> dict[str, str]:
    """Split a docstring into purpose / inputs / outputs / limitations; text before any heading is purpose.

    Linear in the text: str methods only, the first MAX_DOC_CHARS examined, and a line longer than
    MAX_DOC_LINE is text, never a heading."""
    sections: dict[str, list[str]] = {}
    current = "purpose"
    for line in docstring[:MAX_DOC_CHARS].splitlines():
        heading = _heading(line) if len(line) <= MAX_DOC_LINE else None
        if heading is not None:
            current = heading
            continue
        sections.setdefault(current, []).append(line)
    return {k: "\n".join(v).strip() for k, v in sections.items() if "\n".join(v).strip()}


def _heading(line: str) -> str | None:
    """`Inputs:` / `Returns` / `Known limitations:` ... -> the section it opens, else None."""
    text = line.strip()
    if text.endswith(":"):
        text = text[:-1].rstrip()
    return _SECTION_WORDS.get(text.lower())


def _items(text: str) -> dict[str, tuple[str | None, str]]:
    """`- name (type): description` lines of a section -> {name: (type, description)}."""
    out: dict[str, tuple[str | None, str]] = {}
    for line in text.splitlines():
        item = _item(line) if len(line) <= MAX_DOC_LINE else None
        if item is not None:
            out[item[0]] = item[1:]
    return out


def _item(line: str) -> tuple[str, str | None, str] | None:
    """One `- name (type): description` line (bullet, backticks and type optional; `:`, `-` or an em
    dash before the description) -> (name, type, description), else None."""
    rest = line.lstrip()
    if rest[:1] in ("-", "*"):
        rest = rest[1:].lstrip()
    rest = rest.removeprefix("`")
    if rest[:1] not in _IDENT_START:
        return None
    end = 1
    while end < len(rest) and rest[end] in _IDENT_CHARS:
        end += 1
    name, rest = rest[:end], rest[end:].removeprefix("`").lstrip()
    kind = None
    if rest.startswith("("):
        close = rest.find(")")
        if close < 0:
            return None
        kind, rest = rest[1:close], rest[close + 1 :].lstrip()
    if rest[:1] not in (":", "-", "\u2014"):
        return None
    return name, kind, rest[1:].strip()


def _annotation_schema(node: ast.expr | None) -> dict[str, Any]:
    if node is None:
        return {}
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        node = _parse_type(node.value)
        if node is None:
            return {}
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
        left, right = _annotation_schema(node.left), _annotation_schema(node.right)
        types = [t for s in (left, right) for t in _as_list(s.get("type"))]
        return {"type": types} if types and left and right else {}
    if isinstance(node, ast.Subscript):
        base = _dotted(node.value)
        if base in ("Optional",):
            inner = _annotation_schema(node.slice)
            return {"type": [*_as_list(inner.get("type")), "null"]} if inner else {}
        if base in ("list", "List", "Sequence", "tuple", "set"):
            inner = _annotation_schema(node.slice) if base != "tuple" else {}
            return {"type": "array", **({"items": inner} if inner else {})}
        return {"type": _TYPE_MAP[base]} if base in _TYPE_MAP else {}
    name = _dotted(node)
    if name == "Any":
        return {}
    if isinstance(node, ast.Constant) and node.value is None:
        return {"type": "null"}
    return {"type": _TYPE_MAP[name]} if name in _TYPE_MAP else {}


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def _dotted(node: ast.expr) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return ""


def _parse_type(text: str) -> ast.expr | None:
    """A type written as text (a string annotation, a docstring's `(type)`): short ones only."""
    if len(text) > 200:
        return None
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        return None
    return None if _depth_exceeds(tree, 20) else tree.body


def _doc_type(text: str | None) -> dict[str, Any]:
    if not text:
        return {}
    node = _parse_type(text)
    return _annotation_schema(node) if node is not None else {}


def _inputs_schema(args: ast.arguments, docs: dict[str, tuple[str | None, str]]) -> tuple[list[str], dict]:
    positional = [*args.posonlyargs, *args.args]
    defaults: list[ast.expr | None] = [None] * (len(positional) - len(args.defaults)) + list(args.defaults)
    pairs = list(zip(positional, defaults, strict=True)) + list(
        zip(args.kwonlyargs, args.kw_defaults, strict=True)
    )
    props: dict[str, Any] = {}
    required: list[str] = []
    for arg, default in pairs:
        prop = _annotation_schema(arg.annotation)
        doc_type, doc_text = docs.get(arg.arg, (None, ""))
        if not prop:
            prop = _doc_type(doc_type)
        if doc_text:
            prop["description"] = doc_text
        if default is None:
            required.append(arg.arg)
        else:
            value = _json_default(default)
            if value is not _NO_DEFAULT:
                prop["default"] = value
        props[arg.arg] = prop
    schema: dict[str, Any] = {"type": "object", "properties": props}
    if required:
        schema["required"] = required
    schema["additionalProperties"] = args.kwarg is not None
    return [a.arg for a, _ in pairs], schema


_NO_DEFAULT = object()


def _json_default(node: ast.expr) -> Any:
    """A literal default that JSON can carry (finite numbers, short text), else _NO_DEFAULT."""
    try:
        value = ast.literal_eval(node)
        text = json.dumps(value, allow_nan=False)
    except (ValueError, TypeError, SyntaxError, OverflowError, MemoryError, RecursionError):
        return _NO_DEFAULT
    return value if len(text) <= 4096 else _NO_DEFAULT


def _outputs_schema(docs: dict[str, tuple[str | None, str]]) -> dict[str, Any]:
    props: dict[str, Any] = {}
    for key, (kind, text) in docs.items():
        prop = _doc_type(kind)
        if text:
            prop["description"] = text
        props[key] = prop
    return {"type": "object", "properties": props} if props else {"type": "object"}


def format_signature(args: ast.arguments) -> str:
    """`run(path: str, window: int = 30)`: PEP 8 spacing, unlike ast.unparse of the arguments."""

    def one(arg: ast.arg, default: ast.expr | None, prefix: str = "") -> str:
        text = prefix + arg.arg
        if arg.annotation is not None:
            text += f": {ast.unparse(arg.annotation)}"
        if default is not None:
            text += (" = " if arg.annotation is not None else "=") + ast.unparse(default)
        return text

    positional = [*args.posonlyargs, *args.args]
    defaults: list[ast.expr | None] = [None] * (len(positional) - len(args.defaults)) + list(args.defaults)
    parts = [one(a, d) for a, d in zip(positional, defaults, strict=True)]
    if args.posonlyargs:
        parts.insert(len(args.posonlyargs), "/")
    if args.vararg is not None:
        parts.append(one(args.vararg, None, "*"))
    elif args.kwonlyargs:
        parts.append("*")
    parts += [one(a, d) for a, d in zip(args.kwonlyargs, args.kw_defaults, strict=True)]
    if args.kwarg is not None:
        parts.append(one(args.kwarg, None, "**"))
    return f"run({', '.join(parts)})"
