import unittest
from algos import transpose, binary_search, is_balanced

class TestTranspose(unittest.TestCase):
    def test_square(self):
        self.assertEqual(transpose([[1, 2], [3, 4]]), [[1, 3], [2, 4]])
    def test_rect(self):
        self.assertEqual(transpose([[1, 2, 3]]), [[1], [2], [3]])
    def test_empty(self):
        self.assertEqual(transpose([]), [])

class TestSearch(unittest.TestCase):
    def test_found(self):
        self.assertEqual(binary_search([1, 3, 5, 7, 9], 7), 3)
    def test_missing(self):
        self.assertEqual(binary_search([1, 3, 5], 4), -1)

class TestBrackets(unittest.TestCase):
    def test_ok(self):
        self.assertTrue(is_balanced("([]{})"))
        self.assertTrue(is_balanced(""))
    def test_bad(self):
        self.assertFalse(is_balanced("(]"))
        self.assertFalse(is_balanced("(()"))
