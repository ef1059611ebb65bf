import unittest
import textkit

class TextKitTests(unittest.TestCase):
    def test_word_frequency(self):
        self.assertEqual(textkit.word_frequency("the cat and the hat"), {"the": 2, "cat": 1, "and": 1, "hat": 1})
        self.assertEqual(textkit.word_frequency("Hello, hello!"), {"hello": 2})

    def test_is_palindrome(self):
        self.assertTrue(textkit.is_palindrome("A man, a plan, a canal: Panama"))
        self.assertFalse(textkit.is_palindrome("hello"))

    def test_celsius(self):
        self.assertAlmostEqual(textkit.celsius_to_fahrenheit(100), 212.0)
        self.assertAlmostEqual(textkit.celsius_to_fahrenheit(-40), -40.0)
        self.assertAlmostEqual(textkit.fahrenheit_to_celsius(32), 0.0)
