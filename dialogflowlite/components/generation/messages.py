"""Bot messages as the responder hands them out, as channel replies, and in Rasa's REST shape.

A bot message is a plain dict with only the keys that are set, out of
:data:`MESSAGE_KEYS`. ``metadata`` travels with the message (the processor
records it on the ``bot`` event) but is not part of what a channel sends.

A message goes out as one or more *replies* (:func:`channel_replies`), each
one part of it, as Rasa's output channels get them: a text with quick replies
keeps them as ``quick_replies`` and the cards of ``elements`` stay together in
one reply, so that channels which show them (a Messenger generic template, a
Bot Framework carousel) can. Rasa's REST channel flattens those two
(:func:`rasa_replies`): quick replies become buttons and each card a text.
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

#: keys of replies that Rasa's REST shape does not have: messaging channels that show
#: them get them as they are, :func:`flatten_reply` turns them into REST replies
RICH_KEYS: tuple[str, ...] = ("quick_replies", "elements")


def compact_message(message: dict[str, Any]) -> dict[str, Any]:
    """``message`` with only known keys whose values are set, in :data:`MESSAGE_KEYS` order.

    An empty ``text`` is kept: Rasa sends it with the buttons it heads (``"text": ""``).
    """
    return {key: message[key] for key in MESSAGE_KEYS
            if message.get(key) not in (None, "", [], {})
            or (key == "text" and message.get(key) == "")}


def bot_event_data(message: dict[str, Any]) -> dict[str, Any]:
    """The ``data`` of a ``bot`` event for ``message`` (Rasa keeps rich parts there)."""
    keys = ("elements", "quick_replies", "buttons", "attachment", "image", "custom")
    return {key: message.get(key) for key in keys}


def channel_replies(message: dict[str, Any],
                    recipient_id: str | None = None) -> list[dict[str, Any]]:
    """The message as replies to the messaging channels: one JSON object per part.

    In Rasa's order, each its own object: the text (with its quick replies as
    ``quick_replies``, else with its buttons; plain text is cut at blank lines
    into one object per paragraph), then the custom payload, the image, the
    attachment, and the cards of ``elements`` together as ``{"elements": [...]}``.
    A response's ``button_type`` goes with its buttons or quick replies.
    """
    head: dict[str, Any] = {} if recipient_id is None else {"recipient_id": recipient_id}
    out: list[dict[str, Any]] = []
    text = message.get("text")
    choice_key = "quick_replies" if message.get("quick_replies") else "buttons"
    choices = message.get(choice_key)
    if choices:
        reply = {**head, choice_key: list(choices)}
        if text is not None:
            reply = {**head, "text": text, choice_key: list(choices)}
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
    cards = [element for element in message.get("elements") or [] if isinstance(element, dict)]
    if cards:
        out.append({**head, "elements": cards})
    return out


def flatten_reply(reply: dict[str, Any]) -> list[dict[str, Any]]:
    """One channel reply in Rasa's REST shape (:data:`CHANNEL_KEYS` kept): one or more replies.

    Quick replies become the text's ``buttons``; each card of ``elements``
    becomes a reply of its own, ``title : subtitle`` with the card's buttons,
    as Rasa's collecting channel sends them, after a reply with what else the
    reply holds (its text and buttons, say). Any other reply is returned as it is.
    """
    if not any(key in reply for key in RICH_KEYS):
        return [reply]
    if "elements" in reply:
        return _card_replies(reply)
    # rebuilt key by key so that the buttons sit where the quick replies were
    return [{("buttons" if key == "quick_replies" else key): value
             for key, value in reply.items() if key != "buttons"}]


def _card_replies(reply: dict[str, Any]) -> list[dict[str, Any]]:
    rest = {key: value for key, value in reply.items() if key != "elements"}
    out: list[dict[str, Any]] = []
    # As Rasa's send_response: what else the reply shows (its text, buttons, ...) goes
    # first, in a reply of its own, then each card; a card's text must not replace it
    if any(rest.get(key) not in (None, "", [], {}) for key in MESSAGE_KEYS
           if key not in (*CHANNEL_KEYS, "metadata")):
        out += flatten_reply(rest)
    head = {key: value for key, value in rest.items()
            if key not in MESSAGE_KEYS or key in CHANNEL_KEYS}
    for element in reply.get("elements") or []:
        if not isinstance(element, dict):
            continue
        item = dict(head)
        item["text"] = f"{element.get('title', '')} : {element.get('subtitle', '')}"
        # Rasa's collecting channel sends a card's buttons, an empty list too
        item["buttons"] = list(element.get("buttons") or [])
        out.append(item)
    return out


def flatten_replies(replies: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Channel replies in Rasa's REST shape, :data:`CHANNEL_KEYS` kept (see :func:`flatten_reply`).

    What a channel that shows no quick replies or cards sends, so that nothing
    of a message is lost; replies already in the REST shape stay as they are.
    """
    return [flat for reply in replies for flat in flatten_reply(reply)]


def rasa_replies(replies: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Channel replies exactly as Rasa's REST channel sends them.

    Flattened (:func:`flatten_reply`) and without :data:`CHANNEL_KEYS`: the
    REST webhook, the callback channel and the conversation routes answer this.
    """
    return [rasa_shape(flat) for flat in flatten_replies(replies)]


def to_rest(message: dict[str, Any], recipient_id: str | None = None) -> list[dict[str, Any]]:
    """The message as Rasa's REST channel sends it: one or more JSON objects.

    In Rasa's order, each its own object: the text (with its buttons, or quick
    replies as buttons; plain text is cut at blank lines into one object per
    paragraph), then the custom payload, the image, the attachment, and each
    card of ``elements`` (``title : subtitle`` with the card's buttons).
    A response's ``button_type`` stays with the buttons (see :func:`rasa_shape`).
    """
    return flatten_replies(channel_replies(message, recipient_id))


def rasa_shape(reply: dict[str, Any]) -> dict[str, Any]:
    """One REST-shaped ``reply`` exactly as Rasa's REST channel sends it: without
    :data:`CHANNEL_KEYS` (:func:`rasa_replies` also flattens quick replies and cards)."""
    if not any(key in reply for key in CHANNEL_KEYS):
        return reply
    return {key: value for key, value in reply.items() if key not in CHANNEL_KEYS}
