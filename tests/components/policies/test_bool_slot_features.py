"""A bool slot's features read its value as Rasa's bool slots do."""

from __future__ import annotations

import pytest

from dialogflowlite.components.policies.states import bool_reading, slot_features
from dialogflowlite.shared.domain import SlotDef

FLAG = SlotDef("flag", "bool")


@pytest.mark.parametrize(("value", "features"), [
    # values that are already true or false keep their features
    (True, (1.0, 1.0)), (False, (1.0, 0.0)), (None, (0.0, 0.0)),
    # a number is true only when it is 1
    (1, (1.0, 1.0)), (1.0, (1.0, 1.0)), (0, (1.0, 0.0)), (2, (1.0, 0.0)), (-1, (1.0, 0.0)),
    # text: true/false in any case, digits by their number
    ("TRUE", (1.0, 1.0)), (" false ", (1.0, 0.0)), ("1", (1.0, 1.0)), ("2", (1.0, 0.0)),
    ("0", (1.0, 0.0)),
    # anything else is no truth value: featurised as not set
    ("yes", (0.0, 0.0)), ("no", (0.0, 0.0)), ("", (0.0, 0.0)), ("1.0", (0.0, 0.0)),
    ("²", (0.0, 0.0)), (["x"], (0.0, 0.0)), ({"a": 1}, (0.0, 0.0)),
])
def test_bool_features_follow_rasa(value, features) -> None:
    assert slot_features(FLAG, value) == features


def test_bool_reading_says_when_there_is_no_truth_value() -> None:
    assert bool_reading("True") is True
    assert bool_reading(2.0) is False
    assert bool_reading("maybe") is None
