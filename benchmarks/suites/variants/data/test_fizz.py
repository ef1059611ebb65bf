import pytest

from fizz import fizzbuzz


def test_first_fifteen():
    assert fizzbuzz(15)[-1] == "FizzBuzz"
    assert fizzbuzz(5) == ["1", "2", "Fizz", "4", "Buzz"]


def test_bad_argument():
    with pytest.raises(TypeError):
        fizzbuzz("3")
