"""Tests for roman.py: plain asserts, runnable without pytest."""
from roman import from_roman, to_roman


def test_small():
    assert to_roman(1) == "I"
    assert to_roman(4) == "IV"
    assert to_roman(9) == "IX"


def test_large():
    assert to_roman(1994) == "MCMXCIV"
    assert to_roman(3999) == "MMMCMXCIX"


def test_round_trip():
    for n in range(1, 400):
        assert from_roman(to_roman(n)) == n


def test_invalid():
    try:
        to_roman(0)
    except ValueError:
        return
    raise AssertionError("to_roman(0) must raise ValueError")
