from __future__ import annotations

import pytest

from dialogflowlite.components.generation.delex import Prepared
from dialogflowlite.components.generation.guardrails import Blocklist, judge, slot_check
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
