"""Redis tracker store and lock store (``pip install 'dialogflowlite[redis]'``).

Tracker store: each conversation is a Redis list of event JSON under
``<prefix><sender_id>``; appending is one ``RPUSH``, so concurrent writers
never lose events. The set ``<prefix>:senders`` lists conversations.
``record_exp`` (seconds) lets idle conversations expire; one that expires
while its turn runs is written again whole (see :meth:`RedisTrackerStore.save`).

``key_prefix`` is read as Rasa reads it: letters and digits only (``myapp``)
make the prefix ``myapp:tracker:``; any other value is the prefix as given;
none is ``dfl:tracker:`` (:func:`tracker_key_prefix`). A conversation Rasa
wrote (the whole tracker as one JSON string under the same key) is read as
it is; the first write of events turns it into a list.

Lock store: the ticket lock of :mod:`dialogflowlite.stores.tickets`, each step
one Lua script (atomic on the server), so any number of workers and hosts
serve one conversation's messages in order. Its ``key_prefix`` is read the same
way: ``myapp`` makes the prefix ``myapp:lock:``, as in Rasa
(:func:`lock_key_prefix`). The lock store also remembers which platform
deliveries the channels took (``<prefix>delivery:<channel>:<id>:seen``, each
key expiring by itself), so a re-delivery reaching another worker is skipped;
the ``:seen`` at the end keeps them apart from every lock key, whatever the
sender ids and delivery ids (:meth:`RedisLockStore.delivery_key` proves it).
Deliveries remembered under the earlier form (without ``:seen``) are simply
forgotten after an upgrade: they were an hour's memory, and expire by
themselves.

endpoints.yml::

    tracker_store:
      type: redis
      url: localhost          # host name, or a full redis:// URL
      port: 6379
      db: 0
      username: bot           # optional: a Redis 6 ACL user
      password: ${REDIS_PASSWORD}
      key_prefix: myapp       # keys myapp:tracker:<sender_id> (default dfl:tracker:)
      record_exp: 86400       # optional
      use_ssl: true           # optional, with ssl_ca_certs, ssl_certfile, ssl_keyfile
    lock_store:
      type: redis
      url: localhost
      key_prefix: myapp       # keys myapp:lock:<sender_id>... (default dfl:lock:)
"""

from __future__ import annotations

import json
import logging
import math
from typing import TYPE_CHECKING, Any

from dialogflowlite.errors import ConfigError, TrackerStoreError
from dialogflowlite.stores.base import TrackerStore, dump_events, lasting
from dialogflowlite.stores.stored_events import UndecodableEvent, decode_events
from dialogflowlite.stores.tickets import TicketLockStore

if TYPE_CHECKING:
    from dialogflowlite.shared.domain import Domain
    from dialogflowlite.shared.tracker import DialogueStateTracker

logger = logging.getLogger(__name__)


def _client(url: str, port: int, db: int, password: str | None, use_ssl: bool,
            socket_timeout: float, *, section: str, username: str | None = None,
            ssl_keyfile: str | None = None, ssl_certfile: str | None = None,
            ssl_ca_certs: str | None = None) -> Any:
    try:
        import redis.asyncio as aioredis
    except ImportError as e:  # pragma: no cover - depends on the installation
        raise ConfigError("the Redis stores need the `redis` package",
                          hint="pip install 'dialogflowlite[redis]'") from e
    # Rasa's settings for a Redis 6 ACL user and TLS client certificates; the TLS ones
    # only go with TLS (use_ssl, or a rediss:// URL), where redis-py takes them
    tls = {key: value for key, value in (("ssl_keyfile", ssl_keyfile),
                                         ("ssl_certfile", ssl_certfile),
                                         ("ssl_ca_certs", ssl_ca_certs)) if value}
    uses_tls = use_ssl or url.lower().startswith("rediss://")
    if tls and not uses_tls:
        raise ConfigError(f"endpoints.yml {section}: {', '.join(tls)} need TLS",
                          hint="add `use_ssl: true`, or give the url as rediss://...")
    if username is not None:
        tls["username"] = str(username)
    if "://" in url:
        try:
            return aioredis.Redis.from_url(url, db=db, password=password,
                                           socket_timeout=socket_timeout,
                                           decode_responses=True, **tls)
        except ValueError as e:  # a scheme or port redis-py cannot read
            raise ConfigError(f"endpoints.yml {section}: the Redis url {url!r} is not usable: "
                              f"{e}", hint="give a host name, or redis://host:6379 "
                                           "(rediss:// for TLS)") from e
    return aioredis.Redis(host=url, port=int(port), db=int(db), password=password, ssl=use_ssl,
                          socket_timeout=socket_timeout, decode_responses=True, **tls)


#: what follows the key prefix in the key of the set of conversations
_SENDERS = ":senders"

#: the prefix of the keys of conversations when endpoints.yml gives no ``key_prefix``
DEFAULT_KEY_PREFIX = "dfl:tracker:"

#: what Rasa puts after a ``key_prefix`` of letters and digits (and its default prefix)
RASA_KEY_PREFIX = "tracker:"


def tracker_key_prefix(key_prefix: Any) -> str:
    """What the keys of conversations start with, for endpoints.yml's ``key_prefix``.

    As in Rasa, a prefix of letters and digits only is a name space: ``myapp``
    gives the keys ``myapp:tracker:<sender_id>``, where a Rasa deployment with
    the same setting keeps its conversations. Any other prefix is used as it is
    (``"dfl:tracker:"``, or ``"tracker:"`` for Rasa's default keys): Rasa
    ignores such a prefix with a warning and uses its default, which would let
    two bots that were given different prefixes share each other's conversations.
    No prefix (or an empty one): :data:`DEFAULT_KEY_PREFIX`.
    """
    return _key_prefix(key_prefix, "tracker_store", RASA_KEY_PREFIX, DEFAULT_KEY_PREFIX)


def _key_prefix(key_prefix: Any, section: str, rasa_prefix: str, default: str) -> str:
    """``<key_prefix>:<rasa_prefix>`` for a prefix of letters and digits, any other
    prefix as it is, ``default`` for none; a value that is not text is an error."""
    if key_prefix is None or key_prefix == "":
        return default
    if isinstance(key_prefix, bool) or not isinstance(key_prefix, (str, int)):
        raise ConfigError(f"endpoints.yml {section}: key_prefix must be text, not "
                          f"{key_prefix!r}", hint='for example key_prefix: myapp')
    prefix = str(key_prefix)
    return f"{prefix}:{rasa_prefix}" if prefix.isalnum() else prefix


def _glob_escaped(text: str) -> str:
    """``text`` with the characters that Redis's MATCH patterns give a meaning escaped."""
    return "".join(f"\\{char}" if char in "*?[]\\" else char for char in text)


def _is_wrong_type(error: Any) -> bool:
    """Whether ``error`` is Redis's answer to a list command on a key that is no list."""
    # redis-py may put the command before Redis's message (pipelines)
    return isinstance(error, Exception) and "WRONGTYPE" in str(error)


def rasa_tracker_events(text: str) -> list[Any]:
    """The events of a conversation Rasa stored: the JSON text of its tracker
    (``{"events": [...], "name": ...}``).

    A text that is not such a tracker becomes one :class:`UndecodableEvent`, so
    that the conversation is read (empty, with a warning naming it) and the
    text stays in Redis as it is.
    """
    try:
        data = json.loads(text)
    except ValueError as e:
        return [UndecodableEvent(text, str(e))]
    events = data.get("events") if isinstance(data, dict) else None
    if not isinstance(events, list):
        return [UndecodableEvent(text, "it is not a Rasa tracker: no list of events")]
    return events


def _expiry(record_exp: float | None) -> int | None:
    """``record_exp`` as Redis's EXPIRE takes it: whole seconds, at least one (EXPIRE 0, or
    a negative time, deletes the key at once, which would lose every conversation at its
    next write). 0 or nothing: conversations never expire."""
    if not record_exp:
        return None
    if not record_exp > 0:
        raise ConfigError(f"endpoints.yml tracker_store: record_exp must be a number of "
                          f"seconds above 0, not {record_exp!r}",
                          hint="leave record_exp out (or 0) to keep conversations for good")
    return max(1, math.ceil(record_exp))


def _failed(what: str, error: Exception) -> TrackerStoreError:
    return TrackerStoreError(f"Redis {what} failed: {type(error).__name__}: {error}",
                             hint=_hint(error))


def _hint(error: Exception) -> str:
    """What to check for ``error``: it said "is reachable" for a wrong password too."""
    text = str(error).lower()
    name = type(error).__name__
    if name == "AuthenticationError" or "wrongpass" in text or "noauth" in text \
            or "password" in text:
        return ("check `password` (and `username`, for a Redis ACL user) in endpoints.yml; "
                "Redis refused them")
    if "db index is out of range" in text:
        return "check `db` in endpoints.yml: the Redis server has fewer databases"
    if name == "TimeoutError" or "timeout" in text:
        return ("check that the Redis server in endpoints.yml is reachable, and that "
                "`use_ssl` matches it (a TLS client waits in vain on a plain-text server)")
    return "check that the Redis server in endpoints.yml is reachable"


class RedisTrackerStore(TrackerStore):
    """Conversations as Redis lists of events."""

    def __init__(self, domain: Domain | None = None, *, url: str = "localhost",
                 port: int = 6379, db: int = 0, password: str | None = None,
                 use_ssl: bool = False, key_prefix: str | None = DEFAULT_KEY_PREFIX,
                 record_exp: float | None = None, socket_timeout: float = 10.0,
                 username: str | None = None, ssl_keyfile: str | None = None,
                 ssl_certfile: str | None = None, ssl_ca_certs: str | None = None) -> None:
        super().__init__(domain)
        #: the prefix of every key of this store, as built from ``key_prefix``
        self.key_prefix = tracker_key_prefix(key_prefix)
        self.record_exp = _expiry(record_exp)
        self.redis = _client(url, port, db, password, use_ssl, socket_timeout,
                             section="tracker_store", username=username, ssl_keyfile=ssl_keyfile,
                             ssl_certfile=ssl_certfile, ssl_ca_certs=ssl_ca_certs)

    def _key(self, sender_id: str) -> str:
        """The list of the conversation's events: ``<key_prefix><sender_id>``.

        The set of conversations is ``<key_prefix>:senders``, which the id
        ``:senders`` would name too (its events could never be stored). That id,
        and the ids after ``:senders:`` that could then collide, move to
        ``<key_prefix>:senders:<sender_id>``, a key no other id names.
        """
        if sender_id == _SENDERS or sender_id.startswith(f"{_SENDERS}:"):
            return f"{self.key_prefix}{_SENDERS}:{sender_id}"
        return f"{self.key_prefix}{sender_id}"

    @property
    def _senders(self) -> str:
        return f"{self.key_prefix}{_SENDERS}"

    async def load_events(self, sender_id: str) -> list[dict[str, Any]] | None:
        key = self._key(sender_id)
        try:
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.sismember(self._senders, sender_id)
                pipe.lrange(key, 0, -1)
                known, texts = await pipe.execute(raise_on_error=False)
            if _is_wrong_type(texts):
                # Rasa's layout: the whole tracker as one string under the same key
                text = await self.redis.get(key)
                if text is not None:
                    return rasa_tracker_events(text)
                known, texts = False, []  # deleted meanwhile
            for answer in (known, texts):
                if isinstance(answer, Exception):
                    raise answer
        except Exception as e:
            raise _failed("read", e) from e
        if not known and not texts:
            return None
        return decode_events(texts)

    async def append_events(self, sender_id: str, events: list[dict[str, Any]]) -> None:
        texts = dump_events(sender_id, events)
        key = self._key(sender_id)
        try:
            for _ in range(_ATTEMPTS):
                async with self.redis.pipeline(transaction=True) as pipe:
                    pipe.sadd(self._senders, sender_id)
                    if texts:
                        pipe.rpush(key, *texts)
                    if self.record_exp:
                        pipe.expire(key, self.record_exp)
                    answers = await pipe.execute(raise_on_error=False)
                wrong_type = next((a for a in answers if _is_wrong_type(a)), None)
                if wrong_type is None:
                    for answer in answers:
                        if isinstance(answer, Exception):
                            raise answer
                    return
                if await self._adopt_rasa_tracker(sender_id, texts):
                    return
        except TrackerStoreError:
            raise
        except Exception as e:
            raise _failed("write", e) from e
        raise TrackerStoreError(f"Redis write of conversation {sender_id!r} failed: its key "
                                f"{key!r} kept changing between a list and a string",
                                hint="check what else writes to this Redis database")

    async def save(self, tracker: DialogueStateTracker,
                   new_events: list[dict[str, Any]] | None = None) -> None:
        """Append the turn's events; with ``record_exp``, a conversation that expired
        while its turn ran is stored again whole.

        The turn read the conversation, then Redis let it expire before the turn's
        write: appending alone would leave only the turn's events, without the
        session start and slots they follow (Rasa, which writes the whole tracker
        every time, stores it whole again). So the append is an ``RPUSHX``, which
        adds nothing to a key that is gone, and then the whole tracker is written.
        """
        earlier = len(tracker.events) - len(new_events or ())
        if not self.record_exp or not new_events or earlier <= 0:
            await super().save(tracker, new_events)
            return
        sender_id = tracker.sender_id
        texts = dump_events(sender_id, list(new_events))
        key = self._key(sender_id)
        try:
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.sadd(self._senders, sender_id)
                pipe.rpushx(key, *texts)
                pipe.expire(key, self.record_exp)
                answers = await pipe.execute(raise_on_error=False)
        except Exception as e:
            raise _failed("write", e) from e
        if _is_wrong_type(answers[1]):  # Rasa's layout: the usual append adopts it
            await self.append_events(sender_id, list(new_events))
            self._saved(tracker)
            return
        for answer in answers:
            if isinstance(answer, Exception):
                raise _failed("write", answer)
        if answers[1] == 0:
            logger.info("conversation %r expired (record_exp) while a turn ran; it is "
                        "stored again whole, with the turn's %d event(s)", sender_id,
                        len(texts))
            whole = [event.as_dict() for event in tracker.events[:earlier]]
            await self.replace_events(sender_id, whole + list(new_events))
        self._saved(tracker)

    async def _adopt_rasa_tracker(self, sender_id: str, texts: list[str]) -> bool:
        """Turn the string Rasa stored under the conversation's key into this store's
        list (its events, then ``texts``), in one transaction that fails if the key
        changes meanwhile. False when the key no longer holds a string or changed
        (the caller writes again); a string that is not a Rasa tracker is refused,
        so that nothing is lost."""
        from redis.exceptions import ResponseError, WatchError

        key = self._key(sender_id)
        async with self.redis.pipeline(transaction=True) as pipe:
            try:
                await pipe.watch(key)
                try:
                    stored = await pipe.get(key)
                except ResponseError as e:
                    if _is_wrong_type(e):  # another writer made it a list meanwhile
                        return False
                    raise
                if stored is None:  # deleted meanwhile
                    return False
                old = rasa_tracker_events(stored)
                if any(isinstance(event, UndecodableEvent) for event in old):
                    raise lasting(TrackerStoreError(
                        f"conversation {sender_id!r}: the Redis key {key!r} holds a string "
                        f"that is not a Rasa tracker ({old[0].error}), so no events can be "
                        "added to it", hint="delete the key, or give the store another "
                                            "key_prefix"))
                pipe.multi()
                pipe.delete(key)
                pipe.sadd(self._senders, sender_id)
                pipe.rpush(key, *dump_events(sender_id, old), *texts)
                if self.record_exp:
                    pipe.expire(key, self.record_exp)
                await pipe.execute()
            except WatchError:
                return False
        logger.info("conversation %r: Rasa's tracker under the Redis key %r is now a list of "
                    "%d events", sender_id, key, len(old))
        return True

    async def replace_events(self, sender_id: str, events: list[dict[str, Any]]) -> None:
        texts = dump_events(sender_id, events)
        key = self._key(sender_id)
        try:
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.delete(key)
                pipe.sadd(self._senders, sender_id)
                if texts:
                    pipe.rpush(key, *texts)
                if self.record_exp:
                    pipe.expire(key, self.record_exp)
                await pipe.execute()
        except Exception as e:
            raise _failed("write", e) from e

    async def count_events(self, sender_id: str) -> int:
        try:
            return int(await self.redis.llen(self._key(sender_id)))
        except Exception as e:
            if _is_wrong_type(e):  # a tracker Rasa stored
                return len(await self.load_events(sender_id) or [])
            raise _failed("read", e) from e

    async def delete(self, sender_id: str) -> None:
        try:
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.delete(self._key(sender_id))
                pipe.srem(self._senders, sender_id)
                await pipe.execute()
        except Exception as e:
            raise _failed("delete", e) from e

    async def keys(self) -> list[str]:
        try:
            senders = await self.redis.smembers(self._senders) | await self._rasa_senders()
        except Exception as e:
            raise _failed("read", e) from e
        if not self.record_exp:
            return sorted(senders)
        # Expired conversations leave their id in the set: they are dropped from it here,
        # so that ids are not kept longer than record_exp says (they may be phone numbers)
        # and the set does not grow without end. A script checks and removes each id in
        # one step, so a conversation written meanwhile keeps its id.
        ordered = sorted(senders)
        expired: set[str] = set()
        try:
            for start in range(0, len(ordered), _BATCH):
                pairs = [part for sender in ordered[start:start + _BATCH]
                         for part in (sender, self._key(sender))]
                expired.update(await self.redis.eval(_FORGET_EXPIRED, 1, self._senders,
                                                     *pairs))
        except Exception as e:
            raise _failed("read", e) from e
        return [sender for sender in ordered if sender not in expired]

    async def _rasa_senders(self) -> set[str]:
        """The conversations Rasa stored under this prefix (string keys), which are in
        no set: found by scanning the keys under the prefix (a walk through the whole
        database, as Rasa's listing is; only exports and markers list conversations)."""
        found: set[str] = set()
        keys = [key async for key in self.redis.scan_iter(
            match=f"{_glob_escaped(self.key_prefix)}*", count=1000)]
        for start in range(0, len(keys), _BATCH):
            batch = keys[start:start + _BATCH]
            async with self.redis.pipeline(transaction=False) as pipe:
                for key in batch:
                    pipe.type(key)
                kinds = await pipe.execute()
            found.update(key[len(self.key_prefix):] for key, kind in zip(batch, kinds, strict=True)
                         if kind == "string")
        return found

    async def close(self) -> None:
        await self.redis.aclose()


#: conversations checked by one call of _FORGET_EXPIRED
_BATCH = 500

#: writes tried while another writer turns Rasa's string into a list at the same time
_ATTEMPTS = 5

# KEYS: the set of conversations; ARGV: sender id, its key, sender id, its key, ...
_FORGET_EXPIRED = """
local expired = {}
for i = 1, #ARGV, 2 do
  if redis.call('EXISTS', ARGV[i + 1]) == 0 then
    redis.call('SREM', KEYS[1], ARGV[i])
    expired[#expired + 1] = ARGV[i]
  end
end
return expired
"""

# KEYS: next, serving; ARGV: prefix of alive keys, lifetime ms, idle expiry s
_TAKE = """
local ticket = redis.call('INCR', KEYS[1])
redis.call('SET', ARGV[1] .. ticket, '1', 'PX', ARGV[2])
if redis.call('SETNX', KEYS[2], ticket) == 0 then
  local serving = tonumber(redis.call('GET', KEYS[2]))
  while serving < ticket and redis.call('EXISTS', ARGV[1] .. serving) == 0 do
    serving = serving + 1
  end
  redis.call('SET', KEYS[2], serving)
end
redis.call('EXPIRE', KEYS[1], ARGV[3])
redis.call('EXPIRE', KEYS[2], ARGV[3])
return {ticket, tonumber(redis.call('GET', KEYS[2]))}
"""

# KEYS: serving; ARGV: prefix of alive keys, ticket, lifetime ms
_POLL = """
local ticket = tonumber(ARGV[2])
redis.call('PEXPIRE', ARGV[1] .. ticket, ARGV[3])
local serving = tonumber(redis.call('GET', KEYS[1]) or ticket)
while serving < ticket and redis.call('EXISTS', ARGV[1] .. serving) == 0 do
  serving = serving + 1
end
redis.call('SET', KEYS[1], serving, 'KEEPTTL')
return serving
"""

# KEYS: serving; ARGV: prefix of alive keys, ticket
_GIVE_BACK = """
local ticket = tonumber(ARGV[2])
redis.call('DEL', ARGV[1] .. ticket)
if tonumber(redis.call('GET', KEYS[1]) or -1) == ticket then
  redis.call('SET', KEYS[1], ticket + 1, 'KEEPTTL')
end
return 1
"""


#: the prefix of the lock keys when endpoints.yml gives no ``key_prefix``
DEFAULT_LOCK_KEY_PREFIX = "dfl:lock:"

#: what Rasa's lock store puts after a ``key_prefix`` of letters and digits
RASA_LOCK_KEY_PREFIX = "lock:"


def lock_key_prefix(key_prefix: Any) -> str:
    """What the lock keys start with, for endpoints.yml's ``key_prefix``.

    Read as :func:`tracker_key_prefix` reads the tracker store's, and as Rasa's
    Redis lock store reads it: letters and digits only (``myapp``) are a name
    space, ``myapp:lock:``, so one ``key_prefix`` keeps a bot's conversations
    and locks apart from another bot's on the same Redis. Any other prefix is
    used as it is (Rasa ignores it with a warning and uses ``lock:``). No
    prefix (or an empty one): :data:`DEFAULT_LOCK_KEY_PREFIX`.
    """
    return _key_prefix(key_prefix, "lock_store", RASA_LOCK_KEY_PREFIX, DEFAULT_LOCK_KEY_PREFIX)


class RedisLockStore(TicketLockStore):
    """First-come-first-served conversation locks in Redis, shared by workers and hosts.

    The keys of a conversation start with the prefix :func:`lock_key_prefix`
    builds from ``key_prefix``, then the sender id.
    """

    #: seconds after which an idle conversation's ticket counters vanish
    idle_expiry = 86_400

    def __init__(self, *, url: str = "localhost", port: int = 6379, db: int = 0,
                 password: str | None = None, use_ssl: bool = False,
                 key_prefix: str | None = DEFAULT_LOCK_KEY_PREFIX, lifetime: float = 60.0,
                 poll_interval: float = 0.002, socket_timeout: float = 10.0,
                 username: str | None = None, ssl_keyfile: str | None = None,
                 ssl_certfile: str | None = None, ssl_ca_certs: str | None = None) -> None:
        super().__init__(lifetime=lifetime, poll_interval=poll_interval)
        #: the prefix of every key of this store, as built from ``key_prefix``
        self.key_prefix = lock_key_prefix(key_prefix)
        self.redis = _client(url, port, db, password, use_ssl, socket_timeout,
                             section="lock_store", username=username, ssl_keyfile=ssl_keyfile,
                             ssl_certfile=ssl_certfile, ssl_ca_certs=ssl_ca_certs)
        self._take = self.redis.register_script(_TAKE)
        self._poll = self.redis.register_script(_POLL)
        self._give_back = self.redis.register_script(_GIVE_BACK)

    def _keys(self, sender_id: str) -> tuple[str, str, str]:
        base = f"{self.key_prefix}{sender_id}"
        return f"{base}:next", f"{base}:serving", f"{base}:alive:"

    async def take_ticket(self, sender_id: str) -> tuple[int, int]:
        next_key, serving_key, alive = self._keys(sender_id)
        try:
            ticket, serving = await self._take(
                keys=[next_key, serving_key],
                args=[alive, int(self.lifetime * 1000), self.idle_expiry])
        except Exception as e:
            raise _failed("lock", e) from e
        return int(ticket), int(serving)

    async def poll(self, sender_id: str, ticket: int) -> int:
        _, serving_key, alive = self._keys(sender_id)
        try:
            return int(await self._poll(keys=[serving_key],
                                        args=[alive, ticket, int(self.lifetime * 1000)]))
        except Exception as e:
            raise _failed("lock", e) from e

    async def refresh(self, sender_id: str, ticket: int) -> None:
        _, _, alive = self._keys(sender_id)
        await self.redis.pexpire(f"{alive}{ticket}", int(self.lifetime * 1000))

    async def give_back(self, sender_id: str, ticket: int) -> None:
        _, serving_key, alive = self._keys(sender_id)
        try:
            await self._give_back(keys=[serving_key], args=[alive, ticket])
        except Exception as e:
            raise _failed("unlock", e) from e

    def delivery_key(self, key: str) -> str:
        """The Redis key remembering the delivery ``key`` (see :meth:`first_delivery`):
        ``<prefix>delivery:<key>:seen``.

        No lock key can have this form, whatever the sender id: every lock key
        (:meth:`_keys`) is the prefix and the sender id followed by ``:next``,
        ``:serving``, or ``:alive:`` and a ticket number (decimal digits), and
        none of these ends with ``:seen``. So a sender ``delivery:telegram``
        and a delivery ``telegram:next`` never share a key; different delivery
        keys give different Redis keys, the prefix and ``:seen`` being fixed.
        """
        return f"{self.key_prefix}delivery:{key}:seen"

    async def first_delivery(self, key: str, ttl_seconds: float) -> bool:
        """Whether ``key`` is new to every worker: one ``SET ... NX PX``, atomic on the
        server, and gone by itself after ``ttl_seconds``."""
        try:
            created = await self.redis.set(self.delivery_key(key), 1, nx=True,
                                           px=max(1, math.ceil(ttl_seconds * 1000)))
        except Exception as e:
            raise _failed("delivery check", e) from e
        return bool(created)

    async def forget_delivery(self, key: str) -> None:
        """Forget the delivery ``key``, so that its next delivery counts as new (a turn
        that failed before storing anything asks the platform for it again)."""
        try:
            await self.redis.delete(self.delivery_key(key))
        except Exception as e:
            raise _failed("delivery forgetting", e) from e

    async def close(self) -> None:
        await self.redis.aclose()
