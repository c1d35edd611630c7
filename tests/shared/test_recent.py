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
