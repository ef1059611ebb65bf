"""Parameters of the command line converted without pydantic.

typer (>= 0.29) converts every parameter it parses through a pydantic TypeAdapter: pydantic is imported
(tens of milliseconds) before any command runs, and an adapter is built per parameter. The parameters
of this command line are plain (str, int, float, Path, a flag's bool, lists of them): `PlainValue`
converts those itself. What is not plainly one of them (a constraint such as min/max, another type,
text such as `1_000` or `1e3`, a wrong value) goes to typer's own conversion, built then: a value or an
error message is always the one typer gives (tests/cli/test_startup.py compares them).

This sits on typer's parameter internals (`type_descriptor`, `_runtime_param`); with a typer that has
none of them, nothing changes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


class PlainValue:
    """A parameter's value from its command-line text (or its default) for one plain type."""

    def __init__(self, leaf: type) -> None:
        self.leaf, self.typers = leaf, None

    def coerce(self, value: Any, param: Any, ctx: Any) -> Any:
        many = param.multiple or param.nargs == -1
        if value is None:
            return () if many else None
        if many and isinstance(value, list | tuple):
            plain = [self._plain(item, param, ctx) for item in value]
            if all(item is not _UNSURE for item in plain):
                return plain
        elif not many:
            plain = self._plain(value, param, ctx)
            if plain is not _UNSURE:
                return plain
        if self.typers is None:
            from typer._coercion import build_runtime_param

            self.typers = build_runtime_param(param.type_descriptor)
        return self.typers.coerce(value, param=param, ctx=ctx)

    def _plain(self, value: Any, param: Any, ctx: Any) -> Any:
        # A default comes as the Python value it is: kept as the type would keep it.
        if type(value) is self.leaf and self.leaf in (bool, int, float, str):
            return value
        if self.leaf is float and type(value) is int:
            return float(value)
        if self.leaf is Path and isinstance(value, str | Path):
            from typer._param_types import coerce_cli_path

            return coerce_cli_path(
                Path(value), param.type_descriptor.parameter_info, path_type=Path, param=param, ctx=ctx
            )
        if not isinstance(value, str) or self.leaf not in (int, float):
            return _UNSURE
        number = plain_number(value, self.leaf)
        return _UNSURE if number is None else number


def plain_number(text: str, kind: type) -> int | float | None:
    """TEXT as an int or a float where it is plainly one (ASCII digits, a sign, for a float one dot),
    as typer would read it; None for anything else (`1_000`, `1e3`, `inf`, ` 7 `...: typer's to read)."""
    digits = text[1:] if text.startswith("-") else text
    if kind is int:
        return int(text) if 0 < len(digits) <= 18 and digits.isascii() and digits.isdigit() else None
    parts = digits.split(".")
    if len(parts) <= 2 and 0 < len(digits) <= 30 and all(part.isascii() and part.isdigit() for part in parts):
        return float(text)
    return None


_UNSURE = object()
_CONSTRAINTS = ("parser", "min", "max", "clamp", "click_type", "path_type", "resolve_path", "allow_dash")


def plain_values(command: Any) -> None:
    """Give the plain parameters of `command` (and of its subcommands) the pydantic-free coercion, as
    the command parses its arguments (its help option, made then, included). Built on typer's
    parameter internals: with a typer that has none of them, nothing changes."""
    parameters = command.get_params

    def get_params(ctx: Any) -> list[Any]:
        found = parameters(ctx)
        for param in found:
            plain_param(param)
        return found

    command.get_params = get_params
    for sub in getattr(command, "commands", {}).values():
        plain_values(sub)


def plain_param(param: Any) -> None:
    descriptor = getattr(param, "type_descriptor", None)
    if descriptor is None or getattr(param, "_runtime_param", _UNSURE) is not None:
        return
    info, annotation = descriptor.parameter_info, descriptor.annotation
    if any(getattr(info, name, None) not in (None, False) for name in _CONSTRAINTS):
        return
    leaf = annotation.__args__[0] if getattr(annotation, "__origin__", None) is list else annotation
    if leaf in (str, int, float, Path, bool) and (leaf is annotation or param.multiple or param.nargs == -1):
        param._runtime_param = PlainValue(leaf)
