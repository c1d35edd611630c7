"""The callback channel: Rasa's ``POST /webhooks/callback/webhook`` with replies sent elsewhere.

For integrations that do not wait for the answer: the client posts the user's
message as to the REST channel (``{"sender": ..., "message": ...,
"metadata": ...}``) and gets ``success`` back once the turn is processed;
each of the bot's replies is then POSTed as JSON (one Rasa bot message per
request, ``recipient_id``, ``text``, ``buttons``, ...) to the URL in
credentials.yml::

    callback:
      url: "https://example.com/bot-replies"
      timeout: 10              # seconds per delivery (optional)

A reply the URL does not accept (an error status, no answer in time) is
logged with the conversation and the status; the conversation itself is
stored either way, and the later replies are still tried.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from dialogflowlite.components.generation.messages import rasa_shape
from dialogflowlite.errors import ConfigError
from dialogflowlite.server.channels.rest import RestChannel

if TYPE_CHECKING:
    from sanic.response import HTTPResponse

logger = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 10.0


class CallbackChannel(RestChannel):
    """The REST channel's requests, with the replies delivered to a callback URL."""

    channel_name = "callback"
    SETTINGS: dict[str, Any] = {**RestChannel.SETTINGS, "url": None,
                                "timeout": DEFAULT_TIMEOUT}

    def __init__(self, config: dict[str, Any] | None = None) -> None:
        super().__init__(config)
        url = self.config.get("url")
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise ConfigError("credentials.yml: callback needs `url:`, the http(s) address "
                              "the bot's replies are posted to",
                              hint='write `callback:` then `  url: "https://..."`')
        self.url = url
        try:
            self.timeout = float(self.config.get("timeout", DEFAULT_TIMEOUT))
        except (TypeError, ValueError):
            raise ConfigError("credentials.yml: callback timeout must be a number of "
                              "seconds") from None

    async def deliver(self, replies: list[dict[str, Any]]) -> int:
        """POST each reply to the callback URL in order; how many were accepted."""
        import aiohttp

        delivered = 0
        timeout = aiohttp.ClientTimeout(total=self.timeout)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            for reply in replies:
                recipient = reply.get("recipient_id")
                try:
                    async with session.post(self.url, json=rasa_shape(reply)) as response:
                        if response.status < 300:
                            delivered += 1
                            continue
                        problem = f"status {response.status}"
                except (aiohttp.ClientError, TimeoutError) as e:
                    problem = f"{type(e).__name__}: {e}" if str(e) else type(e).__name__
                logger.error("callback channel: a reply to %r was not delivered to %s (%s)",
                             recipient, self.url, problem)
        return delivered

    async def answer(self, replies: list[dict[str, Any]]) -> HTTPResponse:
        """Deliver the replies to the callback URL; the request itself gets ``success``."""
        from sanic.response import text

        await self.deliver(replies)
        return text("success")
