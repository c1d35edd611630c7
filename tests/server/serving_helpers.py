"""The tiny bot the server tests train, and small helpers to talk to an app.

The bot understands ``/intent{"entity": "value"}`` messages (no NLU model, so
it trains in a second) and answers through rules: greet, goodbye, a choice
with buttons, a slot filled from the chosen button, a slow custom action on
an action server, and a form-free dialogue that the policies can predict.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

from plain_data import train_model, write_files

DOMAIN = """
version: "3.1"
intents:
  - greet
  - goodbye
  - ask_choice
  - choose
  - inform_email
  - slow
entities:
  - colour
  - email
slots:
  colour:
    type: text
    mappings:
      - type: from_entity
        entity: colour
  email:
    type: text
    influence_conversation: false
    mappings:
      - type: from_entity
        entity: email
responses:
  utter_greet:
    - text: "Hello! How can I help?"
  utter_goodbye:
    - text: "Bye!"
  utter_choice:
    - text: "Pick a colour"
      buttons:
        - title: "Red"
          payload: '/choose{"colour": "red"}'
        - title: "Blue"
          payload: '/choose{"colour": "blue"}'
  utter_chosen:
    - text: "You chose {colour}."
  utter_noted:
    - text: "Noted, I will write to {email}."
actions:
  - action_slow
session_config:
  session_expiration_time: 60
  carry_over_slots_to_new_session: true
"""

RULES = """
version: "3.1"
rules:
  - rule: greet
    steps:
      - intent: greet
      - action: utter_greet
  - rule: bye
    steps:
      - intent: goodbye
      - action: utter_goodbye
  - rule: choice
    steps:
      - intent: ask_choice
      - action: utter_choice
  - rule: chosen
    steps:
      - intent: choose
      - action: utter_chosen
  - rule: email
    steps:
      - intent: inform_email
      - action: utter_noted
  - rule: slow
    steps:
      - intent: slow
      - action: action_slow
"""

CONFIG = """
language: en
pipeline: []
policies:
  - name: MemoizationPolicy
  - name: RulePolicy
"""


def write_tiny_project(root: Path, endpoints: str | None = None,
                       credentials: str | None = None) -> Path:
    """Write the tiny bot's files into ``root``."""
    files = {"domain.yml": DOMAIN, "data/rules.yml": RULES, "config.yml": CONFIG,
             "endpoints.yml": endpoints, "credentials.yml": credentials}
    return write_files(root, {name: text for name, text in files.items() if text is not None})


#: what the tiny bot answers ``/greet`` with
GREETING = "Hello! How can I help?"


def train_tiny_bot_greeting(root: Path, greeting: str) -> Path:
    """Train the tiny bot, written under ``root``, answering ``/greet`` with ``greeting``
    instead of :data:`GREETING` (another model to swap in); the model file's path."""
    domain = write_tiny_project(root) / "domain.yml"
    domain.write_text(domain.read_text().replace(GREETING, greeting), encoding="utf-8")
    return train_model(root)


#: the greeting of the ``other_model`` fixture (conftest.py)
OTHER_GREETING = "Hello from the other model!"

#: a response whose text offers quick replies, as Rasa domains write one
QUICK_REPLIES = {"text": "Which size?", "quick_replies": [
    {"title": "Small", "payload": "/choose"}, {"title": "Large", "payload": "/goodbye"}]}
#: a response with cards (``elements``), as Rasa domains write one
CARDS = {"text": "Our cats", "elements": [
    {"title": "Tom", "subtitle": "grey", "image_url": "https://x.org/tom.png",
     "buttons": [{"title": "Adopt", "payload": "/choose"}]},
    {"title": "Kit", "subtitle": "black"}]}


def greet_with(agent: Any, response: dict[str, Any]) -> None:
    """Make the tiny bot answer ``/greet`` with ``response`` instead of its greeting."""
    from dialogflowlite.shared.domain import ResponseDef

    agent.domain.responses["utter_greet"] = ResponseDef("utter_greet", [response])


def training_body(*parts: str) -> bytes:
    """Project parts as the one YAML document ``POST /model/train`` takes (each part's
    own ``version`` line dropped)."""
    lines = ['version: "3.1"']
    for part in parts:
        lines += [line for line in textwrap.dedent(part).splitlines()
                  if not line.startswith("version:")]
    return "\n".join(lines).encode()


async def request(app: Any, method: str, path: str, **kwargs: Any) -> Any:
    """One request through the app's ASGI client; the response."""
    _, response = await getattr(app.asgi_client, method)(path, **kwargs)
    return response


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def until(condition: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    """Poll ``condition`` until it holds; fail, naming ``what`` was awaited, after
    ``timeout`` seconds.

    Tests wait for what they need this way rather than sleeping a guessed while: the
    suite runs on loaded machines, where a thread or a task can take seconds to start.
    """
    import asyncio
    import time

    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"waited {timeout:.0f} s for {what}")
        await asyncio.sleep(0.01)


def hang_ups_counted(app: Any) -> float:
    """How many requests ``app`` counted (in ``/metrics``) as closed by their client before
    the answer (status 499): Sanic had noticed the lost connection and cancelled their
    handlers."""
    return sum(float(line.rsplit(" ", 1)[1])
               for line in app.ctx.metrics.render().splitlines()
               if line.startswith("dfl_http_requests_total{") and 'status="499"' in line)


async def wait_until_healthy(url: str, timeout: float = 120.0) -> None:
    """Poll ``/health`` until the server has its model (a server loads it after starting)."""
    import asyncio
    import time

    import aiohttp

    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession() as session:
        while True:
            async with session.get(f"{url}/health") as response:
                if response.status == 200:
                    return
            if time.monotonic() > deadline:
                raise AssertionError(f"{url} did not load its model in {timeout:.0f} s")
            await asyncio.sleep(0.05)


class serving:
    """``async with serving(app) as url:`` runs ``app`` on a loopback port in this event loop.

    Unlike the ASGI test client (which starts and stops the app around every
    request), this is one real server for the whole block, so concurrent
    requests meet each other as in production.
    """

    def __init__(self, app: Any, *, healthy: bool = True) -> None:
        self.app = app
        self.server: Any = None
        #: whether to wait for /health to say the model is loaded before the block
        self.healthy = healthy

    async def __aenter__(self) -> str:
        port = free_port()
        # Sanic rewrites ("touches up") its request code once per process; a second
        # server started in the same test process must skip that.
        self.app.config.TOUCHUP = False
        self.server = await self.app.create_server(host="127.0.0.1", port=port,
                                                   return_asyncio_server=True,
                                                   access_log=False)
        await self.server.startup()
        await self.server.before_start()
        await self.server.after_start()
        url = f"http://127.0.0.1:{port}"
        if self.healthy:
            await wait_until_healthy(url)
        return url

    async def __aexit__(self, *exc: object) -> None:
        await self.server.before_stop()
        await self.server.close()
        await self.server.after_stop()


class StubHttpServer:
    """A local HTTP server for the services a bot calls (callback URLs, NLG and model servers).

    ``answer(request)`` gets each request (``method``, ``path``, ``headers``,
    ``body`` bytes) and returns ``(status, headers, body bytes)``; every
    request is kept in :attr:`requests`. Use it as a context manager.
    """

    def __init__(self, answer: Any, path: str = "/") -> None:
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
        from types import SimpleNamespace

        requests: list[Any] = []
        self.requests = requests

        class Handler(BaseHTTPRequestHandler):
            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                request = SimpleNamespace(method=self.command, path=self.path,
                                          headers=dict(self.headers),
                                          body=self.rfile.read(length))
                requests.append(request)
                status, headers, body = answer(request)
                self.send_response(status)
                for key, value in {**headers, "Content-Length": str(len(body))}.items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = _serve

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}{path}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self) -> StubHttpServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class CallbackReceiver(StubHttpServer):
    """A callback channel's URL (``/replies``) that records the JSON posted to it, or
    refuses every post with ``status``."""

    def __init__(self, status: int = 200) -> None:
        super().__init__(lambda request: (status, {}, b""), path="/replies")

    @property
    def received(self) -> list[dict[str, Any]]:
        """The JSON bodies posted so far, in order."""
        import json

        return [json.loads(r.body) for r in self.requests]
