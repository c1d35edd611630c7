from __future__ import annotations

import pytest

from dialogflowlite.components.generation.data import ACT2TEXT, ActItem, GenerationExample
from dialogflowlite.components.generation.delex import Prepared
from dialogflowlite.components.generation.guardrails import (
    Blocklist,
    act_check,
    judge,
    slot_check,
)
from dialogflowlite.errors import ComponentConfigError

PREPARED = Prepared("OFFER restaurant_name=[v1] city=[v2]", None,
                    {"[v1]": "Sakoon", "[v2]": "Fremont"}, ["[v1]", "[v2]"])


def check(delexicalised: str, score: float = -0.2, threshold: float = -1.0,
          blocklist: Blocklist | None = None):
    final = delexicalised.replace("[v1]", "Sakoon").replace("[v2]", "Fremont")
    return judge(delexicalised, final, score, PREPARED, threshold=threshold,
                 blocklist=blocklist or Blocklist())


def test_a_good_reply_passes() -> None:
    assert check("How about [v1] in [v2]?").accepted


def test_low_score_is_rejected() -> None:
    verdict = check("How about [v1] in [v2]?", score=-2.5, threshold=-1.0)
    assert not verdict.accepted
    assert "below the threshold" in verdict.reason


def test_dropped_slot_value_is_rejected() -> None:
    verdict = check("How about [v1]?")
    assert not verdict.accepted
    assert verdict.missing == ["[v2]"]
    assert "'Fremont'" in verdict.reason


def test_placeholder_without_value_is_rejected() -> None:
    verdict = check("How about [v1] in [v2] at [v3]?")
    assert not verdict.accepted
    assert verdict.invented == ["[v3]"]


def test_blocklist_matches_whole_words_in_any_case() -> None:
    blocklist = Blocklist(["darn", "shut up"])
    assert not check("Darn, [v1] in [v2] is full.", blocklist=blocklist).accepted
    assert not check("Please SHUT UP about [v1] in [v2].", blocklist=blocklist).accepted
    assert check("[v1] in [v2] is darned good.", blocklist=blocklist).accepted
    assert blocklist.find("no bad words") is None


def test_blocklist_finds_phrases_of_scripts_without_spaces_inside_words() -> None:
    blocklist = Blocklist(["笨蛋", "バカ", "โง่", "merde"])
    assert blocklist.find("你是笨蛋吗") == "笨蛋"
    assert blocklist.find("お前はバカだ") == "バカ"
    assert blocklist.find("คุณโง่มาก") == "โง่"
    # a word of a spaced script still counts only on its own
    assert blocklist.find("emmerdeur") is None and blocklist.find("Merde alors") == "Merde"


def test_blocklist_file(tmp_path) -> None:
    path = tmp_path / "blocked.txt"
    path.write_text("# one phrase per line\nfoo bar\n\nbaz  # trailing comment\n")
    blocklist = Blocklist.from_file(path, ["qux"])
    assert blocklist.phrases == ["foo bar", "baz", "qux"]
    assert blocklist.find("a FOO BAR b") == "FOO BAR"
    with pytest.raises(ComponentConfigError, match="blocklist_file"):
        Blocklist.from_file(tmp_path / "missing.txt")


def test_empty_reply_is_rejected() -> None:
    empty = Prepared("x", None, {}, [])
    assert not judge("", "  ", 0.0, empty, threshold=-5, blocklist=Blocklist()).accepted


def test_slot_check_alone() -> None:
    assert slot_check("[v2] then [v1]", PREPARED).accepted
    assert not slot_check("nothing", PREPARED).accepted


def test_a_score_that_is_not_a_number_is_rejected() -> None:
    # NaN compares false with every threshold, so it must be caught on its own
    verdict = check("How about [v1] in [v2]?", score=float("nan"), threshold=-1.0)
    assert not verdict.accepted
    assert "not a number" in verdict.reason


def test_a_reply_the_model_did_not_end_is_rejected() -> None:
    final = "How about Sakoon in Fremont and"
    verdict = judge("How about [v1] in [v2] and", final, -0.1, PREPARED, threshold=-1.0,
                    blocklist=Blocklist(), finished=False)
    assert not verdict.accepted
    assert "max_length" in verdict.reason


def test_a_value_without_placeholder_must_be_written_as_it_is() -> None:
    prepared = Prepared("OFFER name=[v1] city=Fremont", None, {"[v1]": "Sakoon"}, ["[v1]"],
                        ["Fremont"])
    dropped = slot_check("How about [v1]?", prepared)
    assert not dropped.accepted
    assert dropped.missing == ["Fremont"] and "'Fremont'" in dropped.reason
    assert slot_check("How about [v1] in Fremont?", prepared).accepted
    assert not judge("How about [v1] in Fremonte?", "How about Sakoon in Fremonte?", -0.1,
                     prepared, threshold=-1.0, blocklist=Blocklist()).accepted


def test_an_act_without_a_needed_slot_is_rejected() -> None:
    act = GenerationExample(ACT2TEXT, acts=[ActItem("OFFER", "cuisine", "thai"),
                                            ActItem("OFFER", "city", "")])
    verdict = act_check("OFFER", ["cuisine", "city"], act)
    assert not verdict.accepted
    assert verdict.missing == ["city"] and "city" in verdict.reason
    assert act_check("OFFER", ["cuisine"], act).accepted


def test_blocklist_sees_through_lookalike_and_invisible_characters() -> None:
    blocklist = Blocklist(["damn", "fire"])
    assert blocklist.find("ｄａｍｎ it") == "damn"  # fullwidth letters
    assert blocklist.find("da\u200bmn it") == "damn"  # a zero-width space inside
    assert blocklist.find("you are ﬁred up") is None  # "fired" is another word
    assert blocklist.find("open ﬁre") == "fire"  # the ligature reads as "fi"
    assert blocklist.find("the dam is new") is None
