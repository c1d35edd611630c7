"""Buttons without a text, on platforms that show no buttons alone.

A custom action often says a text and then, in a message of its own, the
buttons to answer it with (``dispatcher.utter_message(buttons=[...])``); a
response may also have buttons and no text at all. Telegram's ``sendMessage``
and Messenger's button template and quick replies need a non-empty text:
Rasa's channels send the buttons with none, which the platform refuses, and
the user sees no buttons. The Telegram and Facebook channels therefore put
such buttons on the text sent just before them (:func:`buttons_on_texts`),
and where there is none, show them under :data:`LONE_BUTTONS_TEXT`, with a
warning that names the conversation.
"""

from __future__ import annotations

from typing import Any

#: the text buttons are shown under when neither their reply nor the one before has
#: one: the platform needs a text, and an ellipsis reads the same in every language
LONE_BUTTONS_TEXT = "…"

#: the keys that hold a reply's buttons
CHOICE_KEYS = ("buttons", "quick_replies")

#: what a reply of buttons alone may hold besides them (so nothing else of it is lost
#: when the buttons move onto the text before)
_LONE_KEYS = {"recipient_id", "text", "button_type", *CHOICE_KEYS}
#: what a plain text reply holds
_TEXT_KEYS = {"recipient_id", "text"}


def has_text(reply: dict[str, Any]) -> bool:
    """Whether ``reply`` has a text that is more than white space."""
    return bool(str(reply.get("text") or "").strip())


def lone_buttons(reply: dict[str, Any]) -> bool:
    """Whether ``reply`` holds buttons (or quick replies) and nothing else to show them on."""
    return (any(reply.get(key) for key in CHOICE_KEYS) and not has_text(reply)
            and set(reply) <= _LONE_KEYS)


def buttons_on_texts(replies: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``replies`` with each reply of buttons alone joined to the plain text just before it.

    The text then carries the buttons, as it would have had the message held
    both; buttons after anything else (an image, other buttons, nothing) stay
    a reply of their own.
    """
    joined: list[dict[str, Any]] = []
    for reply in replies:
        before = joined[-1] if joined else None
        if (before is not None and lone_buttons(reply) and has_text(before)
                and set(before) <= _TEXT_KEYS):
            joined[-1] = {**before, **{key: value for key, value in reply.items()
                                       if key != "text"}}
        else:
            joined.append(reply)
    return joined
