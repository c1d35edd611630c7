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

from dialogflowlite.errors import ConfigError
from dialogflowlite.server.channels.base import InputChannel, OnMessage

if TYPE_CHECKING:
    from sanic import Blueprint, Request
    from sanic.response import HTTPResponse

logger = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 10.0


class CallbackChannel(InputChannel):
    """Takes messages over HTTP and delivers the replies to a callback URL."""

    channel_name = "callback"

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
                    async with session.post(self.url, json=reply) as response:
                        if response.status < 300:
                            delivered += 1
                            continue
                        problem = f"status {response.status}"
                except (aiohttp.ClientError, TimeoutError) as e:
                    problem = f"{type(e).__name__}: {e}" if str(e) else type(e).__name__
                logger.error("callback channel: a reply to %r was not delivered to %s (%s)",
                             recipient, self.url, problem)
        return delivered

    def blueprint(self, on_message: OnMessage) -> Blueprint:
        from sanic import Blueprint
        from sanic.response import json, text

        from dialogflowlite.dialogue.messages import IncomingMessage
        from dialogflowlite.server import validation

        blueprint = Blueprint(f"channel_{self.name()}", url_prefix=self.url_prefix())
        name = self.name()

        @blueprint.get("/", name="health")
        async def health(request: Request) -> HTTPResponse:
            return json({"status": "ok"})

        @blueprint.post("/webhook", name="webhook")
        async def webhook(request: Request) -> HTTPResponse:
            body = validation.json_body(request)
            limit = request.app.ctx.config.max_message_chars
            message = IncomingMessage(
                validation.message_text(body, "message", limit),
                sender_id=validation.sender_id(body.get("sender")), channel=name,
                metadata=validation.metadata(body))
            await self.deliver(await on_message(message))
            return text("success")

        return blueprint
