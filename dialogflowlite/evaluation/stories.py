"""Testing a trained agent on test stories (``dialogflowlite test core``).

Each test story is replayed as Rasa replays it: every action step is
predicted by the agent and compared with the story; then the conversation goes
on with what the story says happened, so one wrong prediction does not spoil
the rest. User steps with text go through the agent's NLU, and a wrong intent
or wrong entities fail the story too; intent-level steps are taken as written.
Actions are predicted, not run (no custom code is called): where the story
expects something else than an active form, the form is assumed to have
rejected, as a live form would. After every user step the slot mappings fill
slots as ``action_extract_slots`` would (``extract_slots=False`` turns that off).
As Rasa's ``rasa test core`` does, each predicted action is logged without
``hide_rule_turn``: a turn that a rule no story follows chose (an FAQ), hidden
from story-based policies live, stays visible to them while testing.

An end-to-end ``bot:`` step is scored by its text, as Rasa scores it: right
only where the policies chose ``action_send_text`` for that same text.

Where a policy predicts ``action_unlikely_intent`` and the story has another
action there, that is a warning, not a wrong prediction, as in Rasa: the
action is logged and the policies choose again; that second choice is what is
scored. A story that passes with such warnings is counted in
``conversation_accuracy.with_warnings`` and written to
``stories_with_warnings.yml``, the most severe first: by the highest severity
the policy attached to its ``action_unlikely_intent`` predictions in the story
(``action_metadata["query_intent"]["severity"]``, as Rasa's
UnexpecTEDIntentPolicy gives it); stories without one keep their test order,
after the others. Where the policies choose ``action_unlikely_intent`` again
right after it, the step is wrong and the story fails, but as in Rasa that is
no prediction error for ``--fail-on-prediction-errors``
(:attr:`StoryOutcome.has_prediction_errors`).

Results: story accuracy, an action-level precision / recall / F1 report,
``failed_test_stories.yml`` (the failed stories with ``# predicted: ...``
comments), ``story_report.json``, ``stories_with_warnings.yml`` and the action
confusion matrix (``story_confusion_matrix.png``).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dialogflowlite.dialogue.slot_filling import predefined_slot_events
from dialogflowlite.dialogue.story_export import (
    WrittenStory,
    annotated_text,
    events_to_steps,
    stories_yaml,
)
from dialogflowlite.errors import ProjectError
from dialogflowlite.evaluation.nlu_metrics import classification_report, confusion_matrix
from dialogflowlite.shared.display_width import display_width, pad
from dialogflowlite.shared.domain import ACTION_LISTEN, ACTION_SEND_TEXT, ACTION_UNLIKELY_INTENT
from dialogflowlite.shared.events import (
    ActionExecuted,
    ActionExecutionRejected,
    Event,
    UserUttered,
    bot_text,
)
from dialogflowlite.shared.message import full_intent_name
from dialogflowlite.shared.stories import CheckpointStep, OrStep, Story
from dialogflowlite.shared.story_paths import expand_story_paths, story_to_events
from dialogflowlite.shared.tracker import DialogueStateTracker

if TYPE_CHECKING:
    from dialogflowlite.agent import Agent
    from dialogflowlite.dialogue.processor import Prediction

logger = logging.getLogger(__name__)

FAILED_STORIES_FILE = "failed_test_stories.yml"
SUCCESSFUL_STORIES_FILE = "successful_test_stories.yml"
REPORT_FILE = "story_report.json"
WARNINGS_FILE = "stories_with_warnings.yml"
CONFUSION_MATRIX_FILE = "story_confusion_matrix.png"

NO_FAILED_STORIES_NOTE = "# None of the test stories failed - all good!\n"
NO_SUCCESSFUL_STORIES_NOTE = "# None of the test stories succeeded :(\n"
NO_WARNINGS_NOTE = "# No warnings for test stories\n"


@dataclass
class ActionCheck:
    """One predicted action against the one the story expects."""

    expected: str
    predicted: str
    policy: str | None
    confidence: float | None
    #: the policies first predicted ``action_unlikely_intent`` here, which the story
    #: does not have; ``predicted`` is what they chose after it (a warning, as in Rasa)
    after_unlikely_intent: bool = False
    #: the severity the policy attached to that ``action_unlikely_intent`` (None: none)
    severity: float | None = None

    @property
    def correct(self) -> bool:
        return self.expected == self.predicted

    @property
    def prediction_error(self) -> bool:
        """Whether this step is an error for ``--fail-on-prediction-errors``: a wrong
        prediction, except ``action_unlikely_intent`` chosen again right after it,
        which Rasa's story test scores as wrong but does not fail on."""
        return not self.correct and self.predicted != ACTION_UNLIKELY_INTENT

    @property
    def comment(self) -> str | None:
        """The ``# ...`` comment of this step in a written story (None: no comment)."""
        if not self.correct:
            after = f" after {ACTION_UNLIKELY_INTENT}" if self.after_unlikely_intent else ""
            return f"predicted: {self.predicted}{after}"
        if self.after_unlikely_intent:
            return f"predicted: {ACTION_UNLIKELY_INTENT}"
        return None


@dataclass
class UserCheck:
    """NLU's reading of a user step against the story's labels."""

    text: str
    expected_intent: str | None
    predicted_intent: str | None
    expected_entities: list[tuple] = field(default_factory=list)
    predicted_entities: list[tuple] = field(default_factory=list)
    predicted_parse: dict[str, Any] = field(default_factory=dict)

    @property
    def intent_correct(self) -> bool:
        return self.expected_intent is None or self.expected_intent == self.predicted_intent

    @property
    def entities_correct(self) -> bool:
        return sorted(self.expected_entities, key=repr) == sorted(self.predicted_entities, key=repr)

    @property
    def correct(self) -> bool:
        return self.intent_correct and self.entities_correct


@dataclass
class StoryOutcome:
    """How one test story went."""

    name: str
    location: str
    events: list[Event] = field(default_factory=list)
    #: the wrong predictions' comments, by index in ``events``
    comments: dict[int, str] = field(default_factory=dict)
    #: the ``action_unlikely_intent`` warnings' comments on right predictions, by index
    warnings: dict[int, str] = field(default_factory=dict)
    actions: list[ActionCheck] = field(default_factory=list)
    users: list[UserCheck] = field(default_factory=list)
    #: what the story names that the model's domain lacks (an intent, an action, a
    #: slot, ...): a step that cannot be replayed as written fails the story
    problems: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return (not self.problems and all(a.correct for a in self.actions)
                and all(u.correct for u in self.users))

    @property
    def warned(self) -> bool:
        """Whether ``action_unlikely_intent`` was predicted where the story has none."""
        return any(a.after_unlikely_intent for a in self.actions)

    @property
    def warning_severity(self) -> float:
        """The highest severity of the story's ``action_unlikely_intent`` warnings; 0 where
        none is higher or none was given, as Rasa counts it."""
        return max([0.0, *(a.severity for a in self.actions
                           if a.after_unlikely_intent and a.severity is not None)])

    @property
    def has_prediction_errors(self) -> bool:
        """Whether the story fails ``--fail-on-prediction-errors``: a wrong intent or
        entities, a wrong action (see :attr:`ActionCheck.prediction_error`), or a step
        the model's domain lacks (:attr:`problems`)."""
        return (bool(self.problems) or any(a.prediction_error for a in self.actions)
                or not all(u.correct for u in self.users))

    def all_comments(self) -> dict[int, str]:
        """The comments of the written story: errors and warnings, and the story's
        problems on its last step."""
        comments = {**self.warnings, **self.comments}
        if self.problems and self.events:
            last = len(self.events) - 1
            comments[last] = "; ".join([*filter(None, [comments.get(last)]), *self.problems])
        return comments

    @property
    def first_error(self) -> str | None:
        for index in sorted(self.comments):
            return self.comments[index]
        return self.problems[0] if self.problems else None


@dataclass
class StoryEvaluation:
    """The results of a test run over many stories.

    The unit counted is the conversation tested: a test story with ``or:``
    steps is one conversation per alternative, and test stories joined by
    checkpoints are one conversation, as Rasa counts them. ``written_stories``
    is how many test stories were read, to say so where the counts differ.
    """

    outcomes: list[StoryOutcome] = field(default_factory=list)
    written_stories: int | None = None

    @property
    def failed(self) -> list[StoryOutcome]:
        return [o for o in self.outcomes if not o.passed]

    @property
    def with_warnings(self) -> list[StoryOutcome]:
        """The stories that passed although ``action_unlikely_intent`` was predicted in
        them (Rasa's ``stories_with_warnings.yml``; a failed story is not one of them),
        the most severe first, else in test order (:attr:`StoryOutcome.warning_severity`)."""
        warned = [o for o in self.outcomes if o.passed and o.warned]
        # sorted() is stable: equal severities keep the test order, as in Rasa
        return sorted(warned, key=lambda outcome: -outcome.warning_severity)

    @property
    def with_prediction_errors(self) -> list[StoryOutcome]:
        """The failed stories that fail ``--fail-on-prediction-errors``."""
        return [o for o in self.outcomes if o.has_prediction_errors]

    @property
    def correct(self) -> int:
        return sum(o.passed for o in self.outcomes)

    @property
    def accuracy(self) -> float:
        return self.correct / len(self.outcomes) if self.outcomes else 0.0

    @property
    def action_checks(self) -> list[ActionCheck]:
        return [check for outcome in self.outcomes for check in outcome.actions]

    def counting_note(self) -> str:
        """Why the number of stories tested is not the number written (empty when it is)."""
        return counting_note(len(self.outcomes), self.written_stories)

    def action_report(self) -> dict[str, Any]:
        checks = self.action_checks
        return classification_report([c.expected for c in checks], [c.predicted for c in checks])

    def user_checks(self) -> list[UserCheck]:
        return [check for outcome in self.outcomes for check in outcome.users]

    def report(self) -> dict[str, Any]:
        """``story_report.json``: the action report plus story-level accuracy (left out
        where no conversation was tested, as Rasa leaves it out)."""
        report = self.action_report()
        users = self.user_checks()
        if self.outcomes:
            report["conversation_accuracy"] = {
                "accuracy": self.accuracy, "correct": self.correct,
                "with_warnings": len(self.with_warnings), "total": len(self.outcomes)}
        report["user_turns"] = {
            "total": len(users),
            "intent_errors": sum(not u.intent_correct for u in users),
            "entity_errors": sum(not u.entities_correct for u in users),
        }
        report["failed_stories"] = [{"story": o.name, "location": o.location,
                                     "first_error": o.first_error} for o in self.failed]
        return report

    def table(self) -> str:
        """The printed summary: story accuracy and the per-action table."""
        report = self.action_report()
        checks = self.action_checks
        note = self.counting_note()
        warned = len(self.with_warnings)
        lines = [
            f"Stories: {self.correct} / {len(self.outcomes)} correct "
            f"(accuracy {self.accuracy:.3f}{'; ' + note if note else ''})"
            + (f", {warned} of them with {ACTION_UNLIKELY_INTENT} warnings" if warned else ""),
            f"Actions: {sum(c.correct for c in checks)} / {len(checks)} correct "
            f"(accuracy {report.get('accuracy', 0.0):.3f})",
        ]
        users = self.user_checks()
        if users:
            lines.append(f"User turns through NLU: {len(users)}, "
                         f"{sum(not u.intent_correct for u in users)} wrong intent(s), "
                         f"{sum(not u.entities_correct for u in users)} with wrong entities")
        names = sorted(k for k in report if isinstance(report[k], dict)
                       and k not in ("micro avg", "macro avg", "weighted avg"))
        # in display columns: an action named in Chinese takes two a character
        width = max([len("action"), *(display_width(n) for n in names), len("weighted avg")])
        lines.append("")
        lines.append(f"{'action':<{width}}  precision  recall     f1  support")
        for name in [*names, "macro avg", "weighted avg"]:
            row = report.get(name)
            if not isinstance(row, dict):
                continue
            lines.append(f"{pad(name, width)}  {row['precision']:9.3f}  {row['recall']:6.3f}  "
                         f"{row['f1-score']:5.3f}  {int(row['support']):7d}")
        for outcome in self.failed:
            lines.append(f"FAILED {outcome.location} {outcome.name}: {outcome.first_error}")
        return "\n".join(lines)


def counting_note(tested: int, written: int | None) -> str:
    """``"1 test story as written: ..."`` where ``tested`` conversations came from
    another number of ``written`` test stories (``or:`` steps, checkpoints); else ``""``."""
    if written is None or written == tested:
        return ""
    stories = "test story" if written == 1 else "test stories"
    return (f"{written} {stories} as written: each `or:` alternative and each "
            "checkpoint-joined path counts as one")


#: the policies that predict from the training data as they memorised it (Rasa's list)
MEMORIZING_POLICIES = ("RulePolicy", "MemoizationPolicy", "AugmentedMemoizationPolicy")


def predicted_from_memory(policy: str | None) -> bool:
    """Whether ``policy`` (a prediction's policy name) is one of :data:`MEMORIZING_POLICIES`,
    also under Rasa's ``policy_<n>_<name>`` form."""
    return bool(policy) and any(policy == name or policy.endswith(f"_{name}")
                                for name in MEMORIZING_POLICIES)


def rasa_story_result(evaluation: StoryEvaluation, *, end_to_end: bool) -> dict[str, Any]:
    """The evaluation in the shape of Rasa's ``POST /model/test/stories`` answer.

    ``in_training_data_fraction`` is Rasa's share of the predicted actions that
    a memorising policy (:data:`MEMORIZING_POLICIES`) chose: how much of the
    test the stories and rules cover as written.
    """
    report = evaluation.report()
    checks = evaluation.action_checks
    weighted = report.get("weighted avg") or {}
    from_memory = sum(predicted_from_memory(c.policy) for c in checks)
    return {
        "report": report,
        "precision": weighted.get("precision", 0.0),
        "f1": weighted.get("f1-score", 0.0),
        "accuracy": report.get("accuracy", 0.0),
        "actions": [{"action": c.expected, "predicted": c.predicted, "policy": c.policy,
                     "confidence": c.confidence} for c in checks],
        "in_training_data_fraction": from_memory / len(checks) if checks else 0,
        "is_end_to_end_evaluation": end_to_end,
    }


def stories_from_yaml(text: str, name: str = "request body") -> list[Story]:
    """Test stories from one YAML document (``stories:``)."""
    from dialogflowlite.io.problems import ProblemLog
    from dialogflowlite.io.story_reader import StoryReader
    from dialogflowlite.io.yaml import read_yaml

    data = read_yaml(text, name)
    if not isinstance(data, dict) or "stories" not in data:
        raise ProjectError("the test stories must be a mapping with `stories:`",
                           hint="send them as a tests/ file holds them: `stories:` then "
                                "`- story: ...` items with `steps:`")
    log = ProblemLog()
    stories = StoryReader(log).read(Path(name), data, "stories", data["stories"], "test")
    if log.errors:
        raise ProjectError("the test stories have errors:\n" +
                           "\n".join(str(p) for p in log.errors[:10]))
    return stories


def _entity_key(entity: dict[str, Any], with_offsets: bool) -> tuple:
    key = (entity.get("entity"), str(entity.get("value")))
    if with_offsets:
        key += (entity.get("start"), entity.get("end"))
    return key


def _has_offsets(entities: Sequence[dict[str, Any]]) -> bool:
    return any(isinstance(e.get("end"), int) and e.get("end", 0) > e.get("start", 0)
               for e in entities)


def _predicted_intent(parse: dict[str, Any], expected: str | None) -> str | None:
    """NLU's intent for a test step: in full (``faq/ask_hours``) unless the base intent
    alone already matches what the story expects, as Rasa compares them."""
    name = (parse.get("intent") or {}).get("name")
    if expected and name != expected:
        return full_intent_name(parse) or name
    return name


def story_conversations(story: Story, domain: Any) -> list[tuple[str, list[Event]]]:
    """The linear conversations of a test story (one per ``or`` alternative)."""
    if any(isinstance(step, OrStep) for step in story.steps):
        paths = expand_story_paths([story], domain=domain)
        return [(f"{story.name} ({number + 1})", list(path.events))
                for number, path in enumerate(paths)]
    return [(story.name, story_to_events(story, domain))]


def joined_conversations(stories: Sequence[Story],
                         domain: Any) -> list[tuple[Story, str, list[Event]]]:
    """The conversations of test stories joined by checkpoints, as training joins them
    (``part one > part two``), each tested once, as Rasa does."""
    if not stories:
        return []
    by_name = {story.name: story for story in stories}
    return [(by_name.get(path.stories[0], stories[0]), " > ".join(path.stories),
             list(path.events))
            for path in expand_story_paths(list(stories), domain=domain)]


def expected_label(event: ActionExecuted) -> str:
    """What a test story's action step is scored as: the action's name, or for an
    end-to-end ``bot:`` step its text, as Rasa scores it (``action_send_text`` is only
    how the step runs)."""
    return bot_text(event) or event.name or ""


def unlikely_intent_severity(action_metadata: Mapping[str, Any] | None,
                             policy: str | None = None) -> float | None:
    """The severity a policy attached to its ``action_unlikely_intent`` prediction, where
    Rasa's UnexpecTEDIntentPolicy puts it: ``{"query_intent": {"severity": 1.5}}`` in
    the prediction's ``action_metadata`` (None where there is none)."""
    query_intent = (action_metadata or {}).get("query_intent")
    severity = query_intent.get("severity") if isinstance(query_intent, Mapping) else None
    if severity is None:
        return None
    if isinstance(severity, bool) or not isinstance(severity, (int, float)):
        logger.warning("%s: the severity of action_unlikely_intent (action_metadata"
                       "['query_intent']['severity']) is %r, not a number; the story is "
                       "sorted as one without a severity", policy or "a policy", severity)
        return None
    return float(severity)


def predicted_label(prediction: Any) -> str:
    """What a prediction is scored as: the text, where the policies chose
    ``action_send_text`` for one text, else the action's name. A prediction of
    ``action_send_text`` that names no text cannot match a ``bot:`` step's text."""
    text = getattr(prediction, "action_text", None)
    if prediction.action_name == ACTION_SEND_TEXT and text:
        return text
    return prediction.action_name


class StoryTester:
    """Replays test stories against an agent."""

    def __init__(self, agent: Agent, *, extract_slots: bool = True,
                 parse: Callable[[list[str]], Awaitable[list[dict[str, Any]]]] | None = None,
                 yield_between_stories: bool = False, parse_text: bool = True) -> None:
        """``parse`` replaces the agent's own parsing (a server parses on its NLU thread);
        ``yield_between_stories`` lets other tasks of the event loop run between stories.
        Without ``parse_text`` no text is parsed: every user step is taken as the story
        labels it, so only the policies are tested (a model without NLU)."""
        self.agent = agent
        self.parse_text = parse_text
        self.extract_slots = extract_slots
        self.processor = agent.processor
        self.domain = agent.domain
        self.parse = parse or agent.parse_messages
        self.yield_between_stories = yield_between_stories

    async def _parse_all(self, conversations: list[list[Event]]) -> dict[str, dict[str, Any]]:
        if not self.parse_text:
            return {}
        texts = sorted({e.text for events in conversations for e in events
                        if isinstance(e, UserUttered) and e.text})
        parsed = await self.parse(texts) if texts else []
        return dict(zip(texts, parsed, strict=True))

    async def evaluate(self, stories: Sequence[Story]) -> StoryEvaluation:
        conversations: list[tuple[Story, str, list[Event]]] = []
        joined = [s for s in stories if any(isinstance(step, CheckpointStep) for step in s.steps)]
        for story in stories:
            if story not in joined:
                for name, events in story_conversations(story, self.domain):
                    conversations.append((story, name, events))
        conversations += joined_conversations(joined, self.domain)
        parses = await self._parse_all([events for _, _, events in conversations])
        evaluation = StoryEvaluation(written_stories=len(stories))
        problems = {id(story): self._problems(story) for story in stories}
        # a joined conversation (`a > b`) has the problems of every story it joins
        joined_ids = {id(story) for story in joined}
        by_name: dict[str, list[str]] = {}
        for story in joined:
            by_name.setdefault(story.name, []).extend(problems[id(story)])
        for story, name, events in conversations:
            location = str(story.position) if story.position else ""
            outcome = self._replay(name, location, events, parses)
            outcome.problems = (
                [found for part in name.split(" > ") for found in by_name.get(part, [])]
                if id(story) in joined_ids else problems[id(story)])
            evaluation.outcomes.append(outcome)
            if self.yield_between_stories:
                await asyncio.sleep(0)
        return evaluation

    def _problems(self, story: Story) -> list[str]:
        """What ``story`` names that the model's domain lacks, each with where."""
        from dialogflowlite.io.validate import problems_of_test_stories

        return [f"{problem.message} ({problem.position})"
                for problem in problems_of_test_stories(self.domain, [story])]

    def _replay(self, name: str, location: str, events: list[Event],
                parses: dict[str, dict[str, Any]]) -> StoryOutcome:
        outcome = StoryOutcome(name, location)
        tracker = DialogueStateTracker.for_domain(f"test: {name}", self.domain)
        for event in events:
            if isinstance(event, ActionExecuted) and not tracker.events and \
                    event.name == ACTION_LISTEN:
                # The conversation starts by listening; nothing to predict yet.
                tracker.update(event)
                outcome.events.append(event)
            elif isinstance(event, ActionExecuted):
                self._check_action(tracker, event, outcome)
            elif isinstance(event, UserUttered):
                self._check_user(tracker, event, outcome, parses)
            else:
                tracker.update(event)
                outcome.events.append(event)
        return outcome

    def _predict(self, tracker: DialogueStateTracker) -> tuple[str, Prediction]:
        """The policies' choice as it is scored (see :func:`predicted_label`), and
        the prediction itself."""
        prediction = self.processor.predict_next_action(tracker)
        return predicted_label(prediction), prediction

    def _predict_step(self, tracker: DialogueStateTracker, expected: str,
                      outcome: StoryOutcome) -> tuple[str, Prediction]:
        """The policies' choice where the story expects ``expected``; where they choose
        the active form and the story something else, the form is taken to reject."""
        predicted, prediction = self._predict(tracker)
        loop = tracker.active_loop_name
        if predicted != expected and predicted == loop and loop in self.domain.forms:
            # A live form would have rejected here: let the policies choose again.
            rejection = ActionExecutionRejected(name=loop, policy=prediction.policy_name,
                                                confidence=prediction.confidence)
            tracker.update(rejection)
            outcome.events.append(rejection)
            predicted, prediction = self._predict(tracker)
        return predicted, prediction

    def _check_action(self, tracker: DialogueStateTracker, event: ActionExecuted,
                      outcome: StoryOutcome) -> None:
        expected = expected_label(event)
        predicted, prediction = self._predict_step(tracker, expected, outcome)
        after_unlikely_intent = predicted == ACTION_UNLIKELY_INTENT != expected
        severity = None
        if after_unlikely_intent:
            # A warning, not a wrong prediction (as in Rasa): the action is logged, as
            # it runs live, and the policies choose again. The written stories leave
            # it out, as the story does not have it.
            severity = unlikely_intent_severity(prediction.action_metadata,
                                                prediction.policy_name)
            tracker.update(ActionExecuted(name=ACTION_UNLIKELY_INTENT,
                                          policy=prediction.policy_name,
                                          confidence=prediction.confidence,
                                          metadata=dict(prediction.action_metadata or {})))
            predicted, prediction = self._predict_step(tracker, expected, outcome)
        policy, confidence = prediction.policy_name, prediction.confidence
        check = ActionCheck(expected, predicted, policy, confidence, after_unlikely_intent,
                            severity)
        outcome.actions.append(check)
        # without hide_rule_turn, as Rasa's story test logs it (see the module docstring)
        executed = ActionExecuted(name=event.name, action_text=event.action_text,
                                  policy=policy, confidence=confidence)
        if check.comment:
            comments = outcome.comments if not check.correct else outcome.warnings
            comments[len(outcome.events)] = check.comment
        tracker.update(executed)
        outcome.events.append(executed)

    def _check_user(self, tracker: DialogueStateTracker, event: UserUttered,
                    outcome: StoryOutcome, parses: dict[str, dict[str, Any]]) -> None:
        gold = event
        if event.text and event.text in parses:
            parse = parses[event.text]
            # a retrieval intent is checked in full (faq/ask_hours), as in Rasa
            expected_intent = (event.parse_data.get("intent") or {}).get(
                "full_retrieval_intent_name") or event.intent_name
            with_offsets = _has_offsets(event.entities)
            check = UserCheck(
                text=event.text,
                expected_intent=expected_intent,
                predicted_intent=_predicted_intent(parse, expected_intent),
                expected_entities=[_entity_key(e, with_offsets) for e in event.entities],
                predicted_entities=[_entity_key(e, with_offsets)
                                    for e in parse.get("entities") or []],
                predicted_parse=parse,
            )
            outcome.users.append(check)
            if not check.correct:
                predicted_text = annotated_text(event.text, parse.get("entities") or [])
                outcome.comments[len(outcome.events)] = (
                    f"predicted: {check.predicted_intent}: {predicted_text}")
            if expected_intent is None:
                # A pure end-to-end step: the conversation goes on with what NLU understood.
                gold = UserUttered(text=event.text, parse_data={**parse, "text": event.text})
        tracker.update(gold)
        # the written story keeps the step as the test story has it: NLU's reading of
        # a text-only step is no label of it (Rasa writes such a step back as text)
        outcome.events.append(event)
        if self.extract_slots:
            for slot_event in predefined_slot_events(tracker, self.domain):
                tracker.update(slot_event)


async def evaluate_stories(agent: Agent, stories: Sequence[Story], *,
                           extract_slots: bool = True, parse_text: bool = True
                           ) -> StoryEvaluation:
    """Replay ``stories`` against ``agent`` and collect the results (without
    ``parse_text``, user steps are taken as labelled: see :class:`StoryTester`)."""
    return await StoryTester(agent, extract_slots=extract_slots,
                             parse_text=parse_text).evaluate(stories)


def write_story_results(evaluation: StoryEvaluation, out_dir: str | Path, *,
                        successes: bool = False, plots: bool = True,
                        warnings: bool = True) -> dict[str, Path]:
    """Write ``failed_test_stories.yml`` and ``story_report.json`` (and the successes);
    with ``plots``, also the action confusion matrix ``story_confusion_matrix.png``;
    with ``warnings``, ``stories_with_warnings.yml``: the stories that passed although
    ``action_unlikely_intent`` was predicted in them, each such step commented
    ``# predicted: action_unlikely_intent`` (else Rasa's note that there are none).
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}
    written["failed"] = _write_stories(out / FAILED_STORIES_FILE, evaluation.failed,
                                       NO_FAILED_STORIES_NOTE)
    if successes:
        passed = [o for o in evaluation.outcomes if o.passed]
        # an empty `stories:` would read back as a file of no test stories (Rasa's words)
        written["successes"] = _write_stories(out / SUCCESSFUL_STORIES_FILE, passed,
                                              NO_SUCCESSFUL_STORIES_NOTE)
    if warnings:
        written["warnings"] = _write_stories(out / WARNINGS_FILE, evaluation.with_warnings,
                                             NO_WARNINGS_NOTE)
    report_path = out / REPORT_FILE
    report_path.write_text(json.dumps(evaluation.report(), indent=2, ensure_ascii=False),
                           encoding="utf-8")
    written["report"] = report_path
    if plots and evaluation.action_checks:
        written["confusion_matrix"] = plot_action_confusion_matrix(
            evaluation, out / CONFUSION_MATRIX_FILE)
    return written


def _write_stories(path: Path, outcomes: Sequence[StoryOutcome], none_note: str) -> Path:
    """``outcomes`` as YAML stories with their ``# predicted: ...`` comments, or
    ``none_note`` where there are none."""
    if outcomes:
        text = stories_yaml([WrittenStory(_story_title(o),
                                          events_to_steps(o.events, o.all_comments()))
                             for o in outcomes])
    else:
        text = none_note
    path.write_text(text, encoding="utf-8")
    return path


def plot_action_confusion_matrix(evaluation: StoryEvaluation, path: Path) -> Path:
    """The expected against the predicted actions of every story step, as a PNG."""
    from dialogflowlite.evaluation.plots import plot_confusion_matrix

    checks = evaluation.action_checks
    labels, matrix = confusion_matrix([c.expected for c in checks],
                                      [c.predicted for c in checks])
    return plot_confusion_matrix(labels, matrix, path, title="Action confusion matrix")


def _story_title(outcome: StoryOutcome) -> str:
    return f"{outcome.name} ({outcome.location})" if outcome.location else outcome.name


def load_test_stories(path: str | Path, kind: str = "test") -> list[Story]:
    """Test stories from a YAML file, or from every YAML file in a folder.

    ``kind="story"`` reads them as training stories (``train --stories``).
    """
    from dialogflowlite.io.formats import DATA_KEYS, did_you_mean
    from dialogflowlite.io.loader import YAML_SUFFIXES
    from dialogflowlite.io.problems import UNKNOWN_KEY, ProblemLog
    from dialogflowlite.io.story_reader import StoryReader
    from dialogflowlite.io.yaml import position, read_yaml_file

    source = Path(path)
    if source.is_dir():
        files = sorted(p for p in source.rglob("*") if p.suffix in YAML_SUFFIXES)
    elif source.is_file():
        files = [source]
    else:
        what = "test stories" if kind == "test" else "training stories"
        raise ProjectError(f"{what} {source} do not exist",
                           hint="pass a YAML file or a folder of them with --stories")
    log = ProblemLog()
    reader = StoryReader(log)
    stories: list[Story] = []
    for file in files:
        data = read_yaml_file(file)
        if not isinstance(data, dict):
            continue
        if "stories" in data:
            stories += reader.read(file, data, "stories", data["stories"], kind)
            continue
        # a misspelt `storys:` left the file's stories out of the test without a word
        for key in data:
            hint = did_you_mean(str(key), ["stories"])
            if hint is not None and str(key) not in DATA_KEYS:
                log.error(position(file, data, key), f"unknown key '{key}' in a data file: "
                          "its stories would be left out", hint, UNKNOWN_KEY)
    if log.errors:
        raise ProjectError(f"the {'test ' if kind == 'test' else ''}stories have errors:\n" +
                           "\n".join(str(p) for p in log.errors[:10]))
    return stories


def run_story_test(agent: Agent, stories: Sequence[Story], *, out_dir: str | Path | None,
                   extract_slots: bool = True, successes: bool = False,
                   plots: bool = True, warnings: bool = True) -> StoryEvaluation:
    """Evaluate and (with ``out_dir``) write the results; the ``test core`` command uses this."""
    evaluation = asyncio.run(evaluate_stories(agent, stories, extract_slots=extract_slots))
    if out_dir is not None:
        write_story_results(evaluation, out_dir, successes=successes, plots=plots,
                            warnings=warnings)
    return evaluation
