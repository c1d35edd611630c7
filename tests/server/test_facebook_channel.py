"""The facebook channel: signed Messenger events in, Send API calls to a stub Graph API out."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import itertools
import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from serving_helpers import CARDS, QUICK_REPLIES, StubHttpServer, greet_with, request

from dialogflowlite.errors import ConfigError
from dialogflowlite.server.channels.facebook import (
    MAX_QUICK_REPLIES,
    MAX_TEXT,
    FacebookChannel,
    read_event,
    reply_bodies,
    signature_problem,
)
from dialogflowlite.server.channels.loader import enabled_channels
from dialogflowlite.server.channels.lone_buttons import LONE_BUTTONS_TEXT

SECRET = "app-secret-0123"
TOKEN = "EAAB-page-token-xyz"
VERIFY = "my-verify-token"
USER = "2468"
PAGE = "1357"
WEBHOOK = "/webhooks/facebook/webhook"
CHOICE_BUTTONS = [{"title": "Red", "payload": '/choose{"colour": "red"}'},
                  {"title": "Blue", "payload": '/choose{"colour": "blue"}'}]


class GraphApi(StubHttpServer):
    """The Graph API's Send API: records every call and accepts it.

    ``failures`` are ``(status, body)`` answers given, one each, to the next
    calls that send a message (sender actions always succeed).
    """

    def __init__(self, failures: list[tuple[int, dict[str, Any]]] | None = None) -> None:
        queued = list(failures or [])

        def answer(request: Any) -> tuple[int, dict[str, str], bytes]:
            body = json.loads(request.body)
            if "message" in body and queued:
                status, answer = queued.pop(0)
            else:
                status, answer = 200, {"recipient_id": body["recipient"]["id"],
                                       "message_id": "m1"}
            return status, {"Content-Type": "application/json"}, json.dumps(answer).encode()

        super().__init__(answer)
        self.base = self.url.rstrip("/")

    def calls(self) -> list[dict[str, Any]]:
        """The JSON bodies of all calls, in order."""
        return [json.loads(r.body) for r in self.requests]

    def messages(self) -> list[dict[str, Any]]:
        """The ``message`` of each message call, in order (not the sender actions)."""
        return [call["message"] for call in self.calls() if "message" in call]

    def actions(self) -> list[str]:
        return [call["sender_action"] for call in self.calls() if "sender_action" in call]


@pytest.fixture
def graph() -> Iterator[GraphApi]:
    api = GraphApi()
    try:
        yield api
    finally:
        api.close()


def settings(api: GraphApi, **extra: Any) -> dict[str, Any]:
    return {"verify": VERIFY, "secret": SECRET, "page-access-token": TOKEN,
            "api_url": api.base, "timeout": 5, **extra}


def signed(body: bytes, secret: str = SECRET, *, sha1: bool = True,
           sha256: bool = True) -> dict[str, str]:
    """Headers of an event as Facebook signs it."""
    headers = {"Content-Type": "application/json"}
    if sha1:
        headers["X-Hub-Signature"] = "sha1=" + hmac.new(secret.encode(), body,
                                                        hashlib.sha1).hexdigest()
    if sha256:
        headers["X-Hub-Signature-256"] = "sha256=" + hmac.new(secret.encode(), body,
                                                              hashlib.sha256).hexdigest()
    return headers


#: every message Facebook sends has an id of its own
MESSAGE_IDS = itertools.count(1)


def text_item(text: str, sender: str = USER, **message: Any) -> dict[str, Any]:
    return {"sender": {"id": sender}, "recipient": {"id": PAGE}, "timestamp": 1700000000000,
            "message": {"mid": f"mid.{next(MESSAGE_IDS)}", "text": text, **message}}


def postback_item(payload: str, sender: str = USER) -> dict[str, Any]:
    return {"sender": {"id": sender}, "recipient": {"id": PAGE}, "timestamp": 1700000000000,
            "postback": {"mid": f"mid.{next(MESSAGE_IDS)}", "title": "Red", "payload": payload}}


def page_body(*items: dict[str, Any]) -> bytes:
    return json.dumps({"object": "page", "entry": [
        {"id": PAGE, "time": 1700000000000, "messaging": list(items)}]}).encode()


def post_events(app: Any, agent: Any, body: bytes, headers: dict[str, str] | None = None,
                sender: str = USER) -> tuple[Any, list[dict[str, Any]]]:
    """Post a body to the webhook; the response and the sender's stored events."""
    async def main() -> tuple[Any, list[dict[str, Any]]]:
        response = await request(app, "post", WEBHOOK, content=body,
                                 headers=signed(body) if headers is None else headers)
        return response, await agent.tracker_store.load_events(sender) or []

    return asyncio.run(main())


def user_texts(events: list[dict[str, Any]]) -> list[str]:
    return [e["text"] for e in events if e["event"] == "user"]


# ------------------------------------------------------------------ through the server


def test_a_text_message_is_answered_through_the_send_api(make_app, agent, graph) -> None:
    app = make_app(credentials={"facebook": settings(graph)})
    item = text_item("/greet")
    response, events = post_events(app, agent, page_body(item))
    assert (response.status, response.text) == (200, "success")
    assert graph.calls() == [
        {"recipient": {"id": USER}, "sender_action": "mark_seen"},
        {"recipient": {"id": USER}, "sender_action": "typing_on"},
        {"recipient": {"id": USER}, "messaging_type": "RESPONSE",
         "message": {"text": "Hello! How can I help?"}}]
    url = urlsplit(graph.requests[-1].path)
    assert url.path == "/me/messages"
    assert parse_qs(url.query) == {"access_token": [TOKEN]}
    user = next(e for e in events if e["event"] == "user")
    assert (user["text"], user["input_channel"]) == ("/greet", "facebook")
    assert user["metadata"] == {"facebook": {"kind": "text", "page_id": PAGE,
                                             "message_id": item["message"]["mid"]}}
    assert [e["text"] for e in events if e["event"] == "bot"] == ["Hello! How can I help?"]


def test_the_health_route(make_app, graph) -> None:
    app = make_app(credentials={"facebook": settings(graph)})
    response = asyncio.run(request(app, "get", "/webhooks/facebook/"))
    assert response.status == 200 and response.json == {"status": "ok"}


def test_the_subscription_check_answers_the_challenge_for_the_right_token(make_app, graph,
                                                                          caplog) -> None:
    app = make_app(credentials={"facebook": settings(graph)})

    def check(**params: str) -> Any:
        return asyncio.run(request(app, "get", WEBHOOK, params=params))

    right = check(**{"hub.mode": "subscribe", "hub.verify_token": VERIFY,
                     "hub.challenge": "1158201444"})
    assert (right.status, right.text) == (200, "1158201444")
    with caplog.at_level("WARNING"):
        wrong = check(**{"hub.mode": "subscribe", "hub.verify_token": "guess",
                         "hub.challenge": "1158201444"})
        missing = check(**{"hub.mode": "subscribe", "hub.challenge": "1158201444"})
    assert wrong.status == 403 and missing.status == 403
    assert "1158201444" not in wrong.text
    assert "wrong hub.verify_token" in caplog.text
    assert graph.requests == []


@pytest.mark.parametrize("break_it", ["no signature", "wrong secret", "body changed",
                                      "good sha1, bad sha256", "not hex", "wrong method"])
def test_an_unsigned_event_is_refused(make_app, agent, graph, caplog, break_it: str) -> None:
    app = make_app(credentials={"facebook": settings(graph)})
    body = page_body(text_item("/greet"))
    good = signed(body)
    headers = {
        "no signature": {"Content-Type": "application/json"},
        "wrong secret": signed(body, "another-secret"),
        "body changed": signed(body.replace(b"/greet", b"/goodbye")),
        "good sha1, bad sha256": {**good, "X-Hub-Signature-256": signed(b"{}")[
            "X-Hub-Signature-256"]},
        "not hex": {"X-Hub-Signature": "sha1=zzzz"},
        "wrong method": {"X-Hub-Signature": good["X-Hub-Signature-256"]},
    }[break_it]
    with caplog.at_level("WARNING"):
        response, events = post_events(app, agent, body, headers)
    assert response.status == 403
    assert "facebook: a request from" in caplog.text and "was refused" in caplog.text
    assert events == [] and graph.requests == []


@pytest.mark.parametrize("which", ["sha1", "sha256"])
def test_either_signature_alone_is_accepted(make_app, agent, graph, which: str) -> None:
    app = make_app(credentials={"facebook": settings(graph)})
    body = page_body(text_item("/greet"))
    headers = signed(body, sha1=which == "sha1", sha256=which == "sha256")
    response, events = post_events(app, agent, body, headers)
    assert response.status == 200 and user_texts(events) == ["/greet"]


def test_the_signature_check_agrees_with_a_known_digest() -> None:
    # HMAC-SHA1("key", "The quick brown fox jumps over the lazy dog"), a published test vector
    body = b"The quick brown fox jumps over the lazy dog"
    good = {"X-Hub-Signature": "sha1=de7c9b85b8b78aa6bc8a7a36f70a90701c9db4d9"}
    assert signature_problem("key", good, body) is None
    upper = {"X-Hub-Signature": good["X-Hub-Signature"].upper().replace("SHA1=", "sha1=")}
    assert signature_problem("key", upper, body) is None
    assert "does not match" in signature_problem("key", good, body + b".")
    assert "no X-Hub-Signature" in signature_problem("key", {}, body)


def test_a_quick_reply_is_handled_as_its_payload(make_app, agent, graph) -> None:
    app = make_app(credentials={"facebook": settings(graph)})
    item = text_item("Red", quick_reply={"payload": '/choose{"colour": "red"}'})
    response, events = post_events(app, agent, page_body(item))
    assert response.text == "success"
    assert user_texts(events) == ['/choose{"colour": "red"}']
    assert graph.messages() == [{"text": "You chose red."}]


def test_a_postback_is_handled_as_its_payload(make_app, agent, graph) -> None:
    app = make_app(credentials={"facebook": settings(graph)})
    response, events = post_events(app, agent, page_body(postback_item(
        '/choose{"colour": "blue"}')))
    assert response.text == "success"
    assert user_texts(events) == ['/choose{"colour": "blue"}']
    user = next(e for e in events if e["event"] == "user")
    assert user["metadata"]["facebook"]["kind"] == "postback"
    assert graph.messages() == [{"text": "You chose blue."}]


def test_an_attachment_is_handled_as_its_url(make_app, agent, graph) -> None:
    app = make_app(credentials={"facebook": settings(graph)})
    item = text_item("")
    del item["message"]["text"]
    item["message"]["attachments"] = [
        {"type": "fallback", "payload": {"url": "https://example.org/shared-link"}},
        {"type": "audio", "payload": {"url": "https://cdn.example.org/voice.mp4"}}]
    _, events = post_events(app, agent, page_body(item))
    assert user_texts(events) == ["https://cdn.example.org/voice.mp4"]


@pytest.mark.parametrize("item", [
    text_item("/greet", is_echo=True, app_id=1517),
    {"sender": {"id": USER}, "recipient": {"id": PAGE},
     "delivery": {"mids": ["mid.1"], "watermark": 1700000000000}},
    {"sender": {"id": USER}, "recipient": {"id": PAGE}, "read": {"watermark": 1700000000000}},
    {"sender": {"id": USER}, "recipient": {"id": PAGE},
     "reaction": {"mid": "mid.1", "action": "react", "reaction": "love"}},
    {"sender": {"id": USER}, "recipient": {"id": PAGE},
     "message": {"mid": "mid.3", "attachments": [{"type": "template", "payload": {}}]}},
    {"recipient": {"id": PAGE}, "message": {"mid": "mid.4", "text": "/greet"}},
    "not an object",
], ids=["echo", "delivery", "read", "reaction", "template-attachment", "no-sender",
        "not-an-object"])
def test_other_events_are_acknowledged_and_ignored(make_app, agent, graph, item: Any) -> None:
    app = make_app(credentials={"facebook": settings(graph)})
    response, events = post_events(app, agent, page_body(item))
    assert (response.status, response.text) == (200, "success")
    assert events == [] and graph.requests == []


def test_a_signed_body_that_is_not_json_is_acknowledged(make_app, agent, graph) -> None:
    app = make_app(credentials={"facebook": settings(graph)})
    response, events = post_events(app, agent, b"{not json")
    assert (response.status, response.text) == (200, "success")
    assert events == [] and graph.requests == []


def test_every_item_of_a_batch_is_handled_in_order(make_app, agent, graph) -> None:
    app = make_app(credentials={"facebook": settings(graph)})
    body = page_body(text_item("/greet"), text_item("/greet", is_echo=True),
                     postback_item('/choose{"colour": "red"}'), text_item("/goodbye", "999"))
    _, events = post_events(app, agent, body)
    assert user_texts(events) == ["/greet", '/choose{"colour": "red"}']
    assert [(c["recipient"]["id"], c["message"]["text"]) for c in graph.calls()
            if "message" in c] == [(USER, "Hello! How can I help?"), (USER, "You chose red."),
                                   ("999", "Bye!")]


def test_buttons_become_a_button_template(make_app, agent, graph) -> None:
    app = make_app(credentials={"facebook": settings(graph)})
    post_events(app, agent, page_body(text_item("/ask_choice")))
    assert graph.messages() == [{"attachment": {"type": "template", "payload": {
        "template_type": "button", "text": "Pick a colour",
        "buttons": [{"type": "postback", "title": "Red", "payload": '/choose{"colour": "red"}'},
                    {"type": "postback", "title": "Blue",
                     "payload": '/choose{"colour": "blue"}'}]}}}]


def test_a_responses_quick_replies_reach_messenger_as_quick_replies(make_app, agent,
                                                                     graph) -> None:
    greet_with(agent, QUICK_REPLIES)
    app = make_app(credentials={"facebook": settings(graph)})
    post_events(app, agent, page_body(text_item("/greet")))
    assert graph.messages() == [{"text": "Which size?", "quick_replies": [
        {"content_type": "text", "title": "Small", "payload": "/choose"},
        {"content_type": "text", "title": "Large", "payload": "/goodbye"}]}]


def test_a_responses_cards_reach_messenger_as_one_generic_template(make_app, agent,
                                                                   graph) -> None:
    greet_with(agent, CARDS)
    app = make_app(credentials={"facebook": settings(graph)})
    post_events(app, agent, page_body(text_item("/greet")))
    assert graph.messages() == [
        {"text": "Our cats"},
        {"attachment": {"type": "template", "payload": {"template_type": "generic", "elements": [
            {"title": "Tom", "subtitle": "grey", "image_url": "https://x.org/tom.png",
             "buttons": [{"type": "postback", "title": "Adopt", "payload": "/choose"}]},
            {"title": "Kit", "subtitle": "black"}]}}}]


def test_a_failed_send_is_logged_and_the_turn_kept(make_app, agent, caplog) -> None:
    refusal = (400, {"error": {"message": "(#100) No matching user found", "type":
                               "OAuthException", "code": 100, "fbtrace_id": "Ab1"}})
    with GraphApi(failures=[refusal]) as refusing:
        app = make_app(credentials={"facebook": settings(refusing)})
        with caplog.at_level("ERROR"):
            response, events = post_events(app, agent, page_body(text_item("/greet")))
        assert refusing.messages() == [{"text": "Hello! How can I help?"}]
        # nothing reached the user, so the typing indicator is switched off
        assert refusing.actions() == ["mark_seen", "typing_on", "typing_off"]
    assert (response.status, response.text) == (200, "success")
    assert (f"a message to {USER} was not sent (status 400: (#100) No matching user found "
            "(code 100))") in caplog.text
    assert [e["text"] for e in events if e["event"] == "bot"] == ["Hello! How can I help?"]
    assert TOKEN not in caplog.text


def test_later_replies_are_sent_after_a_refused_one(caplog) -> None:
    # the Graph API may also answer 200 with an error object
    refusal = (200, {"error": {"message": "(#10) outside of allowed window", "code": 10}})
    with GraphApi(failures=[refusal]) as refusing:
        channel = FacebookChannel(settings(refusing))
        with caplog.at_level("ERROR"):
            sent = asyncio.run(channel.send(USER, [{"text": "one"}, {"text": "two"}]))
        assert sent == 1
        assert refusing.messages() == [{"text": "one"}, {"text": "two"}]
    assert "outside of allowed window" in caplog.text


def test_a_graph_api_that_does_not_answer_holds_the_webhook_for_one_timeout_not_four(
        make_app, agent, caplog) -> None:
    import threading

    from serving_helpers import StubHttpServer

    released = threading.Event()

    def hang(request: Any) -> tuple[int, dict[str, str], bytes]:
        released.wait(10)  # answers only once the test is over
        return 200, {"Content-Type": "application/json"}, b"{}"

    with StubHttpServer(hang) as hanging:
        app = make_app(credentials={"facebook": {
            "verify": VERIFY, "secret": SECRET, "page-access-token": TOKEN,
            "api_url": hanging.url.rstrip("/"), "timeout": 0.5}})
        try:
            with caplog.at_level("WARNING"):
                response, events = post_events(app, agent, page_body(text_item("/greet")))
            calls = [json.loads(r.body) for r in hanging.requests]
        finally:
            released.set()
    assert (response.status, response.text) == (200, "success")
    # mark_seen, typing_on, the message and typing_off each waited for the timeout, so the
    # webhook answered past Facebook's 20 s with the default timeout of 10: now the
    # indicators go beside the turn and stop at the first that fails, and the indicator
    # that never showed is not switched off
    assert [c.get("sender_action") or "message" for c in calls] == ["mark_seen", "message"]
    assert "mark_seen for 2468 was not sent" in caplog.text
    assert [e["text"] for e in events if e["event"] == "bot"] == ["Hello! How can I help?"]


def test_an_unreachable_api_is_logged_without_the_token(caplog) -> None:
    channel = FacebookChannel({"verify": VERIFY, "secret": SECRET, "page-access-token": TOKEN,
                               "api_url": "http://127.0.0.1:9", "timeout": 2})
    with caplog.at_level("ERROR"):
        sent = asyncio.run(channel.send(USER, [{"text": "hi"}]))
    assert sent == 0
    assert f"a message to {USER} was not sent (ClientConnectorError" in caplog.text
    assert TOKEN not in caplog.text


def test_a_failing_turn_is_answered_200_and_logged(make_app, agent, graph, caplog,
                                                   monkeypatch) -> None:
    async def broken(message: Any) -> list[dict[str, Any]]:
        raise RuntimeError("the policy fell over")

    monkeypatch.setattr(agent, "handle_turn", broken)
    app = make_app(credentials={"facebook": settings(graph)})
    with caplog.at_level("ERROR"):
        response, _ = post_events(app, agent, page_body(text_item("/greet")))
    assert (response.status, response.text) == (200, "success")
    assert f"conversation {USER!r}" in caplog.text
    assert "could not be handled and is lost: the policy fell over" in caplog.text
    assert graph.messages() == []
    assert graph.actions() == ["mark_seen", "typing_on", "typing_off"]


def test_a_long_text_goes_out_in_several_messages(graph) -> None:
    channel = FacebookChannel(settings(graph))
    text = " ".join(["word"] * 1000)  # 4999 characters, one paragraph
    assert asyncio.run(channel.send(USER, [{"text": text}])) == 3
    pieces = [m["text"] for m in graph.messages()]
    assert len(pieces) == 3 and all(len(p) <= MAX_TEXT for p in pieces)
    assert " ".join(pieces) == text


# ------------------------------------------------------------------ reading events


def test_events_are_read_as_in_rasa() -> None:
    quick = read_event(text_item("Red", quick_reply={"payload": "/red"}))
    assert (quick.kind, quick.sender_id, quick.text) == ("quick_reply", USER, "/red")
    image = read_event({"sender": {"id": 7}, "message": {"attachments": [
        {"type": "image", "payload": {"url": "https://x.org/i.png", "sticker_id": 369239263}}]}})
    assert (image.kind, image.sender_id, image.text) == ("attachment", "7", "https://x.org/i.png")
    empty = read_event({"sender": {"id": USER}, "postback": {"title": "Get Started"}})
    assert empty.text is None and "no text, payload" in empty.ignored
    assert read_event({"sender": {"id": USER}, "optin": {"ref": "x"}}).kind == "optin"
    assert read_event(text_item("/greet", is_echo=True)).kind == "echo"


# ------------------------------------------------------------------ writing replies


def messages(reply: dict[str, Any]) -> list[dict[str, Any]]:
    return [body["message"] for body in reply_bodies(reply, USER)]


def test_more_buttons_than_a_template_holds_become_quick_replies(caplog) -> None:
    buttons = [{"title": f"Option {i}", "payload": f"/pick{{\"n\": {i}}}"} for i in range(4)]
    buttons.append({"title": "Docs", "url": "https://example.org/docs"})
    [message] = messages({"text": "Choose one", "buttons": buttons})
    assert message["text"] == "Choose one\nDocs: https://example.org/docs"
    assert message["quick_replies"] == [
        {"content_type": "text", "title": f"Option {i}", "payload": f"/pick{{\"n\": {i}}}"}
        for i in range(4)]
    many = [{"title": str(i), "payload": f"/n{i}"} for i in range(20)]
    with caplog.at_level("WARNING"):
        [crowded] = messages({"text": "Pick", "buttons": many})
    assert len(crowded["quick_replies"]) == MAX_QUICK_REPLIES
    assert "has 20 choices, Messenger shows 13" in caplog.text


def test_a_template_takes_links_and_a_long_text_takes_quick_replies() -> None:
    [template] = messages({"text": "Read", "buttons": [
        {"title": "Docs", "url": "https://example.org/docs"},
        {"type": "phone_number", "title": "Call", "payload": "+15105551234"}]})
    assert template["attachment"]["payload"]["buttons"] == [
        {"type": "web_url", "title": "Docs", "url": "https://example.org/docs"},
        {"type": "phone_number", "title": "Call", "payload": "+15105551234"}]
    # a button template's text holds 640 characters; quick replies ride on the last piece
    long = messages({"text": "z" * 2500, "buttons": CHOICE_BUTTONS})
    assert [len(m["text"]) for m in long] == [2000, 500]
    assert "quick_replies" not in long[0]
    assert [q["title"] for q in long[1]["quick_replies"]] == ["Red", "Blue"]


def test_buttons_without_text_go_out_under_an_ellipsis(caplog) -> None:
    with caplog.at_level("WARNING"):
        found = messages({"buttons": CHOICE_BUTTONS, "image": "https://x.org/cat.png"})
    # Messenger refuses a template without a text, which is what Rasa would send
    template, image = found
    assert template["attachment"]["payload"]["text"] == LONE_BUTTONS_TEXT
    assert [b["title"] for b in template["attachment"]["payload"]["buttons"]] == ["Red", "Blue"]
    assert image == {"attachment": {"type": "image", "payload": {"url": "https://x.org/cat.png"}}}
    assert f"a reply to {USER} has buttons but no text" in caplog.text
    [lone] = messages({"quick_replies": CHOICE_BUTTONS})
    assert lone["text"] == LONE_BUTTONS_TEXT and len(lone["quick_replies"]) == 2


def test_buttons_of_a_message_of_their_own_ride_on_the_text_before(graph, caplog) -> None:
    # a custom action's text, then its buttons in a message of their own
    channel = FacebookChannel(settings(graph))
    with caplog.at_level("WARNING"):
        sent = asyncio.run(channel.send(USER, [{"text": "Intro."}, {"text": "Pick one"},
                                               {"buttons": CHOICE_BUTTONS},
                                               {"quick_replies": CHOICE_BUTTONS}]))
    first, template, lone = graph.messages()
    assert sent == 3 and first == {"text": "Intro."}
    assert template["attachment"]["payload"]["text"] == "Pick one"
    assert [b["title"] for b in template["attachment"]["payload"]["buttons"]] == ["Red", "Blue"]
    # nothing but buttons just before: these go out under the ellipsis
    assert lone["text"] == LONE_BUTTONS_TEXT and len(lone["quick_replies"]) == 2
    assert caplog.text.count("has buttons but no text") == 1


def test_reply_parts_in_rasas_order() -> None:
    reply = {"text": "First.\n\nSecond.",
             "custom": {"text": "custom", "quick_replies": [{"content_type": "user_email"}]},
             "image": "https://x.org/cat.png",
             "attachment": "https://x.org/doc.pdf",
             "elements": [{"title": "Cat", "buttons": [{"title": "Adopt", "payload": "/adopt"}]}]}
    assert messages(reply) == [
        {"text": "First."}, {"text": "Second."},
        {"text": "custom", "quick_replies": [{"content_type": "user_email"}]},
        {"attachment": {"type": "image", "payload": {"url": "https://x.org/cat.png"}}},
        {"text": "Attachment: https://x.org/doc.pdf"},
        {"attachment": {"type": "template", "payload": {"template_type": "generic", "elements": [
            {"title": "Cat", "buttons": [{"type": "postback", "title": "Adopt",
                                          "payload": "/adopt"}]}]}}}]
    bodies = reply_bodies({"text": "hi"}, USER)
    assert bodies == [{"recipient": {"id": USER}, "messaging_type": "RESPONSE",
                       "message": {"text": "hi"}}]


def test_quick_replies_and_custom_recipients() -> None:
    [message] = messages({"text": "Your email?", "quick_replies": [
        {"content_type": "user_email"}, {"title": "Skip", "payload": "/skip"}]})
    assert message["quick_replies"] == [
        {"content_type": "user_email"},
        {"content_type": "text", "title": "Skip", "payload": "/skip"}]
    custom = reply_bodies({"custom": [{"sender": {"id": "555"}, "text": "to someone else"},
                                      {"text": "to the user"}, "not an object"]}, USER)
    assert [(b["recipient"]["id"], b["message"]) for b in custom] == [
        ("555", {"text": "to someone else"}), (USER, {"text": "to the user"})]


# ------------------------------------------------------------------ settings


def test_the_channel_is_enabled_by_credentials(graph) -> None:
    [channel] = enabled_channels({"facebook": settings(graph, verify=12345)})
    assert isinstance(channel, FacebookChannel)
    assert (channel.verify, channel.page_access_token, channel.api_url) == (
        "12345", TOKEN, graph.base)
    default = FacebookChannel({"verify": VERIFY, "secret": SECRET, "page-access-token": TOKEN})
    assert default.api_url.startswith("https://graph.facebook.com/v")
    assert default.timeout == 10


GOOD = {"verify": VERIFY, "secret": SECRET, "page-access-token": TOKEN}


@pytest.mark.parametrize(("settings", "message"), [
    ({"secret": SECRET, "page-access-token": TOKEN}, "`verify` is missing"),
    ({"verify": VERIFY, "page-access-token": TOKEN}, "`secret` is missing"),
    ({"verify": VERIFY, "secret": SECRET}, "`page-access-token` is missing"),
    ({**GOOD, "secret": "  "}, "`secret` is missing"),
    ({**GOOD, "page_access_token": TOKEN}, "no setting 'page_access_token'"),
    ({**GOOD, "api_url": "graph.facebook.com"}, "api_url"),
    ({**GOOD, "timeout": "soon"}, "timeout"),
    ({**GOOD, "timeout": 0}, "timeout"),
])
def test_bad_settings(settings: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=r"credentials\.yml facebook") as raised:
        enabled_channels({"facebook": settings})
    assert message in str(raised.value)
    assert raised.value.hint


def test_bad_settings_hints() -> None:
    with pytest.raises(ConfigError) as unknown:
        FacebookChannel({**GOOD, "page_access_token": TOKEN})
    assert "did you mean 'page-access-token'" in str(unknown.value)
    with pytest.raises(ConfigError) as missing:
        FacebookChannel({"verify": VERIFY, "secret": SECRET})
    assert "facebook:" in missing.value.hint and "page-access-token:" in missing.value.hint


def test_a_message_facebook_delivers_again_is_not_handled_twice(make_app, agent, graph,
                                                                 caplog) -> None:
    app = make_app(credentials={"facebook": settings(graph)})
    greet = text_item("/greet")
    # Facebook resends an event it saw no answer to within 20 seconds
    with caplog.at_level("INFO"):
        first, _ = post_events(app, agent, page_body(greet))
        again, events = post_events(app, agent, page_body(greet, text_item("/goodbye")))
    assert first.status == again.status == 200
    assert user_texts(events) == ["/greet", "/goodbye"]
    assert [m.get("text") for m in graph.messages()] == ["Hello! How can I help?", "Bye!"]
    assert f"message {greet['message']['mid']} from {USER} came again" in caplog.text


def test_trigger_intent_pushes_the_messages_through_messenger_as_updates(make_app, agent,
                                                                         graph) -> None:
    greet_with(agent, QUICK_REPLIES)
    app = make_app(credentials={"facebook": settings(graph)})
    response = asyncio.run(request(app, "post", f"/conversations/{USER}/trigger_intent",
                                   json={"name": "greet"},
                                   params={"output_channel": "facebook"}))
    assert response.status == 200
    # sent unasked (UPDATE, no typing indicator), with the quick replies Messenger shows
    assert graph.calls() == [{"recipient": {"id": USER}, "messaging_type": "UPDATE",
                              "message": {"text": "Which size?", "quick_replies": [
                                  {"content_type": "text", "title": "Small",
                                   "payload": "/choose"},
                                  {"content_type": "text", "title": "Large",
                                   "payload": "/goodbye"}]}}]
    # the answer lists the messages in Rasa's REST shape, as without output_channel
    assert response.json["messages"][0]["buttons"][0]["title"] == "Small"


def test_a_message_the_store_could_not_keep_is_delivered_again(make_app, agent,
                                                               graph) -> None:
    from failing_turns import store_down_for

    app = make_app(credentials={"facebook": settings(graph)})
    other = "1111"
    batch = page_body(text_item("/greet"), text_item("/goodbye", sender=other),
                      text_item("/goodbye"))
    store_down_for(agent)
    # the first of the batch is not stored; another user's message is handled all the
    # same, and the same user's later one is left for the next delivery, to keep its order
    failed, events = post_events(app, agent, batch)
    assert failed.status == 503 and user_texts(events) == []
    assert user_texts(asyncio.run(agent.tracker_store.load_events(other))) == ["/goodbye"]
    # Facebook delivers the batch again: what was handled is skipped, the rest handled
    again, events = post_events(app, agent, batch)
    assert (again.status, again.text) == (200, "success")
    assert user_texts(events) == ["/greet", "/goodbye"]
    assert user_texts(asyncio.run(agent.tracker_store.load_events(other))) == ["/goodbye"]
    assert [(c["recipient"]["id"], c["message"]["text"]) for c in graph.calls()
            if "message" in c] == [(other, "Bye!"), (USER, "Hello! How can I help?"),
                                   (USER, "Bye!")]
