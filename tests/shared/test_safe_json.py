from __future__ import annotations

import json

import pytest

from dialogflowlite.errors import JsonContentError
from dialogflowlite.shared import safe_json


@pytest.mark.parametrize(("text", "problem"), [
    ('{"confidence": NaN}', "NaN is not valid JSON"),
    ("[Infinity]", "Infinity is not valid JSON"),
    ('{"a": [-Infinity]}', "-Infinity is not valid JSON"),
    # json.loads reads these as inf: they would be written back as Infinity
    ('{"x": 1e400}', "the number 1e400 is too large"),
    ("-1e400", "the number -1e400 is too large"),
])
def test_numbers_json_cannot_hold_are_refused(text: str, problem: str) -> None:
    with pytest.raises(JsonContentError, match=problem):
        safe_json.loads(text)


def test_nesting_up_to_the_limit_is_read_and_deeper_is_refused() -> None:
    def nested(depth: int) -> str:
        return '{"a": ' * (depth - 1) + "[]" + "}" * (depth - 1)

    assert safe_json.depth_exceeds(safe_json.loads(nested(safe_json.MAX_DEPTH))) is False
    for depth in (safe_json.MAX_DEPTH + 1, 500, 100_000):  # 100,000: past Python's recursion
        with pytest.raises(JsonContentError, match=f"deeper than {safe_json.MAX_DEPTH} levels"):
            safe_json.loads(nested(depth))
    assert safe_json.loads(nested(3), max_depth=3) == {"a": {"a": []}}
    with pytest.raises(JsonContentError):
        safe_json.loads(nested(4), max_depth=3)


def test_ordinary_json_reads_as_json_loads_reads_it() -> None:
    text = '{"a": [1, 2.5, -3e10, true, null, "x"], "b": {"c": {}}}'
    assert safe_json.loads(text) == json.loads(text)
    assert safe_json.loads(text.encode()) == json.loads(text)
    assert safe_json.loads("3") == 3 and safe_json.depth_exceeds("text", 0) is False


def test_its_errors_are_value_errors_as_the_json_modules_are() -> None:
    # channels that treat a ValueError as "not JSON" treat these the same way
    with pytest.raises(ValueError):
        safe_json.loads("[NaN]")
    with pytest.raises(json.JSONDecodeError):
        safe_json.loads("{not json")


@pytest.mark.parametrize(("text", "where"), [
    ('{"text": "hi \\ud800 there"}', "'text'"),
    ('{"events": [{"event": "slot", "value": "\\udc00"}]}', "'events[0].value'"),
    ('["ok", {"\\ud83d": 1}]', "'[1].\\ud83d'"),
    ('"\\udfff"', "'body'"),
    # the second half before the first is no pair either
    ('{"a": "\\ude00\\ud83d"}', "'a'"),
])
def test_a_lone_surrogate_is_refused_naming_where_it_is(text: str, where: str) -> None:
    with pytest.raises(JsonContentError, match="lone UTF-16 surrogate") as e:
        safe_json.loads(text)
    assert f"the text at {where} " in e.value.message
    with pytest.raises(JsonContentError):
        safe_json.loads(text.encode())


def test_a_surrogate_pair_and_raw_utf8_are_read_as_their_character() -> None:
    assert safe_json.loads('{"a": "\\ud83d\\ude00"}') == {"a": "\U0001F600"}
    assert safe_json.loads('{"a": "\U0001F600 ok"}'.encode()) == {"a": "\U0001F600 ok"}
    assert safe_json.lone_surrogate_path({"a": ["x", "\ud800"]}) == "a[1]"
    assert safe_json.lone_surrogate_path({"a": ["x", "y"]}) is None


def test_bytes_are_read_as_utf8_only_so_no_surrogate_comes_in_raw() -> None:
    # json.loads alone reads the UTF-8 bytes of a lone surrogate, and UTF-16 and UTF-32
    # bodies, none of which a \\u check sees
    for body in (b'{"text": "\xed\xa0\x80"}',
                 '{"text": "\\ud800"}'.encode("utf-16-le"),
                 '{"text": "ok"}'.encode("utf-32")):
        with pytest.raises(ValueError):
            safe_json.loads(body)


def test_the_first_lone_surrogate_in_the_written_order_is_named() -> None:
    with pytest.raises(JsonContentError, match="the text at 'a' "):
        safe_json.loads('{"a": "\\ud800", "b": ["\\udc00"]}')
    with pytest.raises(JsonContentError, match=r"the text at 'b\[0\]' "):
        safe_json.loads('{"a": "fine", "b": ["\\udc00", "\\ud800"]}')
