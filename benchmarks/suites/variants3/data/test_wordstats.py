from wordstats import word_count, top_words

def test_word_count():
    assert word_count("The cat sat on the mat") == 6
    assert word_count("") == 0

def test_top_words():
    assert top_words("a b a c b a", 2) == [("a", 3), ("b", 2)]

def test_case_and_punctuation():
    assert top_words("Hello, hello! World.", 1) == [("hello", 2)]
