"""The story graph of an interactive-learning session, served to a browser (Rasa's
``http://localhost:5005/visualization.html``).

While ``dialogflowlite interactive`` runs, the page shows the project's stories
(up to :data:`MAX_TRAINING_STORIES` of them, as Rasa draws them) and the
session's conversations as one graph (:mod:`dialogflowlite.dialogue.story_graph`),
with the steps of the conversation going on filled in. The page reloads
itself every few seconds, so it follows the conversation. It is plain HTML
and SVG served by the standard library's HTTP server from a background
thread; the session hands it a new page after every turn.
"""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from dialogflowlite.dialogue.interactive_export import story_segments
from dialogflowlite.dialogue.story_graph import build_story_graph, graph_to_html, path_nodes
from dialogflowlite.shared.domain import ACTION_SESSION_START
from dialogflowlite.shared.events import ActionExecuted, Event, Restarted, SessionStarted
from dialogflowlite.shared.story_paths import StoryPath
from dialogflowlite.shared.tracker import applied_events

logger = logging.getLogger(__name__)

#: the page's path on the server, and the server's default port, as in Rasa (one above
#: its HTTP server's 5005)
PAGE = "/visualization.html"
DEFAULT_PORT = 5006
#: more story paths than this are left out of the page (Rasa's limit): the graph
#: would be too large to follow a conversation in
MAX_TRAINING_STORIES = 200
#: how often the browser reloads the page
REFRESH_SECONDS = 2


def session_graph_page(training: Sequence[StoryPath], conversations: Sequence[Sequence[Event]],
                       title: str = "Interactive learning") -> str:
    """The page: ``training`` story paths and the session's ``conversations`` (the
    last one is going on, and its steps are filled in)."""
    drawn = list(training) if len(training) <= MAX_TRAINING_STORIES else []
    note = "" if drawn or not training else (
        f"The {len(training)} story paths of the project are left out (more than "
        f"{MAX_TRAINING_STORIES}); only this session's conversations are drawn.")
    # drawn as the export writes them: a turn taken back (/undo, a fallback) is left out,
    # and a restart starts another story
    paths = drawn + [StoryPath(stories=[f"conversation {number}"], events=segment)
                     for number, events in enumerate(conversations, start=1)
                     for segment in story_segments(events)]
    going_on = _going_on(conversations)
    if conversations:
        # also before its first message, when no story holds it yet (a path drawn
        # twice is drawn once)
        paths.append(StoryPath(stories=["the conversation going on"], events=going_on))
    graph = build_story_graph(paths)
    highlight = path_nodes(graph, going_on) if conversations else frozenset()
    return graph_to_html(graph, title, highlight=highlight, note=note,
                         refresh_seconds=REFRESH_SECONDS)


def _going_on(conversations: Sequence[Sequence[Event]]) -> list[Event]:
    """The steps of the story the session is writing now: the latest conversation since
    its last restart or session start, as its story will hold them."""
    if not conversations:
        return []
    events = list(conversations[-1])
    begins = max((index + 1 for index, event in enumerate(events)
                  if isinstance(event, (Restarted, SessionStarted))), default=0)
    # the session start opens every conversation and no story: left out, a conversation
    # shares its first steps with the stories it follows
    steps = [e for e in events[begins:] if not _session_start(e)]
    return applied_events(steps, keep_loop_turns=True)


def _session_start(event: Event) -> bool:
    return isinstance(event, SessionStarted) or (
        isinstance(event, ActionExecuted) and event.name == ACTION_SESSION_START)


class _IPv6HTTPServer(ThreadingHTTPServer):
    address_family = socket.AF_INET6


class SessionGraphServer:
    """Serves the latest page at ``http://HOST:PORT/visualization.html`` until closed.

    ``port`` 0 takes a free port (see :attr:`url`). Raises ``OSError`` when
    the port cannot be bound. ``localhost`` is served on both loopback
    addresses, 127.0.0.1 and ::1 (where the machine has IPv6): a browser may
    resolve the name to either.
    """

    def __init__(self, port: int, host: str = "localhost") -> None:
        self._page = graph_to_html(build_story_graph([]), "Interactive learning",
                                   refresh_seconds=REFRESH_SECONDS)
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path.split("?")[0] not in (PAGE, "/"):
                    self.send_error(404, f"the story graph is at {PAGE}")
                    return
                body = server.page.encode("utf-8")
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                logger.debug("story graph: " + format, *args)

        self._servers = _bind(host, port, Handler)
        self._threads = []
        for http in self._servers:
            http.daemon_threads = True
            thread = threading.Thread(target=http.serve_forever,
                                      name="interactive-story-graph", daemon=True)
            thread.start()
            self._threads.append(thread)

    @property
    def url(self) -> str:
        """The page's address: ``localhost`` when both loopback addresses are served."""
        host, port = self._servers[0].server_address[:2]
        if len(self._servers) > 1:
            host = "localhost"
        elif ":" in host:  # an IPv6 address
            host = f"[{host}]"
        return f"http://{host}:{port}{PAGE}"

    @property
    def page(self) -> str:
        with self._lock:
            return self._page

    def show(self, page: str) -> None:
        """Serve ``page`` from now on."""
        with self._lock:
            self._page = page

    def close(self) -> None:
        """Stop serving and free the port."""
        for http in self._servers:
            http.shutdown()
            http.server_close()
        for thread in self._threads:
            thread.join(timeout=5)


def _bind(host: str, port: int, handler: type[BaseHTTPRequestHandler]
          ) -> list[ThreadingHTTPServer]:
    """The servers listening on ``host``:``port``: for ``localhost``, one on 127.0.0.1 and,
    where it can be bound, one on ::1 at the same port (OSError: the port cannot be
    used on 127.0.0.1)."""
    if host != "localhost":
        return [ThreadingHTTPServer((host, port), handler)]
    ipv4 = ThreadingHTTPServer(("127.0.0.1", port), handler)
    try:
        ipv6 = _IPv6HTTPServer(("::1", ipv4.server_address[1]), handler)
    except OSError as e:  # no IPv6 loopback here (or its port is taken): 127.0.0.1 alone
        logger.debug("the story graph is served on 127.0.0.1 only: ::1 cannot be bound (%s)",
                     e)
        return [ipv4]
    return [ipv4, ipv6]
