"""Tests for slugify.py: plain asserts, runnable without pytest."""
from slugify import slugify


def test_basic():
    assert slugify("Hello World") == "hello-world"


def test_punctuation_and_spaces():
    assert slugify("  Hello,   World!  ") == "hello-world"


def test_accents():
    assert slugify("Crème Brûlée à la carte") == "creme-brulee-a-la-carte"


def test_custom_separator():
    assert slugify("Data Science 101", sep="_") == "data_science_101"


def test_empty():
    assert slugify("!!!") == ""
