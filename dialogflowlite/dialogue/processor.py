"""The message processor: one user message through NLU, tracker, policies and actions.

For every message (under the conversation's lock):

1. ``dfl_message_received`` plugins see the message;
2. NLU parses it (unless the caller brought a parse result);
3. a new session starts when there is none yet or the last one expired;
4. the ``user`` event is logged (with ``text_for_storage`` when a plugin set it)
   and ``action_extract_slots`` fills slots from it;
5. until the bot listens: take the pending follow-up action or ask the policies,
   run the action, log ``action`` (with the policy and confidence that chose it)
   and the action's events; at most ``max_predictions`` actions per message;
6. the new events go through ``dfl_before_events_stored`` into the tracker
   store (and then, when one is configured, to the event broker), the replies
   through ``dfl_replies_outgoing`` back to the caller. A message with a
   ``reply_sink`` gets each action's replies as that action ends instead
   (``dfl_replies_outgoing`` then sees them action by action), as Rasa's
   streamed REST answer sends them.

The shell, the server and the tests all use this one class.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from dialogflowlite.brokers.base import EventBroker, publish_in_background
from dialogflowlite.dialogue.actions import (
    Action,
    ActionContext,
    ActionRejected,
    action_for_name,
    is_known_action,
)
from dialogflowlite.dialogue.custom_actions import CustomActionExecutor
from dialogflowlite.dialogue.default_actions import (
    SESSION_METADATA_KEY,
    ActionListen,
    EndToEndResponse,
)
from dialogflowlite.dialogue.messages import (
    IncomingMessage,
    ReplySink,
    bot_message,
    channel_replies,
)
from dialogflowlite.dialogue.parsing import IntentSyntaxParser, MessageParser
from dialogflowlite.dialogue.reminders import ReminderScheduler, UnaskedSender, name_unnamed
from dialogflowlite.dialogue.sessions import needs_new_session
from dialogflowlite.dialogue.slot_filling import run_action_extract_slots
from dialogflowlite.errors import ActionNotFoundError, DialogflowLiteError
from dialogflowlite.shared.domain import (
    ACTION_BACK,
    ACTION_LISTEN,
    ACTION_RESTART,
    ACTION_SEND_TEXT,
    ACTION_SESSION_START,
    SESSION_START_METADATA_SLOT,
    Domain,
)
from dialogflowlite.shared.events import (
    ActionExecuted,
    ActionExecutionRejected,
    BotUttered,
    Event,
    ReminderCancelled,
    ReminderScheduled,
    SessionStarted,
    SlotSet,
    UserUtteranceFeaturization,
    UserUttered,
)
from dialogflowlite.shared.tracker import DialogueStateTracker
from dialogflowlite.stores.base import LockStore, TrackerStore
from dialogflowlite.stores.memory import MemoryLockStore, MemoryTrackerStore

logger = logging.getLogger(__name__)

#: actions one message may trigger before the processor stops and listens
MAX_PREDICTIONS = 10

#: intents with a fixed meaning: the action runs without asking the policies
DEFAULT_INTENT_ACTIONS = {
    "restart": ACTION_RESTART,
    "back": ACTION_BACK,
    "session_start": ACTION_SESSION_START,
}

#: ``policy`` recorded for actions that were not predicted by a policy
FOLLOWUP_POLICY = "followup_action"
DEFAULT_INTENT_POLICY = "default_intent"
LIMIT_POLICY = "prediction_limit"
PAUSED_POLICY = "conversation_paused"

EXTERNAL_MESSAGE_PREFIX = "EXTERNAL: "


@dataclass
class Prediction:
    """The next action with what chose it (``policy``) and how sure it was."""

    action_name: str
    confidence: float | None = None
    policy_name: str | None = None
    #: events a policy wants logged before the action (e.g. a loop interruption)
    events: list[Event] = field(default_factory=list)
    #: every action's score, when the policies give them
    probabilities: dict[str, float] | None = None
    #: log the action with ``hide_rule_turn``: a rule no story follows chose it, so
    #: the story-based policies do not see the turn (as in Rasa)
    hide_rule_turn: bool = False
    #: the text of an end-to-end bot utterance, where the policies chose
    #: ``action_send_text`` for one text (a story's ``bot:`` step); the story test
    #: scores the step by this text, as Rasa scores a predicted bot text
    action_text: str | None = None
    #: what the policy that chose the action says of it (Rasa's ``action_metadata``;
    #: the story test reads the severity of an ``action_unlikely_intent`` from it)
    action_metadata: dict[str, Any] | None = None

    @classmethod
    def of(cls, predicted: Any) -> Prediction:
        """Read the ensemble's answer (any object with ``action_name``, ``confidence``, ...)."""
        probabilities = getattr(predicted, "probabilities", None)
        return cls(
            action_name=predicted.action_name,
            confidence=getattr(predicted, "confidence", None),
            policy_name=getattr(predicted, "policy_name", None),
            events=list(getattr(predicted, "events", None) or []),
            probabilities=dict(probabilities) if isinstance(probabilities, dict) else None,
            hide_rule_turn=bool(getattr(predicted, "hide_rule_turn", False)),
            action_text=_text_or_none(getattr(predicted, "action_text", None)),
            action_metadata=_dict_or_none(getattr(predicted, "action_metadata", None)),
        )


@dataclass
class TurnResult:
    """What one processed message (or triggered intent, or executed action) produced."""

    sender_id: str
    #: the conversation after the turn, from its latest session start on (what the turn
    #: read, as Rasa's processor reads it); ``Agent.get_tracker`` gives every session
    tracker: DialogueStateTracker
    #: the events this turn added, in order
    events: list[Event] = field(default_factory=list)
    #: the bot messages sent (text, buttons, image, custom, ... and their metadata)
    messages: list[dict[str, Any]] = field(default_factory=list)
    #: the same messages as the replies channels get (after ``dfl_replies_outgoing``):
    #: Rasa's REST replies, except that quick replies stay ``quick_replies`` and the
    #: cards of ``elements`` stay in one reply; ``rasa_replies`` flattens them
    replies: list[dict[str, Any]] = field(default_factory=list)


def outgoing(events: list[Event], sender_id: str, *,
             stored: bool = False) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The bot messages among ``events`` and their replies, as channels get them
    (after ``dfl_replies_outgoing``).

    With ``stored`` (the events are in the tracker store by then), a
    ``dfl_replies_outgoing`` plugin that fails is logged with the conversation
    id and neither messages nor replies are returned, instead of raising.
    """
    messages = [bot_message(e) for e in events if isinstance(e, BotUttered)]
    replies = [reply for message in messages
               for reply in channel_replies(sender_id, message)]
    try:
        _plugin_hooks().dfl_replies_outgoing(sender_id=sender_id, replies=replies)
    except Exception as e:
        if not stored:
            raise
        # Raised after the store, even a passing failure (a plugin's ConnectionError)
        # would read as events not stored, and a platform or client that sends them
        # again would get them stored twice. The replies the hook did not see are not
        # sent: it may be what masks personal data.
        logger.error("conversation %r: the events were stored, but dfl_replies_outgoing "
                     "failed (%s: %s), so their replies are not sent", sender_id,
                     type(e).__name__, e, exc_info=True)
        return [], []
    return messages, replies


class EarlyReplies:
    """Hands a turn's replies to a :data:`ReplySink` as each action ends.

    What it sent is kept, so the turn's result still lists every message and
    reply once. A sink that fails (the client went away) gets nothing more; the
    turn goes on and is stored as usual.
    """

    def __init__(self, sink: ReplySink, start: int) -> None:
        self.sink: ReplySink | None = sink
        #: index of the first tracker event not looked at yet
        self.seen = start
        self.messages: list[dict[str, Any]] = []
        self.replies: list[dict[str, Any]] = []

    async def flush(self, tracker: DialogueStateTracker, *, stored: bool = False) -> None:
        """Send the replies of the events logged since the last flush (``stored``: the
        turn is in the tracker store, see :func:`outgoing`)."""
        events = tracker.events[self.seen:]
        self.seen = len(tracker.events)
        if not any(isinstance(e, BotUttered) for e in events):
            return
        messages, replies = outgoing(events, tracker.sender_id, stored=stored)
        self.messages += messages
        self.replies += replies
        if self.sink is None or not messages:  # no messages: the hook failed, logged
            return
        try:
            await self.sink(replies)
        except Exception:
            logger.warning("conversation %r: the replies could not be sent as they came; "
                           "the conversation goes on and is stored", tracker.sender_id,
                           exc_info=True)
            self.sink = None


def _plugin_hooks() -> Any:
    from dialogflowlite.plugins.manager import get_plugin_manager

    return get_plugin_manager().hook


class MessageProcessor:
    """Runs conversations: NLU, tracker, policies and actions, for every message.

    ``policies`` answers ``predict_next_action(tracker, domain)`` (None for a
    model without dialogue policies: messages are then only logged);
    ``parser`` turns texts into messages; ``responder`` renders responses.
    """

    def __init__(
        self,
        domain: Domain,
        *,
        policies: Any = None,
        parser: MessageParser | None = None,
        responder: Any = None,
        tracker_store: TrackerStore | None = None,
        lock_store: LockStore | None = None,
        executor: CustomActionExecutor | None = None,
        max_predictions: int = MAX_PREDICTIONS,
        event_broker: EventBroker | None = None,
    ) -> None:
        self.domain = domain
        self.policies = policies
        self.parser: MessageParser = parser or IntentSyntaxParser()
        self.responder = responder
        self.tracker_store = tracker_store or MemoryTrackerStore(domain)
        if self.tracker_store.domain is None:
            self.tracker_store.domain = domain
        self.lock_store = lock_store or MemoryLockStore()
        self.executor = executor or CustomActionExecutor()
        self.max_predictions = max_predictions
        self.event_broker = event_broker
        self.reminders = ReminderScheduler(self.handle_reminder)
        #: whether a custom action_session_start that leaves out session_started or the
        #: closing action_listen was warned about (once a process: it does so every time)
        self._warned_session_start = False
        #: how a fired reminder's replies reach the user (the server installs one that
        #: sends through its channels); without one they are only stored
        self.unasked_sender: UnaskedSender | None = None

    # ------------------------------------------------------------ entry points

    async def handle_message(self, message: IncomingMessage, *,
                             predict: bool = True) -> TurnResult:
        """Process one user message and return what the bot did and said.

        With ``predict=False`` the message is only logged (session start, the
        ``user`` event, slots filled from it) and the bot does not act, as
        interactive learning needs before it asks for each action; its parse is
        then taken as confirmed by a person, so an intent or entity the domain
        does not list yet (one the person just created) is not warned about.
        """
        _plugin_hooks().dfl_message_received(message=message)
        async with self.lock_store.lock(message.sender_id):
            # (without predictions the caller gets the whole conversation back: Rasa's
            # /messages answers with it, and interactive learning shows it)
            read = self._turn_tracker if predict else self.get_tracker
            tracker = await read(message.sender_id)
            start = len(tracker.events)
            context = self.context(message.channel)
            await self._update_session(tracker, context, message.metadata)
            parse_data = message.parse_data or await self.parse(message.text or "")
            if predict:
                self._warn_unknown(parse_data)
            tracker.update(self._user_event(message, parse_data))
            # A user message ends any pending follow-up, as in Rasa.
            tracker.followup_action = None
            early = (EarlyReplies(message.reply_sink, start)
                     if message.reply_sink is not None else None)
            if self.policies is not None:
                await self._extract_slots(tracker, context)
                if predict:
                    await self._prediction_loop(tracker, context, early)
            return await self._finish(tracker, start, message.channel, early)

    async def trigger_intent(self, sender_id: str, intent: str,
                             entities: list[dict[str, Any]] | dict[str, Any] | None = None,
                             channel: str | None = None,
                             metadata: dict[str, Any] | None = None) -> TurnResult:
        """Act as if the user expressed ``intent`` (external events, reminders).

        ``channel`` names the channel the bot's messages go out through (the
        ``output_channel`` of the request); it picks the responses' variations,
        and the reminders this turn schedules send their messages through it
        later. Without it the messages go back to the caller, and only
        variations for no particular channel are sent, as Rasa's collecting
        output channel gets them (and as ``execute`` does).
        """
        async with self.lock_store.lock(sender_id):
            return await self._trigger_intent(sender_id, intent, entities, channel, metadata)

    async def _trigger_intent(self, sender_id: str, intent: str, entities: Any,
                              channel: str | None, metadata: dict[str, Any] | None) -> TurnResult:
        tracker = await self._turn_tracker(sender_id)
        start = len(tracker.events)
        context = self.context(channel)
        await self._update_session(tracker, context, metadata)
        if intent not in self.domain.intent_names:
            logger.warning("triggered intent %r is not in the domain", intent)
        entity_list = _entity_list(entities)
        text = f"{EXTERNAL_MESSAGE_PREFIX}{intent}"
        tracker.update(UserUttered(
            text=text,
            parse_data={"text": text, "intent": {"name": intent, "confidence": 1.0},
                        "entities": entity_list, "intent_ranking": []},
            input_channel=tracker.latest_input_channel,
            metadata={"is_external": True, **(metadata or {})},
        ))
        tracker.followup_action = None
        if self.policies is not None:
            await self._extract_slots(tracker, context)
            await self._prediction_loop(tracker, context)
        return await self._finish(tracker, start, channel)

    async def execute_action(self, sender_id: str, action_name: str, *,
                             policy: str | None = None, confidence: float | None = None,
                             channel: str | None = None) -> TurnResult:
        """Run one named action in the conversation (no further predictions)."""
        async with self.lock_store.lock(sender_id):
            tracker = await self._turn_tracker(sender_id)
            start = len(tracker.events)
            context = self.context(channel)
            await self._update_session(tracker, context, None)
            prediction = Prediction(action_name, confidence, policy)
            await self._run_action(tracker, context, prediction)
            return await self._finish(tracker, start, channel)

    async def predict_next(self, sender_id: str) -> dict[str, Any] | None:
        """The next action the policies would take, without running it (Rasa's ``/predict``)."""
        if self.policies is None:
            return None
        async with self.lock_store.lock(sender_id):
            tracker = await self._turn_tracker(sender_id)
            start = len(tracker.events)
            await self._update_session(tracker, self.context(None), None)
            result = self.prediction_summary(tracker)
            await self._finish(tracker, start)
            return result

    def prediction_summary(self, tracker: DialogueStateTracker) -> dict[str, Any]:
        """Scores of the next action for ``tracker`` (its follow-up is left pending).

        ``scores`` has one entry per action of the domain, in the domain's order,
        as Rasa's ``predict_next_with_tracker`` answers: clients look actions up
        by position. Sort them where they are shown, not here.
        """
        prediction = self.predict_next_action(tracker.copy())
        scores = prediction.probabilities or self._winner_scores(tracker, prediction) or {
            prediction.action_name: prediction.confidence or 0.0}
        return {
            "scores": self._scores_in_domain_order(scores),
            "policy": prediction.policy_name,
            "confidence": prediction.confidence,
            "tracker": tracker.current_state("after_restart"),
        }

    def _scores_in_domain_order(self, scores: dict[str, float]) -> list[dict[str, Any]]:
        """``scores`` for every domain action in order, 0.0 for those the policy left out.

        A policy may score only the action it picks (the rule policy does); an
        action it scored that the domain lacks is kept, after the domain's.
        """
        names = list(self.domain.action_names)
        names += [name for name in scores if name not in names]
        return [{"action": name, "score": float(scores.get(name, 0.0))} for name in names]

    def _winner_scores(self, tracker: DialogueStateTracker,
                       prediction: Prediction) -> dict[str, float] | None:
        """Every action's score from the policy that won, when the ensemble shares them."""
        every = getattr(self.policies, "predictions", None)
        if prediction.policy_name is None or not callable(every):
            return None
        for candidate in every(tracker.copy(), self.domain):
            if getattr(candidate, "policy_name", None) == prediction.policy_name:
                probabilities = getattr(candidate, "probabilities", None)
                return dict(probabilities) if isinstance(probabilities, dict) else None
        return None

    async def handle_reminder(self, reminder: ReminderScheduled, sender_id: str,
                              channel: str | None = None) -> None:
        """Trigger a due reminder's intent, unless it became outdated, and send the
        replies to the user through :attr:`unasked_sender`.

        ``channel`` is the channel of the turn that scheduled the reminder (the user
        message's, or the ``output_channel`` of an API request; None for a request
        without one), as Rasa sends a reminder's messages through the output channel
        of the request that scheduled it. Reminders this turn schedules keep it.
        """
        async with self.lock_store.lock(sender_id):
            # a reminder of an earlier session is no longer among the applied events
            tracker = await self._turn_tracker(sender_id)
            if (reminder.kill_on_user_message and _message_after(tracker, reminder)) or \
                    not _still_scheduled(tracker, reminder):
                logger.debug("reminder %r of %r is outdated and skipped", reminder.name,
                             sender_id)
                return
            result = await self._trigger_intent(sender_id, reminder.intent, reminder.entities,
                                                channel, None)
            # still under the lock: the reminder's replies reach the user before the
            # answer to a message the user sends meanwhile
            await self._send_reminder_replies(reminder, result, channel)

    async def _send_reminder_replies(self, reminder: ReminderScheduled, result: TurnResult,
                                     channel: str | None) -> None:
        if not result.replies:
            return
        sent = False
        if self.unasked_sender is not None:
            try:
                sent = await self.unasked_sender(result.sender_id, channel, result.replies)
            except Exception:
                logger.exception("the replies of reminder %r of %r could not be sent",
                                 reminder.name, result.sender_id)
        if not sent:
            logger.debug("the %d replies of reminder %r of %r were only stored: no channel "
                         "here sends them unasked (it was scheduled through %r)",
                         len(result.replies), reminder.name, result.sender_id, channel)

    async def append_events(self, sender_id: str, events: list[Event]) -> DialogueStateTracker:
        """Add events to a conversation (Rasa's ``POST /conversations/{id}/tracker/events``).

        A conversation with nothing in it gets its session started first (unless
        the events start one themselves), as in Rasa: events set before the first
        message (a user's profile in slots) would otherwise stop the session from
        ever starting, and the next message would find no ``action_listen`` to
        follow and get no answer.
        """
        async with self.lock_store.lock(sender_id):
            tracker = await self.get_tracker(sender_id)
            start = len(tracker.events)
            if not tracker.applied_events() and not _starts_a_session(events):
                await self._update_session(tracker, self.context(None), None)
            name_unnamed(events)
            tracker.update_with_events(events)
            await self.save_tracker(tracker, start)
            return tracker

    async def replace_events(self, sender_id: str, events: list[Event]) -> DialogueStateTracker:
        """Replace a conversation's events (Rasa's ``PUT /conversations/{id}/tracker/events``).

        Nothing is scheduled, as in Rasa; an unnamed reminder among ``events`` is
        still stored with a name, as Rasa names one when it reads the event.
        """
        async with self.lock_store.lock(sender_id):
            name_unnamed(events)
            tracker = DialogueStateTracker.for_domain(sender_id, self.domain, events)
            payload = [event.as_dict() for event in tracker.events]
            _plugin_hooks().dfl_before_events_stored(sender_id=sender_id, events=payload)
            await self.tracker_store.replace_events(sender_id, payload)
            return tracker

    async def parse(self, text: str) -> dict[str, Any]:
        """The parse result (Rasa's ``/model/parse`` shape) of one text."""
        return (await self.parse_many([text]))[0]

    async def parse_many(self, texts: list[str]) -> list[dict[str, Any]]:
        """Parse results of several texts in one batch."""
        messages = await self.parser.parse(list(texts))
        return [message.parse_result() for message in messages]

    async def get_tracker(self, sender_id: str) -> DialogueStateTracker:
        """The stored conversation, or a new empty one (no session is started)."""
        tracker = await self.tracker_store.retrieve(sender_id)
        if tracker is None:
            tracker = DialogueStateTracker.for_domain(sender_id, self.domain)
        return tracker

    async def _turn_tracker(self, sender_id: str) -> DialogueStateTracker:
        """The conversation from its latest session start on, or a new empty one: all
        a turn reads (its applied events begin there), so a turn of a conversation
        with a long history costs what one of a short one does, as in Rasa."""
        tracker = await self.tracker_store.retrieve_latest_session(sender_id)
        if tracker is None:
            tracker = DialogueStateTracker.for_domain(sender_id, self.domain)
        return tracker

    def context(self, channel: str | None) -> ActionContext:
        return ActionContext(self.domain, self.executor, self.responder, channel)

    async def close(self) -> None:
        await self.reminders.close()

    # ------------------------------------------------------------ prediction

    def predict_next_action(self, tracker: DialogueStateTracker) -> Prediction:
        """The next action: a pending follow-up, a default intent's action, or the policies'."""
        followup = tracker.followup_action
        if followup:
            tracker.followup_action = None
            if is_known_action(followup, self.context(None)):
                return Prediction(followup, 1.0, FOLLOWUP_POLICY)
            logger.error("follow-up action %r is unknown; the policies choose instead", followup)
        intent = tracker.latest_intent
        if intent in DEFAULT_INTENT_ACTIONS and _last_action(tracker) == ACTION_LISTEN:
            # ... unless a rule written with the user's text matches the message: in
            # Rasa, such a rule beats the default rules of its rule policy
            if self.policies is not None:
                predicted = self.policies.predict_next_action(tracker, self.domain)
                if getattr(predicted, "is_end_to_end_prediction", False):
                    return Prediction.of(predicted)
            # Rasa answers these through its rule policy's default rules, so its ensemble
            # notes, as after any listen, that the user turn is read by its intent
            return Prediction(DEFAULT_INTENT_ACTIONS[intent], 1.0, DEFAULT_INTENT_POLICY,
                              [UserUtteranceFeaturization(use_text_for_featurization=False)])
        if self.policies is None:
            return Prediction(ACTION_LISTEN, 1.0, None)
        return Prediction.of(self.policies.predict_next_action(tracker, self.domain))

    async def _prediction_loop(self, tracker: DialogueStateTracker, context: ActionContext,
                               early: EarlyReplies | None = None) -> None:
        predictions = 0
        while True:
            if tracker.paused and tracker.latest_intent != "restart":
                if predictions:
                    # Paused by an action of this turn: end the turn as a listening bot.
                    tracker.update(ActionExecuted(name=ACTION_LISTEN, policy=PAUSED_POLICY))
                break
            if predictions >= self.max_predictions:
                logger.error("conversation %r: %d actions after one message without listening; "
                             "the bot stops and listens (check the stories and rules for a "
                             "loop)", tracker.sender_id, predictions)
                tracker.update(ActionExecuted(name=ACTION_LISTEN, policy=LIMIT_POLICY,
                                              confidence=1.0))
                break
            prediction = self.predict_next_action(tracker)
            predictions += 1
            goes_on = await self._run_action(tracker, context, prediction)
            if early is not None:
                await early.flush(tracker)
            if not goes_on:
                break

    async def _run_action(self, tracker: DialogueStateTracker, context: ActionContext,
                          prediction: Prediction) -> bool:
        """Run the predicted action and log it; returns whether to predict another one.

        ``action_send_text`` predicted with ``action_text`` (a bot text learnt from
        a ``bot:`` step) sends exactly that text, as Rasa's end-to-end response does.
        """
        name = prediction.action_name
        action: Action
        try:
            action = (EndToEndResponse(prediction.action_text)
                      if prediction.action_text and name == ACTION_SEND_TEXT
                      else action_for_name(name, context))
        except ActionNotFoundError as e:
            logger.error("conversation %r: %s; the bot listens instead", tracker.sender_id, e)
            action = ActionListen()
            name = ACTION_LISTEN
        # Made before the action runs, so its timestamp precedes the action's events.
        executed = action.executed_event(prediction.policy_name, prediction.confidence)
        executed.hide_rule_turn = prediction.hide_rule_turn
        if prediction.action_metadata:
            # as Rasa 3, what the policy said of its choice is the event's metadata
            executed.metadata = dict(prediction.action_metadata)
        target = tracker
        if prediction.events:
            target = tracker.copy()
            target.update_with_events(prediction.events)
        try:
            events = await action.run(target, context)
        except ActionRejected as e:
            logger.debug("conversation %r: %s", tracker.sender_id, e)
            tracker.update(ActionExecutionRejected(name=name, policy=prediction.policy_name,
                                                   confidence=prediction.confidence))
            return True
        except DialogflowLiteError as e:
            logger.error("conversation %r: %s. The conversation goes on without this action's "
                         "events.", tracker.sender_id, e.render())
            events = []
        except Exception:
            logger.exception("conversation %r: action %r failed; the conversation goes on "
                             "without its events", tracker.sender_id, name)
            events = []
        if not any(isinstance(e, ActionExecutionRejected) for e in events):
            tracker.update_with_events(prediction.events)
            tracker.update(executed)
        tracker.update_with_events(events)
        if any(isinstance(e, UserUttered) for e in events):
            await self._extract_slots(tracker, context)
        return name not in (ACTION_LISTEN, ACTION_SESSION_START)

    # ------------------------------------------------------------ steps

    async def _update_session(self, tracker: DialogueStateTracker, context: ActionContext,
                              metadata: dict[str, Any] | None) -> None:
        if not needs_new_session(tracker, self.domain.session_config):
            return
        if metadata:
            context.metadata[SESSION_METADATA_KEY] = metadata
            # set before the action runs, as Rasa sets it, so that a custom
            # action_session_start (an action server's too) reads it from the tracker
            tracker.update_with_events([SlotSet(name=SESSION_START_METADATA_SLOT,
                                                value=metadata)])
        try:
            before = len(tracker.events)
            await self._run_action(tracker, context, Prediction(ACTION_SESSION_START, 1.0))
            # only its own `action` event: it failed (a custom one that works but forgets
            # session_started is left as it is, as Rasa leaves it)
            if all(isinstance(e, ActionExecuted) and e.name == ACTION_SESSION_START
                   for e in tracker.events[before:]):
                await self._stand_in_for_session_start(tracker, context)
            else:
                self._check_session_start(tracker.events[before:])
        finally:
            context.metadata.pop(SESSION_METADATA_KEY, None)

    def _check_session_start(self, events: list[Event]) -> None:
        """Warn, once, of a custom ``action_session_start`` whose events lack
        ``session_started`` or the ``action_listen`` after it: the first message of each
        session was then read as if the bot had not listened (a fallback, undone), and
        nothing said why. Its events are kept as they are, as in Rasa."""
        if self._warned_session_start:
            return
        lacks = [what for what, present in [
            ("a session_started event", any(isinstance(e, SessionStarted) for e in events)),
            ("the closing action_listen", isinstance(events[-1], ActionExecuted)
             and events[-1].name == ACTION_LISTEN)] if not present]
        if lacks:
            self._warned_session_start = True
            logger.warning("the events of the custom action_session_start lack %s: the "
                           "first message of each session is read as if the bot had not "
                           "listened, and goes to the fallback; end them as rasa-sdk's docs "
                           "show: [SessionStarted(), <slots to keep>, ActionExecuted("
                           "\"action_listen\")]", " and ".join(lacks))

    async def _stand_in_for_session_start(self, tracker: DialogueStateTracker,
                                          context: ActionContext) -> None:
        """The default session start's events, after a custom ``action_session_start``
        that gave no events (it failed: no action server, an error there).
        Without them the conversation did not listen before the message, and the policies
        answered the first message of every conversation with silence."""
        from dialogflowlite.dialogue.default_actions import ActionSessionStart

        logger.warning("conversation %r: action_session_start gave no events, so the default "
                       "session start stands in", tracker.sender_id)
        tracker.update_with_events(await ActionSessionStart().run(tracker, context))

    async def _extract_slots(self, tracker: DialogueStateTracker,
                             context: ActionContext) -> None:
        tracker.update_with_events(await run_action_extract_slots(tracker, context))

    @staticmethod
    def _user_event(message: IncomingMessage, parse_data: dict[str, Any]) -> UserUttered:
        parse = dict(parse_data)
        text = message.stored_text
        parse["text"] = text
        return UserUttered(text=text, parse_data=parse, input_channel=message.channel,
                           message_id=message.message_id, metadata=dict(message.metadata))

    def _warn_unknown(self, parse_data: dict[str, Any]) -> None:
        intent = (parse_data.get("intent") or {}).get("name")
        if intent and intent.split("/", 1)[0] not in self.domain.intent_names:
            logger.warning("NLU found intent %r, which the domain does not list", intent)
        for entity in parse_data.get("entities") or []:
            name = entity.get("entity")
            if name and name not in self.domain.entities:
                logger.warning("NLU found entity %r, which the domain does not list", name)

    async def save_tracker(self, tracker: DialogueStateTracker, start: int) -> None:
        """Store the events from index ``start`` on (after ``dfl_before_events_stored``)."""
        payload = [event.as_dict() for event in tracker.events[start:]]
        _plugin_hooks().dfl_before_events_stored(sender_id=tracker.sender_id, events=payload)
        await self.tracker_store.save(tracker, payload)
        publish_in_background(self.event_broker, tracker.sender_id, payload)

    async def _finish(self, tracker: DialogueStateTracker, start: int,
                      channel: str | None = None,
                      early: EarlyReplies | None = None) -> TurnResult:
        """Store the turn's events and schedule its reminders, which later send their
        messages through ``channel`` (the turn's: see :meth:`handle_reminder`).

        With ``early``, the replies not sent yet go to its sink after storing.
        A ``dfl_replies_outgoing`` plugin that fails after the store is logged
        (with the conversation id) and the turn's replies not made then are
        dropped: the turn counts as handled, never as one to deliver again.
        """
        new_events = tracker.events[start:]
        name_unnamed(new_events)  # before storing, so that the stored reminder has its name
        await self.save_tracker(tracker, start)
        if early is not None:
            await early.flush(tracker, stored=True)
            messages, replies = early.messages, early.replies
        else:
            messages, replies = outgoing(new_events, tracker.sender_id, stored=True)
        self._schedule_reminders(new_events, tracker.sender_id, channel)
        return TurnResult(tracker.sender_id, tracker, list(new_events), messages, replies)

    def execute_side_effects(self, sender_id: str, events: list[Event],
                             channel: str | None = None) -> list[dict[str, Any]]:
        """Do what appended ``events`` ask beyond being stored (Rasa's ``execute_side_effects``
        of ``POST /conversations/{id}/tracker/events``).

        Their reminders are scheduled and their reminder cancellations cancel, as
        for the events of a turn; the reminders send their messages through
        ``channel`` (the request's ``output_channel``; None: they are only
        stored, as with Rasa's collecting output channel). The messages of their
        ``bot`` events are returned as the replies channels get (after
        ``dfl_replies_outgoing``), for the caller to send.

        The events are stored by then: a ``dfl_replies_outgoing`` plugin that
        fails is logged (with the conversation id) and no replies are returned,
        as for a turn (see :meth:`_finish`), so that the request still answers
        as one whose events were stored.
        """
        self._schedule_reminders(events, sender_id, channel)
        return outgoing(events, sender_id, stored=True)[1]

    def _schedule_reminders(self, events: list[Event], sender_id: str,
                            channel: str | None) -> None:
        for event in events:
            try:
                if isinstance(event, ReminderScheduled):
                    self.reminders.schedule(event, sender_id, channel)
                elif isinstance(event, ReminderCancelled):
                    self.reminders.cancel(event, sender_id)
            except RuntimeError:  # no running event loop: nothing can be scheduled
                logger.warning("reminder of %r cannot be scheduled outside an event loop",
                               sender_id)


def _last_action(tracker: DialogueStateTracker) -> str | None:
    for event in reversed(tracker.events):
        if isinstance(event, ActionExecuted):
            return event.name
    return None


def _text_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _dict_or_none(value: Any) -> dict[str, Any] | None:
    return dict(value) if isinstance(value, dict) else None


def _entity_list(entities: Any) -> list[dict[str, Any]]:
    if isinstance(entities, list):
        return [dict(e) for e in entities if isinstance(e, dict)]
    if isinstance(entities, dict):
        return [{"entity": name, "value": value} for name, value in entities.items()]
    if entities:
        logger.warning("entities %r are neither a list nor a mapping; none are used", entities)
    return []


def _message_after(tracker: DialogueStateTracker, reminder: ReminderScheduled) -> bool:
    """Whether the user wrote since ``reminder`` was scheduled."""
    for event in reversed(tracker.events):
        if isinstance(event, ReminderScheduled) and event.name == reminder.name \
                and event.date_time == reminder.date_time:
            return False
        if isinstance(event, UserUttered) and event.text:
            return True
    return True


def _still_scheduled(tracker: DialogueStateTracker, reminder: ReminderScheduled) -> bool:
    """Whether the reminder is still part of the conversation (no restart since)."""
    return any(isinstance(e, ReminderScheduled) and e.name == reminder.name
               and e.date_time == reminder.date_time for e in tracker.applied_events())


def _starts_a_session(events: list[Event]) -> bool:
    """Whether ``events`` begin with a session start of their own."""
    first = events[0] if events else None
    return (isinstance(first, SessionStarted)
            or (isinstance(first, ActionExecuted) and first.name == ACTION_SESSION_START))
