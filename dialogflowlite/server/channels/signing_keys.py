"""The public keys a channel checks its platform's signed tokens against.

Bot Framework and Google Chat both sign a JWT for every request and publish
the keys (by key id) at a URL. :class:`SigningKeys` holds one such key set:
it is fetched on first use and kept as long as the platform allows (a day at
most); a token signed with a key not in it makes one early refetch (keys are
rolled), at most every five minutes, so that forged tokens cannot make every
request fetch. Requests arriving while a fetch runs wait for that fetch
instead of starting their own.

When a fetch fails, the keys fetched before stay in use, and the next try
comes half a minute later at the earliest (requests meanwhile are answered at
once instead of each waiting for a fetch of its own). A token whose key the
bot does not have then cannot be told from a forged one: it raises
:class:`SigningKeysUnavailable`, a 503 with ``Retry-After``, since the failure
is the bot's own and the platform should send the request again; a 401 would
say that the request was not the platform's.

An outage is logged once at error level when it begins (the first failed
fetch) and once at warning level when the keys come again, with how long it
lasted and how many requests were refused meanwhile. While it lasts, a
failed fetch logs a warning reminder at most every :data:`OUTAGE_REMINDER`
seconds, with how long it has lasted and how many requests were refused so
far; the other failed fetches and each refused request are logged at debug
level only, so that a platform delivering again and again does not flood the
log.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Awaitable, Callable
from typing import Any

from dialogflowlite.errors import ApiError

logger = logging.getLogger(__name__)

#: seconds a key set is kept at most
KEYS_TTL = 24 * 3600.0
#: the least seconds between two fetches caused by a key id not in the set
REFETCH_AFTER = 300.0
#: seconds after a failed fetch before the next try
RETRY_AFTER_FAILURE = 30.0
#: the least seconds between two warnings that an outage still lasts
OUTAGE_REMINDER = 600.0

#: fetches a key set: the keys by key id, and how many seconds they may be kept; raises
#: one of :func:`fetch_errors` (or returns no keys) when they cannot be had
FetchKeys = Callable[[], Awaitable[tuple[dict[str, Any], float]]]


def fetch_errors() -> tuple[type[BaseException], ...]:
    """The exceptions a failed fetch may raise: network errors, timeouts, bad documents."""
    import aiohttp

    return (aiohttp.ClientError, TimeoutError, ValueError)


class SigningKeysUnavailable(ApiError):
    """A token cannot be checked now: the platform's signing keys could not be fetched (an
    outage on the bot's side, not a bad token).

    Answered 503 with ``Retry-After`` (the seconds until the next fetch), so that the
    platform may send the request again; the request is not handled.
    """

    #: read by the server's error handler: the outage is logged once, when it begins
    #: (see :class:`SigningKeys`), not with each request it refuses
    log_level = logging.DEBUG

    def __init__(self, platform: str, retry_after: float) -> None:
        super().__init__(503, "ServiceUnavailable",
                         f"the {platform} token cannot be checked now: the signing keys "
                         "could not be fetched; the request was not handled, send it again "
                         "later")
        self.retry_after = max(1, math.ceil(retry_after))
        # read by the server's error handler
        self.headers = {"Retry-After": str(self.retry_after)}


class SigningKeys:
    """One platform's key set, fetched with ``fetch`` when needed, one fetch at a time.

    ``platform`` names the token in errors ("Bot Framework"), ``channel`` prefixes the
    log lines, and ``source`` says where the keys come from (a URL, or a callable
    returning it, read at each fetch).
    """

    def __init__(self, fetch: FetchKeys, *, platform: str, channel: str,
                 source: str | Callable[[], str], clock: Callable[[], float] = time.time
                 ) -> None:
        self.fetch = fetch
        self.platform = platform
        self.channel = channel
        self.source = source
        self.clock = clock
        self._keys: dict[str, Any] = {}
        self._fetched_at: float | None = None
        self._keep_for = KEYS_TTL
        self._failed_at: float | None = None
        #: when the fetch failures going on now began (None while fetches succeed), and
        #: how many requests they refused: the outage is logged once, not per request
        self._outage_since: float | None = None
        self._refused = 0
        #: when the outage going on was last logged above debug level
        self._outage_told_at: float | None = None
        self._lock: asyncio.Lock | None = None
        self._lock_loop: asyncio.AbstractEventLoop | None = None

    async def get(self, kid: str) -> Any:
        """The public key with id ``kid``, or None when the platform does not publish it.

        Raises :class:`SigningKeysUnavailable` when ``kid`` is not among the keys at hand
        and the last fetch failed: whether the platform publishes it cannot be told then.
        """
        if self._needs_fetch(kid):
            async with self._fetch_lock():
                # another request may have fetched them while this one waited
                if self._needs_fetch(kid):
                    await self._fetch()
        key = self._keys.get(kid)
        if key is None and self._failed_at is not None:
            self._refused += 1
            raise SigningKeysUnavailable(
                self.platform, RETRY_AFTER_FAILURE - (self.clock() - self._failed_at))
        return key

    def _needs_fetch(self, kid: str) -> bool:
        now = self.clock()
        if self._failed_at is not None and now - self._failed_at < RETRY_AFTER_FAILURE:
            return False
        if self._fetched_at is None or now - self._fetched_at > self._keep_for:
            return True
        return kid not in self._keys and now - self._fetched_at > REFETCH_AFTER

    def _fetch_lock(self) -> asyncio.Lock:
        # a lock belongs to one event loop; a verifier may outlive one (tests, reloads)
        loop = asyncio.get_running_loop()
        if self._lock is None or self._lock_loop is not loop:
            self._lock, self._lock_loop = asyncio.Lock(), loop
        return self._lock

    async def _fetch(self) -> None:
        source = self.source() if callable(self.source) else self.source
        try:
            keys, keep_for = await self.fetch()
            if not keys:
                raise ValueError(f"{source} holds no signing keys")
        except fetch_errors() as e:
            self._failed_at = self.clock()
            self._log_failure(source, f"{type(e).__name__}: {e}" if str(e)
                              else type(e).__name__)
            return
        self._keys = keys
        self._fetched_at = self.clock()
        self._failed_at = None
        self._keep_for = min(keep_for, KEYS_TTL)
        self._log_recovery(source)

    def _log_failure(self, source: str, reason: str) -> None:
        """Log a failed fetch: at error level when it begins an outage, as a reminder at
        warning level when the outage was last logged :data:`OUTAGE_REMINDER` seconds ago
        or more, else at debug level."""
        now = self.clock()
        if self._outage_since is None:
            self._outage_since = self._outage_told_at = now
            self._refused = 0
            logger.error("%s: the signing keys could not be fetched from %s (%s); requests "
                         "whose key the bot does not have are answered 503 until they can "
                         "(tried again every %.0f s; a reminder every %.0f s until then)",
                         self.channel, source, reason, RETRY_AFTER_FAILURE, OUTAGE_REMINDER)
            return
        # (an outage under way has both times set: they are set and cleared together)
        if now - self._outage_told_at >= OUTAGE_REMINDER:
            # a long outage is not silent above debug level until it ends
            self._outage_told_at = now
            logger.warning("%s: the signing keys still cannot be fetched from %s (%s), "
                           "for %.0f s now; %d request(s) were answered 503 so far",
                           self.channel, source, reason, now - self._outage_since,
                           self._refused)
            return
        logger.debug("%s: the signing keys still could not be fetched from %s (%s)",
                     self.channel, source, reason)

    def _log_recovery(self, source: str) -> None:
        """Log the end of an outage, if one was going on."""
        if self._outage_since is None:
            return
        logger.warning("%s: the signing keys were fetched again from %s, after %.0f s in "
                       "which they could not be; %d request(s) were answered 503 meanwhile",
                       self.channel, source, self.clock() - self._outage_since,
                       self._refused)
        self._outage_since = self._outage_told_at = None
        self._refused = 0
