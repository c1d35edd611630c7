"""An action's rejection is part of the one exception tree, apart from its failures."""

from __future__ import annotations

import pytest

from dialogflowlite.dialogue.actions import ActionRejected
from dialogflowlite.dialogue.custom_actions import CustomActionRejected
from dialogflowlite.dialogue.remote_actions import ActionRejectedByServer, RemoteActionClient
from dialogflowlite.errors import (
    ActionExecutionError,
    ActionRejectedError,
    DialogflowLiteError,
    DialogueError,
)

REJECTIONS = [
    ActionRejected("action_form", "slot cannot be filled"),
    ActionRejectedByServer("action_check", "not now"),
    CustomActionRejected("action_check", "not now"),
]


@pytest.mark.parametrize("error", REJECTIONS, ids=lambda e: type(e).__name__)
def test_a_rejection_is_a_dialogue_error_but_not_a_failure(error: Exception) -> None:
    assert isinstance(error, ActionRejectedError)
    assert isinstance(error, DialogueError)
    # forms and slot filling handle failed actions with `except ActionExecutionError`:
    # a rejection must pass through them to the processor
    assert not isinstance(error, ActionExecutionError)
    assert error.action_name in ("action_form", "action_check")


def test_a_rejection_keeps_its_message() -> None:
    assert str(ActionRejected("action_form")) == "action 'action_form' rejected execution"
    error = ActionRejectedByServer("action_check", "not now")
    assert (error.message, str(error)) == ("not now", "not now")


def test_the_action_servers_400_is_a_rejection_in_the_tree() -> None:
    body = '{"action_name": "action_check", "error": "no table free"}'
    with pytest.raises(DialogflowLiteError) as caught:
        RemoteActionClient._read_answer("action_check", "http://actions/webhook", 400, body)
    assert isinstance(caught.value, ActionRejectedByServer)
    assert caught.value.message == "no table free"


def test_a_rejection_that_reaches_the_http_api_is_a_conversation_error() -> None:
    from dialogflowlite.server.errors import response_for

    status, body = response_for(ActionRejected("action_session_start", "not today"))
    assert status == 500
    assert body["reason"] == "ConversationError"
    assert "not today" in body["message"]


class _Refusing:
    def __init__(self, error: Exception) -> None:
        self.error = error

    def name(self) -> str:
        return "action_check"

    def run(self, dispatcher, tracker, domain) -> list:
        raise self.error


def _run_local_action(domain_from, error: Exception) -> None:
    import asyncio

    from dialogflowlite.dialogue.custom_actions import CustomActionExecutor
    from dialogflowlite.shared.tracker import DialogueStateTracker

    domain = domain_from("actions: [action_check]\n")
    executor = CustomActionExecutor(local_actions={"action_check": _Refusing(error)})
    tracker = DialogueStateTracker.for_domain("t", domain, [])
    asyncio.run(executor.run("action_check", tracker, domain))


def test_an_in_process_action_rejecting_itself_is_a_rejection(domain_from) -> None:
    from dialogflowlite.dialogue.custom_actions import ActionExecutionRejection

    assert isinstance(ActionExecutionRejection("action_check"), ActionRejectedError)
    with pytest.raises(CustomActionRejected) as caught:
        _run_local_action(domain_from, ActionExecutionRejection("action_check", "closed"))
    assert str(caught.value) == "closed"


def test_an_in_process_actions_own_dialogue_error_passes_through(domain_from) -> None:
    with pytest.raises(ActionExecutionError, match="server gone"):
        _run_local_action(domain_from, ActionExecutionError("server gone"))


def test_an_item_without_an_event_field_is_left_out_and_the_rest_kept(domain_from,
                                                                     caplog) -> None:
    import asyncio

    from dialogflowlite.dialogue.custom_actions import CustomActionExecutor
    from dialogflowlite.shared.events import SlotSet
    from dialogflowlite.shared.tracker import DialogueStateTracker

    class Counting:
        def name(self) -> str:
            return "action_count"

        def run(self, dispatcher, tracker, domain) -> list:
            dispatcher.utter_message(text="counted")
            return [{"event": "slot", "name": "counter", "value": 9},
                    {"name": "counter", "value": 1}]

    domain = domain_from("actions: [action_count]\n")
    executor = CustomActionExecutor(local_actions={"action_count": Counting()})
    tracker = DialogueStateTracker.for_domain("t", domain, [])
    result = asyncio.run(executor.run("action_count", tracker, domain))
    # the whole answer was lost, the valid slot and the message too; Rasa skips the item
    assert [(type(e), e.name, e.value) for e in result.events] == [(SlotSet, "counter", 9)]
    assert [m.get("text") for m in result.responses] == ["counted"]
    assert "has no 'event' field; it is left out" in caplog.text
