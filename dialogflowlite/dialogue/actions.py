"""Actions: what the bot does next, and the events that record it.

Every action has a :meth:`~Action.name` and an async :meth:`~Action.run` that
returns events (``bot`` messages, ``slot`` values, loop changes, ...). Kinds:

* :class:`ResponseAction` sends an ``utter_*`` response through the responder;
* default actions (:mod:`dialogflowlite.dialogue.default_actions`);
* forms (:mod:`dialogflowlite.dialogue.forms`), built on :class:`LoopAction`;
* :class:`CustomAction` runs Python code in-process or on an action server.

:func:`action_for_name` picks the implementation for a name the way Rasa does:
a custom action or response of the same name overrides a default action or a
form.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from dialogflowlite.dialogue.custom_actions import CustomActionExecutor, CustomActionRejected
from dialogflowlite.dialogue.messages import MESSAGE_KEYS, bot_uttered
from dialogflowlite.errors import ActionNotFoundError, ActionRejectedError
from dialogflowlite.shared.domain import ACTION_LISTEN, Domain
from dialogflowlite.shared.events import (
    ActionExecuted,
    ActiveLoop,
    Event,
)
from dialogflowlite.shared.message import RETRIEVAL_SEPARATOR
from dialogflowlite.shared.tracker import DialogueStateTracker

if TYPE_CHECKING:
    from dialogflowlite.dialogue.forms import FormAction

logger = logging.getLogger(__name__)

UTTER_PREFIX = "utter_"


class ActionRejected(ActionRejectedError):
    """The action refuses to run in this state (a form that cannot fill its slot).

    The processor records ``action_execution_rejected`` and lets the policies
    choose another action.
    """

    def __init__(self, action_name: str, message: str = "") -> None:
        self.action_name = action_name
        super().__init__(message or f"action {action_name!r} rejected execution")


@dataclass
class ActionContext:
    """What actions need besides the tracker: the domain, responses and custom code."""

    domain: Domain
    executor: CustomActionExecutor = field(default_factory=CustomActionExecutor)
    #: anything with ``async respond(action_name, tracker, channel) -> list[dict] | None``
    responder: Any = None
    #: the name of the channel the conversation runs on (for channel-specific responses)
    channel: str | None = None
    #: extra input of one action run (``action_send_text`` reads its ``message``)
    metadata: dict[str, Any] = field(default_factory=dict)

    async def render(self, response_name: str, tracker: DialogueStateTracker,
                     arguments: dict[str, Any] | None = None) -> list[dict]:
        """The messages of response ``response_name`` (empty when there is none).

        ``arguments`` (a custom action's extra keyword arguments) fill the
        response's ``{placeholders}`` before slots do, and go to an NLG server.
        """
        if self.responder is None:
            return []
        extra = {"arguments": arguments} if arguments else {}
        messages = await self.responder.respond(response_name, tracker, self.channel, **extra)
        return [dict(m) for m in messages or []]

    def action(self, name: str) -> Action:
        return action_for_name(name, self)


class Action:
    """Base class: a named step of the bot."""

    def name(self) -> str:
        raise NotImplementedError

    async def run(self, tracker: DialogueStateTracker, context: ActionContext) -> list[Event]:
        """Do the action's work; return the events that record it (bot messages included)."""
        raise NotImplementedError

    def executed_event(self, policy: str | None = None,
                       confidence: float | None = None) -> ActionExecuted:
        """The ``action`` event logged when the action ran."""
        return ActionExecuted(name=self.name(), policy=policy, confidence=confidence)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name()!r})"


class ResponseAction(Action):
    """Sends the response of the same name (``utter_greet``; ``utter_faq`` for retrieval)."""

    def __init__(self, name: str, silent: bool = False) -> None:
        self._name = name
        self.silent = silent

    def name(self) -> str:
        return self._name

    async def run(self, tracker: DialogueStateTracker, context: ActionContext) -> list[Event]:
        messages = await context.render(self._name, tracker)
        if not messages:
            if not self.silent:
                logger.error("conversation %r: no response could be made for %r: %s",
                             tracker.sender_id, self._name, self._why_nothing(context))
            return []
        return [bot_uttered(with_utter_action(m, self._name)) for m in messages]

    def _why_nothing(self, context: ActionContext) -> str:
        responses = context.domain.responses
        if self._name in responses or any(
                name.startswith(self._name + RETRIEVAL_SEPARATOR) for name in responses):
            return ("none of its variations fits this conversation (their channel or slot "
                    "conditions)")
        return "the domain has no response of that name"


def with_utter_action(message: dict[str, Any], name: str) -> dict[str, Any]:
    """``message`` with the response it came from in its metadata (``utter_action``)."""
    metadata = dict(message.get("metadata") or {})
    metadata.setdefault("utter_action", name)
    return {**message, "metadata": metadata}


async def response_messages(responses: Iterable[dict[str, Any]], tracker: DialogueStateTracker,
                            context: ActionContext) -> list[dict[str, Any]]:
    """Messages a custom action asked for (rasa-sdk's ``responses``), named responses rendered."""
    messages: list[dict[str, Any]] = []
    for raw in responses:
        response = dict(raw)
        name = response.pop("response", None)
        template = response.pop("template", None)
        name = name or template
        if name:
            # keys that are not part of a message are the action's arguments for the
            # named response (rasa-sdk's utter_message(response=..., **kwargs)); as in
            # Rasa they also stay with the message (its bot event's metadata)
            arguments = {key: value for key, value in response.items()
                         if key not in MESSAGE_KEYS}
            rendered = await context.render(name, tracker, arguments)
            if not rendered:
                logger.warning("a custom action asked for response %r, which does not exist", name)
                continue
            draft, extra = with_utter_action(rendered[0], name), rendered[1:]
        else:
            draft, extra = {}, []
        buttons = response.pop("buttons", None) or []
        if buttons:
            draft["buttons"] = list(draft.get("buttons") or []) + list(buttons)
        # The action's own `metadata` object (utter_message(metadata={...})) is one key of
        # the bot event's metadata, as in Rasa's create_bot_utterance: kept whole under
        # `metadata` (in place of the named response's own), next to `utter_action`
        sent_metadata = response.pop("metadata", None)
        if sent_metadata:
            draft["metadata"] = {**(draft.get("metadata") or {}), "metadata": sent_metadata}
        # Empty values (rasa-sdk sends elements: [], custom: {}) must not hide rendered ones.
        draft.update({key: value for key, value in response.items() if value})
        # A message with nothing to show (only keyword arguments, say) is still recorded as
        # a bot event, its arguments in the metadata, as Rasa does; channels get no reply.
        messages.append(draft)
        messages.extend(extra)
    return messages


class CustomAction(Action):
    """Python code the user wrote: in-process (plugin hook) or on an action server."""

    def __init__(self, name: str) -> None:
        self._name = name

    def name(self) -> str:
        return self._name

    async def run(self, tracker: DialogueStateTracker, context: ActionContext) -> list[Event]:
        try:
            result = await context.executor.run(self._name, tracker, context.domain)
        except CustomActionRejected as e:
            raise ActionRejected(self._name, str(e)) from e
        messages = await response_messages(result.responses, tracker, context)
        return [bot_uttered(m) for m in messages] + list(result.events)


def temporary_tracker(tracker: DialogueStateTracker,
                      events: Iterable[Event]) -> DialogueStateTracker:
    """A copy of ``tracker`` with ``events`` applied (the live tracker stays untouched)."""
    copied = tracker.copy()
    copied.update_with_events(list(events))
    return copied


class LoopAction(Action):
    """An action that stays active over several turns (forms, the two-stage fallback)."""

    async def run(self, tracker: DialogueStateTracker, context: ActionContext) -> list[Event]:
        events: list[Event] = []
        if tracker.active_loop_name != self.name():
            events.append(ActiveLoop(name=self.name()))
            events += await self.activate(temporary_tracker(tracker, events), context)
        if not await self.is_done(tracker, context, events):
            events += await self.do(tracker, context, events)
        if await self.is_done(tracker, context, events):
            events.append(ActiveLoop(name=None))
            events += await self.deactivate(tracker, context, events)
        return events

    async def activate(self, tracker: DialogueStateTracker,
                       context: ActionContext) -> list[Event]:
        """Events when the loop starts (``tracker`` already has it active)."""
        return []

    async def do(self, tracker: DialogueStateTracker, context: ActionContext,
                 events_so_far: list[Event]) -> list[Event]:
        """One turn of the loop."""
        raise NotImplementedError

    async def is_done(self, tracker: DialogueStateTracker, context: ActionContext,
                      events_so_far: list[Event]) -> bool:
        """Whether the loop ends with this turn."""
        raise NotImplementedError

    async def deactivate(self, tracker: DialogueStateTracker, context: ActionContext,
                         events_so_far: list[Event]) -> list[Event]:
        """Events when the loop ends."""
        return []


def last_executed_action(tracker: DialogueStateTracker, skip: int = 0,
                         exclude: Iterable[str] = (ACTION_LISTEN,)) -> str | None:
    """The name of the latest ``action`` event not in ``exclude``, skipping ``skip`` of them."""
    excluded = set(exclude)
    for event in reversed(tracker.events):
        if isinstance(event, ActionExecuted) and event.name not in excluded:
            if skip == 0:
                return event.name
            skip -= 1
    return None


def user_defined(name: str, context: ActionContext) -> bool:
    """Whether the project itself provides ``name`` (declared under ``actions:`` or in-process)."""
    return name in context.domain.custom_actions or context.executor.is_local(name)


def is_known_action(name: str, context: ActionContext) -> bool:
    return context.domain.is_known_action(name) or context.executor.is_local(name)


def action_for_name(name: str, context: ActionContext) -> Action:
    """The action implementing ``name``; :class:`ActionNotFoundError` for unknown names."""
    from dialogflowlite.dialogue.default_actions import DEFAULT_ACTION_CLASSES
    from dialogflowlite.dialogue.forms import FormAction

    domain = context.domain
    own = user_defined(name, context)
    if name in DEFAULT_ACTION_CLASSES and not own and name not in domain.responses:
        return DEFAULT_ACTION_CLASSES[name]()
    if name in domain.responses or name in domain.utter_actions:
        return ResponseAction(name)
    if own:
        return CustomAction(name)
    if name in domain.forms:
        form: FormAction = FormAction(name)
        return form
    if name.startswith(UTTER_PREFIX):
        return ResponseAction(name)
    if domain.is_known_action(name):
        return CustomAction(name)
    raise ActionNotFoundError(f"no action named {name!r}",
                              hint="declare it in the domain (actions:, responses: or forms:) "
                                   "or register it with the dfl_register_actions hook")

