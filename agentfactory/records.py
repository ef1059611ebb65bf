"""`record`: a dataclass whose methods are shared functions, not code compiled for each class.

On Python 3.11 `@dataclass` compiles every method it generates as the class is created: about 0.4 ms
for a record's `__init__`, 0.3 ms more for a frozen one's guards, and a run defines about 80 records
before its first model call (40 ms of its start). `@record` and `@record(frozen=True)` give the class
`@dataclass` and `@dataclass(frozen=True)` give (the fields, `__match_args__`, `__dataclass_params__`,
the signature and docstring of `__init__`, the same errors for a bad call, the frozen guards and
their errors) with `__init__`, `__repr__`, `__eq__`, `__hash__` and the frozen guards made of shared
functions that read the class's fields: nothing is compiled, and a call costs a few microseconds more
(an `__init__` of ten fields: about 2 us instead of 1). A method the class defines itself is kept.
Fields are plain: `InitVar`, `KW_ONLY` and `init=False` are refused (use `@dataclass` for those).
tests/core/test_records.py compares each with dataclasses'.
"""

from __future__ import annotations

import dataclasses
import reprlib
import threading
from collections.abc import Callable
from typing import Any, TypeVar, dataclass_transform, overload

T = TypeVar("T", bound=type)

_COMPARED: dict[type, tuple[str, ...]] = {}
_HASHED: dict[type, tuple[str, ...]] = {}
_SHOWN: dict[type, tuple[str, ...]] = {}
_THAWING = threading.Lock()


@overload
def record(cls: T, /) -> T: ...
@overload
def record(*, frozen: bool = False) -> Callable[[T], T]: ...
@dataclass_transform(field_specifiers=(dataclasses.field, dataclasses.Field))
def record(cls: Any = None, /, *, frozen: bool = False) -> Any:
    """`@dataclass` (or `@dataclass(frozen=True)`) with shared methods, nothing compiled per class."""

    def wrap(cls: T) -> T:
        own = dict(cls.__dict__)
        done, fields = _fields_only(cls, frozen, documented=bool(own.get("__doc__")))
        if "__init__" not in own:
            done.__init__ = _init_for(done, fields, frozen)
        if frozen:
            _guard(done, own, frozenset(f.name for f in fields))
        params = done.__dataclass_params__  # type: ignore[attr-defined]
        params.init, params.repr, params.eq, params.frozen = True, True, True, frozen
        if not own.get("__doc__"):  # as dataclasses writes it, from the signature of __init__
            done.__doc__ = done.__name__ + _text_signature(done)
        if "__repr__" not in own:
            done.__repr__ = _repr
        if "__eq__" not in own:
            done.__eq__ = _eq
        # As dataclasses decides with eq=True: a hash the class states is kept; else a frozen record
        # is hashed by its fields and a mutable one is unhashable.
        explicit = own.get("__hash__", dataclasses.MISSING)
        if explicit is dataclasses.MISSING or (explicit is None and "__eq__" in own):
            done.__hash__ = _hash if frozen else None  # type: ignore[assignment]
        return done

    return wrap if cls is None else wrap(cls)


def _fields_only(cls: Any, frozen: bool, documented: bool) -> tuple[Any, tuple[dataclasses.Field, ...]]:
    """`cls` processed by dataclasses with nothing generated (its fields, `__match_args__`, the checks of
    defaults), and its fields; a frozen record's frozen bases are seen as not frozen meanwhile (nothing of dataclasses
    compares them then), and the inheritance rules of frozen classes are checked here instead."""
    bases = [b for b in cls.__mro__[1:] if hasattr(b, "__dataclass_params__")]
    if bases and frozen != any(b.__dataclass_params__.frozen for b in bases):
        raise TypeError(
            "cannot inherit frozen dataclass from a non-frozen one"
            if frozen
            else "cannot inherit non-frozen dataclass from a frozen one"
        )
    thawed = [b for b in bases if b.__dataclass_params__.frozen]
    if not documented:
        cls.__doc__ = "-"  # no docstring from dataclasses' inspect.signature; `record` writes it
    with _THAWING:  # two records of one frozen base made at once in two threads
        for base in thawed:
            base.__dataclass_params__.frozen = False
        try:
            done = dataclasses.dataclass(cls, init=False, repr=False, eq=False)
        finally:
            for base in thawed:
                base.__dataclass_params__.frozen = True
    fields = dataclasses.fields(done)
    if len(done.__dataclass_fields__) != len(fields) or any(f.kw_only or not f.init for f in fields):
        raise TypeError(f"{cls.__qualname__}: @record takes plain fields (no InitVar, KW_ONLY or init=False)")
    return done, fields


class _Factory:
    """What a field with a default_factory shows as its default in a signature, as in dataclasses'."""

    def __repr__(self) -> str:
        return "<factory>"


_FACTORY = _Factory()


def _signature(fields: tuple[dataclasses.Field, ...]) -> Any:
    """The signature of a record's `__init__`, as dataclasses' would have."""
    import inspect  # imported by dataclasses already

    keyword = inspect.Parameter.POSITIONAL_OR_KEYWORD
    params = [inspect.Parameter("self", keyword)]
    for f in fields:
        default = f.default if f.default_factory is dataclasses.MISSING else _FACTORY
        default = inspect.Parameter.empty if default is dataclasses.MISSING else default
        params.append(inspect.Parameter(f.name, keyword, default=default, annotation=f.type))
    return inspect.Signature(params, return_annotation=None)


def _text_signature(cls: Any) -> str:
    """`(x: int, y: str = 'a')`: the class's signature as dataclasses' docstring shows it (read from
    the signature a record's `__init__` carries, without `self`; a stated `__init__` through inspect)."""
    import inspect

    sig = getattr(cls.__dict__.get("__init__"), "__signature__", None)
    if sig is None:
        try:
            return str(inspect.signature(cls)).replace(" -> None", "")
        except (TypeError, ValueError):
            return ""
    return str(sig.replace(parameters=list(sig.parameters.values())[1:])).replace(" -> None", "")


def _init_for(cls: Any, fields: tuple[dataclasses.Field, ...], frozen: bool) -> Callable[..., None]:
    """The `__init__` of a record: dataclasses' parameters, defaults, factories (called per instance, in
    field order), `__post_init__` and errors for a bad call, read from the fields when called."""
    names = tuple(f.name for f in fields)
    count = len(names)
    defaults = {f.name: f.default for f in fields if f.default is not dataclasses.MISSING}
    factories = {f.name: f.default_factory for f in fields if f.default_factory is not dataclasses.MISSING}
    required = tuple(n for n in names if n not in defaults and n not in factories)
    assign = object.__setattr__ if frozen else setattr
    post_init = hasattr(cls, "__post_init__")
    qualname = f"{cls.__qualname__}.__init__"

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        if len(args) > count:
            raise TypeError(_too_many(qualname, len(required) + 1, count + 1, len(args) + 1))
        values = dict(zip(names, args, strict=False))  # fewer args than fields: the rest below
        for key, value in kwargs.items():
            if key not in names:
                raise TypeError(f"{qualname}() got an unexpected keyword argument '{key}'")
            if key in values:
                raise TypeError(f"{qualname}() got multiple values for argument '{key}'")
            values[key] = value
        if len(values) < count:
            missing = [name for name in required if name not in values]
            if missing:
                raise TypeError(_missing(qualname, missing))
            for name in names:
                if name not in values:
                    values[name] = factories[name]() if name in factories else defaults[name]
        for name in names:
            assign(self, name, values[name])
        if post_init:
            self.__post_init__()

    __init__.__qualname__ = qualname
    __init__.__signature__ = _signature(fields)  # type: ignore[attr-defined]
    return __init__


def _too_many(qualname: str, least: int, most: int, given: int) -> str:
    takes = f"from {least} to {most}" if least != most else str(most)
    plural = "s" if most != 1 or least != most else ""
    return f"{qualname}() takes {takes} positional argument{plural} but {given} were given"


def _missing(qualname: str, missing: list[str]) -> str:
    quoted = [f"'{name}'" for name in missing]
    if len(quoted) == 1:
        listed = quoted[0]
    elif len(quoted) == 2:
        listed = f"{quoted[0]} and {quoted[1]}"
    else:
        listed = ", ".join(quoted[:-1]) + f", and {quoted[-1]}"
    plural = "s" if len(missing) > 1 else ""
    return f"{qualname}() missing {len(missing)} required positional argument{plural}: {listed}"


def _guard(cls: Any, own: dict[str, Any], names: frozenset[str]) -> None:
    """A frozen record's `__setattr__` and `__delattr__`, as dataclasses makes them."""
    for method in ("__setattr__", "__delattr__"):
        if method in own:
            raise TypeError(f"Cannot overwrite attribute {method} in class {cls.__name__}")

    def __setattr__(self: Any, name: str, value: Any) -> None:
        if type(self) is cls or name in names:
            raise dataclasses.FrozenInstanceError(f"cannot assign to field {name!r}")
        super(cls, self).__setattr__(name, value)

    def __delattr__(self: Any, name: str) -> None:
        if type(self) is cls or name in names:
            raise dataclasses.FrozenInstanceError(f"cannot delete field {name!r}")
        super(cls, self).__delattr__(name)

    for method in (__setattr__, __delattr__):
        method.__qualname__ = f"{cls.__qualname__}.{method.__name__}"
        setattr(cls, method.__name__, method)


def _names(
    cache: dict[type, tuple[str, ...]], cls: type, keep: Callable[[dataclasses.Field], bool]
) -> tuple[str, ...]:
    names = cache.get(cls)
    if names is None:
        names = cache[cls] = tuple(f.name for f in dataclasses.fields(cls) if keep(f))
    return names


@reprlib.recursive_repr()
def _repr(self: Any) -> str:
    shown = _names(_SHOWN, type(self), lambda f: f.repr)
    return f"{type(self).__qualname__}({', '.join(f'{name}={getattr(self, name)!r}' for name in shown)})"


def _eq(self: Any, other: Any) -> Any:
    if other.__class__ is not self.__class__:
        return NotImplemented
    compared = _names(_COMPARED, type(self), lambda f: f.compare)
    return tuple(getattr(self, name) for name in compared) == tuple(getattr(other, name) for name in compared)


def _hash(self: Any) -> int:
    hashed = _names(_HASHED, type(self), lambda f: f.compare if f.hash is None else f.hash)
    return hash(tuple(getattr(self, name) for name in hashed))
