"""Rendering the domain's ``utter_*`` responses into bot messages.

A response has variations. Which ones apply depends on the output channel
(``channel:``) and on slot values (``condition: [{type: slot, name, value}]``),
with Rasa's order of preference: conditional variations for this channel,
then plain ones for this channel, then conditional ones for any channel, then
plain ones for any channel. Among those that apply, one is chosen at random
(a seeded generator) or in turn (``sequential``, counted per conversation session).

``{slot}`` in any string of the variation (text, buttons, image, custom
payloads, ...) is replaced by the slot's value. A slot that is unknown or not
set leaves the placeholder visible, and a warning is logged, so a missing
value shows up in testing instead of turning into an empty string. The slots
Rasa's domain adds by itself (``session_started_metadata``, and
``requested_slot`` with forms) are no author's omission when unset: they read
``None``, as in Rasa.

A variation with ``metadata: {template: jinja}`` is a Jinja template instead
(``{{ slot }}``, filters, ``{% if %}``), as Rasa renders it.
"""

from __future__ import annotations

import contextvars
import copy
import functools
import logging
import random
import re
from typing import TYPE_CHECKING, Any

from dialogflowlite.components.generation.messages import compact_message
from dialogflowlite.errors import ConfigError, ProjectError
from dialogflowlite.shared.domain import (
    REQUESTED_SLOT,
    SESSION_START_METADATA_SLOT,
    Domain,
    ResponseDef,
    variation_conditions,
)
from dialogflowlite.shared.events import BotUttered, Restarted, SessionStarted
from dialogflowlite.shared.recent import RecentItems

if TYPE_CHECKING:
    from dialogflowlite.shared.tracker import DialogueStateTracker

logger = logging.getLogger(__name__)

#: how a variation is chosen among those that apply
SELECTION_MODES = ("random", "sequential")

#: ``{name}`` where name looks like a slot name (JSON braces and ``{{x y}}`` are left alone)
PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_\-]*)\}")

#: message metadata key naming the response a message came from (as in Rasa)
UTTER_ACTION_KEY = "utter_action"

#: variation keys copied into the message (after interpolation)
_CONTENT_KEYS = ("text", "buttons", "quick_replies", "image", "attachment", "custom",
                 "elements", "button_type")

#: how many conversations the in-process sequential counters remember
_COUNTER_CAPACITY = 10_000

#: what a placeholder of an unset slot of Rasa's own reads (Rasa formats its None)
UNSET_DEFAULT_SLOT_TEXT = "None"


def format_value(value: Any) -> str:
    """How a slot value reads inside a sentence (lists joined by commas)."""
    if isinstance(value, (list, tuple)):
        return ", ".join(format_value(v) for v in value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


#: a variation's strings as Python's ``str.format`` reads them (Rasa fills them with it):
#: ``{{`` and ``}}`` write one brace, ``{name}`` with no brace or line break inside is a
#: placeholder, and any other brace is a stray one (JSON, for instance)
_FORMAT_TOKEN = re.compile(r"\{\{|\}\}|\{([^\n{}]+?)\}|[{}]")
#: placeholder names that read as a slot's (``user.name``, ``prénom``): only these warn when
#: nothing fills them, so JSON in a text (``{"a": 1}``) stays as it is without a word
_SLOT_LIKE = re.compile(r"[^\W\d][\w.\-]*")


#: the placeholder names warned about while one message is rendered (None: not rendering)
_warned_names: contextvars.ContextVar[set[str] | None] = contextvars.ContextVar(
    "warned_placeholder_names", default=None)


def interpolate(text: str, values: dict[str, Any], *, response: str = "") -> str:
    """Fill ``{name}`` placeholders of ``text`` from ``values``, as Rasa does.

    When every brace of ``text`` is part of a placeholder, ``{{`` or ``}}``,
    the text is a format string as Rasa reads it: ``{{`` and ``}}`` write a
    single brace (Rasa's buttons write ``/inform{{"city": "{city}"}}`` for the
    payload ``/inform{"city": "Oslo"}``). A text with any other brace (JSON,
    nested or not) is no format string: its braces are all kept as written and
    only placeholders with a value are filled. Rasa sends such a text without
    filling anything; filling the known names is the one difference.

    A name with no value (absent or ``None``) keeps its placeholder, and, when
    it reads as a slot's name, a warning names the response and the slot.
    """
    tokens = list(_FORMAT_TOKEN.finditer(text))
    # one stray brace makes the doubled ones literal too: in ``{"a": {"b": {"c": 1}}}``
    # the closing ``}}`` ends two objects and is no escape
    as_format = all(len(token.group(0)) > 1 for token in tokens)
    pieces: list[str] = []
    last = 0
    for token in tokens:
        pieces.append(text[last:token.start()])
        last = token.end()
        pieces.append(_fill(token, values, response, as_format=as_format))
    pieces.append(text[last:])
    return "".join(pieces)


def _fill(token: re.Match[str], values: dict[str, Any], response: str, *,
          as_format: bool) -> str:
    """What one brace token of a response string turns into."""
    written = token.group(0)
    name = token.group(1)
    if name is None:  # ``{{``, ``}}`` or a stray brace
        return written[0] if as_format else written
    value = values.get(name)
    if value is not None:
        return format_value(value)
    warned = _warned_names.get()
    if (name in values or _SLOT_LIKE.fullmatch(name)) and \
            (warned is None or name not in warned):
        logger.warning("response '%s' uses {%s}, which has no value; the placeholder is "
                       "sent as it is", response or "?", name)
        if warned is not None:
            warned.add(name)  # once per message, not for its text, title and payload each
    return written


def interpolate_all(value: Any, values: dict[str, Any], *, response: str = "") -> Any:
    """:func:`interpolate` every string inside ``value`` (dicts and lists recursively)."""
    if isinstance(value, str):
        return interpolate(value, values, response=response)
    if isinstance(value, dict):
        return {k: interpolate_all(v, values, response=response) for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate_all(v, values, response=response) for v in value]
    return value


#: ``metadata: {template: ...}`` of a variation: how its strings are filled (Rasa's names)
TEMPLATE_ENGINE_KEY = "template"
FORMAT_ENGINE = "format"
JINJA_ENGINE = "jinja"
TEMPLATE_ENGINES = (FORMAT_ENGINE, JINJA_ENGINE)


def template_engine(variation: dict[str, Any]) -> str:
    """The engine that fills ``variation``'s strings: ``format`` unless its
    ``metadata`` says ``template: jinja``."""
    metadata = variation.get("metadata")
    if not isinstance(metadata, dict):
        return FORMAT_ENGINE
    return metadata.get(TEMPLATE_ENGINE_KEY) or FORMAT_ENGINE


@functools.cache
def _jinja_environment() -> Any:
    # the sandbox keeps a template from reaching Python internals
    from jinja2.sandbox import SandboxedEnvironment

    return SandboxedEnvironment()


@functools.lru_cache(maxsize=1024)
def _jinja_template(source: str) -> Any:
    # compiled once per text: a response is rendered for every message that uses it
    return _jinja_environment().from_string(source)


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [text for item in value.values() for text in _strings(item)]
    if isinstance(value, list):
        return [text for item in value for text in _strings(item)]
    return []


def template_problem(variation: dict[str, Any]) -> tuple[str, str] | None:
    """What is wrong with a variation's template: a ``metadata.template`` that names
    no known engine, or a jinja template that does not parse; as ``(message, hint)``,
    or None. The domain reader reports it at the variation's line."""
    engine = template_engine(variation)
    if engine not in TEMPLATE_ENGINES:
        return (f"metadata.template '{engine}' is not known",
                f"use one of {', '.join(TEMPLATE_ENGINES)}")
    if engine != JINJA_ENGINE:
        return None
    from jinja2 import TemplateSyntaxError

    for key in _CONTENT_KEYS:
        for text in _strings(variation.get(key)):
            try:
                _jinja_environment().parse(text)
            except TemplateSyntaxError as e:
                return (f"the jinja template of '{key}' does not parse: {e}",
                        "fix the template or drop metadata.template")
    return None


def check_template_engines(domain: Domain) -> None:
    """Refuse a variation whose template :func:`template_problem` finds wrong, naming
    the response (a model trained before the domain reader checked this)."""
    for name, definition in domain.responses.items():
        for variation in definition.variations:
            problem = template_problem(variation)
            if problem is not None:
                raise ProjectError(f"response '{name}': {problem[0]}", hint=problem[1],
                                   position=definition.position)


def interpolate_jinja(value: Any, values: dict[str, Any], *, response: str = "") -> Any:
    """Render every string inside ``value`` as a jinja template over ``values``, as
    Rasa does for a variation with ``metadata: {template: jinja}``: ``{{ slot }}``,
    filters and ``{% if %}``; an unset slot reads ``None``."""
    if isinstance(value, str):
        try:
            return _jinja_template(value).render(values)
        except Exception as e:
            # as Rasa: the string is sent as written, and the reason logged; also for a
            # filter given the wrong type (`join` of an unset slot: a TypeError, with
            # which Rasa's action fails and its events are lost)
            logger.warning("response '%s': jinja could not fill %r (%s); it is sent as "
                           "written", response or "?", value, e)
            return value
    if isinstance(value, dict):
        return {k: interpolate_jinja(v, values, response=response) for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate_jinja(v, values, response=response) for v in value]
    return value


#: which session of a conversation a sequential count belongs to (see _session_start)
_SessionKey = tuple[str, float] | None


def _session_start(tracker: DialogueStateTracker | None) -> _SessionKey:
    """Which session of ``tracker`` is current: the kind and time of its latest
    ``restart`` or ``session_started`` event (None for none).

    Not the event's index: a turn's tracker holds only the latest session (see
    :meth:`~dialogflowlite.stores.base.TrackerStore.retrieve_latest_session`), so
    every session would begin at the same index, while its start event's time is
    stored with it and stays the same however much of the conversation is read."""
    if tracker is None:
        return None
    for index in range(len(tracker.events) - 1, -1, -1):
        event = tracker.events[index]
        if isinstance(event, (Restarted, SessionStarted)):
            return type(event).__name__, event.timestamp
    return None


def placeholders(text: str) -> list[str]:
    """The slot names ``text`` refers to, in order, without repeats."""
    found: list[str] = []
    for name in PLACEHOLDER.findall(text or ""):
        if name not in found:
            found.append(name)
    return found


class TemplateRenderer:
    """Turns a response name into bot messages for one conversation.

    ``selection`` is ``random`` (seeded by ``seed``, so runs repeat) or
    ``sequential`` (variations in turn, per conversation session and response;
    the count comes from the session's earlier ``bot`` events, so it survives
    a server restart when the processor stores message metadata on them, and
    starts over after a ``restart`` or a new session).
    """

    def __init__(self, domain: Domain, *, selection: str = "random",
                 seed: int | None = None) -> None:
        if selection not in SELECTION_MODES:
            raise ConfigError(f"response_selection '{selection}' is not known",
                              hint=f"use one of {', '.join(SELECTION_MODES)}")
        check_template_engines(domain)
        self.domain = domain
        self.selection = selection
        self.random = random.Random(seed)
        self._counters: RecentItems[tuple[str, str, _SessionKey], int] = RecentItems(
            _COUNTER_CAPACITY)

    # ------------------------------------------------------------ questions

    def has_response(self, name: str) -> bool:
        """Whether the domain defines ``name``."""
        return name in self.domain.responses

    def response(self, name: str) -> ResponseDef | None:
        return self.domain.responses.get(name)

    def default_slots(self) -> list[str]:
        """The slots Rasa's domain has without the author declaring them:
        ``session_started_metadata`` always, ``requested_slot`` when there are forms,
        the knowledge-base slots when ``action_query_knowledge_base`` is an action."""
        names = [SESSION_START_METADATA_SLOT]
        if REQUESTED_SLOT in self.domain.slots:
            names.append(REQUESTED_SLOT)
        names += [name for name, slot in self.domain.slots.items()
                  if not slot.declared and name not in names]
        return names

    def placeholder_values(self, tracker: DialogueStateTracker | None) -> dict[str, Any]:
        """What ``{slot}`` placeholders are filled with: the tracker's slots, where the
        unset slots of :meth:`default_slots` read ``None`` as in Rasa.

        Rasa fills placeholders from every slot of its domain, ``None`` when unset.
        An author's own unset slot keeps its placeholder instead (see
        :func:`interpolate`); a default slot that is unset is no omission (a session
        started without metadata, no slot asked for), so it reads as Rasa's does.
        """
        if tracker is None:
            return {}
        values = dict(tracker.slots)
        for name in self.default_slots():
            if values.get(name) is None:
                values[name] = UNSET_DEFAULT_SLOT_TEXT
        return values

    # ------------------------------------------------------------ choosing

    def _condition_holds(self, condition: Any, slots: dict[str, Any]) -> bool:
        if not isinstance(condition, dict):
            return False
        if condition.get("type", "slot") != "slot":
            logger.warning("response condition of type %r is not supported; the variation is "
                           "skipped", condition.get("type"))
            return False
        name = condition.get("name")
        expected = condition.get("value")
        actual = slots.get(name)
        # Both as they are, as Rasa compares them: a slot keeps the value it was set
        # to, so a float slot set to "2" does not meet `value: 2`.
        if isinstance(actual, str) and isinstance(expected, str):
            return actual.casefold() == expected.casefold()  # as Rasa compares text
        return actual == expected

    def _matches(self, variation: dict[str, Any], slots: dict[str, Any]) -> bool:
        return all(self._condition_holds(c, slots) for c in variation_conditions(variation))

    def candidates(self, name: str, slots: dict[str, Any],
                   channel: str | None = None) -> list[dict[str, Any]]:
        """The variations of ``name`` that apply for these slot values and channel."""
        definition = self.domain.responses.get(name)
        if definition is None:
            return []
        conditional_here: list[dict[str, Any]] = []
        conditional_any: list[dict[str, Any]] = []
        plain_here: list[dict[str, Any]] = []
        plain_any: list[dict[str, Any]] = []
        for variation in definition.variations:
            if not self._matches(variation, slots):
                continue
            variation_channel = variation.get("channel")
            if variation_channel and variation_channel != channel:
                continue
            if variation.get("condition"):
                (conditional_here if variation_channel else conditional_any).append(variation)
            else:
                (plain_here if variation_channel else plain_any).append(variation)
        # Rasa's order: a plain variation for this channel goes before a conditional one
        # written for every channel, so a channel's own wording is never lost to it
        for group in (conditional_here, plain_here, conditional_any, plain_any):
            if group:
                return group
        return []

    def _sent_before(self, name: str, tracker: DialogueStateTracker | None) -> int:
        if tracker is None:
            return 0
        return sum(
            1 for event in tracker.applied_events()
            if isinstance(event, BotUttered) and event.metadata.get(UTTER_ACTION_KEY) == name
        )

    def _sequential_index(self, name: str, tracker: DialogueStateTracker | None) -> int:
        sender = tracker.sender_id if tracker is not None else ""
        # counted per session: a restart or a new session starts the turns over, as the
        # count of the session's own bot events does in a process started since
        key = (sender, name, _session_start(tracker))
        # The in-process count covers processors that do not keep message metadata on
        # bot events; the tracker's count covers restarts. The larger one is right.
        index = max(self._counters.get(key, 0), self._sent_before(name, tracker))
        self._counters.put(key, index + 1)
        return index

    def choose(self, name: str, tracker: DialogueStateTracker | None,
               channel: str | None = None) -> dict[str, Any] | None:
        """The variation of ``name`` to send now, or None when none applies."""
        slots = dict(tracker.slots) if tracker is not None else {}
        found = self.candidates(name, slots, channel)
        if not found:
            return None
        if len(found) == 1:
            return found[0]
        if self.selection == "sequential":
            return found[self._sequential_index(name, tracker) % len(found)]
        return self.random.choice(found)

    # ------------------------------------------------------------ rendering

    def render_variation(self, name: str, variation: dict[str, Any],
                         values: dict[str, Any]) -> dict[str, Any]:
        """One variation as a bot message, placeholders filled from ``values``."""
        message: dict[str, Any] = {}
        jinja = template_engine(variation) == JINJA_ENGINE
        warned = _warned_names.set(set())
        try:
            for key in _CONTENT_KEYS:
                if key not in variation:
                    continue
                if jinja:
                    message[key] = interpolate_jinja(variation[key], values, response=name)
                else:
                    message[key] = interpolate_all(variation[key], values, response=name)
        finally:
            _warned_names.reset(warned)
        # As in Rasa, every other key of the variation (``id``, ``channel``, ``condition``,
        # its own ``metadata`` object, keys an author added) goes into the bot event's
        # metadata as it is written, next to the response's name
        metadata = {key: copy.deepcopy(value) for key, value in variation.items()
                    if key not in _CONTENT_KEYS}
        metadata[UTTER_ACTION_KEY] = name
        message["metadata"] = metadata
        return compact_message(message)

    def render(self, response_name: str, tracker: DialogueStateTracker | None,
               channel: str | None = None,
               extra_values: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        """Bot messages for ``response_name`` (empty when it is unknown or nothing applies).

        ``extra_values`` fill placeholders in addition to (and ahead of) the slots.
        """
        if response_name not in self.domain.responses:
            logger.warning("the domain has no response '%s'", response_name)
            return []
        variation = self.choose(response_name, tracker, channel)
        if variation is None:
            logger.warning("no variation of response '%s' applies (channel %s, slot "
                           "conditions)", response_name, channel or "none")
            return []
        values = self.placeholder_values(tracker)
        values.update(extra_values or {})
        return [self.render_variation(response_name, variation, values)]
