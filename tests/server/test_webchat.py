"""The web chat page and its files are served, with a strict content security policy."""

from __future__ import annotations

import asyncio

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
