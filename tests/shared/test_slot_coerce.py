"""How a slot reads a value for its meaning: :meth:`SlotDef.coerce`."""

from __future__ import annotations

import pytest

from dialogflowlite.shared.domain import SlotDef, bool_slot_reading


@pytest.mark.parametrize(("value", "expected"), [
    (True, True), (False, False),
    (1, True), (1.0, True), (0, False), (2, False), (0.5, False),
    ("1", True), ("0", False), ("2", False),
    ("true", True), ("TRUE", True), (" False ", False),
])
def test_a_bool_slot_reads_values_as_rasa_s_bool_slots_do(value, expected) -> None:
    assert bool_slot_reading(value) is expected
    assert SlotDef("paid", "bool").coerce(value) is expected


@pytest.mark.parametrize("value", ["yes", "no", "on", "1.0", " 1", "maybe", "", [True], {}])
def test_a_bool_slot_keeps_a_value_that_is_neither_true_nor_false(value) -> None:
    assert bool_slot_reading(value) is None
    # as given: no truth value, so the policies read the slot as not set
    assert SlotDef("paid", "bool").coerce(value) == value
