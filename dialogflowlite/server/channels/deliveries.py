"""Telling a platform's re-delivery of an event from a new one.

Messaging platforms deliver each event at least once: Facebook sends it again
when the webhook has not answered within 20 seconds (a slow custom action is
enough), Telegram when the answer is late or not a 2xx. Handled twice, the
user gets every reply twice and the conversation holds the message twice.
Each such event carries an id that stays the same across deliveries, so a
channel remembers the ids it took lately and skips one it has seen.

What is remembered is per server process: with ``--workers N`` a re-delivery
that reaches another worker is not recognised.
"""

from __future__ import annotations

from collections import OrderedDict

#: how many ids a channel remembers; re-deliveries come within minutes, and at a
#: hundred messages a second this still covers well over a minute
DEFAULT_MEMORY = 10_000


class RecentDeliveries:
    """The ids of the events a channel took lately, the oldest forgotten first."""

    def __init__(self, size: int = DEFAULT_MEMORY) -> None:
        self.size = size
        self._seen: OrderedDict[str, None] = OrderedDict()

    def first_time(self, delivery_id: str | None) -> bool:
        """Whether ``delivery_id`` is new (and remember it); an event without one is new."""
        if delivery_id is None:
            return True
        if delivery_id in self._seen:
            self._seen.move_to_end(delivery_id)
            return False
        self._seen[delivery_id] = None
        if len(self._seen) > self.size:
            self._seen.popitem(last=False)
        return True
