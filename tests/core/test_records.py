"""`record` (agentfactory/records.py) gives the class `dataclass` gives: the same text, equality, hash,
frozen guards, fields and helpers, for every kind of field and for methods a class states itself."""

from __future__ import annotations

import copy
import dataclasses
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
