"""The policy ensemble: ask every policy, pick one action.

The winner is the prediction with the highest confidence; equal confidences
go to the policy with the higher priority (rules 4, memoization 3,
transformer 1 by default, as in Rasa). Predictions that do not depend on the
user's input (a loop on its happy path) overrule the others; among the rest,
predictions made from the text of the user's latest message (end-to-end
rules) overrule those made from its intent. An action that was just rejected
(a loop refusing to run) is not predicted again. Events policies attach to
their predictions (a loop's "you were interrupted") are passed on whichever
policy wins. Right after the user spoke, the decision also carries a
``user_featurization`` event saying whether later states read that user turn
by its text (an end-to-end prediction won) or by its intent, as Rasa logs it.

The core fallback is not decided here: the rule policy scores its fallback
action with ``core_fallback_threshold`` in every prediction, so it wins
whenever no policy is more confident (ties go to the rule policy's higher
priority), as in Rasa. When no policy predicts anything at all, the bot
listens (confidence 0.0), as Rasa's ensemble does. Right after the user's turn
was undone (the fallback action and ``action_back`` rewind it) there is nothing
to answer: the bot listens too.

A policy may predict a bot text learnt from a ``bot:`` step (one of its
prediction's ``action_texts``): the decision is then ``action_send_text``
with that text as ``action_text``, which the processor sends as it is (Rasa's
end-to-end response).

A model whose policies were saved at an older policy revision still loads;
one warning then names each such policy, its revision, what it does
differently that matters for the model, and says to retrain.
"""

from __future__ import annotations

import logging
import math
import numbers
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from dialogflowlite.components.policies.base import Conversation, Policy, PolicyPrediction
from dialogflowlite.components.policies.states import RuleOnlyData, StateFeaturizer
from dialogflowlite.errors import DialogueError, ModelLoadError
from dialogflowlite.shared.domain import ACTION_LISTEN, ACTION_SEND_TEXT, Domain
from dialogflowlite.shared.events import (
    ActionExecuted,
    ActionExecutionRejected,
    Event,
    UserUtteranceFeaturization,
    UserUtteranceReverted,
    UserUttered,
)
from dialogflowlite.shared.tracker import DialogueStateTracker

if TYPE_CHECKING:
    from dialogflowlite.artifact import ModelArchive

logger = logging.getLogger(__name__)

#: the model section the ensemble is stored under
SECTION = "core"
#: ``policy`` of the ``action_listen`` that follows an undone user turn
UNDONE_TURN_POLICY = "user_turn_undone"


@dataclass
class ActionPrediction:
    """The ensemble's decision: the action, its confidence and the policy that chose it.

    ``events`` are to be applied before the action runs; ``probabilities`` are
    the winning policy's scores of every action it scored.
    """

    action_name: str
    confidence: float
    policy_name: str | None
    events: list[Event] = field(default_factory=list)
    is_no_user_prediction: bool = False
    probabilities: dict[str, float] = field(default_factory=dict)
    #: log the action with ``hide_rule_turn`` (a rule no story follows chose it)
    hide_rule_turn: bool = False
    #: the bot text to send, where ``action_name`` is ``action_send_text`` for a text
    #: learnt from a ``bot:`` step
    action_text: str | None = None
    #: what the winning policy says of the action (Rasa's ``action_metadata``)
    action_metadata: dict[str, Any] | None = None
    #: chosen by the user's text rather than the intent (a rule or story with ``user:``)
    is_end_to_end_prediction: bool = False


def rejected_action(events: Sequence[Event]) -> str | None:
    """The action that rejected its execution after the latest action, if any."""
    for event in reversed(events):
        if isinstance(event, ActionExecutionRejected):
            return event.name
        if isinstance(event, ActionExecuted):
            return None
    return None


def user_turn_undone(events: Sequence[Event]) -> bool:
    """Whether the latest user turn was undone and no action ran since."""
    for event in reversed(events):
        if isinstance(event, UserUtteranceReverted):
            return True
        if isinstance(event, (ActionExecuted, UserUttered)):
            return False
    return False


def _featurization(tracker: DialogueStateTracker, *, by_text: bool) -> list[Event]:
    """Right after the user spoke, the note of how later states read this user turn:
    by its text when an end-to-end prediction answered it, else by its intent. Rasa
    logs it either way (``user_featurization``), so a tracker reads the same in both."""
    if tracker.latest_action_name != ACTION_LISTEN:
        return []
    return [UserUtteranceFeaturization(use_text_for_featurization=by_text)]


def _end_to_end(prediction: PolicyPrediction) -> bool:
    # read with a default: a plugin's prediction object made before the attribute
    # existed still counts as a prediction from the intent
    return bool(getattr(prediction, "is_end_to_end_prediction", False))


def _action_metadata(prediction: PolicyPrediction) -> dict[str, Any] | None:
    # read with a default too: a plugin's prediction object may not have it
    metadata = getattr(prediction, "action_metadata", None)
    return dict(metadata) if isinstance(metadata, dict) else None


def warn_about_outdated_policies(policies: Sequence[Policy], model: str) -> None:
    """Log one warning for the policies of ``model`` saved at an older policy
    revision that behave differently for it than they would retrained (nothing
    when none does)."""
    outdated = []
    for policy in policies:
        saved = getattr(policy, "saved_revision", None)
        if saved is None:
            continue
        notes = policy.outdated_notes(policies)
        if notes:
            outdated.append(f"{policy.name} was saved at policy {saved} (this version "
                            f"saves revision {policy.revision}): {'; '.join(notes)}")
    if outdated:
        logger.warning("model %s: %s. Retrain it with `dialogflowlite train`, which "
                       "retrains only the policies that changed", model, ". ".join(outdated))


def _ask(policy: Policy, seen: Conversation, tracker: DialogueStateTracker,
         domain: Domain) -> PolicyPrediction:
    """``policy``'s prediction; a :class:`DialogueError` naming it when what it returned
    is no prediction."""
    if type(policy).predict_conversation is Policy.predict_conversation:
        # a plugin policy written to the documented ``predict(tracker, domain)``
        prediction = policy.predict(tracker, domain)
    else:
        prediction = policy.predict_conversation(seen, domain)
    if not isinstance(getattr(prediction, "probabilities", None), dict):
        # it would fail later on a missing attribute, naming no policy (a plugin's own
        # prediction class with the attributes of one still counts)
        raise DialogueError(
            f"policy {policy.name} returned {type(prediction).__name__}, not a "
            "PolicyPrediction", hint="return self.prediction({action: probability}) or "
            "PolicyPrediction.nothing(self) (docs/writing-a-plugin.md)")
    for action, probability in prediction.probabilities.items():
        if not _is_number(probability):
            # NaN loses every comparison: the turn ended with no reply and no word
            raise DialogueError(f"policy {policy.name} gave {action!r} the probability "
                                f"{probability!r}, which is not a finite number",
                                hint="probabilities are numbers between 0 and 1")
    return prediction


def _is_number(value: object) -> bool:
    """A finite real number (numpy's too): not text such as "0.9", not a bool, not NaN,
    which the comparisons after would fail on or lose."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool) \
        and math.isfinite(value)


class PolicyEnsemble:
    """Policies in config order, deciding together."""

    def __init__(self, policies: Sequence[Policy]) -> None:
        self.policies = list(policies)
        self.rule_only = self._rule_only_data()
        self._featurizer: StateFeaturizer | None = None
        #: policy indices, highest priority first (config order among equals)
        self._asking_order = sorted(range(len(self.policies)),
                                    key=lambda i: -self.policies[i].priority)

    def _rule_only_data(self) -> RuleOnlyData | None:
        """What only the rule policy knows about, to hide from story-based policies."""
        from dialogflowlite.components.policies.rule import RulePolicy

        rule = next((p for p in self.policies if isinstance(p, RulePolicy)), None)
        return rule.rule_only if rule is not None else None

    @classmethod
    def from_policies(cls, policies: Sequence[Policy]) -> PolicyEnsemble:
        """An ensemble of trained policies (kept for callers that build one from a list)."""
        return cls(policies)

    @classmethod
    def load(cls, archive: ModelArchive, domain: Domain) -> PolicyEnsemble:
        """The trained policies of a model, as the ``core`` section lists them."""
        from dialogflowlite.components.base import load_component
        from dialogflowlite.plugins.registry import class_for_model

        entry: dict[str, Any] | None = archive.manifest.sections.get(SECTION)
        if not entry or not entry.get("policies"):
            raise ModelLoadError("the model has no dialogue policies",
                                 hint="train with stories or rules: `dialogflowlite train`")
        policies = []
        for item in entry["policies"]:
            if not archive.has(item["key"]):
                raise ModelLoadError(f"the model lacks the resources of policy {item['name']}",
                                     hint="retrain the model with `dialogflowlite train`")
            policy_class = class_for_model(archive.manifest.component(item["key"]),
                                           item["name"])
            policies.append(load_component(policy_class, dict(item.get("config") or {}),
                                           archive.storage(item["key"])))
        warn_about_outdated_policies(policies, (archive.source or archive.root).name)
        return cls.from_policies(policies)

    # ------------------------------------------------------------ deciding

    def featurizer(self, domain: Domain) -> StateFeaturizer:
        if self._featurizer is None or self._featurizer.domain is not domain:
            self._featurizer = StateFeaturizer(domain)
        return self._featurizer

    def predictions(self, tracker: DialogueStateTracker, domain: Domain) -> list[PolicyPrediction]:
        """The policies' predictions in config order, the rejected action (if any)
        removed from each.

        Policies that learn from stories only are shown the conversation without
        what only the rules know about (:meth:`Conversation.for_story_policies`),
        as Rasa shows it to them.

        Policies are asked from the highest priority down. A policy marked
        ``skippable_when_outranked`` is left out once a policy of higher priority
        predicted with confidence 1.0: it could not win, so asking it (a neural
        network's forward pass, for the transformer policy) would change nothing.
        """
        conversation = Conversation.from_tracker(tracker, self.featurizer(domain))
        story_view: Conversation | None = None
        rejected = rejected_action(tracker.events)
        found: dict[int, PolicyPrediction] = {}
        certain_priority: int | None = None
        for index in self._asking_order:
            policy = self.policies[index]
            if (policy.skippable_when_outranked and certain_priority is not None
                    and certain_priority > policy.priority):
                continue
            seen = conversation
            if policy.learns_from_stories_only:
                if story_view is None:
                    story_view = conversation.for_story_policies(self.rule_only)
                seen = story_view
            try:
                prediction = _ask(policy, seen, tracker, domain)
            except DialogueError as e:
                logger.error("%s; its prediction is left out", e.render())
                continue
            except Exception:
                # one policy's failure (a plugin's bug) is not the conversation's: the other
                # policies decide, and the user's message is kept
                logger.exception("policy %s failed; its prediction is left out", policy.name)
                continue
            if rejected and rejected in prediction.probabilities:
                prediction.probabilities = {a: p for a, p in prediction.probabilities.items()
                                            if a != rejected}
            if prediction.confidence >= 1.0:
                certain_priority = (prediction.priority if certain_priority is None
                                    else max(certain_priority, prediction.priority))
            found[index] = prediction
        return [found[index] for index in sorted(found)]

    @staticmethod
    def best(predictions: Sequence[PolicyPrediction]) -> PolicyPrediction | None:
        """The winning prediction: no-user predictions first, then end-to-end ones,
        then confidence, then priority (config order among equals)."""
        live = [p for p in predictions if p.confidence > 0]
        no_user = any(p.is_no_user_prediction for p in live)
        end_to_end = not no_user and any(_end_to_end(p) for p in live)
        best: PolicyPrediction | None = None
        for prediction in live:
            if prediction.is_no_user_prediction != no_user:
                continue
            if not no_user and _end_to_end(prediction) != end_to_end:
                continue
            if best is None or ((prediction.confidence, prediction.priority)
                                > (best.confidence, best.priority)):
                best = prediction
        return best

    def predict_next_action(self, tracker: DialogueStateTracker,
                            domain: Domain) -> ActionPrediction:
        """The next action for the conversation in ``tracker``."""
        if user_turn_undone(tracker.events):
            return ActionPrediction(ACTION_LISTEN, 1.0, UNDONE_TURN_POLICY,
                                    _featurization(tracker, by_text=False),
                                    probabilities={ACTION_LISTEN: 1.0})
        predictions = self.predictions(tracker, domain)
        events = [event for p in predictions for event in p.events]
        best = self.best(predictions)
        if best is None or best.action_name is None:
            # every score is 0: Rasa's argmax lands on the first action, action_listen,
            # chosen by the policy of the highest priority
            policy = max(predictions, key=lambda p: p.priority, default=None)
            logger.debug("no policy predicts anything: %s", ACTION_LISTEN)
            return ActionPrediction(ACTION_LISTEN, 0.0,
                                    policy.policy_name if policy is not None else None,
                                    events + _featurization(tracker, by_text=False),
                                    probabilities={ACTION_LISTEN: 0.0})
        events += _featurization(tracker, by_text=_end_to_end(best))
        action = best.action_name
        # read with a default, like the end-to-end flag: a plugin's prediction may lack it
        text = getattr(best, "action_text", None)
        logger.debug("predicted %s (%s, %.2f)", action, best.policy_name, best.confidence)
        return ActionPrediction(ACTION_SEND_TEXT if text else action, best.confidence,
                                best.policy_name, events, best.is_no_user_prediction,
                                dict(best.probabilities),
                                bool(getattr(best, "hide_rule_turn", False)), text,
                                _action_metadata(best), _end_to_end(best))
