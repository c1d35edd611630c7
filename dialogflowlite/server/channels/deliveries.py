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

A turn that fails before it stored anything, for a reason that may pass (the
tracker or lock store cannot be reached, no model is loaded yet: see
:func:`redelivery_may_succeed`), would lose the user's message if the
platform were told all went well. A channel whose platform delivers again
after an error status (Telegram, Facebook, Slack, Bot Framework, Rocket.Chat,
Twilio with retries configured) then forgets the delivery
(:meth:`RecentDeliveries.after_failed_turn`) and answers 503, so that the
re-delivery is handled rather than skipped as taken: by any worker where the
lock store can forget it (Redis), else by this process (see
:meth:`RecentDeliveries.forget`). Rasa answers these
platforms 200 whatever happened, and the message is lost. A turn that
failed for good (a bug, a refused message) is not sent again and again: it
is logged at error level with its conversation id, as is any failed turn on
a platform that does not deliver again.

The channels decide this in the work that outlives a cancelled request
(:meth:`RecentDeliveries.settled` inside
:func:`~dialogflowlite.server.channels.base.handle_and_send`): a platform
that hung up on a slow turn delivers the message again, and if that turn
then fails, its delivery must be forgotten all the same, or the re-delivery
is skipped as taken and the message lost.

A re-delivery may also come while the turn of the first delivery still runs
(the platform hung up on a slow turn). Acknowledged as taken at once, it
would leave nothing to deliver the message again should that turn fail
(the first request's 503 goes to a platform that no longer listens). So a
channel takes each delivery through :meth:`RecentDeliveries.handle_once`: a
re-delivery of a turn that runs in this process waits for it, up to
:attr:`RecentDeliveries.redelivery_wait` (:data:`REDELIVERY_WAIT`, below the
webhook timeouts of these platforms); it is acknowledged as taken when that
turn was stored, and handles the message itself when that turn failed and
gave its delivery back, so that the message is handled once. Still running
after the wait, it is answered 503, and the platform's next delivery finds
the turn over (on Telegram that 503 holds back the bot's later updates
until then, as the first delivery's timeout already did). Slack waits less
(its webhook timeout is 3 s), and acknowledges its last retry rather than
answer it 503, as no delivery follows it (:mod:`.slack`).

What a process cannot know is a turn that runs in another worker: the lock
store remembers that a delivery was taken, not whether its turn still runs.
Such a re-delivery is acknowledged as taken; should that turn then fail, the
worker running it forgets the delivery (where the lock store can forget) and
answers 503, which helps only while the platform still waits for that
answer. Otherwise the message is lost, logged at error level by that worker.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from dialogflowlite.errors import ApiError, DialogflowLiteError, TrackerStoreError

logger = logging.getLogger(__name__)

#: how many ids a channel remembers in its process; re-deliveries come within
#: minutes, and at a hundred messages a second this still covers well over a minute
DEFAULT_MEMORY = 10_000

#: how long (seconds) the lock store remembers a delivery: platforms re-deliver
#: within minutes, so an hour is ample and keeps the store small
DEFAULT_TTL_SECONDS = 3600.0

#: how long (seconds) a re-delivery waits for the turn of its event that still runs in
#: this process (see :meth:`RecentDeliveries.handle_once`): below the time the platforms
#: wait for a webhook's answer (Bot Framework's and Twilio's 15 s, Facebook's 20 s)
REDELIVERY_WAIT = 10.0


def lock_store_of(request: Any) -> Any:
    """The lock store of the agent serving ``request``; None before a model is loaded."""
    agent = getattr(request.app.ctx, "agent", None)
    return getattr(agent, "lock_store", None)


#: statuses of the server's own errors that a later delivery may not meet: 409, no model
#: is loaded yet; 503, the server cannot serve now
PASSING_STATUSES = frozenset({409, 503})


def redelivery_may_succeed(error: BaseException) -> bool:
    """Whether a turn that failed with ``error`` (raised by the channel's ``on_message``)
    stored nothing and may succeed when the platform delivers the message again.

    A turn stores its events as its last step (a lock given back late is logged,
    not raised), so a turn that raised stored nothing. Worth a re-delivery are
    failures that pass: a store that cannot be reached (a :class:`TrackerStoreError`
    the store did not mark with :func:`~dialogflowlite.stores.base.lasting`, or a
    connection error of a plugin's store), no model loaded yet, a server that
    cannot serve now. Any other failure would only come back with each
    re-delivery, and a platform answered errors for long disables the webhook.
    """
    if isinstance(error, TrackerStoreError):
        # a conversation too large for its store, events that are not JSON: every
        # re-delivery would fail the same way (see dialogflowlite.stores.base.lasting)
        return not getattr(error, "lasting", False)
    if isinstance(error, ApiError):
        return error.status in PASSING_STATUSES
    return isinstance(error, (ConnectionError, TimeoutError))


class DeliverAgain(ApiError):
    """The answer that asks a platform to deliver a message again; the failure that
    made it was logged where it was made (:meth:`RecentDeliveries.after_failed_turn`)."""

    #: read by the server's handler, which does not log such an answer a second time
    #: when the request it was for had gone already
    logged = True
    #: read by the server's error handler: the reason was logged where it was made, so
    #: the answer itself is logged at debug level only
    log_level = logging.DEBUG


@dataclass(frozen=True)
class Delivered:
    """How a delivery went (see :meth:`RecentDeliveries.handle_once`).

    ``taken``: the event was taken by an earlier delivery, and nothing was handled;
    the channel acknowledges it as it does a handled one. ``answer``: the error to
    raise (a 503 asking the platform to deliver again), or None to answer as usual.
    ``still_running``: the turn of an earlier delivery still ran after the wait, so
    how it goes is not known (a ``taken`` delivery then loses the message should
    that turn fail).
    """

    taken: bool = False
    answer: ApiError | None = None
    still_running: bool = False


class RecentDeliveries:
    """The ids of the events a channel took lately.

    ``channel`` (the channel's name) keeps apart the ids of different channels in
    the lock store; ``size`` is how many ids this process keeps, the oldest
    forgotten first; ``ttl_seconds`` how long the lock store keeps one;
    ``redelivery_wait`` how long a re-delivery waits for a turn of its event that
    runs in this process (see :meth:`handle_once`).
    """

    def __init__(self, channel: str = "", size: int = DEFAULT_MEMORY,
                 ttl_seconds: float = DEFAULT_TTL_SECONDS,
                 redelivery_wait: float = REDELIVERY_WAIT) -> None:
        self.channel = channel
        self.size = size
        self.ttl_seconds = ttl_seconds
        self.redelivery_wait = redelivery_wait
        self._seen: OrderedDict[str, None] = OrderedDict()
        #: ids this process forgot while the lock store could not forget them (see
        #: :meth:`forget`): the store's "seen already" does not count for these
        self._forgotten: OrderedDict[str, None] = OrderedDict()
        #: whether the last question to the lock store failed (logged once per outage)
        self._store_failing = False
        #: the deliveries whose turns run in this process now (see :meth:`settled`),
        #: each with a future done when its turn is over
        self._running: dict[str, asyncio.Future[None]] = {}
        #: ids this process gave back after their turns failed (see :meth:`given_back`)
        self._given_back: OrderedDict[str, None] = OrderedDict()

    def first_time(self, delivery_id: str | None) -> bool:
        """Whether ``delivery_id`` is new to this process (and remember it); an event
        without one is new."""
        if delivery_id is None:
            return True
        if delivery_id in self._seen:
            self._seen.move_to_end(delivery_id)
            return False
        self._seen[delivery_id] = None
        self._given_back.pop(delivery_id, None)
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
        if shared is False and delivery_id in self._forgotten:
            # taken by this process, whose turn failed: the store could not forget it
            del self._forgotten[delivery_id]
            return True
        return shared is not False

    async def forget(self, delivery_id: Any, lock_store: Any = None) -> None:
        """Forget ``delivery_id``, so that its next delivery is handled.

        This process forgets it, and so does ``lock_store`` where it can
        (``forget_delivery(key)``, as the Redis lock store's). Where it cannot
        (a plugin's lock store without it, a Redis that is down), its memory
        still says "taken" for every worker; this process then handles the
        re-delivery all the same when it reaches it, while another worker skips it.
        """
        if delivery_id is None:
            return
        delivery_id = str(delivery_id)
        self._seen.pop(delivery_id, None)
        remembers = getattr(lock_store, "first_delivery", None) is not None
        forget = getattr(lock_store, "forget_delivery", None)
        if forget is not None:
            try:
                await forget(f"{self.channel}:{delivery_id}")
                return
            except Exception as e:
                logger.warning("%s: the lock store could not forget delivery %s (%s); "
                               "another worker may skip its re-delivery as taken",
                               self.channel or "a channel", delivery_id, e)
        if remembers:
            self._forgotten[delivery_id] = None
            if len(self._forgotten) > self.size:
                self._forgotten.popitem(last=False)

    async def settled(self, request: Any, delivery_id: Any, sender_id: Any,
                      work: Awaitable[Any], *, redelivered: bool = True,
                      unless: str = "") -> ApiError | None:
        """Await ``work`` (a channel's "handle, then send" of delivery ``delivery_id``,
        the conversation ``sender_id``'s), then settle a failed turn: the 503 to answer,
        or None when there is nothing to raise.

        ``work`` fails by raising or by returning its turn's error; either goes to
        :meth:`after_failed_turn` (with ``redelivered`` and ``unless``), here rather
        than in the request's handler, so that a turn that fails after the platform
        hung up (its request cancelled, this running on in
        :func:`~dialogflowlite.server.channels.base.handle_and_send`) still has its
        delivery forgotten, and the platform's re-delivery is handled. While it
        runs, :meth:`running` answers for ``delivery_id``.
        """
        done = self._mark_running(delivery_id)
        try:
            return await self._settle(request, delivery_id, sender_id, work,
                                      redelivered=redelivered, unless=unless)
        finally:
            self._mark_over(delivery_id, done)

    async def handle_once(self, request: Any, delivery_id: Any, sender_id: Any,
                          work: Callable[[], Awaitable[Any]], *, redelivered: bool = True,
                          unless: str = "", only_if_given_back: bool = False) -> Delivered:
        """Handle delivery ``delivery_id`` (of the conversation ``sender_id``) unless an
        earlier delivery of its event took it: :meth:`is_new_for`, then
        :meth:`settled` of ``work()`` (``work`` makes the channel's "handle, then
        send"; it is not called for a delivery that is skipped).

        A re-delivery that comes while the turn of an earlier one runs in this
        process waits for that turn, up to :attr:`redelivery_wait` seconds, and
        then asks again: a turn that was stored leaves the delivery taken, one
        that failed and gave it back (:meth:`after_failed_turn`) leaves this
        delivery to handle the message. When the turn still runs after the wait,
        the answer is a 503 (where the platform delivers again after one,
        ``redelivered``; else the delivery counts as taken), logged at info level.

        ``only_if_given_back``: the platform says this is a re-delivery not to be
        handled again (Slack's ``errors_ignore_retry``): once no earlier turn runs, it
        counts as taken unless this process gave its event back (:meth:`given_back`).

        Channels call it inside :func:`~dialogflowlite.server.channels.base.handle_and_send`,
        so that a waiting re-delivery whose request the platform gave up still
        handles the message should the earlier turn fail.
        """
        key = None if delivery_id is None else str(delivery_id)
        if key is not None and not await self._wait_for_earlier_turn(key):
            return self._still_running(key, redelivered, unless)
        if only_if_given_back and not self.given_back(key):
            return Delivered(taken=True)
        # no await between the wait and this: a second re-delivery waiting for the same
        # turn finds this one's mark, and waits for its turn in turn
        done = self._mark_running(key)
        try:
            if not await self.is_new_for(request, key):
                return Delivered(taken=True)
            return Delivered(answer=await self._settle(
                request, key, sender_id, work(), redelivered=redelivered, unless=unless))
        finally:
            self._mark_over(key, done)

    async def _wait_for_earlier_turn(self, key: str) -> bool:
        """Wait, up to :attr:`redelivery_wait` seconds in all, until no turn of ``key``
        runs in this process; whether none does now."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.redelivery_wait
        while (running := self._running.get(key)) is not None:
            left = deadline - loop.time()
            if left <= 0:
                return False
            await asyncio.wait({running}, timeout=left)
        return True

    def _still_running(self, key: str, redelivered: bool, unless: str) -> Delivered:
        """The answer to a re-delivery of ``key`` whose earlier turn outlasted the wait."""
        channel = self.channel or "a channel"
        if not redelivered:
            return Delivered(taken=True, still_running=True)
        logger.info("%s: delivery %s came again while the turn of its earlier delivery was "
                    "still running after %g s; answered 503, so that %s, and the turn is "
                    "over by then", channel, key, self.redelivery_wait,
                    f"it is delivered again if {unless}" if unless
                    else "the platform delivers it again")
        return Delivered(answer=DeliverAgain(
            503, "ServiceUnavailable",
            "an earlier delivery of this message is still being handled; deliver it again "
            "later"), still_running=True)

    def _mark_running(self, delivery_id: Any) -> asyncio.Future[None]:
        """Note that a turn of ``delivery_id`` runs in this process (see :meth:`running`);
        the future that :meth:`_mark_over` completes."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if delivery_id is not None:
            self._running[str(delivery_id)] = done
        return done

    def _mark_over(self, delivery_id: Any, done: asyncio.Future[None]) -> None:
        if delivery_id is not None and self._running.get(str(delivery_id)) is done:
            del self._running[str(delivery_id)]
        done.set_result(None)

    async def _settle(self, request: Any, delivery_id: Any, sender_id: Any,
                      work: Awaitable[Any], *, redelivered: bool,
                      unless: str) -> ApiError | None:
        """Await ``work``; the answer of :meth:`after_failed_turn` when it failed."""
        try:
            result = await work
        except Exception as e:
            result = e
        if not isinstance(result, Exception):
            return None
        return await self.after_failed_turn(request, delivery_id, sender_id, result,
                                            redelivered=redelivered, unless=unless)

    def given_back(self, delivery_id: Any) -> bool:
        """Whether this process took ``delivery_id`` and gave it back, its turn having
        failed before storing anything (see :meth:`after_failed_turn`), and has not
        taken it again since."""
        return delivery_id is not None and str(delivery_id) in self._given_back

    def running(self, delivery_id: Any) -> asyncio.Future[None] | None:
        """A future done when the turn of ``delivery_id`` that runs in this process now
        (see :meth:`settled`) is over; None when none runs."""
        if delivery_id is None:
            return None
        return self._running.get(str(delivery_id))

    async def after_failed_turn(self, request: Any, delivery_id: Any, sender_id: Any,
                                error: BaseException, *, redelivered: bool = True,
                                unless: str = "") -> ApiError | None:
        """What to answer for delivery ``delivery_id`` whose turn (the conversation
        ``sender_id``'s) failed with ``error``.

        When the platform delivers again after an error status (``redelivered``) and
        the failure left nothing stored and may pass (:func:`redelivery_may_succeed`),
        the delivery is forgotten and the 503 to answer returned. Otherwise the
        user's message is lost: that is logged, and None returned, for the channel to
        answer as usual (so that the platform does not resend a message that would
        only fail again).

        ``unless`` names, for a platform that delivers again only when told to, what
        tells it: the log then says the message is lost unless that was done.
        """
        channel = self.channel or "a channel"
        if redelivered and redelivery_may_succeed(error):
            await self.forget(delivery_id, lock_store_of(request))
            if delivery_id is not None:
                self._given_back[str(delivery_id)] = None
                if len(self._given_back) > self.size:
                    self._given_back.popitem(last=False)
            if unless:
                asked = f"it is lost unless {unless}: the answer asks for it again"
            else:
                asked = "the platform is asked to deliver it again"
            logger.error("%s: the message of conversation %r (delivery %s) could not be "
                         "handled and nothing of it was stored: %s; %s", channel, sender_id,
                         delivery_id, error, asked)
            return DeliverAgain(503, "ServiceUnavailable",
                                "the message could not be handled now; deliver it again later")
        logger.error("%s: the message of conversation %r (delivery %s) could not be "
                     "handled and is lost: %s", channel, sender_id, delivery_id, error,
                     exc_info=not isinstance(error, DialogflowLiteError))
        return None
