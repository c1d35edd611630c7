"""The policy interface: learn from stories and rules, predict the next action.

A policy is a :class:`~dialogflowlite.components.base.Component` of kind
``policy``. It trains on :class:`~dialogflowlite.shared.story_paths.StoryPath`
objects (stories and rules; each policy picks what it learns from) and
predicts a :class:`PolicyPrediction` for a conversation. The
:class:`~dialogflowlite.components.policies.ensemble.PolicyEnsemble` asks every
policy and picks one prediction.

Predictions work on the conversation's states (see
:mod:`~dialogflowlite.components.policies.states`); the ensemble computes them
once per decision and hands the same :class:`Conversation` to every policy.

A built-in policy records its ``revision`` with what it saves. Loaded from a
model saved at an older revision (or, for models saved before revisions were
recorded, one its saved resources show to be older), it knows its
:class:`SavedRevision` and can say what it does differently from the policy
retrained now (:meth:`Policy.outdated_notes`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, ClassVar

from dialogflowlite.components.base import Component
from dialogflowlite.components.policies.states import (
    LiveStates,
    RuleOnlyData,
    State,
    StateFeaturizer,
    StoryView,
    featurised_events,
    hidden_turns,
    iter_story_policy_states,
    story_policy_states,
)
from dialogflowlite.shared.domain import ACTION_SEND_TEXT, Domain
from dialogflowlite.shared.events import Event
from dialogflowlite.shared.story_paths import StoryPath
from dialogflowlite.shared.tracker import DialogueStateTracker

if TYPE_CHECKING:
    from dialogflowlite.training.finetune import FinetuneSource

logger = logging.getLogger(__name__)

#: the policy revision from which a story's ``bot:`` step is learnt as its text;
#: policies saved before learnt ``action_send_text``, which names no text to send
BOT_TEXT_REVISION = 4
#: the policy revision from which the rule policy saves what only the rules know
#: about, so that it can be hidden from policies that learn from stories only
RULE_ONLY_REVISION = 3
#: the policy revision from which memoization and the transformer policy (whose
#: ``revision`` it is; the other policies stay at 4) learn stories without their
#: ``action_unlikely_intent`` steps, which they would predict again right after the action
UNLIKELY_INTENT_REVISION = 5
#: the key under which built-in policies record their revision in what they save
REVISION_KEY = "revision"


@dataclass(frozen=True)
class SavedRevision:
    """The policy revision a loaded policy was saved at, older than its class's.

    ``exact`` is False for a model saved before policies recorded their
    revision: ``number`` is then the newest revision its saved resources can
    come from.
    """

    number: int
    exact: bool = True

    def __str__(self) -> str:
        return f"revision {self.number}" + ("" if self.exact else " or older")

    @classmethod
    def of(cls, saved: dict[str, Any], policy: type[Policy], *, at_most: int | None = None,
           at_least: int = 1) -> SavedRevision | None:
        """The revision recorded in ``saved`` (a policy's saved JSON) when older than
        ``policy``'s, else None. Without a record (saved before revisions were
        recorded), the revisions the saved resources can come from, which the caller
        reads off them: ``at_most`` (None where they look as the current revision
        saves them) and ``at_least``."""
        recorded = _recorded_revision(saved)
        if recorded is not None:
            return cls(recorded) if recorded < policy.revision else None
        if at_most is not None and at_most < policy.revision:
            return cls(at_most, exact=at_least >= at_most)
        return None


def _recorded_revision(saved: dict[str, Any]) -> int | None:
    recorded = saved.get(REVISION_KEY)
    return recorded if isinstance(recorded, int) and not isinstance(recorded, bool) else None


def saved_before(saved: dict[str, Any], revision: int) -> bool:
    """Whether ``saved`` (a policy's saved JSON) may come from a policy revision older
    than ``revision``: it records an older one, or none (it was saved before revisions
    were recorded)."""
    recorded = _recorded_revision(saved)
    return recorded is None or recorded < revision


@dataclass
class PolicyContext:
    """What policies may need while training, besides the data itself."""

    seed: int = 42
    device: str | None = None
    progress: bool = True
    #: the same policy of the model being fine-tuned (``train --finetune``)
    finetune_from: FinetuneSource | None = None
    #: the share of the configured epochs when fine-tuning
    epoch_fraction: float = 1.0


@dataclass
class PolicyPrediction:
    """What one policy predicts: a probability per action name.

    ``events`` are applied whichever policy wins (for example the rule
    policy's note to a loop that it returns from an unhappy path).
    ``is_no_user_prediction`` marks predictions that do not depend on the
    user's latest input (a loop continuing on its happy path); they overrule
    every other prediction. ``is_end_to_end_prediction`` marks predictions made
    from the text of the user's latest message rather than its intent (a rule
    written with ``user:`` text); they overrule predictions made from the intent.
    ``action_texts`` names the keys of ``probabilities`` that are bot texts
    learnt from ``bot:`` steps rather than action names: predicting one means
    sending that text (Rasa's end-to-end response).
    """

    probabilities: dict[str, float]
    policy_name: str
    priority: int = 1
    events: list[Event] = field(default_factory=list)
    is_no_user_prediction: bool = False
    is_end_to_end_prediction: bool = False
    #: the predicted turn is to be hidden from policies that learn from stories only
    #: (a rule that no story follows chose it); recorded as the action's
    #: ``hide_rule_turn``
    hide_rule_turn: bool = False
    #: the keys of ``probabilities`` that are bot texts, not action names
    action_texts: frozenset[str] = frozenset()
    #: what the policy says of its predicted action, passed on with it (Rasa's
    #: ``action_metadata``); the story test reads a severity of an
    #: ``action_unlikely_intent`` prediction from ``{"query_intent": {"severity": ...}}``
    action_metadata: dict[str, Any] | None = None

    @property
    def confidence(self) -> float:
        """The highest probability (0.0 when the policy predicts nothing)."""
        return max(self.probabilities.values(), default=0.0)

    @property
    def action_name(self) -> str | None:
        """The most probable action (the first one listed on ties), or None."""
        if not self.probabilities or self.confidence <= 0.0:
            return None
        best = self.confidence
        return next(name for name, p in self.probabilities.items() if p == best)

    @property
    def action_text(self) -> str | None:
        """The bot text to send, when the most probable action is one (else None)."""
        name = self.action_name
        return name if name is not None and name in self.action_texts else None

    @classmethod
    def nothing(cls, policy: Policy) -> PolicyPrediction:
        """The prediction of a policy that has nothing to say."""
        return cls({}, policy.name, policy.priority)


@dataclass
class Conversation:
    """A conversation as policies see it: its featurised events and states.

    ``states[-1]`` is the current state; ``events`` are the events that shape
    the states (undo, restarts and repeated loop runs applied).
    """

    events: list[Event]
    states: list[State]
    #: set on the view of policies that learn from stories only: what only the
    #: rules know about, left out of ``states`` (see :meth:`for_story_policies`)
    rule_only: RuleOnlyData | None = None
    #: the live conversation these states come from, which keeps the story view
    #: between predictions (see :meth:`for_story_policies`)
    live: LiveStates | None = field(default=None, repr=False, compare=False)

    def for_story_policies(self, rule_only: RuleOnlyData | None) -> Conversation:
        """The conversation as policies that learn from stories only see it: turns
        predicted by rules no story follows, rule-only slots and loops, and the states
        right after ``action_unlikely_intent`` left out (itself when there is nothing
        to leave out). A live conversation only reads
        what was added since it was last asked."""
        if self.live is not None:
            states = self.live.story_states(rule_only)
        else:
            states = StoryView(rule_only).of(self.events, self.states)
        if states is None:
            return self
        return Conversation(self.events, states, rule_only or RuleOnlyData())

    def states_of(self, events: Sequence[Event], featurizer: StateFeaturizer) -> list[State]:
        """The states of ``events`` (a part of this conversation), seen the same way."""
        states = featurizer.states(events)
        if self.rule_only is None:
            return states
        return story_policy_states(states, hidden_turns(events), self.rule_only)

    def iter_states_of(self, events: Iterable[Event],
                       featurizer: StateFeaturizer) -> Iterator[State]:
        """:meth:`states_of` one state at a time, reading ``events`` only as far as the
        states asked for need (a caller comparing them can stop at the first mismatch)."""
        if self.rule_only is None:
            return featurizer.iter_states(events)
        return iter_story_policy_states(events, featurizer, self.rule_only)

    @classmethod
    def from_events(cls, events: Sequence[Event], featurizer: StateFeaturizer) -> Conversation:
        kept = featurised_events(events)
        return cls(kept, featurizer.states(kept))

    @classmethod
    def from_tracker(cls, tracker: DialogueStateTracker,
                     featurizer: StateFeaturizer) -> Conversation:
        """The tracker's conversation; the featurizer keeps it and, when the tracker
        is asked about again with events appended, only reads the new events."""
        live = featurizer.live_states_of(tracker.sender_id, tracker.events)
        return cls(live.events, live.states, live=live)

    @property
    def current(self) -> State:
        return self.states[-1]


class Policy(Component):
    """Base class of dialogue policies.

    Subclasses set ``name``, ``defaults`` and ``default_priority`` and
    implement :meth:`train`, :meth:`predict_conversation`, :meth:`persist`
    and :meth:`load`. A ``priority`` setting breaks ties between policies
    predicting with the same confidence (higher wins).
    """

    kind: ClassVar[str] = "policy"
    defaults: ClassVar[dict[str, Any]] = {
        # breaks ties between policies that predict with the same confidence (higher
        # wins); null: the policy's default priority
        "priority": None,
    }
    setting_kinds: ClassVar[dict[str, type]] = {"priority": int}
    #: 2: slots keep the value they were set to and bool slots read values as Rasa
    #: does (``2``, ``"yes"``: not true), so states learnt before may differ.
    #: 3: entities the domain does not declare for an intent leave the states, and the
    #: rule policy saves what only rules know about.
    #: 4: a story's ``bot:`` text is learnt as that text, not as
    #: ``action_send_text`` (whose prediction would send an empty message).
    #: 5 (memoization and the transformer policy only): stories are learnt without their
    #: ``action_unlikely_intent`` steps (:data:`UNLIKELY_INTENT_REVISION`).
    #: Built-in policies record it with what they save (under :data:`REVISION_KEY`);
    #: an older one still loads, and the ensemble warns (:meth:`outdated_notes`).
    revision: ClassVar[int] = 4
    default_priority: ClassVar[int] = 1
    #: which paths the policy learns from ("story", "rule"); its fingerprint covers them.
    #: A policy that learns from stories only sees conversations without what only the
    #: rules know about and without the states right after ``action_unlikely_intent``
    #: (see :meth:`Conversation.for_story_policies`), as in Rasa.
    trains_on: ClassVar[tuple[str, ...]] = ("story",)
    #: True for a policy whose prediction only counts when it wins: it attaches no
    #: events and makes no no-user or end-to-end predictions. The ensemble then
    #: skips it when a policy of higher priority already predicts with confidence
    #: 1.0, which it could not beat. Left False, the policy is always asked.
    skippable_when_outranked: ClassVar[bool] = False
    #: set by :meth:`load` for a policy saved at an older revision (None otherwise);
    #: a class default, so a plugin's policy that sets up its own instance has it too
    saved_revision: SavedRevision | None = None
    #: set by :meth:`load` where the saved policy learnt ``bot:`` steps as
    #: ``action_send_text`` (saved before :data:`BOT_TEXT_REVISION`)
    learnt_bot_steps_without_text: bool = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # every policy takes `priority` (the ensemble reads it): a plugin's ``defaults``
        # without it would refuse `priority: 7` and warn at every load of a model that
        # saved the priority given to it
        own = cls.__dict__.get("defaults")
        if own is not None and "priority" not in own:
            cls.defaults = {**own, "priority": None}

    def __init__(self, config: dict | None = None, **kwargs) -> None:
        super().__init__(config, **kwargs)
        self._featurizer: StateFeaturizer | None = None

    @classmethod
    def resolve_config(cls, given: dict, **kwargs) -> dict:
        config = super().resolve_config(given, **kwargs)
        if config.get("priority") is None:
            config["priority"] = cls.default_priority
        return config

    @property
    def priority(self) -> int:
        return int(self.config.get("priority") or self.default_priority)

    @property
    def learns_from_stories_only(self) -> bool:
        """Whether the policy learns from stories only (Rasa's "ML data" policies)."""
        return tuple(self.trains_on) == ("story",)

    def featurizer(self, domain: Domain) -> StateFeaturizer:
        """A state featurizer for ``domain`` (kept while the domain stays the same)."""
        if self._featurizer is None or self._featurizer.domain is not domain:
            self._featurizer = StateFeaturizer(domain)
        return self._featurizer

    def train(self, paths: Sequence[StoryPath], domain: Domain, context: PolicyContext) -> None:
        """Learn from story and rule paths."""
        raise NotImplementedError

    def predict(self, tracker: DialogueStateTracker, domain: Domain) -> PolicyPrediction:
        """Predict the next action of the conversation in ``tracker``.

        A policy that learns from stories only sees what its events tell: without the
        turns of rules no story follows and the states right after
        ``action_unlikely_intent``. Rule-only slots and loops stay, as a policy on
        its own does not know the rules; the ensemble, which does, leaves them out too
        (see :meth:`Conversation.for_story_policies`)."""
        conversation = Conversation.from_tracker(tracker, self.featurizer(domain))
        if self.learns_from_stories_only:
            conversation = conversation.for_story_policies(None)
        return self.predict_conversation(conversation, domain)

    def predict_conversation(self, conversation: Conversation, domain: Domain) -> PolicyPrediction:
        """Predict the next action from the conversation's states."""
        raise NotImplementedError

    def prediction(self, probabilities: dict[str, float], **kwargs) -> PolicyPrediction:
        """A prediction of this policy.

        A policy saved before :data:`BOT_TEXT_REVISION` predicts ``action_send_text``
        for a story's ``bot:`` step, without the text, and the bot would send an
        empty message: such a score is left out, so that the policy's next best
        action, another policy or the fallback answers instead.
        """
        prediction = PolicyPrediction(probabilities, self.name, self.priority, **kwargs)
        if (self.saved_revision is not None and self.saved_revision.number < BOT_TEXT_REVISION
                and ACTION_SEND_TEXT in probabilities
                and ACTION_SEND_TEXT not in prediction.action_texts):
            return _without_send_text(prediction)
        return prediction

    def outdated_notes(self, model_policies: Sequence[Policy]) -> list[str]:
        """What this policy, loaded from a model saved at an older revision
        (:attr:`saved_revision`), does differently from the policy retrained now, as
        far as it matters for its model (``model_policies``: all the model's
        policies, itself included). Empty when nothing known does."""
        if (self.saved_revision is None or self.saved_revision.number >= BOT_TEXT_REVISION
                or not self.learnt_bot_steps_without_text):
            return []
        return ["it learnt the stories' `bot:` steps as action_send_text without their "
                "text, so it cannot send those texts; where it would, its next best action, "
                "another policy or the fallback answers instead"]


def _without_send_text(prediction: PolicyPrediction) -> PolicyPrediction:
    """``prediction`` without its score of ``action_send_text``; the flags that describe
    the predicted action go with it when it was the one predicted."""
    chosen = prediction.action_name == ACTION_SEND_TEXT
    logger.debug("%s: action_send_text predicted without a text is left out",
                 prediction.policy_name)
    probabilities = {a: p for a, p in prediction.probabilities.items()
                     if a != ACTION_SEND_TEXT}
    if not chosen:
        return replace(prediction, probabilities=probabilities)
    return replace(prediction, probabilities=probabilities, is_no_user_prediction=False,
                   is_end_to_end_prediction=False, hide_rule_turn=False, action_metadata=None)
