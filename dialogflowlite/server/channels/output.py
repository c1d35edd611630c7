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

A fired reminder's messages take the same way, to the channel of the turn that
scheduled it (:func:`connect_reminders`): the user message's channel, or the
``output_channel`` of the request, as Rasa keeps the scheduling call's output
channel with the job. Where there is none, or it cannot send unasked, they are
only stored.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from dialogflowlite.server.channels.base import send_unasked

if TYPE_CHECKING:
    from sanic import Request, Sanic

    from dialogflowlite.dialogue.reminders import UnaskedSender
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
    return _running(request.app)


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


def connect_reminders(app: Sanic, agent: Any) -> None:
    """Let ``agent``'s fired reminders send their messages through ``app``'s channels.

    Sets the processor's ``unasked_sender`` once per agent (the server calls it
    for every agent it runs, a swapped-in one too); one the agent's owner set
    already is kept.
    """
    processor = getattr(agent, "processor", None)
    if processor is not None and getattr(processor, "unasked_sender", False) is None:
        processor.unasked_sender = channel_sender(app)


def channel_sender(app: Sanic) -> UnaskedSender:
    """Sends replies unasked through the channel named, among the channels ``app`` runs
    (read when sending); answers False for a channel it does not run."""

    async def send(sender_id: str, channel_name: str | None,
                   replies: list[dict[str, Any]]) -> bool:
        channel = channel_named(_running(app), channel_name) if channel_name else None
        return await send_through(channel, sender_id, replies)

    return send


def _running(app: Sanic) -> list[Any]:
    return list(getattr(app.ctx, "channels", None) or [])
