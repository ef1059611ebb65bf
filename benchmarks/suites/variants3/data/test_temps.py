from temps import c_to_f, f_to_c, k_to_c

def test_c_to_f():
    assert c_to_f(0) == 32
    assert c_to_f(100) == 212
    assert abs(c_to_f(-40) - (-40)) < 1e-9

def test_f_to_c():
    assert abs(f_to_c(98.6) - 37.0) < 1e-9
    assert f_to_c(32) == 0

def test_k_to_c():
    assert abs(k_to_c(273.15)) < 1e-9

def test_below_absolute_zero():
    import pytest
    with pytest.raises(ValueError):
        k_to_c(-1)
