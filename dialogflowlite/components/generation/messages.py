"""Bot messages as the responder hands them out, and their Rasa REST-channel shape.

A bot message is a plain dict with only the keys that are set, out of
:data:`MESSAGE_KEYS`. ``metadata`` travels with the message (the processor
records it on the ``bot`` event) but is not part of what a channel sends.
"""

from __future__ import annotations

from typing import Any

#: keys a bot message may carry, in the order they are written
MESSAGE_KEYS: tuple[str, ...] = (
    "text",
    "buttons",
    "quick_replies",
    "image",
    "attachment",
    "custom",
    "elements",
    "button_type",
    "metadata",
)

#: keys of a message on Rasa's REST channel (besides ``recipient_id``)
REST_KEYS: tuple[str, ...] = ("text", "buttons", "image", "custom", "attachment")
#: keys a reply carries for the messaging channels only (a response's ``button_type``,
#: as Rasa hands it to Telegram and the like); :func:`rasa_shape` drops them wherever
#: replies leave the server in Rasa's REST shape
CHANNEL_KEYS: tuple[str, ...] = ("button_type",)


def compact_message(message: dict[str, Any]) -> dict[str, Any]:
    """``message`` with only known keys whose values are set, in :data:`MESSAGE_KEYS` order."""
    return {key: message[key] for key in MESSAGE_KEYS if message.get(key) not in (None, "", [], {})}


def bot_event_data(message: dict[str, Any]) -> dict[str, Any]:
    """The ``data`` of a ``bot`` event for ``message`` (Rasa keeps rich parts there)."""
    keys = ("elements", "quick_replies", "buttons", "attachment", "image", "custom")
    return {key: message.get(key) for key in keys}


def to_rest(message: dict[str, Any], recipient_id: str | None = None) -> list[dict[str, Any]]:
    """The message as Rasa's REST channel sends it: one or more JSON objects.

    Quick replies go out as buttons and each element of ``elements`` as its
    own message (``title : subtitle`` with the element's buttons), which is
    what Rasa's collecting channel does with them.
    """
    head: dict[str, Any] = {} if recipient_id is None else {"recipient_id": recipient_id}
    out: list[dict[str, Any]] = []
    main = dict(head)
    for key in REST_KEYS:
        value = message.get(key)
        if value not in (None, "", [], {}):
            main[key] = value
    if message.get("quick_replies") and "buttons" not in main:
        main["buttons"] = list(message["quick_replies"])
    button_type = message.get("button_type") or (message.get("metadata") or {}).get(
        "button_type")
    if button_type and main.get("buttons"):
        main["button_type"] = button_type
    if len(main) > len(head):
        out.append(main)
    for element in message.get("elements") or []:
        if not isinstance(element, dict):
            continue
        item = dict(head)
        item["text"] = f"{element.get('title', '')} : {element.get('subtitle', '')}"
        if element.get("buttons"):
            item["buttons"] = list(element["buttons"])
        out.append(item)
    return out


def rasa_shape(reply: dict[str, Any]) -> dict[str, Any]:
    """``reply`` exactly as Rasa's REST channel sends it: without :data:`CHANNEL_KEYS`."""
    if not any(key in reply for key in CHANNEL_KEYS):
        return reply
    return {key: value for key, value in reply.items() if key not in CHANNEL_KEYS}
