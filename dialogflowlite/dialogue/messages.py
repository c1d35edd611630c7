"""Messages in and out of the dialogue manager.

:class:`IncomingMessage` is what a channel hands to the processor. Bot messages
are plain dicts (``text``, ``buttons``, ``image``, ``custom``, ...) as
responses and actions produce them; :func:`bot_uttered` records one as a
``bot`` event, :func:`channel_replies` turns them into the replies channels
get and :func:`rest_replies` into the replies of Rasa's REST channel.
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from dialogflowlite.shared.events import BotUttered

#: keys of a bot message that go into the ``data`` of its ``bot`` event
BOT_DATA_KEYS = ("elements", "quick_replies", "buttons", "attachment", "image", "custom")
#: every key a bot message may have (anything else a custom action sends is an argument)
MESSAGE_KEYS = ("text", "metadata", "button_type", *BOT_DATA_KEYS)

DEFAULT_SENDER_ID = "default"

#: receives a turn's replies as each action ends (see :attr:`IncomingMessage.reply_sink`)
ReplySink = Callable[[list[dict[str, Any]]], Awaitable[None]]


@dataclass
class IncomingMessage:
    """A user message as a channel received it.

    ``text`` is kept without the white space around it, as Rasa's channels keep
    it, so the offsets of its entities count in the text stored.
    ``text_for_storage`` (set by a ``dfl_message_received`` plugin) replaces the
    text in the tracker and the store while NLU still reads ``text``.
    ``parse_data`` skips NLU when the caller already has a parse result.
    ``reply_sink``, when set, gets the replies of each action as soon as the
    action has run (Rasa's streamed REST answer); the turn still returns them all.
    """

    text: str | None
    sender_id: str = DEFAULT_SENDER_ID
    channel: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    message_id: str | None = None
    text_for_storage: str | None = None
    parse_data: dict[str, Any] | None = None
    reply_sink: ReplySink | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.text:
            self.text = self.text.strip()
        if self.message_id is None:
            self.message_id = uuid.uuid4().hex
        if not self.sender_id:
            self.sender_id = DEFAULT_SENDER_ID
        self.metadata = dict(self.metadata or {})

    @property
    def stored_text(self) -> str | None:
        """The text that goes into the tracker."""
        return self.text if self.text_for_storage is None else self.text_for_storage


def bot_uttered(message: dict[str, Any]) -> BotUttered:
    """The ``bot`` event for a bot message.

    Rich parts go into the event's ``data``; the message's ``metadata`` (and any
    other key, such as what a custom action passed along) into its metadata.
    """
    rest = copy.deepcopy(message)
    text = rest.pop("text", None)
    data = {key: rest.pop(key, None) for key in BOT_DATA_KEYS}
    # Rasa's compatibility quirk: an image is also the attachment unless one is given.
    if data["attachment"] is None and data["image"] is not None:
        data["attachment"] = data["image"]
    metadata = dict(rest.pop("metadata", None) or {})
    metadata.update({key: value for key, value in rest.items() if value is not None})
    return BotUttered(text=text, data=data, metadata=metadata)


def bot_message(event: BotUttered) -> dict[str, Any]:
    """The message of a ``bot`` event, keys only when set, an empty ``text`` included
    (``metadata`` holds the rest)."""
    message: dict[str, Any] = {"text": event.text}
    for key in BOT_DATA_KEYS:
        value = event.data.get(key)
        if value not in (None, "", [], {}):
            message[key] = value
    if message.get("attachment") is not None and message.get("attachment") == message.get("image"):
        del message["attachment"]
    if event.metadata:
        message["metadata"] = dict(event.metadata)
    # an empty text stays: Rasa hands it to the channel, which sends it with buttons
    return {key: value for key, value in message.items()
            if value is not None and (value != "" or key == "text")}


def channel_replies(recipient_id: str, message: dict[str, Any]) -> list[dict[str, Any]]:
    """One bot message as the replies the channels get (``recipient_id`` plus the keys set).

    As :func:`rest_replies`, except that quick replies stay ``quick_replies``
    and the cards of ``elements`` stay together in one ``{"elements": [...]}``
    reply, for the channels that show them; Rasa's REST shape is
    :func:`~dialogflowlite.components.generation.messages.rasa_replies` of these.
    """
    from dialogflowlite.components.generation.messages import channel_replies as replies_of

    return replies_of(message, recipient_id)


def rest_replies(recipient_id: str, message: dict[str, Any]) -> list[dict[str, Any]]:
    """One bot message as Rasa REST-channel replies (``recipient_id`` plus the keys that are set).

    As Rasa's collecting channel sends them: the text with its buttons (quick
    replies as buttons; plain text one reply per paragraph), then custom JSON,
    image and attachment each in a reply of its own, then each card of
    ``elements``.
    """
    from dialogflowlite.components.generation.messages import to_rest

    return to_rest(message, recipient_id)
