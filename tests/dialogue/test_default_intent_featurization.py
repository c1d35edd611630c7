"""`/restart`, `/back` and `/session_start` log how the user turn is read, as Rasa's
ensemble logs it after every listen (its rule policy's default rules answer them)."""

from __future__ import annotations

import pytest
from dialogue_doubles import say, simple_rules
from story_data import GREET_DOMAIN

from dialogflowlite.shared.events import (
    ActionExecuted,
    UserUtteranceFeaturization,
    UserUttered,
)

DOMAIN = GREET_DOMAIN


def after_user(events) -> list[tuple[str, object]]:
    """The two events that follow the latest user event."""
    users = [i for i, e in enumerate(events) if isinstance(e, UserUttered)]
    following = events[users[-1] + 1:users[-1] + 3]
    return [(e.type_name, e.use_text_for_featurization if isinstance(
        e, UserUtteranceFeaturization) else getattr(e, "name", None)) for e in following]


@pytest.mark.parametrize(("intent", "action"), [
    ("restart", "action_restart"), ("back", "action_back"),
    ("session_start", "action_session_start")])
def test_a_default_intent_turn_is_noted_as_read_by_its_intent(bot, intent: str,
                                                              action: str) -> None:
    processor = bot(DOMAIN, simple_rules({"greet": ["utter_greet"]}))
    say(processor, "/greet")
    result = say(processor, f"/{intent}")
    assert after_user(result.events) == [("user_featurization", False), ("action", action)]
    notes = [e for e in result.tracker.events if isinstance(e, UserUtteranceFeaturization)]
    # only the default intent's turn: the policy double logs none for /greet
    assert len(notes) == 1
    answered = [e for e in result.events if isinstance(e, ActionExecuted) and e.name == action]
    assert answered[0].policy == "default_intent"
