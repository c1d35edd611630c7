"""AugmentedMemoizationPolicy with ``max_history: null``: shortened whole histories.

A prediction must find the same action as looking up every shortened history
in turn, while featurising about one pass over the conversation, not one pass
per shortened history.
"""

from __future__ import annotations

import random

from policy_helpers import act, listen, said, trained, user
from story_data import CITY_WEATHER_STORY, stories_yaml
from weather_stories import GOODBYE_AFTER_THANKS_STORY

from dialogflowlite.components.policies.base import Conversation
from dialogflowlite.components.policies.memoization import AugmentedMemoizationPolicy
from dialogflowlite.components.policies.states import RuleOnlyData, StateFeaturizer
from dialogflowlite.shared.domain import ACTION_LISTEN
from dialogflowlite.shared.events import ActionExecuted, Event, SlotSet

PREMIUM_STORY = """\
- story: premium
  steps:
  - intent: ask_weather
  - slot_was_set: [{premium: true}]
  - action: utter_premium
  - intent: thanks
  - action: utter_noworries
"""

STORIES = stories_yaml(CITY_WEATHER_STORY, PREMIUM_STORY, GOODBYE_AFTER_THANKS_STORY)

#: turns a conversation is made of: (events of the user turn, the bot's actions)
TURNS: list[tuple[list[Event], list[str]]] = [
    (said("greet"), ["utter_greet"]),
    (said("ask_weather"), ["utter_ask_city"]),
    ([listen(), user("inform", {"entity": "city", "value": "Paris"}),
      SlotSet(name="city", value="Paris")], ["utter_weather"]),
    ([*said("ask_weather"), SlotSet(name="premium", value=True)], ["utter_premium"]),
    (said("thanks"), ["utter_noworries"]),
    (said("bye"), ["utter_bye"]),
    (said("chitchat"), ["utter_chitchat"]),
    (said("deny"), ["utter_cancelled", "utter_done"]),
]


def every_shortened_history(policy: AugmentedMemoizationPolicy, conversation: Conversation,
                            featurizer: StateFeaturizer) -> str | None:
    """The plain reading of the policy: the full history, then each shortened one."""
    action = policy.lookup.get(tuple(conversation.states))
    if action is not None:
        return action
    events = conversation.events
    for start, event in enumerate(events):
        if isinstance(event, ActionExecuted):
            action = policy.lookup.get(tuple(conversation.states_of(events[start:],
                                                                    featurizer)))
            if action is not None:
                return action
    return None


def conversations(seed: int, count: int, hide: bool) -> list[list[Event]]:
    """Random conversations of the turns above; with ``hide``, chitchat turns are
    logged as turns of a rule no story follows."""
    chooser = random.Random(seed)
    made = []
    for _ in range(count):
        events: list[Event] = [ActionExecuted(name="action_session_start")]
        for _ in range(chooser.randint(1, 7)):
            user_turn, actions = chooser.choice(TURNS)
            hidden = hide and actions == ["utter_chitchat"]
            events += user_turn
            events += [ActionExecuted(name=name, hide_rule_turn=hidden) for name in actions]
            made.append(list(events))
            events.append(ActionExecuted(name=ACTION_LISTEN, hide_rule_turn=hidden))
        made.append(events)
    return made


def test_predictions_are_those_of_every_shortened_history(dialogue_project) -> None:
    project = dialogue_project(stories=STORIES)
    domain = project.domain
    policy = trained(AugmentedMemoizationPolicy({"max_history": None}), project)
    featurizer = policy.featurizer(domain)
    found = 0
    for hide in (False, True):
        for events in conversations(seed=7, count=60, hide=hide):
            conversation = Conversation.from_events(events, featurizer)
            if hide:
                conversation = conversation.for_story_policies(
                    RuleOnlyData(slots=frozenset({"premium"})))
            expected = every_shortened_history(policy, conversation, featurizer)
            predicted = policy.predict_conversation(conversation, domain).action_name
            assert predicted == expected, events
            found += expected is not None
    # the conversations reach stories after unrelated starts, and miss them too
    assert 20 < found < 500


def test_a_prediction_reads_the_conversation_about_once(dialogue_project,
                                                        monkeypatch) -> None:
    project = dialogue_project(stories=STORIES)
    domain = project.domain
    policy = trained(AugmentedMemoizationPolicy({"max_history": None}), project)
    featurizer = policy.featurizer(domain)
    snapshots = [0]
    original = StateFeaturizer._snapshot

    def counted(self, walk, omit_unset_slots):
        snapshots[0] += 1
        return original(self, walk, omit_unset_slots)

    def states_read(turns: int) -> int:
        # the same unknown turn again and again: no shortened history matches
        events: list[Event] = [ActionExecuted(name="action_session_start")]
        for _ in range(turns):
            events += [*said("deny"), act("utter_cancelled"), act("utter_done"), listen()]
        events += said("affirm")
        conversation = Conversation.from_events(events, featurizer)
        snapshots[0] = 0
        assert policy.predict_conversation(conversation, domain).action_name is None
        return snapshots[0]

    monkeypatch.setattr(StateFeaturizer, "_snapshot", counted)
    short, long = states_read(20), states_read(80)
    # four times the conversation: about four times the states, not sixteen
    assert long <= 5 * short
