"""Columns of names in any script line up."""

from __future__ import annotations

from dialogflowlite.shared.display_width import display_width, pad


def test_wide_characters_take_two_columns_and_marks_none() -> None:
    assert display_width("utter_greet") == 11
    assert display_width("utter_予約") == 10  # two wide characters
    assert display_width("cafe\u0301") == 4  # a combining accent takes no column
    assert display_width("ＤＤ") == 4  # full width


def test_padded_names_end_in_one_column() -> None:
    names = ["utter_greet", "utter_予約", "utter_café"]
    assert {display_width(pad(name, 14)) for name in names} == {14}
    assert pad("too long a name", 3) == "too long a name"
