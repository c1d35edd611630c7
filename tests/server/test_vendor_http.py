"""One call to a vendor API: status, JSON body, and transport failures with secrets hidden."""

from __future__ import annotations

import asyncio
import socket

from serving_helpers import StubHttpServer

from dialogflowlite.server.channels.vendor_http import client_session, vendor_request


def call(url: str, **arguments):
    async def run():
        async with client_session(5) as session:
            return await vendor_request(session, "POST", url, **arguments)

    return asyncio.run(run())


def test_a_json_answer_is_read_whatever_its_status() -> None:
    answers = iter([(200, {}, b'{"ok": true}'), (400, {}, b'{"error": "bad"}'),
                    (502, {}, b"<html>gateway</html>")])
    stub = StubHttpServer(lambda request: next(answers))
    try:
        first, second, third = (call(stub.url, json={"a": 1}) for _ in range(3))
    finally:
        stub.close()
    assert (first.status, first.body, first.failure, first.ok) == (200, {"ok": True}, None, True)
    assert (second.status, second.field("error"), second.ok) == (400, "bad", False)
    # a body that is not JSON is no body, not an error
    assert (third.status, third.body, third.field("error"), third.ok) == (502, None, None, False)
    assert [r.body for r in stub.requests] == [b'{"a": 1}'] * 3


def test_no_answer_is_a_failure() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    answer = call(f"http://127.0.0.1:{port}/sendMessage")
    assert answer.status == 0 and not answer.ok and answer.body is None
    assert answer.failure and answer.failure.startswith("ClientConnectorError")


def test_a_failure_that_quotes_the_url_hides_the_secrets() -> None:
    answer = call("http://127.0.0.1:1:2/botSECRET-TOKEN/sendMessage",
                  secrets=["SECRET-TOKEN", None])
    assert answer.failure == "InvalidUrlClientError: http://127.0.0.1:1:2/bot<secret>/sendMessage"
