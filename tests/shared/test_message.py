"""Parse results: a confidence that is no number never reaches the JSON output."""

from __future__ import annotations

import json
import math

import pytest

from dialogflowlite.shared.message import IntentPrediction, Message


@pytest.mark.parametrize("bad", [math.nan, math.inf])
def test_a_confidence_that_is_no_number_is_written_as_zero_and_ranked_last(bad) -> None:
    message = Message(text="hi")
    message.set_intent([IntentPrediction("broken", bad), IntentPrediction("greet", 0.4),
                        IntentPrediction("bye", 0.1)])
    assert [p.name for p in message.intent_ranking] == ["greet", "bye", "broken"]
    result = message.parse_result()
    assert result["intent"] == {"name": "greet", "confidence": 0.4}
    assert result["intent_ranking"][-1] == {"name": "broken", "confidence": 0.0}
    # valid JSON: json.dumps would write NaN / Infinity, which JSON has not
    json.dumps(result, allow_nan=False)


def test_a_top_intent_whose_confidence_is_no_number_is_written_with_zero() -> None:
    message = Message(text="hi", intent="greet", confidence=math.nan)
    assert message.parse_result()["intent"] == {"name": "greet", "confidence": 0.0}
