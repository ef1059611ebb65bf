from inventory import Inventory

def test_add_and_count():
    inv = Inventory()
    inv.add("apple", 3, 0.5)
    inv.add("apple", 2, 0.5)
    assert inv.count("apple") == 5

def test_remove():
    inv = Inventory()
    inv.add("pear", 4, 1.0)
    inv.remove("pear", 1)
    assert inv.count("pear") == 3

def test_remove_too_many():
    inv = Inventory()
    inv.add("kiwi", 1, 2.0)
    try:
        inv.remove("kiwi", 5)
    except ValueError:
        return
    assert False, "expected ValueError"

def test_total_value():
    inv = Inventory()
    inv.add("apple", 10, 0.5)
    inv.add("melon", 2, 3.0)
    assert abs(inv.total_value() - 11.0) < 1e-9

def test_unknown_item_count_is_zero():
    assert Inventory().count("nothing") == 0
