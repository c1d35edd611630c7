"""Telling a platform's re-delivery of an event from a new one.

Messaging platforms deliver each event at least once: Facebook sends it again
when the webhook has not answered within 20 seconds (a slow custom action is
enough), Telegram, Rocket.Chat's webhooks and Bot Framework when the answer
is late or not a 2xx. Handled twice, the user gets every reply twice and the
conversation holds the message twice. Each such event carries an id that
stays the same across deliveries (Telegram's ``update_id``, Facebook's
``mid``, Rocket.Chat's message id, Bot Framework's activity ``id``, Slack's
``event_id``, Twilio's ``MessageSid``, Webex's message id, Mattermost's
``post_id``, Google Chat's message name), so a channel remembers the ids it
took lately and skips one it has seen (Twilio Voice cannot skip a retried
call request: :mod:`.twilio_voice` says why).

The memory is the lock store's (:meth:`LockStore.first_delivery
<dialogflowlite.stores.base.LockStore.first_delivery>`) where it keeps one:
the SQLite and Redis lock stores share it between the ``--workers``
processes (and hosts), so a re-delivery that reaches another worker is
recognised too. Each process also remembers the ids it took itself, which is
all there is with the in-memory lock store (or a plugin's that keeps no such
memory), and what still works while the lock store cannot be reached: such a
failure is logged and the event handled, rather than a user's message lost.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from typing import Any

logger = logging.getLogger(__name__)

#: how many ids a channel remembers in its process; re-deliveries come within
#: minutes, and at a hundred messages a second this still covers well over a minute
DEFAULT_MEMORY = 10_000

#: how long (seconds) the lock store remembers a delivery: platforms re-deliver
#: within minutes, so an hour is ample and keeps the store small
DEFAULT_TTL_SECONDS = 3600.0


def lock_store_of(request: Any) -> Any:
    """The lock store of the agent serving ``request``; None before a model is loaded."""
    agent = getattr(request.app.ctx, "agent", None)
    return getattr(agent, "lock_store", None)


class RecentDeliveries:
    """The ids of the events a channel took lately.

    ``channel`` (the channel's name) keeps apart the ids of different channels in
    the lock store; ``size`` is how many ids this process keeps, the oldest
    forgotten first; ``ttl_seconds`` how long the lock store keeps one.
    """

    def __init__(self, channel: str = "", size: int = DEFAULT_MEMORY,
                 ttl_seconds: float = DEFAULT_TTL_SECONDS) -> None:
        self.channel = channel
        self.size = size
        self.ttl_seconds = ttl_seconds
        self._seen: OrderedDict[str, None] = OrderedDict()
        #: whether the last question to the lock store failed (logged once per outage)
        self._store_failing = False

    def first_time(self, delivery_id: str | None) -> bool:
        """Whether ``delivery_id`` is new to this process (and remember it); an event
        without one is new."""
        if delivery_id is None:
            return True
        if delivery_id in self._seen:
            self._seen.move_to_end(delivery_id)
            return False
        self._seen[delivery_id] = None
        if len(self._seen) > self.size:
            self._seen.popitem(last=False)
        return True

    async def is_new_for(self, request: Any, delivery_id: Any) -> bool:
        """Whether ``delivery_id`` is new to the server answering ``request``, and
        remember it: :meth:`is_new` with the lock store of the agent that serves the
        request (see :func:`lock_store_of`)."""
        return await self.is_new(delivery_id, lock_store_of(request))

    async def is_new(self, delivery_id: Any, lock_store: Any = None) -> bool:
        """Whether ``delivery_id`` is new to every process sharing ``lock_store``, and
        remember it; an event without an id is new.

        Without ``lock_store``, or with one that keeps no memory of deliveries, only
        this process's memory answers; so it does, after a warning, when the lock
        store fails.
        """
        if delivery_id is None:
            return True
        delivery_id = str(delivery_id)
        if not self.first_time(delivery_id):
            return False
        remember = getattr(lock_store, "first_delivery", None)
        if remember is None:
            return True
        try:
            shared = await remember(f"{self.channel}:{delivery_id}", self.ttl_seconds)
        except Exception as e:
            if not self._store_failing:
                logger.warning("%s: the lock store could not say whether delivery %s is new "
                               "(%s); it is handled, and until the store answers again only "
                               "this process recognises re-deliveries", self.channel or
                               "a channel", delivery_id, e)
            self._store_failing = True
            return True
        if self._store_failing:
            logger.info("%s: the lock store remembers deliveries again", self.channel or
                        "a channel")
            self._store_failing = False
        return shared is not False
