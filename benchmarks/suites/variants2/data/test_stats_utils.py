import unittest
from stats_utils import mean, median, mode, variance

class StatsTest(unittest.TestCase):
    def test_mean(self):
        self.assertAlmostEqual(mean([1, 2, 3, 4]), 2.5)
    def test_median(self):
        self.assertEqual(median([3, 1, 2]), 2)
        self.assertAlmostEqual(median([4, 1, 3, 2]), 2.5)
    def test_mode(self):
        self.assertEqual(mode([1, 2, 2, 3]), 2)
    def test_variance(self):
        self.assertAlmostEqual(variance([2, 4, 4, 4, 5, 5, 7, 9]), 4.571428571428571)
    def test_empty(self):
        with self.assertRaises(ValueError):
            mean([])
