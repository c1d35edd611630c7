"""The web chat page and its files are served, with a strict content security policy."""

from __future__ import annotations

import asyncio

import pytest
from serving_helpers import request


def test_page_and_assets(make_app) -> None:
    app = make_app()

    async def main() -> None:
        page = await request(app, "get", "/chat")
        assert page.status == 200 and page.headers["content-type"].startswith("text/html")
        assert 'id="dfl-input"' in page.text and "chat/static/chat.js" in page.text
        assert "default-src 'self'" in page.headers["content-security-policy"]
        script = await request(app, "get", "/chat/static/chat.js")
        assert script.status == 200 and "webhooks/rest/webhook" in script.text
        assert "innerHTML" not in script.text  # replies are never parsed as HTML
        style = await request(app, "get", "/chat/static/chat.css")
        assert style.headers["content-type"].startswith("text/css")
        for name in ("../app.py", "index.html", "missing.js"):
            assert (await request(app, "get", f"/chat/static/{name}")).status == 404
        slash = await request(app, "get", "/chat/", follow_redirects=False)
        assert slash.status == 302 and slash.headers["location"] == "/chat"

    asyncio.run(main())


def test_no_page_without_the_rest_channel_or_when_switched_off(make_app) -> None:
    assert asyncio.run(request(make_app(credentials={"websocket": {}}), "get",
                               "/chat")).status == 404
    assert asyncio.run(request(make_app(webchat=False), "get", "/chat")).status == 404


#: a minimal page for chat.js under Node: the elements it looks up, fetch answering
#: with the replies given, and the chat's bubbles printed as JSON once they are shown
NODE_PAGE = r"""
const replies = JSON.parse(process.argv[2]);
function element(tag) {
  return {tag: tag, children: [], listeners: {}, className: "", textContent: "", value: "",
          appendChild(child) { this.children.push(child); return child; },
          removeChild(child) { this.children.splice(this.children.indexOf(child), 1); },
          get firstChild() { return this.children[0]; },
          remove() { this.removed = true; },
          addEventListener(name, listener) { this.listeners[name] = listener; },
          querySelectorAll() { return []; }, focus() {}};
}
const ids = {};
for (const id of ["dfl-log", "dfl-form", "dfl-input", "dfl-send", "dfl-restart"]) {
  ids[id] = element("any");
}
global.window = {location: {pathname: "/chat"}, crypto: require("crypto").webcrypto,
                 localStorage: {getItem() { return null; }, setItem() {}}};
global.document = {getElementById: (id) => ids[id], createElement: element};
global.fetch = async () => ({ok: true, json: async () => replies});
require(process.argv[1]);
ids["dfl-input"].value = "hi";
ids["dfl-form"].listeners.submit({preventDefault() {}});
setTimeout(() => {
  const shown = ids["dfl-log"].children.filter((item) => !item.removed);
  const describe = (node) => ({tag: node.tag, className: node.className, text: node.textContent,
                               href: node.href, target: node.target, rel: node.rel,
                               clickable: Boolean(node.listeners && node.listeners.click),
                               children: node.children ? node.children.map(describe) : []});
  console.log(JSON.stringify(shown.map(describe)));
}, 50);
"""


def run_chat_script(replies: list) -> list:
    """chat.js under Node with ``replies`` as the bot's answer; the bubbles it shows."""
    import json
    import shutil
    import subprocess

    from dialogflowlite.server.routes.webchat import WEBCHAT_DIR

    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    result = subprocess.run([node, "-e", NODE_PAGE, str(WEBCHAT_DIR / "chat.js"),
                             json.dumps(replies)], capture_output=True, text=True, timeout=60,
                            check=True)
    return json.loads(result.stdout)


def test_a_link_button_opens_its_page_instead_of_sending_a_message() -> None:
    bubbles = run_chat_script([{"recipient_id": "u", "text": "See", "buttons": [
        {"title": "Docs", "url": "https://example.org/docs"},
        {"title": "Red", "payload": "/red"},
        {"title": "Sneaky", "url": "javascript:alert(1)", "payload": "/sneaky"}]}])
    user, bot = bubbles
    assert user["children"][0]["text"] == "hi"
    (row,) = [child for child in bot["children"] if child["className"] == "dfl-buttons"]
    link, red, sneaky = row["children"]
    assert (link["tag"], link["href"], link["target"], link["rel"], link["text"]) == (
        "a", "https://example.org/docs", "_blank", "noopener noreferrer", "Docs")
    assert not link["clickable"]
    # a button without a web address still sends its payload; no script is ever a link
    assert (red["tag"], red["clickable"]) == ("button", True)
    assert (sneaky["tag"], sneaky["clickable"]) == ("button", True)
