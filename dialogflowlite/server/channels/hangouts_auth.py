"""Checking the token Google Chat sends with each event (as Rasa does when ``project_id`` is set).

Google Chat signs a JWT (RS256) for every request to an app whose
authentication audience is its project number. It is valid when its key is
one of those Google publishes for ``chat@system.gserviceaccount.com``, its
issuer is that service account, its audience is the project number, and it
has not expired (a minute of clock skew allowed). The certificates are
fetched once and kept as long as Google's ``Cache-Control`` says (a day at
most); a token signed with a key not among them makes one early refetch
(Google rolls keys), at most every five minutes, as in
:mod:`~dialogflowlite.server.channels.botframework_auth`. Until the
certificates have been fetched, every request is refused: nothing unverified
gets through. A failed fetch is tried again after half a minute at the
earliest; meanwhile the certificates fetched last stay in use.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Callable
from typing import Any

from dialogflowlite.server.channels.botframework_auth import KEYS_TTL, REFETCH_AFTER

logger = logging.getLogger(__name__)

ISSUER = "chat@system.gserviceaccount.com"
DEFAULT_CERTS_URL = f"https://www.googleapis.com/service_accounts/v1/metadata/x509/{ISSUER}"
#: seconds of clock skew allowed on ``exp``, ``iat`` and ``nbf``
LEEWAY = 60.0
#: seconds between two tries while the certificates cannot be fetched
RETRY_AFTER_FAILURE = 30.0

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
        self._keys: dict[str, Any] = {}
        self._fetched_at: float | None = None
        self._keep_for = KEYS_TTL
        self._failed_at: float | None = None
        self._lock: asyncio.Lock | None = None
        self._lock_loop: asyncio.AbstractEventLoop | None = None

    async def problem(self, authorization: str | None) -> str | None:
        """Why the request's token is not valid (a short reason), or None when it is."""
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
        key = await self._key(kid)
        if key is None:
            return f"the token's key {kid!r} is not one Google publishes for {ISSUER}"
        try:
            jwt.decode(token, key, algorithms=["RS256"], audience=self.project_number,
                       issuer=ISSUER, leeway=LEEWAY,
                       options={"require": ["exp", "iss", "aud"]})
        except jwt.PyJWTError as e:
            return f"the token is not valid ({e})"
        return None

    async def _key(self, kid: str) -> Any:
        if self._needs_fetch(kid):
            async with self._fetch_lock():
                # another request may have fetched them while this one waited
                if self._needs_fetch(kid):
                    await self._fetch()
        return self._keys.get(kid)

    def _needs_fetch(self, kid: str) -> bool:
        now = self.clock()
        if self._failed_at is not None and now - self._failed_at < RETRY_AFTER_FAILURE:
            return False
        if self._fetched_at is None or now - self._fetched_at > self._keep_for:
            return True
        # an unknown key id: Google may have rolled its keys, but forged tokens must not
        # make every request fetch again
        return kid not in self._keys and now - self._fetched_at > REFETCH_AFTER

    def _fetch_lock(self) -> asyncio.Lock:
        loop = asyncio.get_running_loop()
        if self._lock is None or self._lock_loop is not loop:
            self._lock, self._lock_loop = asyncio.Lock(), loop
        return self._lock

    async def _fetch(self) -> None:
        import aiohttp

        try:
            timeout = aiohttp.ClientTimeout(total=self.timeout)
            async with aiohttp.ClientSession(timeout=timeout) as session, \
                    session.get(self.certs_url) as response:
                if response.status >= 300:
                    raise ValueError(f"status {response.status}")
                document = await response.json(content_type=None)
                cache_control = response.headers.get("Cache-Control")
        except (aiohttp.ClientError, TimeoutError, ValueError) as e:
            self._failed_at = self.clock()
            logger.error("hangouts: Google's signing certificates could not be fetched from %s "
                         "(%s); events are refused until they can", self.certs_url,
                         f"{type(e).__name__}: {e}" if str(e) else type(e).__name__)
            return
        keys = parse_keys(document)
        if not keys:
            self._failed_at = self.clock()
            logger.error("hangouts: %s holds no signing certificates; events are refused",
                         self.certs_url)
            return
        self._keys = keys
        self._fetched_at = self.clock()
        self._failed_at = None
        self._keep_for = cache_seconds(cache_control)
