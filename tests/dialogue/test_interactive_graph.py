"""The story graph page of an interactive session, and the server that shows it."""

from __future__ import annotations

import re
import socket
import urllib.error
import urllib.request

import pytest

from dialogflowlite.dialogue.interactive_graph import (
    MAX_TRAINING_STORIES,
    SessionGraphServer,
    session_graph_page,
)
from dialogflowlite.shared.events import ActionExecuted, SessionStarted, UserUttered
from dialogflowlite.shared.story_paths import StoryPath


def turn(intent: str, *actions: str) -> list:
    return [ActionExecuted(name="action_listen"),
            UserUttered(text=intent, parse_data={"intent": {"name": intent, "confidence": 1.0}}),
            *(ActionExecuted(name=action) for action in actions)]


def drawn(page: str) -> set[str]:
    return set(re.findall(r"<title>([^<]*)</title><rect", page))


def filled(page: str) -> set[str]:
    return set(re.findall(r'<title>([^<]*)</title><rect [^>]*fill="#fff59d"', page))


def test_the_page_draws_the_stories_and_fills_in_the_conversation_going_on() -> None:
    training = [StoryPath(stories=["greeting"], events=turn("greet", "utter_greet")
                          + turn("goodbye", "utter_goodbye"))]
    finished = turn("inform", "utter_noted")
    # a conversation opens with its session start, which no story has
    going_on = [ActionExecuted(name="action_session_start"), SessionStarted(),
                *turn("greet", "utter_greet")]
    page = session_graph_page(training, [finished, going_on])
    assert drawn(page) == {"START", "END", "greet", "utter_greet", "goodbye",
                           "utter_goodbye", "inform", "utter_noted"}
    # the conversation going on shares the story's first steps: those are filled in,
    # and neither the story's later steps nor the finished conversation are
    assert filled(page) == {"START", "greet", "utter_greet"}
    assert '<meta http-equiv="refresh" content="2">' in page
    assert filled(session_graph_page(training, [going_on, finished])) == {
        "START", "inform", "utter_noted"}


def test_more_story_paths_than_rasa_draws_are_left_out_with_a_note() -> None:
    many = [StoryPath(stories=[f"s{i}"], events=turn(f"intent_{i}", "utter_x"))
            for i in range(MAX_TRAINING_STORIES + 1)]
    page = session_graph_page(many, [turn("greet", "utter_greet")])
    assert drawn(page) == {"START", "END", "greet", "utter_greet"}
    assert f"The {MAX_TRAINING_STORIES + 1} story paths of the project are left out" in page
    assert "intent_0" in session_graph_page(many[:MAX_TRAINING_STORIES], [])


def test_the_server_serves_the_latest_page_and_nothing_else() -> None:
    server = SessionGraphServer(0)
    try:
        assert server.url.endswith("/visualization.html")
        with urllib.request.urlopen(server.url, timeout=10) as response:
            assert response.status == 200
            assert "text/html" in response.headers["Content-Type"]
            assert "<svg" in response.read().decode("utf-8")
        server.show("<p>the newest page</p>")
        with urllib.request.urlopen(server.url, timeout=10) as response:
            assert response.read().decode("utf-8") == "<p>the newest page</p>"
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(server.url.replace("visualization.html", "secrets"),
                                   timeout=10)
        assert refused.value.code == 404
    finally:
        server.close()
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(server.url, timeout=10)


def test_a_port_in_use_is_an_oserror() -> None:
    with socket.socket() as taken:
        taken.bind(("localhost", 0))
        taken.listen()
        with pytest.raises(OSError):
            SessionGraphServer(taken.getsockname()[1])


def _has_ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
    except OSError:
        return False
    return True


def _page_status(url: str) -> int:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.status


@pytest.mark.skipif(not _has_ipv6_loopback(), reason="this machine has no IPv6 loopback")
def test_localhost_is_served_on_both_loopback_addresses() -> None:
    """A browser that resolves localhost to ::1 finds the page as well as one that
    resolves it to 127.0.0.1 (127.0.0.1 alone was bound)."""
    server = SessionGraphServer(0)
    try:
        port = int(re.fullmatch(r"http://localhost:(\d+)/visualization\.html",
                                server.url).group(1))
        assert _page_status(f"http://127.0.0.1:{port}/visualization.html") == 200
        assert _page_status(f"http://[::1]:{port}/visualization.html") == 200
    finally:
        server.close()
    with pytest.raises(urllib.error.URLError):
        _page_status(f"http://[::1]:{port}/visualization.html")


def test_without_an_ipv6_loopback_the_address_printed_is_127_0_0_1(monkeypatch) -> None:
    """Where ::1 cannot be bound, the page is served on 127.0.0.1, and its address says so
    (localhost could name an address nothing answers on)."""
    from dialogflowlite.dialogue import interactive_graph

    class NoIPv6:
        def __init__(self, *args: object) -> None:
            raise OSError(97, "Address family not supported by protocol")

    monkeypatch.setattr(interactive_graph, "_IPv6HTTPServer", NoIPv6)
    server = SessionGraphServer(0)
    try:
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+/visualization\.html", server.url)
        assert _page_status(server.url) == 200
    finally:
        server.close()


def test_turns_taken_back_are_not_drawn_and_a_restart_starts_another_path() -> None:
    from dialogflowlite.shared.events import BotUttered, Restarted, UserUtteranceReverted

    # the fallback took "mumble" back: its story will not hold it, nor will the page
    reverted = [*turn("greet", "utter_greet"), *turn("mumble", "action_default_fallback"),
                BotUttered(text="Sorry?"), UserUtteranceReverted()]
    page = session_graph_page([], [reverted])
    assert drawn(page) == {"START", "END", "greet", "utter_greet"}
    # after a restart, the conversation going on is the part after it
    restarted = [*turn("greet", "utter_greet"), *turn("stop", "action_restart"), Restarted(),
                 *turn("inform", "utter_noted")]
    page = session_graph_page([], [restarted])
    assert {"greet", "stop", "inform"} <= drawn(page)
    assert filled(page) == {"START", "inform", "utter_noted"}
