from validators import is_valid_email, is_valid_isbn10

def test_email():
    assert is_valid_email("ann@example.com")
    assert not is_valid_email("ann@")
    assert not is_valid_email("no-at-sign.com")

def test_isbn10():
    assert is_valid_isbn10("0306406152")
    assert is_valid_isbn10("0-306-40615-2")
    assert not is_valid_isbn10("0306406153")
    assert is_valid_isbn10("080442957X")
