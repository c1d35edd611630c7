"""Checking the token Google Chat sends with each event (as Rasa does when ``project_id`` is set).

Google Chat signs a JWT (RS256) for every request to an app whose
authentication audience is its project number. It is valid when its key is
one of those Google publishes for ``chat@system.gserviceaccount.com``, its
issuer is that service account, its audience is the project number, and it
has not expired (a minute of clock skew allowed). The certificates are held
by :class:`~dialogflowlite.server.channels.signing_keys.SigningKeys`, as Bot
Framework's keys are: fetched once (one fetch however many requests arrive
meanwhile) and kept as long as Google's ``Cache-Control`` says (a day at
most); a token signed with a key not among them makes one early refetch
(Google rolls keys), at most every five minutes. Nothing unverified gets
through. When the certificates cannot be fetched, those fetched last stay in
use, and a token whose key the bot does not have raises
:class:`~dialogflowlite.server.channels.signing_keys.SigningKeysUnavailable`:
a 503 with ``Retry-After`` rather than a 401, since the failure is the bot's
own, not the request's. A failed fetch is tried again after half a minute at
the earliest.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from typing import Any

from dialogflowlite.server.channels.signing_keys import (
    KEYS_TTL,
    REFETCH_AFTER,
    RETRY_AFTER_FAILURE,
    SigningKeys,
)

logger = logging.getLogger(__name__)

__all__ = ["DEFAULT_CERTS_URL", "ISSUER", "LEEWAY", "RETRY_AFTER_FAILURE", "ChatTokenVerifier",
           "cache_seconds", "parse_keys"]

ISSUER = "chat@system.gserviceaccount.com"
DEFAULT_CERTS_URL = f"https://www.googleapis.com/service_accounts/v1/metadata/x509/{ISSUER}"
#: seconds of clock skew allowed on ``exp``, ``iat`` and ``nbf``
LEEWAY = 60.0

_MAX_AGE = re.compile(r"max-age\s*=\s*(\d+)", re.IGNORECASE)


def parse_keys(document: Any) -> dict[str, Any]:
    """Public keys by key id from Google's certificate document.

    Google publishes one service account's keys both as ``{kid: PEM
    certificate}`` (the ``x509`` URL Rasa uses) and as a JWK set
    (``{"keys": [...]}``, the ``jwk`` URL); either is read. Entries that are
    not keys are skipped with a warning.
    """
    import jwt
    from cryptography import x509

    keys: dict[str, Any] = {}
    if not isinstance(document, dict):
        return keys
    if isinstance(document.get("keys"), list):
        for item in document["keys"]:
            try:
                keys[str(item.get("kid"))] = jwt.PyJWK(item).key
            except (jwt.PyJWTError, AttributeError, TypeError, ValueError) as e:
                logger.warning("hangouts: a signing key was skipped (%s)", e)
        return keys
    for kid, pem in document.items():
        try:
            keys[str(kid)] = x509.load_pem_x509_certificate(str(pem).encode()).public_key()
        except ValueError as e:
            logger.warning("hangouts: the certificate %r was skipped (%s)", kid, e)
    return keys


def cache_seconds(cache_control: str | None) -> float:
    """How long Google says its certificates stay good, within [five minutes, a day]."""
    found = _MAX_AGE.search(cache_control or "")
    if found is None:
        return KEYS_TTL
    return min(max(float(found.group(1)), REFETCH_AFTER), KEYS_TTL)


class ChatTokenVerifier:
    """Verifies ``Authorization: Bearer <jwt>`` headers for one Chat app (its project number)."""

    def __init__(self, project_number: str, certs_url: str = DEFAULT_CERTS_URL, *,
                 timeout: float = 10.0, clock: Callable[[], float] = time.time) -> None:
        self.project_number = project_number
        self.certs_url = certs_url
        self.timeout = timeout
        self.clock = clock
        self.keys = SigningKeys(self._fetch_keys, platform="Google Chat", channel="hangouts",
                                source=lambda: self.certs_url, clock=lambda: self.clock())

    async def problem(self, authorization: str | None) -> str | None:
        """Why the request's token is not valid (a short reason), or None when it is.

        Raises :class:`~dialogflowlite.server.channels.signing_keys.SigningKeysUnavailable`
        when the token's key is not among the certificates the bot has and the last fetch
        of them failed: whether the token is Google's cannot be told then.
        """
        import jwt

        scheme, _, token = (authorization or "").partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            return "no Authorization: Bearer token"
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as e:
            return f"the token cannot be read ({e})"
        if header.get("alg") != "RS256":
            return f"the token is signed with {header.get('alg')!r}, not RS256"
        kid = str(header.get("kid"))
        key = await self.keys.get(kid)
        if key is None:
            return f"the token's key {kid!r} is not one Google publishes for {ISSUER}"
        try:
            jwt.decode(token, key, algorithms=["RS256"], audience=self.project_number,
                       issuer=ISSUER, leeway=LEEWAY,
                       options={"require": ["exp", "iss", "aud"]})
        except jwt.PyJWTError as e:
            return f"the token is not valid ({e})"
        return None

    async def _fetch_keys(self) -> tuple[dict[str, Any], float]:
        """Google's certificates by key id, and how long ``Cache-Control`` lets them be kept."""
        import aiohttp

        timeout = aiohttp.ClientTimeout(total=self.timeout)
        async with aiohttp.ClientSession(timeout=timeout) as session, \
                session.get(self.certs_url) as response:
            if response.status >= 300:
                raise ValueError(f"status {response.status}")
            document = await response.json(content_type=None)
            cache_control = response.headers.get("Cache-Control")
        return parse_keys(document), cache_seconds(cache_control)
