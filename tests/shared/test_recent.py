from dialogflowlite.shared.recent import RecentItems


def test_the_least_recently_used_entry_goes_first() -> None:
    recent: RecentItems[str, int] = RecentItems(2)
    recent.put("a", 1)
    recent.put("b", 2)
    assert recent.get("a") == 1  # "a" is now the newest
    recent.put("c", 3)
    assert "b" not in recent and recent.get("a") == 1 and recent.get("c") == 3
    assert recent.get("b", 0) == 0 and len(recent) == 2
    assert recent.pop("a") == 1 and recent.pop("a") is None and len(recent) == 1
    recent.clear()
    assert len(recent) == 0


def test_a_capacity_of_zero_keeps_nothing() -> None:
    recent: RecentItems[str, int] = RecentItems(0)
    recent.put("a", 1)
    assert recent.get("a") is None and len(recent) == 0


def test_weights_add_up_to_at_most_the_budget_oldest_out_first() -> None:
    recent: RecentItems[str, list[int]] = RecentItems(10, max_weight=5, weigh=len)
    recent.put("a", [1, 2])
    recent.put("b", [1, 2])
    assert recent.weight == 4 and len(recent) == 2
    recent.put("c", [1, 2])  # 6 > 5: the oldest goes
    assert "a" not in recent and recent.weight == 4
    recent.put("b", [1])  # replacing an entry replaces its weight
    assert recent.weight == 3 and recent.get("b") == [1]
    recent.put("d", [1, 2, 3, 4, 5, 6])  # heavier than the whole budget: not kept
    assert "d" not in recent and recent.weight == 3 and len(recent) == 2
    assert recent.pop("c") == [1, 2] and recent.pop("b") == [1] and recent.weight == 0


def test_a_budget_needs_a_weight() -> None:
    import pytest

    with pytest.raises(ValueError, match="go together"):
        RecentItems(3, max_weight=5)
