"""The event broker interface and building one from endpoints.yml.

An event broker gets every event of every conversation once, right after the
tracker store has stored it, as Rasa's JSON with the conversation's
``sender_id`` added (``{"sender_id": "...", "event": "user", ...}``): for
analytics, audits and other services that follow the conversations. Events go
through ``dfl_before_events_stored`` (data masking) first, so a broker sees
what the store holds.

endpoints.yml::

    event_broker:
      type: file            # or SQL, or pika (RabbitMQ); plugins add others
                            # (dfl_register_event_brokers)
      path: rasa_event.log

Publishing happens in the background, in the order the events were stored:
the message is answered without waiting for the broker, so a slow or
unreachable broker never slows the bot down. A broker that fails is logged
and never fails the message: the events are in the tracker store whatever
happens to their copy. Events a broker failed to publish are dropped, with
an error naming how many and whose, unless the broker keeps them
(:meth:`EventBroker.keeps_failed_events`, as the RabbitMQ broker does while
its server is away): then they are tried again, and newer events wait behind
them, up to :attr:`EventBroker.max_pending`. What is still waiting when the
server stops is counted in the log.
"""

from __future__ import annotations

import asyncio
import logging
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any

from dialogflowlite.errors import ConfigError

logger = logging.getLogger(__name__)

SECTION = "event_broker"


class EventBroker(ABC):
    """Publishes conversation events somewhere outside the tracker store."""

    @classmethod
    def from_endpoint_config(cls, config: dict[str, Any],
                             project: str | Path | None = None) -> EventBroker:
        """Build the broker from its endpoints.yml section (``type`` already removed).

        ``project`` is the project folder, which relative paths are taken from.
        """
        from dialogflowlite.stores.factory import checked_settings

        return cls(**checked_settings(cls, config, SECTION))

    @abstractmethod
    async def publish_many(self, events: list[dict[str, Any]]) -> None:
        """Publish events (each with its ``sender_id``) in order."""

    async def publish(self, event: dict[str, Any]) -> None:
        """Publish one event."""
        await self.publish_many([event])

    async def close(self) -> None:  # noqa: B027 - optional for brokers
        """Release what the broker holds (connections, files)."""

    def prepare_for_export(self) -> None:  # noqa: B027 - optional for brokers
        """Called by ``dialogflowlite export`` before :meth:`check_connection`.

        The server wants a broker that waits for its server to come back; an
        export wants one that fails at once, since it stops and names where to
        resume. A broker that retries makes one attempt from here on, and one
        that checks its connection only when asked to checks it.
        """

    def keeps_failed_events(self, error: Exception) -> bool:
        """Whether events :meth:`publish_many` failed on (with ``error``) are tried again
        after :attr:`retry_failed_after` seconds, in the server's background publishing,
        rather than dropped with an error in the log.

        False by default: a broker whose failures can pass (its server is away)
        says True for those, and False for ones that no retry mends (a refused
        password, an event it cannot encode), which would block every newer event.
        """
        return False

    async def check_connection(self) -> None:  # noqa: B027 - optional for brokers
        """Called once before the server starts; raise to refuse to start without the broker.

        Brokers connect lazily, so by default nothing is checked: a broker that
        is away when the server starts gets the events once it is back.
        """

    # ------------------------------------------------------------ background publishing
    # Subclasses implement publish_many (and close); the queue below is the base
    # class's own, created on first use, so a subclass needs no __init__ call.

    #: events waiting to be published beyond which new ones are dropped (and logged)
    max_pending = 10_000
    #: seconds :meth:`shutdown` waits for waiting events to be published
    shutdown_timeout = 10.0
    #: seconds before events the broker keeps (:meth:`keeps_failed_events`) are tried again
    retry_failed_after = 5.0

    def submit(self, sender_id: str, events: list[dict[str, Any]]) -> None:
        """Queue a conversation's new events for publishing; returns at once."""
        if not events:
            return
        loop = asyncio.get_running_loop()
        if getattr(self, "_loop", None) is not loop:
            self._start(loop)
        if self._pending and self._pending + len(events) > self.max_pending:
            logger.error("event broker %s: %d events wait to be published; %d event(s) of "
                         "conversation %r are dropped", type(self).__name__, self._pending,
                         len(events), sender_id)
            return
        self._pending += len(events)
        self._queue.put_nowait((sender_id, with_sender(sender_id, events)))

    def _start(self, loop: asyncio.AbstractEventLoop) -> None:
        left = getattr(self, "_pending", 0)
        if left:
            logger.error("event broker %s: %d event(s) queued in a finished event loop were "
                         "not published", type(self).__name__, left)
        self._loop = loop
        self._pending = 0
        self._queue: asyncio.Queue = asyncio.Queue()
        self._worker = loop.create_task(self._publish_queued())

    async def _publish_queued(self) -> None:
        queue = self._queue
        while True:
            sender_id, events = await queue.get()
            try:
                await self._publish_or_keep(sender_id, events)
            finally:
                # cancelled by shutdown(), which counted these in the log already
                if self._queue is queue:
                    self._pending -= len(events)
                queue.task_done()

    async def _publish_or_keep(self, sender_id: str, events: list[dict[str, Any]]) -> None:
        """Publish ``events``; while the broker keeps what failed, try again until it works
        (the events behind them wait, so the order holds)."""
        tries = 0
        while True:
            try:
                await self.publish_many(events)
            except Exception as e:  # the events are stored; only their copy is missing
                if not self.keeps_failed_events(e):
                    logger.error("event broker %s could not publish %d event(s) of "
                                 "conversation %r: %s", type(self).__name__, len(events),
                                 sender_id, e)
                    return
                tries += 1
                logger.error("event broker %s could not publish %d event(s) of conversation "
                             "%r: %s; they are kept (%d event(s) wait in all) and tried again "
                             "in %g s", type(self).__name__, len(events), sender_id, e,
                             self._pending, self.retry_failed_after)
                await asyncio.sleep(self.retry_failed_after)
                continue
            if tries:
                logger.info("event broker %s published the %d kept event(s) of conversation "
                            "%r", type(self).__name__, len(events), sender_id)
            return

    async def flush(self, timeout: float | None = None) -> bool:
        """Wait until every queued event is published (or failed); False on timeout."""
        if getattr(self, "_loop", None) is not asyncio.get_running_loop():
            return True
        try:
            await asyncio.wait_for(self._queue.join(), timeout)
        except asyncio.TimeoutError:
            return False
        return True

    async def shutdown(self) -> None:
        """Publish what is queued (within :attr:`shutdown_timeout`), then :meth:`close`."""
        if not await self.flush(self.shutdown_timeout):
            # %g: a timeout under a second reads as it is, not as "0 s"
            logger.error("event broker %s: %d event(s) were not published within %g s of "
                         "shutting down", type(self).__name__, self._pending,
                         self.shutdown_timeout)
        worker = getattr(self, "_worker", None)
        if worker is not None and getattr(self, "_loop", None) is asyncio.get_running_loop():
            worker.cancel()
            self._loop = None
            # what was left is counted above; a later submit() (on another event loop)
            # starts afresh instead of counting it a second time
            self._pending = 0
            self._queue = asyncio.Queue()
        await self.close()


def with_sender(sender_id: str, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The events as a broker publishes them: ``sender_id`` first, then the event's keys."""
    return [{"sender_id": sender_id, **event} for event in events]


def in_project(path: str | Path, project: str | Path | None) -> Path:
    """``path`` (``~`` expanded), taken from ``project`` when relative."""
    resolved = Path(path).expanduser()
    if resolved.is_absolute() or project is None:
        return resolved
    return Path(project) / resolved


def create_event_broker(config: dict[str, Any] | None, *,
                        project: str | Path | None = None) -> EventBroker | None:
    """The broker of an endpoints.yml ``event_broker`` section, or None without one."""
    from dialogflowlite.stores.base import class_for_type, plugin_note, registered_types

    if not config:
        return None
    if not isinstance(config, dict):
        raise ConfigError(f"endpoints.yml {SECTION} must be a mapping with a `type:`")
    params = dict(config)
    kind = str(params.pop("type", "") or "")
    brokers = registered_types("dfl_register_event_brokers")
    cls = class_for_type(brokers, kind)
    if cls is None:
        from dialogflowlite.io.formats import did_you_mean

        known = ", ".join(sorted(brokers))
        close = did_you_mean(kind, brokers) if kind else None
        hint = f"{close + ' ' if close else ''}endpoints.yml {SECTION} type must be one of: {known}"
        if kind.lower() == "kafka":
            hint += f"; {kind} is not built in, a plugin can add it (docs/plugins.md)"
        hint += plugin_note(kind, "dfl_register_event_brokers")
        raise ConfigError(f"unknown event broker type {kind!r}" if kind
                          else f"endpoints.yml {SECTION} has no `type:`", hint=hint)
    return cls.from_endpoint_config(params, project=project)


def publish_in_background(broker: EventBroker | None, sender_id: str,
                          events: list[dict[str, Any]]) -> None:
    """Queue a conversation's new events on ``broker`` (nothing without one)."""
    if broker is not None and events:
        broker.submit(sender_id, events)
