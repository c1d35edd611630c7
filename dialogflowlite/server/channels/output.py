"""Rasa's ``output_channel`` query parameter: the channel that pushes the bot's messages.

``POST /conversations/{id}/trigger_intent``, ``/execute`` and ``/tracker/events``
(with ``execute_side_effects``) take it. ``latest`` names the channel of the
conversation's latest user message, any other value an enabled channel by its
name; the bot's messages then go to the user through that channel
(:meth:`~dialogflowlite.server.channels.base.InputChannel.send_to`), unasked,
as a reminder would. The routes still answer the messages as well.

As with Rasa's collecting output channel, the messages are only answered when
the parameter is not given, when ``latest`` finds no user message or a channel
this server does not run, and when the channel cannot send unasked. A name
that is no enabled channel is a 400 listing them.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from dialogflowlite.server.channels.base import send_unasked

if TYPE_CHECKING:
    from sanic import Request

    from dialogflowlite.server.channels.base import InputChannel
    from dialogflowlite.shared.tracker import DialogueStateTracker

logger = logging.getLogger(__name__)

#: the query parameter, as Rasa names it
PARAMETER = "output_channel"
#: its value for the channel of the conversation's latest user message
LATEST = "latest"


def requested_channel(request: Request, tracker: DialogueStateTracker) -> InputChannel | None:
    """The enabled channel ``output_channel`` names for ``tracker``'s conversation, or None
    when the bot's messages are only to be answered; 400 for a name no channel has."""
    name = request.args.get(PARAMETER)
    if not name:
        return None
    if name != LATEST:
        return checked_channel(request)
    latest = tracker.latest_input_channel
    found = channel_named(_enabled(request), latest) if latest else None
    if found is None:
        logger.debug("output_channel=latest for %r: the latest user message came through %r, "
                     "which is no enabled channel; the messages are only answered",
                     tracker.sender_id, latest)
    return found


def checked_channel(request: Request) -> InputChannel | None:
    """The channel ``output_channel`` names, when it names one (not ``latest``); 400 for a
    name no enabled channel has. Routes that store something call it first, so that a
    wrong name changes nothing."""
    from dialogflowlite.server.validation import bad_request

    name = request.args.get(PARAMETER)
    if not name or name == LATEST:
        return None
    channels = _enabled(request)
    found = channel_named(channels, name)
    if found is None:
        enabled = ", ".join(sorted(channel.name() for channel in channels)) or "none"
        raise bad_request(f"output_channel {name!r} is not an enabled channel (enabled: "
                          f"{enabled}; or {LATEST!r} for the channel of the latest user "
                          "message)", parameter=PARAMETER, location="query")
    return found


def _enabled(request: Request) -> list[Any]:
    return list(getattr(request.app.ctx, "channels", None) or [])


def channel_named(channels: list[Any], name: str) -> InputChannel | None:
    """The channel called ``name`` among ``channels`` (the server's ``app.ctx.channels``)."""
    return next((channel for channel in channels if channel.name() == name), None)


async def send_through(channel: InputChannel | None, sender_id: str,
                       replies: list[dict[str, Any]]) -> bool:
    """Send ``replies`` to ``sender_id`` through ``channel``; whether it sent them.

    A channel that fails unexpectedly is logged and counts as not sending: the
    turn is stored by then, and the caller still gets the messages in the answer.
    """
    if channel is None or not replies:
        return False
    try:
        return await send_unasked(channel, sender_id, replies)
    except Exception:
        logger.exception("%s: the bot's messages to %r could not be sent through the channel",
                         channel.name(), sender_id)
        return False
