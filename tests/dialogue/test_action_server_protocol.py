"""Remote custom actions against a double that answers as rasa-sdk 3.x's ``/webhook`` does.

The double follows rasa-sdk's endpoint: a rejection is HTTP 400 with ``error``
and ``action_name``, an unknown action 404, an action's exception 500 with
``error`` and the call echoed back as ``request_body``, and (newer rasa-sdk) a
call without a domain that it does not hold under the call's ``domain_digest``
is answered 449. Its handlers read the call the way rasa-sdk's ``Tracker``,
``FormValidationAction`` and ``ValidationAction`` do.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

import action_servers
import pytest
from action_servers import TRIP_RESPONSES, LoopbackServer, Route, sdk_message, trip_form_domain
from aiohttp import web
from dialogue_doubles import simple_rules

from dialogflowlite.dialogue import remote_actions
from dialogflowlite.dialogue.domain_json import (
    domain_digest,
    domain_from_dict,
    domain_to_dict,
    domain_to_rasa2_dict,
    is_rasa2_domain,
)
from dialogflowlite.io.loader import load_project
from dialogflowlite.shared.events import ActionExecuted

DOMAIN = trip_form_domain(["hello", "book", "inform", "chatter"],
                          ["action_hello", "action_chatter", "validate_trip_form"],
                          slots="""\
  nick:
    type: text
    mappings: [{type: custom}]
""")

RULES = simple_rules({"hello": ["action_hello"], "chatter": ["action_chatter"],
                      "book": ["trip_form"]},
                     after_loop_done={"trip_form": ["utter_done"]})

Handler = Callable[[dict[str, Any], dict[str, Any]], dict[str, Any]]


class Rejection(Exception):
    """What rasa-sdk's ActionExecutionRejection turns into: HTTP 400."""


class SdkShapedServer(LoopbackServer):
    """An action server on loopback that answers as rasa-sdk's endpoint does.

    ``handlers[name](call, domain)`` returns ``{"events", "responses"}``; ``domain``
    is the call's domain, or the one kept from an earlier call when
    ``keeps_domain`` (rasa-sdk 3.9 and later), or ``{}`` (older rasa-sdk).
    """

    def __init__(self, handlers: dict[str, Handler], keeps_domain: bool = True,
                 always_449: bool = False) -> None:
        super().__init__()
        self.handlers = handlers
        self.keeps_domain = keeps_domain
        self.always_449 = always_449
        self.calls: list[dict[str, Any]] = []
        self.statuses: list[int] = []
        self.kept: tuple[dict[str, Any], str] | None = None

    def _answer(self, call: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        name = call["next_action"]
        if name not in self.handlers:
            return 404, {"error": f"No registered action found for name '{name}'.",
                         "action_name": name}
        domain = call.get("domain")
        if self.keeps_domain:
            known = self.kept is not None and call.get("domain_digest") == self.kept[1]
            if self.always_449 or (domain is None and not known):
                return 449, {"error": "Missing domain context, assistant will retry the "
                                      "request and include the domain in the request payload.",
                             "action_name": name}
            if domain is not None:
                self.kept = (domain, call.get("domain_digest"))
            domain = self.kept[0] if self.kept else {}
        try:
            return 200, self.handlers[name](call, domain or {})
        except Rejection as e:
            return 400, {"error": str(e), "action_name": name}
        except Exception as e:  # rasa-sdk's exception handler
            return 500, {"error": str(e), "request_body": call}

    async def webhook(self, request: web.Request) -> web.Response:
        call = await request.json()
        self.calls.append(call)
        status, body = self._answer(call)
        self.statuses.append(status)
        return web.json_response(body, status=status)

    async def elsewhere(self, request: web.Request) -> web.Response:
        # rasa-sdk's Sanic app answers an address it has no route for through its
        # catch-all exception handler
        return web.json_response({"error": f"Requested URL {request.path} not found",
                                  "request_body": None}, status=500)

    def routes(self) -> dict[str, Route]:
        return {"/webhook": self.webhook, "/": self.elsewhere}


def converse(bot, server: SdkShapedServer, messages: list[str], domain: str = DOMAIN,
             selective_domain: bool = False, path: str = "/webhook") -> list[Any]:
    return action_servers.converse(bot, domain, RULES, messages, server=server,
                                   selective_domain=selective_domain, path=path)


def hello(call: dict[str, Any], domain: dict[str, Any]) -> dict[str, Any]:
    """Counts visits and says which responses the domain it got has."""
    visits = int(call["tracker"]["slots"].get("visits") or 0) + 1
    return {"events": [{"event": "slot", "timestamp": None, "name": "visits", "value": visits}],
            "responses": [sdk_message(f"visit {visits}, responses: "
                                      f"{sorted(domain.get('responses', {}))}")]}


def replies(result: Any) -> list[str | None]:
    return [m.get("text") for m in result.messages]


# ---------------------------------------------------------------- domain on request


def test_a_call_without_the_domain_is_made_again_with_it_when_the_server_asks(bot) -> None:
    # rasa-sdk 3.9+ answers 449 to a call without a domain it does not hold; with
    # enable_selective_domain every action not marked send_domain failed with it
    server = SdkShapedServer({"action_hello": hello})
    results = converse(bot, server, ["/hello", "/hello"], selective_domain=True)
    assert replies(results[0]) == ["visit 1, responses: ['utter_ask_city', 'utter_done']"]
    assert replies(results[1])[0].startswith("visit 2")
    assert server.statuses == [449, 200, 200]
    first, again, later = server.calls
    assert "domain" not in first and "domain" in again and "domain" not in later
    # the server keeps the domain it was sent and finds it again by its digest
    assert first["domain_digest"] == again["domain_digest"] == later["domain_digest"]
    assert again["domain"]["forms"] == {"trip_form": {"required_slots": ["city"]}}


def test_an_older_sdk_without_a_kept_domain_is_called_once(bot) -> None:
    server = SdkShapedServer({"action_hello": hello}, keeps_domain=False)
    results = converse(bot, server, ["/hello"], selective_domain=True)
    assert replies(results[0]) == ["visit 1, responses: []"]  # as Rasa sends it: no domain
    assert server.statuses == [200]


def test_a_server_asking_for_the_domain_it_was_sent_is_an_error(bot, caplog) -> None:
    server = SdkShapedServer({"action_hello": hello}, always_449=True)
    with caplog.at_level(logging.ERROR):
        results = converse(bot, server, ["/hello"], selective_domain=True)
    assert results[0].messages == []
    assert server.statuses == [449, 449]  # asked once more, with the domain, then given up
    assert "action_hello" in caplog.text and "needs the domain (HTTP 449)" in caplog.text


def test_the_domain_digest_follows_the_domain(domain_from) -> None:
    first = domain_to_dict(domain_from(DOMAIN))
    assert domain_digest(first) == domain_digest(domain_to_dict(domain_from(DOMAIN)))
    changed = domain_to_dict(domain_from(DOMAIN.replace("Where to?", "Where now?")))
    assert domain_digest(changed) != domain_digest(first)


# ---------------------------------------------------------------- what comes back


def test_rasa_sdk_agent_and_export_events_do_not_lose_the_action(bot) -> None:
    # rasa_sdk.events.AgentUttered("x") and StoryExported() as rasa-sdk writes them
    def chatter(call: dict[str, Any], domain: dict[str, Any]) -> dict[str, Any]:
        return {"events": [{"event": "agent", "text": "x", "data": None, "timestamp": None},
                           {"event": "export", "timestamp": None},
                           {"event": "slot", "timestamp": None, "name": "nick", "value": "Bo"}],
                "responses": [sdk_message("noted")]}

    results = converse(bot, SdkShapedServer({"action_chatter": chatter}), ["/chatter"])
    assert replies(results[0]) == ["noted"]
    assert results[0].tracker.slots["nick"] == "Bo"
    assert {e.type_name for e in results[0].events}.isdisjoint({"agent", "export"})


def test_an_action_that_raised_is_logged_with_the_sdks_error(bot, caplog) -> None:
    def broken(call: dict[str, Any], domain: dict[str, Any]) -> dict[str, Any]:
        raise KeyError("account_id")

    with caplog.at_level(logging.ERROR):
        results = converse(bot, SdkShapedServer({"action_chatter": broken}), ["/chatter"])
    names = [e.name for e in results[0].events if isinstance(e, ActionExecuted)]
    assert names[-2:] == ["action_chatter", "action_listen"]
    assert "answered HTTP 500: 'account_id'" in caplog.text
    # rasa-sdk echoes the whole call back; the log shows its error instead
    assert "request_body" not in caplog.text and "sender_id" not in caplog.text


def test_an_address_without_the_webhook_is_named_so(bot, caplog) -> None:
    # `url: http://localhost:5055` (without /webhook) is the usual slip; it was reported
    # as an action the server does not have, or as an internal error of the server
    for path in ("", "/hooks"):
        caplog.clear()
        with caplog.at_level(logging.ERROR):
            converse(bot, SdkShapedServer({"action_chatter": hello}), ["/chatter"], path=path)
        assert "is not an action server's webhook" in caplog.text, path
        assert "http://<host>:5055/webhook" in caplog.text
        assert "has no such action" not in caplog.text


# ---------------------------------------------------------------- forms


def trailing_slots(call: dict[str, Any]) -> dict[str, Any]:
    """The slots set by the call's trailing ``slot`` events, the latest value of each:
    what rasa-sdk's validation actions validate."""
    trailing: dict[str, Any] = {}
    for event in reversed(call["tracker"]["events"]):
        if event["event"] != "slot":
            break
        trailing.setdefault(event["name"], event["value"])
    return trailing


def titled(trailing: dict[str, Any], required: list[str]) -> dict[str, Any]:
    """The answer of a validation that writes each required slot's value in title case."""
    return {"events": [{"event": "slot", "timestamp": None, "name": name,
                        "value": value.title()}
                       for name, value in trailing.items() if name in required],
            "responses": []}


def form_validation(call: dict[str, Any], domain: dict[str, Any]) -> dict[str, Any]:
    """rasa-sdk's FormValidationAction: the form's slots from the domain, the values to
    validate from the trailing ``slot`` events, a rejection for ``nowhere``."""
    form = call["next_action"].replace("validate_", "", 1)
    required = domain.get("forms", {}).get(form, {}).get("required_slots", [])
    trailing = trailing_slots(call)
    assert call["tracker"]["active_loop"]["name"] == form
    assert call["tracker"]["slots"]["requested_slot"] in required
    if trailing.get("city") == "nowhere":
        raise Rejection("there is no such city")
    return titled(trailing, required)


def test_a_form_validation_action_gets_what_rasa_sdk_reads(bot) -> None:
    server = SdkShapedServer({"validate_trip_form": form_validation})
    results = converse(bot, server, ["/book", '/inform{"city": "lima"}'])
    assert results[1].tracker.slots["city"] == "Lima"
    assert replies(results[1]) == ["Going to Lima"]


def test_a_form_validation_that_rejects_rejects_the_form(bot) -> None:
    server = SdkShapedServer({"validate_trip_form": form_validation})
    results = converse(bot, server, ["/book", '/inform{"city": "nowhere"}'])
    rejected = [e.name for e in results[1].events if e.type_name == "action_execution_rejected"]
    assert rejected == ["trip_form"]
    assert server.statuses[-1] == 400


# ---------------------------------------------------------------- messages


def test_a_message_with_nothing_to_show_is_still_recorded(bot) -> None:
    # rasa-sdk's utter_message(foo="bar"): Rasa records a bot event for every response
    # (its keyword arguments in the metadata), though channels get nothing to show
    def arguments_only(call: dict[str, Any], domain: dict[str, Any]) -> dict[str, Any]:
        return {"events": [],
                "responses": [sdk_message(foo="bar")]}

    results = converse(bot, SdkShapedServer({"action_chatter": arguments_only}), ["/chatter"])
    bot_events = [e for e in results[0].events if e.type_name == "bot"]
    assert [(e.text, e.metadata) for e in bot_events] == [(None, {"foo": "bar"})]
    assert results[0].replies == []


# ---------------------------------------------------------------- Rasa 2.x projects

RASA2_DOMAIN = """
version: "2.0"
intents: [hello, book, inform, chatter]
entities: [city]
slots:
  city:
    type: text
    auto_fill: false
    influence_conversation: false
  visits:
    type: float
forms:
  trip_form:
    ignored_intents: [chatter]
    required_slots:
      city:
      - type: from_entity
        entity: city
responses:
""" + TRIP_RESPONSES + "actions: [action_hello, validate_trip_form]\n"


def rasa2_form_validation(call: dict[str, Any], domain: dict[str, Any]) -> dict[str, Any]:
    """rasa-sdk 2.x's FormValidationAction: the form's slots are the keys of its mappings
    (under ``required_slots`` since Rasa 2.6, else the form's own keys); a list there is
    the AttributeError that rasa-sdk answers with HTTP 500."""
    form = domain.get("forms", {}).get(call["next_action"].replace("validate_", "", 1), {})
    required = list(form.get("required_slots", form).keys())
    trailing = trailing_slots(call)
    return titled(trailing, required)


@pytest.fixture
def no_sdk_here(monkeypatch) -> None:
    """No rasa-sdk installed beside the bot: the version sent is the default one."""
    monkeypatch.setattr(remote_actions, "installed_sdk_version", lambda: None)


def test_a_rasa2_project_sends_its_action_server_the_domain_of_rasa_2_8(bot,
                                                                        no_sdk_here) -> None:
    # a 2.x project keeps its rasa-sdk 2.x server, which failed with HTTP 500 on the
    # 3.x list of required slots
    server = SdkShapedServer({"validate_trip_form": rasa2_form_validation},
                             keeps_domain=False)
    results = converse(bot, server, ["/book", '/inform{"city": "lima"}'], domain=RASA2_DOMAIN)
    assert server.statuses == [200, 200]
    assert results[1].tracker.slots["city"] == "Lima"
    assert replies(results[1]) == ["Going to Lima"]
    call = server.calls[-1]
    assert call["version"] == "2.8.0"
    domain = call["domain"]
    assert domain["forms"] == {"trip_form": {
        "ignored_intents": ["chatter"],
        "required_slots": {"city": [{"type": "from_entity", "entity": "city"}]}}}
    assert "version" not in domain  # Rasa 2.8's Domain.as_dict has none
    assert domain["actions"] == ["action_hello", "validate_trip_form"]
    assert domain["slots"]["city"] == {"type": "rasa.shared.core.slots.TextSlot",
                                       "initial_value": None, "auto_fill": False,
                                       "influence_conversation": False}
    assert domain["slots"]["visits"]["type"] == "rasa.shared.core.slots.FloatSlot"


def test_a_rasa3_project_keeps_the_rasa3_shape(bot, no_sdk_here) -> None:
    server = SdkShapedServer({"validate_trip_form": form_validation})
    converse(bot, server, ["/book", '/inform{"city": "lima"}'])
    assert server.calls[-1]["version"] == remote_actions.PROTOCOL_VERSION
    assert server.calls[-1]["domain"]["forms"] == {"trip_form": {"required_slots": ["city"]}}
    assert server.calls[-1]["domain"]["version"] == "3.1"


def test_a_trained_rasa2_domain_still_goes_out_in_the_rasa2_shape(domain_from) -> None:
    # models store the domain in the 3.x layout; what it was written for must survive
    stored = json.loads(json.dumps(domain_to_dict(domain_from(RASA2_DOMAIN))))
    assert stored["version"] == "3.1" and stored["source_version"] == "2.0"
    loaded = domain_from_dict(stored)
    assert is_rasa2_domain(loaded)
    assert domain_to_rasa2_dict(loaded) == domain_to_rasa2_dict(domain_from(RASA2_DOMAIN))
    assert "source_version" not in domain_to_dict(domain_from(DOMAIN))
    assert not is_rasa2_domain(domain_from_dict(domain_to_dict(domain_from(DOMAIN))))


def test_the_rasa2_forms_are_those_rasa_2_wrote(rasa_projects) -> None:
    # formbot's domain.yml is as Rasa 2 persisted it (Domain.as_dict)
    import yaml

    root = rasa_projects / "formbot"
    written = yaml.safe_load((root / "domain.yml").read_text(encoding="utf-8"))
    sent = domain_to_rasa2_dict(load_project(root, strict=False).domain)

    def listed(mapping: dict[str, Any]) -> dict[str, Any]:
        return {key: [value] if key in ("intent", "not_intent") and isinstance(value, str)
                else value for key, value in mapping.items()}

    assert {name: {**form, "required_slots": {
        slot: [listed(m) for m in mappings] for slot, mappings in form["required_slots"].items()}}
        for name, form in written["forms"].items()} == sent["forms"]
    assert set(sent) == set(written) - {"version"}
    assert sent["slots"]["cuisine"] == written["slots"]["cuisine"]


def test_a_rasa2_project_with_rasa_sdk_3_installed_here_sends_rasa3s_shape(bot,
                                                                          monkeypatch) -> None:
    # the rasa-sdk installed beside the bot is the one `run actions` starts; it reads
    # Rasa 3's shape (its required_slots(domain_slots, ...) gets a list)
    monkeypatch.setattr(remote_actions, "installed_sdk_version", lambda: (3, 21))
    server = SdkShapedServer({"validate_trip_form": form_validation})
    results = converse(bot, server, ["/book", '/inform{"city": "lima"}'], domain=RASA2_DOMAIN)
    assert results[1].tracker.slots["city"] == "Lima"
    assert server.calls[-1]["version"] == "3.21.0"
    assert server.calls[-1]["domain"]["forms"]["trip_form"]["required_slots"] == ["city"]


@pytest.mark.parametrize(("installed", "rasa2", "major", "sent"), [
    (None, False, 3, "3.6.0"), (None, True, 2, "2.8.0"),
    ((3, 21), False, 3, "3.21.0"), ((3, 21), True, 3, "3.21.0"),
    ((2, 6), True, 2, "2.6.0"), ((4, 0), True, 2, "2.8.0")])
def test_the_version_sent_is_the_one_the_sdk_here_takes_for_its_own(
        monkeypatch, installed, rasa2, major, sent) -> None:
    monkeypatch.setattr(remote_actions, "installed_sdk_version", lambda: installed)
    assert remote_actions.sdk_major(rasa2) == major
    assert remote_actions.protocol_version(major) == sent
    if installed is not None and installed[0] == major:
        # rasa-sdk warns unless the version's parts but the last equal its own
        sdk = f"{installed[0]}.{installed[1]}.2"
        assert sent.split(".")[:-1] == sdk.split(".")[:-1]
