"""`record`: a dataclass whose `__repr__`, `__eq__` and `__hash__` are shared functions, not code generated
for each class.

On Python 3.11 `@dataclass` compiles every method it generates as the class is created: about 0.6 ms
for a record of six fields, 1.0 ms for a frozen one, and a run defines about 80 records before its
first model call. `@record` and `@record(frozen=True)` give the same class as `@dataclass` and
`@dataclass(frozen=True)` (fields, `__init__`, `__match_args__`, the frozen guards: dataclasses' own),
except that `__repr__`, `__eq__` and a frozen record's `__hash__` read the class's fields when they
are called: half the cost at import, a microsecond more per call of those methods. They behave as the
generated ones: the same text, equality only between instances of the same class over the fields that
compare, a frozen record hashed by its fields, a mutable one unhashable; a method the class defines
itself is kept (tests/core/test_records.py compares each with dataclasses').
"""

from __future__ import annotations

import dataclasses
import reprlib
from collections.abc import Callable
from typing import Any, TypeVar, dataclass_transform, overload

T = TypeVar("T", bound=type)

_COMPARED: dict[type, tuple[str, ...]] = {}
_HASHED: dict[type, tuple[str, ...]] = {}
_SHOWN: dict[type, tuple[str, ...]] = {}


@overload
def record(cls: T, /) -> T: ...
@overload
def record(*, frozen: bool = False) -> Callable[[T], T]: ...
@dataclass_transform(field_specifiers=(dataclasses.field, dataclasses.Field))
def record(cls: Any = None, /, *, frozen: bool = False) -> Any:
    """`@dataclass` (or `@dataclass(frozen=True)`) with shared `__repr__`, `__eq__` and `__hash__`."""

    def wrap(cls: T) -> T:
        own = dict(cls.__dict__)
        done = dataclasses.dataclass(cls, repr=False, eq=False, frozen=frozen)
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
