"""A bounded map that forgets the entries used least recently."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

Key = TypeVar("Key", bound=Hashable)
Value = TypeVar("Value")


class RecentItems(Generic[Key, Value]):
    """Keeps at most ``capacity`` entries; reading or writing one makes it the newest,
    and adding beyond the capacity drops the oldest. A capacity of 0 keeps nothing.

    With ``max_weight`` and ``weigh``, the entries' weights (``weigh(value)``, for
    instance a conversation's number of events) also add up to at most
    ``max_weight``: entries differ in size, and a bound on their number alone
    does not bound the memory they hold. An entry heavier than the whole
    budget is not kept.
    """

    def __init__(self, capacity: int, *, max_weight: int | None = None,
                 weigh: Callable[[Value], int] | None = None) -> None:
        if (max_weight is None) != (weigh is None):
            raise ValueError("max_weight and weigh go together")
        self.capacity = capacity
        self.max_weight = max_weight
        self._weigh = weigh
        self._items: OrderedDict[Key, Value] = OrderedDict()
        self._weights: dict[Key, int] = {}
        self.weight = 0

    def get(self, key: Key, default: Value | None = None) -> Value | None:
        """The entry for ``key`` (now the newest), or ``default``."""
        if key not in self._items:
            return default
        self._items.move_to_end(key)
        return self._items[key]

    def put(self, key: Key, value: Value) -> None:
        """Store ``value`` as the newest entry, forgetting the oldest beyond the bounds."""
        self.pop(key)
        weight = self._weigh(value) if self._weigh is not None else 0
        if self.capacity <= 0 or (self.max_weight is not None and weight > self.max_weight):
            return  # the others stay: dropping them would not make room for it
        self._items[key] = value
        if self._weigh is not None:
            self._weights[key] = weight
            self.weight += weight
        while self._items and (len(self._items) > self.capacity or self._over_weight()):
            self.pop(next(iter(self._items)))

    def pop(self, key: Key, default: Value | None = None) -> Value | None:
        """Remove the entry for ``key`` and return it (``default`` when there is none)."""
        self.weight -= self._weights.pop(key, 0)
        return self._items.pop(key, default)

    def clear(self) -> None:
        self._items.clear()
        self._weights.clear()
        self.weight = 0

    def _over_weight(self) -> bool:
        return self.max_weight is not None and self.weight > self.max_weight

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, key: object) -> bool:
        return key in self._items
