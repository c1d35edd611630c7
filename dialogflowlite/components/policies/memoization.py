"""Memoization: repeat what the stories do in exactly the same situation.

:class:`MemoizationPolicy` remembers, for every action in the stories, the
last ``max_history`` states before it. When a conversation's last states are
one of those keys, it predicts that action with confidence 1.0. A key that
the stories follow with different actions is forgotten (it is ambiguous).

:class:`AugmentedMemoizationPolicy` also tries shorter histories when the
full one is unknown: it forgets the conversation's beginning one action at a
time, from the latest ``action_listen`` more than ``max_history`` actions
back (slots set before the cut are forgotten too), so a story can be
recognised when it starts in the middle of a conversation. With
``max_history: null`` the shortened histories are matched against a tree of
the remembered ones, state by state, so a prediction costs about one pass over
the conversation rather than one pass per shortened history.

A story's ``bot:`` step is remembered as its text, and predicting it means
sending that text, as Rasa's memoization stores end-to-end bot turns.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from dialogflowlite.components.policies.base import (
    BOT_TEXT_REVISION,
    REVISION_KEY,
    RULE_ONLY_REVISION,
    UNLIKELY_INTENT_REVISION,
    Conversation,
    Policy,
    PolicyContext,
    PolicyPrediction,
    SavedRevision,
    saved_before,
)
from dialogflowlite.components.policies.dialogues import (
    dialogue_texts,
    training_dialogues,
    unambiguous,
    without_unlikely_intents,
)
from dialogflowlite.components.policies.states import (
    State,
    StateFeaturizer,
    is_after_unlikely_intent,
    states_as_json,
    states_from_json,
)
from dialogflowlite.errors import Position
from dialogflowlite.shared.domain import (
    ACTION_LISTEN,
    ACTION_SEND_TEXT,
    ACTION_UNLIKELY_INTENT,
    Domain,
)
from dialogflowlite.shared.events import ActionExecuted, Event
from dialogflowlite.shared.story_paths import StoryPath

MEMOIZATION_PRIORITY = 3
LOOKUP_FILE = "lookup.json"

Key = tuple[State, ...]


def window(states: Sequence[State], max_history: int | None) -> Key:
    """The last ``max_history`` states (all of them for None), rejection flags kept."""
    if max_history is None or max_history <= 0:
        return tuple(states)
    return tuple(states[-max_history:])


def _has_states_after_unlikely_intent(lookup: dict[Key, str]) -> bool:
    """Whether a key of ``lookup`` holds a state right after ``action_unlikely_intent``:
    such a key never matches, as prediction leaves those states out."""
    return any(is_after_unlikely_intent(state) for key in lookup for state in key)


class MemoizationPolicy(Policy):
    """Predicts the action the stories take after the same last ``max_history`` states.

    Confidence 1.0 on a match, nothing otherwise. Learns from stories, not
    from rules (the rule policy handles those).
    """

    name: ClassVar[str] = "MemoizationPolicy"
    default_priority: ClassVar[int] = MEMOIZATION_PRIORITY
    skippable_when_outranked: ClassVar[bool] = True
    defaults: ClassVar[dict[str, Any]] = {"max_history": 5, "priority": None}
    compatible_keys: ClassVar[tuple[str, ...]] = ("featurizer",)
    revision: ClassVar[int] = UNLIKELY_INTENT_REVISION
    #: set by :meth:`load` where the saved lookup learnt stories with their
    #: ``action_unlikely_intent`` steps (saved before :data:`UNLIKELY_INTENT_REVISION`):
    #: it remembered the action (those keys are left out) or states after it
    learnt_unlikely_intent_steps: bool = False

    def __init__(self, config: dict | None = None, **kwargs) -> None:
        super().__init__(config, **kwargs)
        #: the lookup's keys as a tree of states, built when first needed (see
        #: :meth:`AugmentedMemoizationPolicy._key_tree`) and dropped with every new lookup
        self._tree: dict | None = None
        self.lookup: dict[Key, str] = {}
        #: the remembered actions that are bot texts (``bot:`` steps), not action names
        self.action_texts: frozenset[str] = frozenset()
        #: False for a lookup loaded from a model saved before revision 3, until it was
        #: read against the domain at the first prediction (see :meth:`use_domain`); a
        #: trained one is made from the domain
        self._lookup_checked = True

    @property
    def lookup(self) -> dict[Key, str]:
        """The remembered keys (last states), each with the action that follows it;
        assign a new one rather than change it in place, so what is built from it is
        built again."""
        return self._lookup

    @lookup.setter
    def lookup(self, lookup: dict[Key, str]) -> None:
        self._lookup = lookup
        self._tree = None

    @classmethod
    def check_config(cls, config: dict[str, Any], *,
                     position: Position | None = None) -> None:
        """``max_history`` is 1 or more, or null for the whole conversation (a number
        below 1 would silently mean the whole conversation too)."""
        super().check_config(config, position=position)
        cls.check_number(config, "max_history", at_least=1, whole=True, nullable=True,
                         position=position)

    @property
    def max_history(self) -> int | None:
        value = self.config.get("max_history")
        return None if value is None else int(value)

    # ------------------------------------------------------------ training

    def train(self, paths: Sequence[StoryPath], domain: Domain, context: PolicyContext) -> None:
        """Remember every (last states -> action) of the stories; drop ambiguous keys.

        A story's ``action_unlikely_intent`` steps are left out, and so are the states
        right after them, as at prediction: remembered, such a step would be predicted
        again right after it ran, its state being left out then.
        """
        dialogues = [without_unlikely_intents(dialogue) for dialogue in
                     training_dialogues(paths, self.featurizer(domain), kind="story")]
        self.lookup = unambiguous(
            (window(dialogue.states[: index + 1], self.max_history), action)
            for dialogue in dialogues for index, action in enumerate(dialogue.actions))
        self.action_texts = dialogue_texts(dialogues)
        self._lookup_checked = True

    # ------------------------------------------------------------ prediction

    def use_domain(self, domain: Domain) -> None:
        """Read a loaded lookup's keys as states are made for ``domain`` (once).

        Models saved at policy revision 2 kept, in their states, entities the domain
        does not declare for the intent; states made now leave them out, so such keys
        would never match again. Without them, the lookup is the one training gives
        now: keys that become equal and remember different actions are forgotten, as
        training forgets ambiguous keys. A lookup saved since is not read again (see
        :meth:`load`).
        """
        if self._lookup_checked:
            return
        self._lookup_checked = True
        featurizer = self.featurizer(domain)
        read = [(tuple(featurizer.with_used_entities(state) for state in key), action)
                for key, action in self.lookup.items()]
        if any(new_key != key for (new_key, _), key in zip(read, self.lookup, strict=True)):
            self.lookup = unambiguous(read)

    def recall(self, states: Sequence[State]) -> str | None:
        """The remembered action after ``states`` (their last ``max_history``), or None."""
        return self.lookup.get(window(states, self.max_history))

    def predict_conversation(self, conversation: Conversation, domain: Domain) -> PolicyPrediction:
        self.use_domain(domain)
        action = self.recall(conversation.states)
        if action is None:
            return PolicyPrediction.nothing(self)
        return self.prediction({action: 1.0}, action_texts=self.action_texts)

    # ------------------------------------------------------------ persistence

    def persist(self, storage) -> None:
        # a bot text is stored as ``action_text``, so it never reads as an action's name
        items = [{"states": states_as_json(key),
                  "action_text" if action in self.action_texts else "action": action}
                 for key, action in self.lookup.items()]
        storage.write_json(LOOKUP_FILE, {REVISION_KEY: self.revision,
                                         "max_history": self.max_history, "lookup": items})

    @classmethod
    def load(cls, config: dict[str, Any], storage) -> MemoizationPolicy:
        """The saved lookup. One saved before :data:`BOT_TEXT_REVISION` may remember
        ``action_send_text`` for the stories' ``bot:`` steps (see
        :meth:`Policy.prediction`). One saved before :data:`UNLIKELY_INTENT_REVISION`
        may remember ``action_unlikely_intent``: those keys are left out, as the
        action would be predicted again right after it ran. It may also remember
        states right after that action, which prediction leaves out, so what followed
        the action in the stories is not predicted: both are flagged
        (:meth:`outdated_notes`), as only retraining learns those stories anew."""
        policy = cls(config)
        data = storage.read_json(LOOKUP_FILE)
        items = data.get("lookup", [])
        lookup = {states_from_json(item["states"]): item.get("action")
                  or item["action_text"] for item in items}
        policy.action_texts = frozenset(item["action_text"] for item in items
                                        if item.get("action_text"))
        # bot steps learnt as an action name only happened before texts were learnt,
        # action_unlikely_intent only before stories were learnt without it
        without_text = ACTION_SEND_TEXT in set(lookup.values()) - policy.action_texts
        remembers_unlikely = ACTION_UNLIKELY_INTENT in set(lookup.values()) - policy.action_texts
        policy.lookup = ({key: action for key, action in lookup.items()
                          if action != ACTION_UNLIKELY_INTENT} if remembers_unlikely
                         else lookup)
        # the step's own key may have been dropped as ambiguous (another story takes
        # a different action after the same states); the keys after it remain
        unlikely = remembers_unlikely or _has_states_after_unlikely_intent(lookup)
        at_most = (BOT_TEXT_REVISION - 1 if without_text
                   else UNLIKELY_INTENT_REVISION - 1 if unlikely else None)
        policy.saved_revision = SavedRevision.of(data, cls, at_most=at_most)
        policy.learnt_bot_steps_without_text = without_text
        policy.learnt_unlikely_intent_steps = unlikely
        # states keep only the entities the domain declares since RULE_ONLY_REVISION
        policy._lookup_checked = not saved_before(data, RULE_ONLY_REVISION)
        return policy


    def outdated_notes(self, model_policies: Sequence[Policy]) -> list[str]:
        notes = super().outdated_notes(model_policies)
        if self.saved_revision is not None and self.learnt_unlikely_intent_steps:
            notes.append("it learnt the stories' action_unlikely_intent steps, which it "
                         "would predict again right after the action ran; it no longer "
                         "predicts them, nor what follows them in the stories, which "
                         "a retrained one predicts")
        return notes


class AugmentedMemoizationPolicy(MemoizationPolicy):
    """Memoization that also forgets the start of the conversation to find a match.

    Without a match for the full history, it goes back to the latest
    ``action_listen`` that lies more than ``max_history`` actions back (so the
    user turn that starts the window is kept), or to the conversation's first
    action when there is none, and forgets everything before it, slots and
    active loop included. It then looks the shorter history up, dropping one
    more action from the start each time until one matches, as Rasa's
    ``AugmentedMemoizationPolicy`` does.
    """

    name: ClassVar[str] = "AugmentedMemoizationPolicy"

    def predict_conversation(self, conversation: Conversation, domain: Domain) -> PolicyPrediction:
        self.use_domain(domain)
        action = self.recall(conversation.states)
        if action is None:
            action = self._recall_forgetting(conversation, domain)
        if action is None:
            return PolicyPrediction.nothing(self)
        return self.prediction({action: 1.0}, action_texts=self.action_texts)

    def _first_kept(self, events: Sequence[Event]) -> int:
        """Where the shortened histories may start: the latest ``action_listen``
        beyond ``max_history`` actions back, else the start."""
        if not self.max_history:
            return 0
        actions = 0
        for index in range(len(events) - 1, -1, -1):
            event = events[index]
            if isinstance(event, ActionExecuted):
                actions += 1
                if actions > self.max_history and event.name == ACTION_LISTEN:
                    return index
        return 0

    def _recall_forgetting(self, conversation: Conversation, domain: Domain) -> str | None:
        events = conversation.events
        first = self._first_kept(events)
        starts = [i for i in range(first, len(events)) if isinstance(events[i], ActionExecuted)]
        featurizer = self.featurizer(domain)
        if self.max_history is None:
            return self._recall_whole_histories(conversation, starts, featurizer)
        previous = window(conversation.states, self.max_history)
        for start in starts:
            key = window(conversation.states_of(events[start:], featurizer), self.max_history)
            if key == previous:
                continue
            previous = key
            action = self.lookup.get(key)
            if action is not None:
                return action
        return None

    def _key_tree(self) -> dict:
        """The remembered keys as a tree: each state leads to the states that follow it
        in some key, and ``None`` holds the action of a key that ends there."""
        if self._tree is None:
            root: dict = {}
            for key, action in self.lookup.items():
                node = root
                for state in key:
                    node = node.setdefault(state, {})
                node[None] = action
            self._tree = root
        return self._tree

    def _recall_whole_histories(self, conversation: Conversation, starts: Sequence[int],
                                featurizer: StateFeaturizer) -> str | None:
        """The first remembered action of the conversation with its beginning forgotten
        up to each of ``starts`` in turn, for ``max_history: null`` (whole histories).

        A shortened history is featurised only while its states follow a path of the
        key tree: most give out after a state or two, so a prediction costs about one
        pass over the conversation rather than one per shortened history.
        """
        events = conversation.events
        root = self._key_tree()
        for start in starts:
            node: dict | None = root
            for state in conversation.iter_states_of(
                    (events[i] for i in range(start, len(events))), featurizer):
                node = node.get(state)
                if node is None:
                    break
            else:
                action = node.get(None)
                if action is not None:
                    return action
        return None
