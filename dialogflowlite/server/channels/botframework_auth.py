"""Checking the token Bot Framework sends with each activity (as Rasa does since 3.1.3).

The Bot Connector signs a JWT (RS256) for every request to the bot's
messaging endpoint. It is valid when its key is one of those Microsoft
publishes (its OpenID configuration names the key set), its audience is the
bot's app id, its issuer is the Bot Framework's, it has not expired (five
minutes of clock skew allowed), and its ``serviceUrl`` claim, when present,
is the activity's. The keys are held by
:class:`~dialogflowlite.server.channels.signing_keys.SigningKeys`: fetched
once (one fetch however many requests arrive meanwhile) and kept for a day; a
token signed with a key not among them makes one early refetch (Microsoft
rolls keys), at most every five minutes. When the keys cannot be fetched,
nothing unverified gets through: a token whose key the bot does not have then
raises :class:`SigningKeysUnavailable` (a 503, not a 401: the failure is the
bot's own, and Bot Framework delivers the activity again); the next try comes
30 s later. A key set kept from an earlier fetch stays in use meanwhile.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from dialogflowlite.server.channels.signing_keys import (
    KEYS_TTL,
    REFETCH_AFTER,
    RETRY_AFTER_FAILURE,
    SigningKeys,
    SigningKeysUnavailable,
)

logger = logging.getLogger(__name__)

__all__ = ["DEFAULT_OPENID_URL", "ISSUER", "KEYS_TTL", "LEEWAY", "REFETCH_AFTER",
           "RETRY_AFTER_FAILURE", "SigningKeysUnavailable", "TokenVerifier"]

DEFAULT_OPENID_URL = "https://login.botframework.com/v1/.well-known/openidconfiguration"
ISSUER = "https://api.botframework.com"
#: seconds of clock skew allowed on ``exp`` and ``nbf``
LEEWAY = 300.0


class TokenVerifier:
    """Verifies ``Authorization: Bearer <jwt>`` headers for one bot (its app id)."""

    def __init__(self, app_id: str, openid_url: str = DEFAULT_OPENID_URL, *,
                 timeout: float = 10.0, clock: Callable[[], float] = time.time) -> None:
        self.app_id = app_id
        self.openid_url = openid_url
        self.timeout = timeout
        self.clock = clock
        self.keys = SigningKeys(self._fetch_keys, platform="Bot Framework",
                                channel="botframework", source=lambda: self.openid_url,
                                clock=lambda: self.clock())

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
        key = await self.keys.get(str(kid))
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

    async def _fetch_keys(self) -> tuple[dict[str, Any], float]:
        """Microsoft's signing keys by key id (its OpenID configuration names the key set)."""
        import aiohttp
        import jwt

        async with aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self.timeout)) as session:
            async with session.get(self.openid_url) as response:
                config = await response.json(content_type=None)
            jwks_uri = config.get("jwks_uri") if isinstance(config, dict) else None
            if not isinstance(jwks_uri, str):
                raise ValueError(f"{self.openid_url} names no jwks_uri")
            async with session.get(jwks_uri) as response:
                found = await response.json(content_type=None)
        keys: dict[str, Any] = {}
        for item in found.get("keys", []) if isinstance(found, dict) else []:
            try:
                keys[str(item.get("kid"))] = jwt.PyJWK(item).key
            except (jwt.PyJWTError, AttributeError, TypeError, ValueError) as e:
                logger.warning("botframework: a signing key was skipped (%s)", e)
        return keys, KEYS_TTL
