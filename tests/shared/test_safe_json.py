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
