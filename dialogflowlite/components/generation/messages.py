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

    In Rasa's order, each its own object: the text (with its buttons, or quick
    replies as buttons; plain text is cut at blank lines into one object per
    paragraph), then the custom payload, the image, the attachment, and each
    card of ``elements`` (``title : subtitle`` with the card's buttons).
    """
    head: dict[str, Any] = {} if recipient_id is None else {"recipient_id": recipient_id}
    out: list[dict[str, Any]] = []
    text = message.get("text")
    buttons = message.get("quick_replies") or message.get("buttons")
    if buttons:
        reply = {**head, "buttons": list(buttons)}
        if text is not None:
            reply = {**head, "text": text, "buttons": list(buttons)}
        button_type = message.get("button_type") or (message.get("metadata") or {}).get(
            "button_type")
        if button_type:
            reply["button_type"] = button_type
        out.append(reply)
    elif text:
        out += [{**head, "text": part} for part in str(text).strip().split("\n\n")]
    for key in ("custom", "image", "attachment"):
        if message.get(key) not in (None, "", [], {}):
            out.append({**head, key: message[key]})
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
