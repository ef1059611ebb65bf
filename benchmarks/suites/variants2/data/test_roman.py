import unittest
from roman import to_roman, from_roman

class TestRoman(unittest.TestCase):
    def test_basic(self):
        self.assertEqual(to_roman(1), "I")
        self.assertEqual(to_roman(4), "IV")
        self.assertEqual(to_roman(9), "IX")
        self.assertEqual(to_roman(1994), "MCMXCIV")
        self.assertEqual(to_roman(3999), "MMMCMXCIX")

    def test_parse(self):
        self.assertEqual(from_roman("XLII"), 42)
        self.assertEqual(from_roman("MMXXIV"), 2024)

    def test_round_trip(self):
        for n in range(1, 400):
            self.assertEqual(from_roman(to_roman(n)), n)

    def test_out_of_range(self):
        with self.assertRaises(ValueError):
            to_roman(0)
        with self.assertRaises(ValueError):
            to_roman(4000)

if __name__ == "__main__":
    unittest.main()
