from cipher import caesar_decrypt, caesar_encrypt


def test_encrypt():
    assert caesar_encrypt("Hello, World!", 3) == "Khoor, Zruog!"


def test_round_trip():
    assert caesar_decrypt(caesar_encrypt("attack at dawn", 13), 13) == "attack at dawn"
