"""`record` (agentfactory/records.py) gives the class `dataclass` gives: the same text, equality, hash,
frozen guards, fields and helpers, for every kind of field and for methods a class states itself."""

from __future__ import annotations

import copy
import dataclasses
import inspect
from dataclasses import dataclass, field
from typing import Any

import pytest

from agentfactory.records import record


def _pair(frozen: bool, body: dict[str, Any], annotations: dict[str, str]) -> tuple[type, type]:
    """The same class declared twice, with @dataclass and with @record."""
    made = []
    for decorate in (dataclass(frozen=frozen), record(frozen=frozen)):
        namespace = {"__annotations__": dict(annotations), "__module__": __name__, **copy.copy(body)}
        cls = type("Point", (), namespace)
        made.append(decorate(cls))
    return made[0], made[1]


FIELDS = {"x": "int", "y": "list", "z": "str", "w": "int", "v": "dict"}
BODY = {
    "z": "z",
    "w": field(default=0, repr=False),
    "v": field(default_factory=dict, compare=False),
}
HASHED = {**BODY, "w": field(default=0, hash=False), "v": field(default=1, compare=False, hash=True)}


def _outcome(call) -> tuple:
    try:
        return ("value", call())
    except Exception as exc:  # the same error type and words
        return ("error", type(exc).__name__, str(exc))


@pytest.mark.parametrize("frozen", [False, True])
@pytest.mark.parametrize("body", [BODY, HASHED], ids=["defaults", "hash-options"])
def test_a_record_is_the_dataclass_it_stands_for(frozen: bool, body: dict) -> None:
    theirs, ours = _pair(frozen, body, FIELDS)
    samples = [((1, (2,)), {}), ((1, (2,)), {"z": "q", "w": 5}), ((1, (2,)), {"v": {"k": 1}})]
    if not frozen:
        samples.append(((1, [2]), {}))
    made = {cls: [cls(*args, **kwargs) for args, kwargs in samples] for cls in (theirs, ours)}
    for a, b in zip(made[theirs], made[ours], strict=True):
        assert repr(a) == repr(b)
        assert _outcome(lambda a=a: hash(a)) == _outcome(lambda b=b: hash(b))
        assert _outcome(lambda a=a: setattr(a, "x", 9))[:2] == _outcome(lambda b=b: setattr(b, "x", 9))[:2]
        assert _outcome(lambda a=a: delattr(a, "z"))[:2] == _outcome(lambda b=b: delattr(b, "z"))[:2]
        assert (
            _outcome(lambda a=a: setattr(a, "new", 1))[:2] == _outcome(lambda b=b: setattr(b, "new", 1))[:2]
        )
        assert dataclasses.asdict(a) == dataclasses.asdict(b)
        assert repr(dataclasses.replace(a, x=3)) == repr(dataclasses.replace(b, x=3))
        assert copy.deepcopy(b) == b and repr(copy.deepcopy(b)) == repr(b)
    for i, a in enumerate(made[theirs]):  # equality across every pair, and with other types
        for j, c in enumerate(made[theirs]):
            assert (a == c) == (made[ours][i] == made[ours][j])
            assert (a != c) == (made[ours][i] != made[ours][j])
        assert (made[ours][i] == (1, (2,))) is False and made[ours][i].__eq__(object()) is NotImplemented
    assert [f.name for f in dataclasses.fields(theirs)] == [f.name for f in dataclasses.fields(ours)]
    assert theirs.__match_args__ == ours.__match_args__
    assert (theirs.__hash__ is None) == (ours.__hash__ is None)


def test_methods_a_class_states_itself_are_kept() -> None:
    body = {
        "__repr__": lambda self: "mine",
        "__eq__": lambda self, other: True,
        "__hash__": lambda self: 7,
    }
    theirs, ours = _pair(True, body, {"x": "int"})
    for cls in (theirs, ours):
        assert repr(cls(1)) == "mine" and cls(1) == cls(2) and hash(cls(1)) == 7
    # a class stating __eq__ alone: unhashable, as dataclass makes it
    theirs, ours = _pair(False, {"__eq__": lambda self, other: True}, {"x": "int"})
    assert theirs.__hash__ is None and ours.__hash__ is None


def test_equality_needs_the_same_class_and_a_recursive_record_shows_dots() -> None:
    @record
    class Node:
        value: int
        children: list = field(default_factory=list)

    @record
    class Other(Node):
        pass

    node = Node(1)
    node.children.append(node)
    assert repr(node).endswith("<locals>.Node(value=1, children=[...])")
    assert Node(1) != Other(1) and Other(2) == Other(2)
    assert repr(Other(2)).endswith("<locals>.Other(value=2, children=[])")


def test_a_subclass_that_is_a_dataclass_gets_dataclass_methods() -> None:
    @record(frozen=True)
    class Base:
        a: int

    @dataclass(frozen=True)
    class Child(Base):
        b: int = 0

    assert (
        repr(Child(1, 2))
        == "test_a_subclass_that_is_a_dataclass_gets_dataclass_methods.<locals>.Child(a=1, b=2)"
    )
    assert Child(1, 2) == Child(1, 2) and hash(Child(1, 2)) == hash((1, 2))
    with pytest.raises(dataclasses.FrozenInstanceError):
        Child(1).a = 2


@pytest.mark.parametrize("frozen", [False, True])
def test_init_takes_and_refuses_what_the_dataclass_s_takes_and_refuses(frozen: bool) -> None:
    theirs, ours = _pair(frozen, BODY, FIELDS)
    calls = [
        ((), {}),  # two missing
        ((1,), {}),  # one missing
        ((1, 2, "z", 3, {}, 9), {}),  # too many
        ((1, 2), {"x": 3}),  # twice
        ((1, 2), {"q": 3}),  # unknown
        ((), {"y": 2, "x": 1, "v": {"a": 1}}),
        ((1,), {"y": 2, "w": 4}),
    ]
    for args, kwargs in calls:
        theirs_out = _outcome(lambda args=args, kwargs=kwargs: repr(theirs(*args, **kwargs)))
        ours_out = _outcome(lambda args=args, kwargs=kwargs: repr(ours(*args, **kwargs)))
        assert theirs_out[:2] == ours_out[:2]
        if theirs_out[0] == "error":  # the same words, the class named by its own name
            assert theirs_out[2] == ours_out[2], (args, kwargs)
    assert str(inspect.signature(theirs)) == str(inspect.signature(ours))
    assert theirs.__doc__ == ours.__doc__ and theirs.__doc__.startswith(
        "Point(x: 'int', y: 'list', z: 'str' ="
    )
    assert ours(1, 2).v is not ours(1, 2).v  # a factory is called for each instance
    assert theirs.__dataclass_params__.__repr__() == ours.__dataclass_params__.__repr__()
    one = _pair(frozen, {}, {"x": "int"})
    assert _outcome(lambda: one[0](1, 2)) == _outcome(lambda: one[1](1, 2))


def test_post_init_runs_and_the_inheritance_rules_of_frozen_records_hold() -> None:
    @record(frozen=True)
    class Base:
        """A base."""

        a: int

        def __post_init__(self) -> None:
            object.__setattr__(self, "a", self.a * 2)

    @record(frozen=True)
    class Child(Base):
        b: int = 1

    child = Child(3)
    assert (child.a, child.b) == (6, 1) and Child.__doc__ == "Child(a: 'int', b: 'int' = 1)"
    assert Base.__dataclass_params__.frozen and Child.__dataclass_params__.frozen
    with pytest.raises(dataclasses.FrozenInstanceError, match="cannot assign to field 'b'"):
        child.b = 2
    with pytest.raises(dataclasses.FrozenInstanceError, match="cannot delete field 'a'"):
        del child.a
    with pytest.raises(TypeError, match="cannot inherit non-frozen dataclass from a frozen one"):

        @record
        class Thawed(Base):
            c: int = 0

    @record
    class Mutable:
        a: int

    with pytest.raises(TypeError, match="cannot inherit frozen dataclass from a non-frozen one"):

        @record(frozen=True)
        class Frozen(Mutable):
            pass

    with pytest.raises(TypeError, match="Cannot overwrite attribute __setattr__ in class Own"):

        @record(frozen=True)
        class Own:
            a: int

            def __setattr__(self, name: str, value: Any) -> None:
                pass

    with pytest.raises(TypeError, match="plain fields"):

        @record
        class Hidden:
            a: int
            b: int = field(default=0, init=False)

    with pytest.raises(ValueError, match="mutable default"):

        @record
        class Shared:
            a: list = []  # noqa: RUF012


def test_a_stated_init_is_kept_and_the_docstring_shows_its_signature() -> None:
    body = {"__init__": lambda self, q: object.__setattr__(self, "x", q)}
    theirs, ours = _pair(False, body, {"x": "int"})
    assert ours(q=4).x == 4 and theirs.__doc__ == ours.__doc__ == "Point(q)"
