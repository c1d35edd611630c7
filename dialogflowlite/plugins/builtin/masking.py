"""Built-in plugin: masking personal data before it is stored or logged (off by default).

When enabled, e-mail addresses, phone numbers, payment card numbers and the
project's own patterns are replaced by ``[EMAIL]``, ``[PHONE]``, ``[CARD]``,
``[<NAME>]`` in everything that reaches the tracker store (user text, entity
and slot values, bot text, metadata) and in log messages. NLU still reads the
original text, and the user's own replies are not changed.

Enable it in endpoints.yml::

    masking:
      enabled: true          # the section alone does not switch it on
      email: true            # each built-in kind can be turned off
      phone: true
      card: true
      patterns:              # project-specific data, masked as [ORDER_ID] ...
        - name: order_id
          pattern: "ORD-[0-9]{6}"

Phone numbers are runs of at least 9 digits (spaces, dots, dashes and
brackets allowed between them), or at least 7 after a leading ``+``; card
numbers are 13 to 19 digits that pass the Luhn check.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from dialogflowlite import hookimpl
from dialogflowlite.errors import ConfigError

if TYPE_CHECKING:
    from sanic import Sanic

EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
CARD = re.compile(r"(?<![\w])(?:\d[ -]?){12,18}\d(?![\w])")
PHONE = re.compile(r"(?<![\w+])(\+)?(?:\(?\d[\d ().\-/]*)\d(?![\w])")
PHONE_MIN_DIGITS = 9
PHONE_MIN_DIGITS_INTERNATIONAL = 7

#: event keys whose values are names and identifiers, never personal data
SKIPPED_KEYS = frozenset({
    "event", "timestamp", "name", "message_id", "policy", "confidence", "input_channel",
    "intent", "intent_ranking", "entity", "extractor", "role", "group", "start", "end",
    "processors", "confidence_entity", "action_name", "action_text",
})


def luhn_valid(digits: str) -> bool:
    """Whether a digit string passes the Luhn checksum of card numbers."""
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2 == 1:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


@dataclass
class Masker:
    """Replaces personal data in text; built from the ``masking`` section of endpoints.yml."""

    email: bool = True
    phone: bool = True
    card: bool = True
    patterns: list[tuple[str, re.Pattern]] = field(default_factory=list)

    @classmethod
    def from_config(cls, section: dict[str, Any] | None) -> Masker | None:
        """The masker the section asks for, or None when masking is not enabled."""
        if not section:
            return None
        if not isinstance(section, dict):
            raise ConfigError("endpoints.yml masking must be a mapping",
                              hint="write `masking:` with `enabled: true` below it")
        known = {"enabled", "email", "phone", "card", "patterns"}
        for key in section:
            if key not in known:
                from dialogflowlite.io.formats import did_you_mean

                raise ConfigError(f"endpoints.yml masking has no setting {key!r}",
                                  hint=did_you_mean(key, known) or
                                  f"its settings are: {', '.join(sorted(known))}")
        if section.get("enabled") is not True:
            return None
        patterns = []
        for index, item in enumerate(section.get("patterns") or []):
            where = f"endpoints.yml masking.patterns[{index}]"
            if not isinstance(item, dict) or not isinstance(item.get("name"), str) \
                    or not isinstance(item.get("pattern"), str):
                raise ConfigError(f"{where} needs a `name` and a `pattern` (strings)")
            try:
                patterns.append((item["name"], re.compile(item["pattern"])))
            except re.error as e:
                raise ConfigError(f"{where}.pattern is not a valid regular expression: {e}") \
                    from e
        return cls(email=bool(section.get("email", True)), phone=bool(section.get("phone", True)),
                   card=bool(section.get("card", True)), patterns=patterns)

    def mask(self, text: str) -> str:
        """``text`` with every kind of personal data this masker knows replaced."""
        for name, pattern in self.patterns:
            text = pattern.sub(f"[{name.upper()}]", text)
        if self.email:
            text = EMAIL.sub("[EMAIL]", text)
        if self.card:
            text = CARD.sub(_card, text)
        if self.phone:
            text = PHONE.sub(_phone, text)
        return text

    def mask_value(self, value: Any) -> Any:
        """Strings masked inside any JSON value, names and identifiers left alone."""
        if isinstance(value, str):
            return self.mask(value)
        if isinstance(value, list):
            return [self.mask_value(item) for item in value]
        if isinstance(value, dict):
            return {key: item if key in SKIPPED_KEYS else self.mask_value(item)
                    for key, item in value.items()}
        return value


def _card(match: re.Match) -> str:
    digits = re.sub(r"\D", "", match.group(0))
    return "[CARD]" if 13 <= len(digits) <= 19 and luhn_valid(digits) else match.group(0)


def _phone(match: re.Match) -> str:
    digits = sum(char.isdigit() for char in match.group(0))
    needed = PHONE_MIN_DIGITS_INTERNATIONAL if match.group(1) else PHONE_MIN_DIGITS
    return "[PHONE]" if digits >= needed else match.group(0)


_active: Masker | None = None
_original_factory: Callable[..., logging.LogRecord] | None = None


def active_masker() -> Masker | None:
    """The masker in use, or None while masking is off."""
    return _active


def _masking_record_factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
    assert _original_factory is not None
    record = _original_factory(*args, **kwargs)
    masker = _active
    if masker is not None:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string is logging's problem, not ours
            return record
        record.msg, record.args = masker.mask(message), ()
    return record


def configure(section: dict[str, Any] | None) -> Masker | None:
    """Switch masking on (or off) for this process from an endpoints.yml ``masking`` section."""
    global _active, _original_factory
    _active = Masker.from_config(section)
    if _active is not None and _original_factory is None:
        _original_factory = logging.getLogRecordFactory()
        logging.setLogRecordFactory(_masking_record_factory)
    elif _active is None and _original_factory is not None:
        logging.setLogRecordFactory(_original_factory)
        _original_factory = None
    return _active


@hookimpl
def dfl_server_setup(app: Sanic) -> None:
    configure(app.ctx.config.read_endpoints().get("masking"))


@hookimpl
def dfl_message_received(message: Any) -> None:
    masker = _active
    if masker is None or not isinstance(getattr(message, "text", None), str):
        return
    masked = masker.mask(message.text)
    if masked != message.text:
        message.text_for_storage = masked
    if message.metadata:
        message.metadata = masker.mask_value(message.metadata)


@hookimpl
def dfl_before_events_stored(sender_id: str, events: list[dict[str, Any]]) -> None:
    masker = _active
    if masker is None:
        return
    for event in events:
        masked = masker.mask_value(event)
        event.clear()
        event.update(masked)
