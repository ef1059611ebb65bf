from rle import rle_decode, rle_encode


def test_encode():
    assert rle_encode("aaabccdddd") == "a3b1c2d4"


def test_round_trip():
    for s in ["", "x", "zzzzzz", "abcabc"]:
        assert rle_decode(rle_encode(s)) == s
