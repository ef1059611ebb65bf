"""Read an entry module's docstring, `run` signature and JSON schemas with `ast`, never by importing it.

Subagent code is untrusted: the host parses it as text. Schemas are derived from annotations, literal
defaults and the docstring's Inputs / Outputs sections when the author gave none.
"""

from __future__ import annotations

import ast
import contextlib
import re
from dataclasses import dataclass, field
from typing import Any

from agentfactory.errors import ValidationError

_SECTION_RE = re.compile(
    r"^\s*(purpose|inputs?|outputs?|returns?|limitations?|known limitations)\s*:?\s*$", re.I
)
_ITEM_RE = re.compile(r"^\s*[-*]?\s*`?([A-Za-z_][A-Za-z0-9_]*)`?\s*(?:\(([^)]*)\))?\s*[:\u2014-]\s*(.*)$")
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


@dataclass
class ModuleInfo:
    docstring: str
    signature: str  # e.g. "run(path: str, window: int = 30)"
    params: list[str]
    inputs_schema: dict[str, Any]
    outputs_schema: dict[str, Any]
    sections: dict[str, str] = field(default_factory=dict)


def inspect_module(source: str, filename: str) -> ModuleInfo:
    try:
        tree = ast.parse(source, filename=filename)
    except SyntaxError as exc:
        raise ValidationError(
            f"{filename} has a syntax error at line {exc.lineno}: {exc.msg}; fix the code."
        ) from None
    except ValueError as exc:  # e.g. NUL bytes in the source
        raise ValidationError(f"{filename} cannot be parsed: {exc}.") from None
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
    """Split a docstring into purpose / inputs / outputs / limitations; text before any heading is purpose."""
    sections: dict[str, list[str]] = {}
    current = "purpose"
    for line in docstring.splitlines():
        match = _SECTION_RE.match(line)
        if match:
            word = match.group(1).lower()
            current = (
                "inputs"
                if word.startswith("input")
                else "outputs"
                if word.startswith(("output", "return"))
                else "limitations"
                if "limitation" in word
                else "purpose"
            )
            continue
        sections.setdefault(current, []).append(line)
    return {k: "\n".join(v).strip() for k, v in sections.items() if "\n".join(v).strip()}


def _items(text: str) -> dict[str, tuple[str | None, str]]:
    """`- name (type): description` lines of a section -> {name: (type, description)}."""
    out: dict[str, tuple[str | None, str]] = {}
    for line in text.splitlines():
        match = _ITEM_RE.match(line)
        if match:
            out[match.group(1)] = (match.group(2), match.group(3).strip())
    return out


def _annotation_schema(node: ast.expr | None) -> dict[str, Any]:
    if node is None:
        return {}
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        try:
            node = ast.parse(node.value, mode="eval").body
        except SyntaxError:
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


def _doc_type(text: str | None) -> dict[str, Any]:
    if not text:
        return {}
    try:
        return _annotation_schema(ast.parse(text.strip(), mode="eval").body)
    except SyntaxError:
        return {}


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
            with contextlib.suppress(ValueError, SyntaxError, TypeError):
                prop["default"] = ast.literal_eval(default)
        props[arg.arg] = prop
    schema: dict[str, Any] = {"type": "object", "properties": props}
    if required:
        schema["required"] = required
    schema["additionalProperties"] = args.kwarg is not None
    return [a.arg for a, _ in pairs], schema


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
