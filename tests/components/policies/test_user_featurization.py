"""The ensemble notes how the user turn it answered is featurised, as Rasa logs it.

Right after the user spoke, Rasa's ensemble adds a ``user_featurization``
event to its prediction: ``use_text_for_featurization`` true after an
end-to-end prediction (a rule written with the user's text), false after one
made from the intent. After a bot action it adds none.
"""

from __future__ import annotations

from policy_helpers import act, said, tracker, trained, user
from story_data import GREET_RULE, THANKS_STORY, rules_yaml, stories_yaml

from dialogflowlite.components.policies.ensemble import PolicyEnsemble
from dialogflowlite.components.policies.memoization import MemoizationPolicy
from dialogflowlite.components.policies.rule import RulePolicy
from dialogflowlite.shared.events import UserUtteranceFeaturization

RULES = rules_yaml(GREET_RULE, """\
- rule: hello robot
  steps:
  - user: hello robot
  - action: utter_welcome
""")

#: the thanks story with a second action after the answer
STORIES = stories_yaml(THANKS_STORY + "  - action: utter_done\n")


def notes(prediction) -> list[bool]:
    return [e.use_text_for_featurization for e in prediction.events
            if isinstance(e, UserUtteranceFeaturization)]


def test_a_prediction_after_the_user_spoke_says_how_the_turn_is_read(dialogue_project) -> None:
    project = dialogue_project(rules=RULES, stories=STORIES)
    domain = project.domain
    ensemble = PolicyEnsemble([trained(RulePolicy(), project),
                               trained(MemoizationPolicy(), project)])

    by_intent = ensemble.predict_next_action(tracker(domain, *said("greet")), domain)
    assert by_intent.action_name == "utter_greet" and notes(by_intent) == [False]
    from_story = ensemble.predict_next_action(tracker(domain, *said("thanks")), domain)
    assert from_story.action_name == "utter_noworries" and notes(from_story) == [False]
    by_text = ensemble.predict_next_action(
        tracker(domain, *said("greet")[:1], user("greet", text="hello robot")), domain)
    assert by_text.action_name == "utter_welcome" and notes(by_text) == [True]
    # nothing predicted at all: still read by its intent
    unknown = ensemble.predict_next_action(tracker(domain, *said("stop")), domain)
    assert notes(unknown) == [False]


def test_no_note_after_a_bot_action(dialogue_project) -> None:
    project = dialogue_project(rules=RULES, stories=STORIES)
    domain = project.domain
    ensemble = PolicyEnsemble([trained(RulePolicy(), project),
                               trained(MemoizationPolicy(), project)])
    events = [*said("thanks"), act("utter_noworries")]
    prediction = ensemble.predict_next_action(tracker(domain, *events), domain)
    assert prediction.action_name == "utter_done" and notes(prediction) == []

