"""Slots hold values as set; the policies read them for their meaning, as Rasa's slots'
features do, so a value given as text featurises like the value it stands for."""

from __future__ import annotations

from dialogflowlite.components.policies.states import StateFeaturizer
from dialogflowlite.shared.domain import Domain, IntentDef, SlotDef
from dialogflowlite.shared.events import SlotSet
from dialogflowlite.shared.tracker import DialogueStateTracker


def domain() -> Domain:
    return Domain(intents={"greet": IntentDef("greet")},
                  slots={"count": SlotDef("count", "float", min_value=0, max_value=10),
                         "flag": SlotDef("flag", "bool"),
                         "items": SlotDef("items", "list")})


def slot_state(name: str, value) -> dict:
    return dict(StateFeaturizer(domain()).states([SlotSet(name=name, value=value)])[-1].slots)


def test_text_for_a_number_or_a_truth_value_featurises_like_the_value() -> None:
    assert slot_state("count", "2") == slot_state("count", 2.0) == {"count": (1.0, 0.2)}
    assert slot_state("flag", "True") == slot_state("flag", True) == {"flag": (1.0, 1.0)}
    assert slot_state("flag", "false") == slot_state("flag", False) == {"flag": (1.0, 0.0)}
    # as Rasa's bool slot: only 1 is true, and a word that is neither true nor false
    # featurises as not set
    assert slot_state("flag", "2") == slot_state("flag", 2) == {"flag": (1.0, 0.0)}
    assert slot_state("flag", "yes") == slot_state("flag", "no") == {}


def test_a_list_slot_featurises_what_it_holds_as_rasas_list_slot() -> None:
    assert slot_state("items", "a") == slot_state("items", ["a"]) == {"items": (1.0,)}
    # Rasa keeps an empty single value as it is, and its length is 0: no feature
    assert slot_state("items", "") == {}
    assert slot_state("items", 0) == {}


def test_the_featurised_value_is_the_one_the_tracker_holds() -> None:
    tracker = DialogueStateTracker.for_domain("u1", domain(),
                                              [SlotSet(name="items", value="")])
    assert tracker.get_slot("items") == ""
    featurizer = StateFeaturizer(domain())
    assert featurizer.conversation_states(tracker.events)[-1].slots == ()
