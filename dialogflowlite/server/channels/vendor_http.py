"""One HTTP call to a messaging platform's API, as the vendor channels make them.

Every vendor API answers JSON (or, on a failure, sometimes not), and every
channel needs the same three things from a call: the status, the JSON body
when there is one, and a readable reason when no answer came at all, with
the channel's secrets (tokens in URLs, passwords) kept out of the log. What
counts as success differs per vendor (Slack answers 200 with ``ok: false``,
the Graph API 200 with an ``error`` object), so that stays with each channel.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import aiohttp


@dataclass(frozen=True)
class VendorAnswer:
    """What one call brought back."""

    #: the HTTP status; 0 when no answer came
    status: int
    #: the JSON body; None when it was not JSON, or no answer came
    body: Any = None
    #: why no answer came (the transport's error, secrets hidden); None when one did
    failure: str | None = None

    @property
    def ok(self) -> bool:
        """An answer came, with a status under 300."""
        return self.failure is None and 0 < self.status < 300

    def field(self, name: str) -> Any:
        """``name`` of a JSON object body; None for any other body."""
        return self.body.get(name) if isinstance(self.body, dict) else None


def client_session(timeout: float, **settings: Any) -> aiohttp.ClientSession:
    """A session whose every call gives up after ``timeout`` seconds."""
    import aiohttp

    return aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout), **settings)


def hide(text: str, secrets: Iterable[str | None]) -> str:
    """``text`` with each secret replaced by ``<secret>``."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "<secret>")
    return text


async def vendor_request(session: aiohttp.ClientSession, method: str, url: str, *,
                         secrets: Iterable[str | None] = (), **arguments: Any) -> VendorAnswer:
    """``method url`` with ``arguments`` (``json=``, ``data=``, ``params=``, ``headers=``, ...).

    A transport failure (refused, reset, timed out) is not raised: it is the
    answer's ``failure``, with ``secrets`` hidden, since URLs and messages of
    such errors may quote a token.
    """
    import aiohttp

    try:
        async with session.request(method, url, **arguments) as response:
            try:
                body = await response.json(content_type=None)
            except ValueError:
                body = None
            return VendorAnswer(response.status, body)
    except (aiohttp.ClientError, asyncio.TimeoutError) as e:
        described = f"{type(e).__name__}: {e}" if str(e) else type(e).__name__
        return VendorAnswer(0, None, hide(described, secrets))
