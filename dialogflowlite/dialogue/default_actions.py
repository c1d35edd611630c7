"""The actions every bot has, with Rasa's behaviour.

A project overrides any of them by declaring a custom action (or, for the
ones that only send a response, the response: ``utter_default``,
``utter_restart``, ``utter_back``, ``utter_ask_rephrase``).
"""

from __future__ import annotations

import copy
import time

from dialogflowlite.dialogue.actions import (
    Action,
    ActionContext,
    LoopAction,
    ResponseAction,
    last_executed_action,
)
from dialogflowlite.dialogue.messages import bot_uttered
from dialogflowlite.dialogue.slot_filling import extract_slots
from dialogflowlite.shared.domain import (
    ACTION_BACK,
    ACTION_DEACTIVATE_LOOP,
    ACTION_DEFAULT_ASK_AFFIRMATION,
    ACTION_DEFAULT_ASK_REPHRASE,
    ACTION_DEFAULT_FALLBACK,
    ACTION_EXTRACT_SLOTS,
    ACTION_GENERATE,
    ACTION_LISTEN,
    ACTION_RESTART,
    ACTION_REVERT_FALLBACK_EVENTS,
    ACTION_SEND_TEXT,
    ACTION_SESSION_START,
    ACTION_TWO_STAGE_FALLBACK,
    ACTION_UNLIKELY_INTENT,
    REQUESTED_SLOT,
    SESSION_START_METADATA_SLOT,
)
from dialogflowlite.shared.events import (
    ActionExecuted,
    ActiveLoop,
    Event,
    Restarted,
    SessionStarted,
    SlotSet,
    UserUtteranceReverted,
    UserUttered,
)
from dialogflowlite.shared.message import NLU_FALLBACK_INTENT
from dialogflowlite.shared.tracker import DialogueStateTracker

OUT_OF_SCOPE_INTENT = "out_of_scope"

#: ``context.metadata`` key under which the processor passes a new session's metadata
SESSION_METADATA_KEY = "session_metadata"


class ActionListen(Action):
    """Wait for the user: ends the bot's turn."""

    def name(self) -> str:
        return ACTION_LISTEN

    async def run(self, tracker: DialogueStateTracker, context: ActionContext) -> list[Event]:
        return []


class ActionRestart(ResponseAction):
    """Forget the conversation (sends ``utter_restart`` first when the domain has it)."""

    def __init__(self) -> None:
        super().__init__("utter_restart", silent=True)

    def name(self) -> str:
        return ACTION_RESTART

    async def run(self, tracker: DialogueStateTracker, context: ActionContext) -> list[Event]:
        return [*await super().run(tracker, context), Restarted()]


class ActionSessionStart(Action):
    """Start a new session, carrying the slots over when ``session_config`` says so."""

    def name(self) -> str:
        return ACTION_SESSION_START

    async def run(self, tracker: DialogueStateTracker, context: ActionContext) -> list[Event]:
        events: list[Event] = [SessionStarted()]
        metadata = context.metadata.get(SESSION_METADATA_KEY)
        if context.domain.session_config.carry_over_slots_to_new_session:
            # The previous session's metadata carries over like any slot (as in Rasa)
            # unless this session brings its own.
            events += [SlotSet(name=e.name, value=copy.deepcopy(e.value),
                               metadata=dict(e.metadata))
                       for e in tracker.applied_events()
                       if isinstance(e, SlotSet)
                       and not (metadata and e.name == SESSION_START_METADATA_SLOT)]
        if metadata:
            events.append(SlotSet(name=SESSION_START_METADATA_SLOT, value=metadata))
        events.append(ActionExecuted(name=ACTION_LISTEN))
        return events


class ActionDefaultFallback(ResponseAction):
    """Send ``utter_default`` (when it exists) and forget the message that was not understood."""

    def __init__(self) -> None:
        super().__init__("utter_default", silent=True)

    def name(self) -> str:
        return ACTION_DEFAULT_FALLBACK

    async def run(self, tracker: DialogueStateTracker, context: ActionContext) -> list[Event]:
        return [*await super().run(tracker, context), UserUtteranceReverted()]


class ActionDeactivateLoop(Action):
    """Stop the active loop (form) and clear ``requested_slot``."""

    def name(self) -> str:
        return ACTION_DEACTIVATE_LOOP

    async def run(self, tracker: DialogueStateTracker, context: ActionContext) -> list[Event]:
        return [ActiveLoop(name=None), SlotSet(name=REQUESTED_SLOT, value=None)]


class ActionBack(ResponseAction):
    """Go back two user turns (sends ``utter_back`` first when the domain has it)."""

    def __init__(self) -> None:
        super().__init__("utter_back", silent=True)

    def name(self) -> str:
        return ACTION_BACK

    async def run(self, tracker: DialogueStateTracker, context: ActionContext) -> list[Event]:
        return [*await super().run(tracker, context), UserUtteranceReverted(),
                UserUtteranceReverted()]


class ActionDefaultAskAffirmation(Action):
    """Ask whether the user meant the most likely intent, with Yes/No buttons."""

    def name(self) -> str:
        return ACTION_DEFAULT_ASK_AFFIRMATION

    async def run(self, tracker: DialogueStateTracker, context: ActionContext) -> list[Event]:
        message = tracker.latest_message
        intent = message.intent_name if message else None
        ranking = (message.parse_data.get("intent_ranking") or []) if message else []
        if intent == NLU_FALLBACK_INTENT and len(ranking) > 1:
            intent = ranking[1].get("name")
        return [bot_uttered({
            "text": f"Did you mean '{intent}'?",
            "buttons": [{"title": "Yes", "payload": f"/{intent}"},
                        {"title": "No", "payload": f"/{OUT_OF_SCOPE_INTENT}"}],
            "metadata": {"utter_action": self.name()},
        })]


class ActionDefaultAskRephrase(ResponseAction):
    """Ask the user to say it again (``utter_ask_rephrase`` when the domain has it)."""

    def __init__(self) -> None:
        super().__init__("utter_ask_rephrase", silent=True)

    def name(self) -> str:
        return ACTION_DEFAULT_ASK_REPHRASE


def _revert_rephrasing() -> list[Event]:
    return [UserUtteranceReverted(), UserUtteranceReverted(), UserUtteranceReverted(),
            ActionExecuted(name=ACTION_LISTEN)]


def _clarified_message(tracker: DialogueStateTracker) -> UserUttered:
    latest = copy.deepcopy(tracker.latest_message)
    assert latest is not None
    latest.parse_data.setdefault("intent", {})["confidence"] = 1.0
    latest.timestamp = time.time()
    return latest


class ActionRevertFallbackEvents(Action):
    """Undo the turns of a two-stage fallback once the user affirmed or rephrased."""

    def name(self) -> str:
        return ACTION_REVERT_FALLBACK_EVENTS

    async def run(self, tracker: DialogueStateTracker, context: ActionContext) -> list[Event]:
        if tracker.latest_message is None:
            return []
        if last_executed_action(tracker) == ACTION_DEFAULT_ASK_REPHRASE:
            return [*_revert_rephrasing(), _clarified_message(tracker)]
        if last_executed_action(tracker) == ACTION_DEFAULT_ASK_AFFIRMATION:
            events: list[Event] = [UserUtteranceReverted(), UserUtteranceReverted(),
                                   ActionExecuted(name=ACTION_LISTEN)]
            if last_executed_action(tracker, skip=1) == ACTION_DEFAULT_ASK_REPHRASE:
                events += _revert_rephrasing()
            return [*events, _clarified_message(tracker)]
        return []


def _intent_names(tracker: DialogueStateTracker, count: int) -> list[str | None]:
    """Intents of the latest ``count`` user turns; an undone turn ends the list."""
    names: list[str | None] = []
    seen = 0
    for event in reversed(tracker.events_after_latest_restart()):
        if not isinstance(event, (UserUttered, UserUtteranceReverted)):
            continue
        seen += 1
        if isinstance(event, UserUttered):
            names.append(event.intent_name)
        if seen == count:
            break
    return names


class ActionTwoStageFallback(LoopAction):
    """Ask to affirm the guessed intent, then to rephrase; give up after a second miss.

    When it ends, the message that started it is undone (the fallback's own
    turns went with the loop's collapsed runs, see
    :func:`~dialogflowlite.shared.tracker.applied_indices`): either the
    clarified message takes its place, or, giving up, ``action_default_fallback``
    runs (``utter_default``, and the message is forgotten), as in Rasa.
    """

    def name(self) -> str:
        return ACTION_TWO_STAGE_FALLBACK

    async def do(self, tracker: DialogueStateTracker, context: ActionContext,
                 events_so_far: list[Event]) -> list[Event]:
        just_activated = any(isinstance(e, ActiveLoop) for e in events_so_far)
        latest = tracker.latest_intent
        # by name, as Rasa looks them up: a project's own version of each step is used
        step = (ACTION_DEFAULT_ASK_AFFIRMATION if just_activated or latest == NLU_FALLBACK_INTENT
                else ACTION_DEFAULT_ASK_REPHRASE)
        return await context.action(step).run(tracker, context)

    @staticmethod
    def _gives_up(tracker: DialogueStateTracker) -> bool:
        two_misses = _intent_names(tracker, 2) == [NLU_FALLBACK_INTENT, NLU_FALLBACK_INTENT]
        denied_twice = _intent_names(tracker, 3) == [OUT_OF_SCOPE_INTENT, NLU_FALLBACK_INTENT,
                                                     OUT_OF_SCOPE_INTENT]
        return two_misses or denied_twice

    async def is_done(self, tracker: DialogueStateTracker, context: ActionContext,
                      events_so_far: list[Event]) -> bool:
        clarified = tracker.latest_intent not in (NLU_FALLBACK_INTENT, OUT_OF_SCOPE_INTENT)
        return clarified or self._gives_up(tracker)

    async def deactivate(self, tracker: DialogueStateTracker, context: ActionContext,
                         events_so_far: list[Event]) -> list[Event]:
        if self._gives_up(tracker):
            return await context.action(ACTION_DEFAULT_FALLBACK).run(tracker, context)
        return [UserUtteranceReverted(), ActionExecuted(name=ACTION_LISTEN),
                _clarified_message(tracker)]


class ActionUnlikelyIntent(Action):
    """Marks an intent the policies did not expect here; does nothing itself."""

    def name(self) -> str:
        return ACTION_UNLIKELY_INTENT

    async def run(self, tracker: DialogueStateTracker, context: ActionContext) -> list[Event]:
        return []


class ActionSendText(Action):
    """Send the message given in the run's metadata (``{"message": {"text": ...}}``)."""

    def name(self) -> str:
        return ACTION_SEND_TEXT

    async def run(self, tracker: DialogueStateTracker, context: ActionContext) -> list[Event]:
        message = context.metadata.get("message") or {"text": ""}
        return [bot_uttered(dict(message))]


class EndToEndResponse(Action):
    """Send one bot text the policies learnt from a ``bot:`` step (Rasa's
    ``ActionEndToEndResponse``).

    It runs as ``action_send_text`` with that text, and is logged as Rasa logs
    it: an ``action`` event with the text as ``action_text`` and no action name.
    """

    def __init__(self, text: str) -> None:
        self.text = text

    def name(self) -> str:
        return ACTION_SEND_TEXT

    async def run(self, tracker: DialogueStateTracker, context: ActionContext) -> list[Event]:
        return [bot_uttered({"text": self.text})]

    def executed_event(self, policy: str | None = None,
                       confidence: float | None = None) -> ActionExecuted:
        return ActionExecuted(name="", policy=policy, confidence=confidence,
                              action_text=self.text)


class ActionExtractSlots(Action):
    """Fill slots from the latest user message through the slot mappings."""

    def name(self) -> str:
        return ACTION_EXTRACT_SLOTS

    async def run(self, tracker: DialogueStateTracker, context: ActionContext) -> list[Event]:
        return await extract_slots(tracker, context)


class ActionGenerate(ResponseAction):
    """Let the trained response generator write the reply (generative fallback)."""

    def __init__(self) -> None:
        super().__init__(ACTION_GENERATE)


DEFAULT_ACTION_CLASSES: dict[str, type[Action]] = {
    cls().name(): cls
    for cls in (
        ActionListen, ActionRestart, ActionSessionStart, ActionDefaultFallback,
        ActionDeactivateLoop, ActionRevertFallbackEvents, ActionDefaultAskAffirmation,
        ActionDefaultAskRephrase, ActionTwoStageFallback, ActionUnlikelyIntent, ActionBack,
        ActionSendText, ActionExtractSlots, ActionGenerate,
    )
}
