"""Rasa's ``callback_url``: answer 204 at once, and POST the result there when the work ends.

``POST /model/train`` and ``POST /model/test/intents`` take it, as in Rasa.
What is POSTed is what the request would have answered: the body with its
``Content-Type`` (and headers such as a model's ``filename``), or, when the
work fails, the API's error body as JSON, whatever the failure (one the
handlers do not expect is a 500 saying only "An unexpected error occurred.",
as the synchronous answer would, and is logged in full). A URL that refuses
the result, or cannot be reached, is logged; nothing is retried.

The work is the server's: when the server stops, the work still running is
stopped too (a training's child process ends and its files are removed), and
its URL is sent a 503 error body saying so, as a request would have been
answered (:func:`stop_answering_later`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from dialogflowlite.server.errors import bad_request, response_for

if TYPE_CHECKING:
    from sanic import Request
    from sanic.response import HTTPResponse

logger = logging.getLogger(__name__)

#: seconds a callback URL has to take the result
CALLBACK_TIMEOUT = 60.0
#: seconds a callback URL has, when the server stops, to take the word that its work
#: was stopped (the server's stop waits for that)
STOP_NOTICE_TIMEOUT = 5.0


@dataclass(frozen=True)
class CallbackResult:
    """What a request with a ``callback_url`` would have answered, to POST there."""

    body: bytes
    content_type: str
    headers: dict[str, str] = field(default_factory=dict)


def callback_url(request: Request) -> str | None:
    """The request's ``callback_url`` (None when absent or empty); a 400 naming it when it
    is no http(s) address."""
    url = request.args.get("callback_url")
    if not url:
        return None
    if not url.startswith(("http://", "https://")):
        raise bad_request("callback_url must be an http(s) address",
                          parameter="callback_url", location="query")
    return url


def answer_later(request: Request, url: str, work: Callable[[], Awaitable[CallbackResult]],
                 what: str) -> HTTPResponse:
    """Run ``work`` in the background and POST its result (or its error) to ``url``;
    the 204 to answer now. ``what`` names the work in log lines ("the training")."""
    from sanic.response import empty

    tasks = getattr(request.app.ctx, "callback_tasks", None)
    if tasks is None:
        tasks = request.app.ctx.callback_tasks = set()
    # kept referenced while it runs: the event loop holds its tasks weakly
    task = asyncio.get_running_loop().create_task(_run_and_post(url, work, what))
    tasks.add(task)
    task.add_done_callback(tasks.discard)
    return empty(status=204, headers={"location": url})


async def stop_answering_later(app: Any) -> None:
    """Stop the work still running for callback URLs, as the server stops, and tell each
    URL so (within :data:`STOP_NOTICE_TIMEOUT`).

    The work was left to the stopped event loop: a training's child process trained
    on with no server to hear of it, its temporary files stayed, and the URL waited
    for a result that never came.
    """
    running = [task for task in getattr(app.ctx, "callback_tasks", None) or ()
               if not task.done()]
    for task in running:
        task.cancel()
    if running:
        await asyncio.wait(running, timeout=2 * STOP_NOTICE_TIMEOUT)


async def _run_and_post(url: str, work: Callable[[], Awaitable[CallbackResult]],
                        what: str) -> None:
    try:
        result = await work()
    except asyncio.CancelledError:  # the server stops (stop_answering_later)
        from dialogflowlite.errors import ApiError

        logger.warning("%s for %s was stopped with the server", what, url)
        _, body = response_for(ApiError(
            503, "ServiceUnavailable", f"the server stopped before {what} ended; send the "
            "request again when it is back"))
        await _post(url, {"json": body}, what, seconds=STOP_NOTICE_TIMEOUT)
        raise
    except Exception as e:
        status, body = response_for(e)
        if status >= 500 and body.get("reason") == "ServerError":
            logger.error("%s for %s failed", what, url, exc_info=e)
        else:
            logger.warning("%s for %s failed: %s", what, url, body["message"])
        payload: dict[str, Any] = {"json": body}
    else:
        payload = {"data": result.body,
                   "headers": {**result.headers, "Content-Type": result.content_type}}
    await _post(url, payload, what)


async def _post(url: str, payload: dict[str, Any], what: str, *,
                seconds: float = CALLBACK_TIMEOUT) -> None:
    import aiohttp

    try:
        timeout = aiohttp.ClientTimeout(total=seconds)
        async with aiohttp.ClientSession(timeout=timeout) as session, \
                session.post(url, **payload) as response:
            if response.status >= 300:
                logger.error("the result of %s was not accepted by %s (status %d)", what,
                             url, response.status)
    except (aiohttp.ClientError, asyncio.TimeoutError) as e:
        logger.error("the result of %s could not be sent to %s: %s", what, url, e)
