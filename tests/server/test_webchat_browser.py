"""The web chat end to end in headless Chromium (Debian's package), driven through chromedriver.

Only the W3C WebDriver HTTP protocol is used (a few JSON requests), so no
browser or driver is downloaded. Skips when chromium or chromedriver is not
installed (.ci/run installs both).
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from serving_helpers import free_port, serving

pytestmark = pytest.mark.browser

ELEMENT = "element-6066-11e4-a52e-4f735466cecf"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu",
                  "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--no-first-run", "--disable-dev-shm-usage"]


def _binary(variable: str, *names: str) -> str:
    found = os.environ.get(variable) or next(filter(None, map(shutil.which, names)), None)
    if not found:
        pytest.skip(f"{' / '.join(names)} not installed (set {variable}; .ci/run installs "
                    "Debian's chromium and chromium-driver)")
    return found


class WebDriver:
    """The handful of W3C WebDriver calls the test needs."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.session = ""

    def call(self, method: str, path: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(f"{self.url}{path}", data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=60) as response:
                return json.loads(response.read() or b"null").get("value")
        except urllib.error.HTTPError as e:
            raise AssertionError(f"WebDriver {method} {path}: {e.read()[:500]!r}") from e

    def start(self, chromium: str, profile: Path) -> None:
        value = self.call("POST", "/session", {"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": chromium,
                                   "args": [*CHROMIUM_FLAGS, f"--user-data-dir={profile}"]},
        }}})
        self.session = value["sessionId"]

    def s(self, path: str) -> str:
        return f"/session/{self.session}{path}"

    def find_all(self, css: str) -> list[str]:
        found = self.call("POST", self.s("/elements"), {"using": "css selector", "value": css})
        return [item[ELEMENT] for item in found]

    def text(self, element: str) -> str:
        return self.call("GET", self.s(f"/element/{element}/text"))

    def texts(self, css: str) -> list[str]:
        # One script call reads them all at once: elements may come and go in between calls.
        return self.call("POST", self.s("/execute/sync"), {
            "script": "return Array.from(document.querySelectorAll(arguments[0]))"
                      ".map(e => e.textContent);", "args": [css]})

    def type(self, css: str, text: str) -> None:
        (element,) = self.find_all(css)
        self.call("POST", self.s(f"/element/{element}/value"), {"text": text})

    def click(self, element: str) -> None:
        self.call("POST", self.s(f"/element/{element}/click"), {})

    def wait_for_text(self, css: str, expected: str, timeout: float = 30.0) -> list[str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            texts = self.texts(css)
            if expected in texts:
                return texts
            time.sleep(0.1)
        raise AssertionError(f"{expected!r} never appeared in {css}; last seen: {texts}")


class BackgroundServer:
    """Serves an app from its own thread and event loop while the test drives the browser."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.url = ""
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread = threading.Thread(target=lambda: asyncio.run(self._main()), daemon=True)

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        async with serving(self.app) as url:
            self.url = url
            self._ready.set()
            await self._stop.wait()

    def __enter__(self) -> str:
        self._thread.start()
        assert self._ready.wait(30), "the server did not start"
        return self.url

    def __exit__(self, *exc: object) -> None:
        assert self._loop is not None and self._stop is not None
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(30)


@pytest.fixture
def webdriver(tmp_path: Path) -> Iterator[WebDriver]:
    chromium = _binary("DFL_TEST_CHROMIUM", "chromium", "chromium-browser")
    chromedriver = _binary("DFL_TEST_CHROMEDRIVER", "chromedriver")
    port = free_port()
    process = subprocess.Popen([chromedriver, f"--port={port}"], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    driver = WebDriver(f"http://127.0.0.1:{port}")
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if driver.call("GET", "/status").get("ready"):
                    break
            except (OSError, AssertionError):
                pass
            assert time.monotonic() < deadline, "chromedriver did not start"
            time.sleep(0.1)
        driver.start(chromium, tmp_path / "profile")
        yield driver
    finally:
        if driver.session:
            try:
                driver.call("DELETE", driver.s(""))
            except (OSError, AssertionError):
                pass
        process.terminate()
        process.wait(30)


def test_type_see_replies_and_click_buttons(make_app, agent, webdriver: WebDriver) -> None:
    app = make_app(enable_api=False)
    with BackgroundServer(app) as url:
        webdriver.call("POST", webdriver.s("/url"), {"url": f"{url}/chat"})
        webdriver.type("#dfl-input", "/greet\ue007")  # typed, then Enter
        webdriver.wait_for_text(".dfl-msg.bot .dfl-text", "Hello! How can I help?")
        webdriver.type("#dfl-input", "/ask_choice")
        (send,) = webdriver.find_all("#dfl-send")
        webdriver.click(send)
        webdriver.wait_for_text(".dfl-msg.bot .dfl-text", "Pick a colour")
        buttons = {webdriver.text(b): b for b in webdriver.find_all(".dfl-button")}
        assert set(buttons) == {"Red", "Blue"}
        webdriver.click(buttons["Blue"])
        webdriver.wait_for_text(".dfl-msg.bot .dfl-text", "You chose blue.")
        assert webdriver.texts(".dfl-msg.user .dfl-text") == ["/greet", "/ask_choice", "Blue"]
        sender = webdriver.call("POST", webdriver.s("/execute/sync"),
                                {"script": "return window.dflChat.sender();", "args": []})
    assert sender.startswith("web-")
    tracker = asyncio.run(agent.tracker_store.retrieve(sender))
    assert [e.text for e in tracker.events if e.type_name == "user"] == [
        "/greet", "/ask_choice", '/choose{"colour": "blue"}']
    assert tracker.slots["colour"] == "blue"
