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
      # optional, Rasa's endpoint keys, to authenticate to the URL:
      headers: {X-Api-Key: "..."}       # sent with every delivery
      params: {tenant: "shop"}          # added to the URL's query
      token: "..."                      # sent as the query parameter `token_name`
      token_name: token
      basic_auth: {username: "...", password: "..."}
      cafile: /etc/ssl/our-ca.pem       # the CA that signed the URL's certificate

A reply the URL does not accept (an error status, no answer in time) is
logged with the conversation and the status; the conversation itself is
stored either way, and the later replies are still tried.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from dialogflowlite.components.generation.messages import rasa_replies
from dialogflowlite.io.endpoint_settings import read_access
from dialogflowlite.server.channels.rest import RestChannel

if TYPE_CHECKING:
    from sanic.response import HTTPResponse

logger = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 10.0


class CallbackChannel(RestChannel):
    """The REST channel's requests, with the replies delivered to a callback URL."""

    channel_name = "callback"
    #: the replies go to the URL, so ``?stream=true`` changes nothing (as in Rasa)
    streams = False
    #: the replies are delivered to the URL: that goes on when the request is cancelled
    pushes_replies = True
    #: Rasa reads this section as an endpoint: the URL and how to authenticate to it
    SETTINGS: dict[str, Any] = {**RestChannel.SETTINGS, "url": None,
                                "timeout": DEFAULT_TIMEOUT, "headers": None, "params": None,
                                "token": None, "token_name": "token", "basic_auth": None,
                                "cafile": None}

    def __init__(self, config: dict[str, Any] | None = None) -> None:
        from dialogflowlite.server.channels.settings import ChannelSettings

        super().__init__(config)
        settings = ChannelSettings(self.channel_name, self.config, self.SETTINGS)
        url = settings.http_url("url", 'write `callback:` then `  url: "https://..."`',
                                exact=True)
        if url is None:
            raise settings.error("`url` is missing; it is the http(s) address the bot's "
                                 "replies are posted to",
                                 'write `callback:` then `  url: "https://..."`')
        self.url = url
        # a timeout of zero or less would fail every delivery, long after start-up
        self.timeout = settings.positive_seconds("timeout")
        #: headers, query parameters, basic auth and certificates of every delivery
        self.access = read_access(settings.values, settings.error)

    async def deliver(self, replies: list[dict[str, Any]]) -> int:
        """POST each reply, in Rasa's REST shape, to the callback URL in order; how many were
        accepted."""
        import aiohttp

        delivered = 0
        timeout = aiohttp.ClientTimeout(total=self.timeout)
        options = self.access.request_options()
        async with aiohttp.ClientSession(timeout=timeout) as session:
            for reply in rasa_replies(replies):
                recipient = reply.get("recipient_id")
                try:
                    async with session.post(self.url, json=reply, **options) as response:
                        if response.status < 300:
                            delivered += 1
                            continue
                        problem = f"status {response.status}"
                except (aiohttp.ClientError, asyncio.TimeoutError) as e:
                    problem = f"{type(e).__name__}: {e}" if str(e) else type(e).__name__
                logger.error("callback channel: a reply to %r was not delivered to %s (%s)",
                             recipient, self.url, problem)
        return delivered

    async def send_to(self, sender_id: str, replies: list[dict[str, Any]]) -> bool:
        """Deliver ``replies`` to the callback URL, as the answers to ``sender_id``'s messages
        are (each names its ``recipient_id``)."""
        await self.deliver([{**reply, "recipient_id": sender_id} for reply in replies])
        return True

    async def answer(self, replies: list[dict[str, Any]]) -> HTTPResponse:
        """Deliver the replies to the callback URL; the request itself gets ``success``."""
        from sanic.response import text

        await self.deliver(replies)
        return text("success")

