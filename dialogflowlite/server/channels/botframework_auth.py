"""Checking the token Bot Framework sends with each activity (as Rasa does since 3.1.3).

The Bot Connector signs a JWT (RS256) for every request to the bot's
messaging endpoint. It is valid when its key is one of those Microsoft
publishes (its OpenID configuration names the key set), its audience is the
bot's app id, its issuer is the Bot Framework's, it has not expired (five
minutes of clock skew allowed), and its ``serviceUrl`` claim, when present,
is the activity's. The key set is fetched once and kept for a day; a token
signed with a key not in it makes one early refetch (Microsoft rolls keys),
at most every five minutes. When the keys cannot be fetched, nothing
unverified gets through: a token whose key the bot does not have then raises
:class:`SigningKeysUnavailable` (a 503, not a 401: the failure is the bot's
own, and Bot Framework delivers the activity again); the next try comes 30 s
later. A key set kept from an earlier fetch stays in use meanwhile.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from typing import Any

from dialogflowlite.errors import ApiError

logger = logging.getLogger(__name__)

DEFAULT_OPENID_URL = "https://login.botframework.com/v1/.well-known/openidconfiguration"
ISSUER = "https://api.botframework.com"
#: seconds the key set is kept, and the least time between two fetches
KEYS_TTL = 24 * 3600.0
REFETCH_AFTER = 300.0
#: seconds after a failed fetch before the next try: during an outage, requests
#: are refused at once instead of each waiting for a fetch of its own
RETRY_AFTER_FAILURE = 30.0
LEEWAY = 300.0


class SigningKeysUnavailable(ApiError):
    """A token cannot be checked now: Microsoft's signing keys could not be fetched (an
    outage on the bot's side, not a bad token).

    Answered 503 with ``Retry-After``, so that Bot Framework delivers the
    activity again (a 401 would tell it the bot refuses the activity, which is
    then lost); the activity is not handled.
    """

    def __init__(self, retry_after: float) -> None:
        super().__init__(503, "ServiceUnavailable",
                         "the Bot Framework token cannot be checked now: the signing keys "
                         "could not be fetched; the activity was not handled, send it again "
                         "later")
        # read by the server's error handler
        self.headers = {"Retry-After": str(max(1, math.ceil(retry_after)))}


class TokenVerifier:
    """Verifies ``Authorization: Bearer <jwt>`` headers for one bot (its app id)."""

    def __init__(self, app_id: str, openid_url: str = DEFAULT_OPENID_URL, *,
                 timeout: float = 10.0, clock: Callable[[], float] = time.time) -> None:
        self.app_id = app_id
        self.openid_url = openid_url
        self.timeout = timeout
        self.clock = clock
        self._keys: dict[str, Any] = {}
        self._fetched_at: float | None = None
        self._failed_at: float | None = None

    async def problem(self, authorization: str | None, service_url: str) -> str | None:
        """Why the request's token is not valid (a short reason), or None when it is.

        Raises :class:`SigningKeysUnavailable` when the token's key is not among those
        the bot has and the keys could not be fetched (lately): whether the token is
        valid cannot be told then.
        """
        import jwt

        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return "no Authorization: Bearer token"
        try:
            kid = jwt.get_unverified_header(token.strip()).get("kid")
        except jwt.PyJWTError as e:
            return f"the token cannot be read ({e})"
        key = await self._key(str(kid))
        if key is None and self._failed_at is not None:
            raise SigningKeysUnavailable(RETRY_AFTER_FAILURE - (self.clock() - self._failed_at))
        if key is None:
            return f"the token's key {kid!r} is not one Bot Framework publishes"
        try:
            # a signed token without an expiry would be good forever: require one
            claims = jwt.decode(token.strip(), key, algorithms=["RS256"], audience=self.app_id,
                                issuer=ISSUER, leeway=LEEWAY,
                                options={"require": ["exp", "iss", "aud"]})
        except jwt.PyJWTError as e:
            return f"the token is not valid ({e})"
        claimed = claims.get("serviceUrl") or claims.get("serviceurl")
        if claimed and str(claimed).rstrip("/") != service_url.rstrip("/"):
            return "the token's serviceUrl is not the activity's"
        return None

    async def _key(self, kid: str) -> Any:
        now = self.clock()
        stale = self._fetched_at is None or now - self._fetched_at > KEYS_TTL
        unknown_may_refetch = kid not in self._keys and (
            self._fetched_at is None or now - self._fetched_at > REFETCH_AFTER)
        failed_lately = (self._failed_at is not None
                         and now - self._failed_at < RETRY_AFTER_FAILURE)
        if (stale or unknown_may_refetch) and not failed_lately:
            await self._fetch(now)
        return self._keys.get(kid)

    async def _fetch(self, now: float) -> None:
        import aiohttp
        import jwt

        try:
            async with aiohttp.ClientSession(
                    timeout=aiohttp.ClientTimeout(total=self.timeout)) as session:
                async with session.get(self.openid_url) as response:
                    config = await response.json(content_type=None)
                jwks_uri = config.get("jwks_uri") if isinstance(config, dict) else None
                if not isinstance(jwks_uri, str):
                    raise ValueError(f"{self.openid_url} names no jwks_uri")
                async with session.get(jwks_uri) as response:
                    found = await response.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError, ValueError) as e:
            logger.error("botframework: the signing keys could not be fetched from %s (%s); "
                         "activities whose key the bot does not have are answered 503 until "
                         "they can", self.openid_url, e)
            self._failed_at = now
            return
        keys: dict[str, Any] = {}
        for item in found.get("keys", []) if isinstance(found, dict) else []:
            try:
                keys[str(item.get("kid"))] = jwt.PyJWK(item).key
            except (jwt.PyJWTError, TypeError, ValueError) as e:
                logger.warning("botframework: a signing key was skipped (%s)", e)
        self._keys = keys
        self._fetched_at = now
        self._failed_at = None
