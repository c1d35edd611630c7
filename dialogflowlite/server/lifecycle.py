"""Server start and stop: load the model into ``app.ctx.agent``, close stores on the way out.

Sanic stops accepting connections first, waits up to
``graceful_shutdown_timeout`` for requests in flight (so a message being
answered is answered and stored), and only then runs ``after_server_stop``,
which closes the batcher and the stores. An agent handed to
:func:`~dialogflowlite.server.app.create_app` belongs to the caller: the
server neither loads another one at start nor closes its stores.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING

from dialogflowlite.server.handling import MessageHandler

if TYPE_CHECKING:
    from sanic import Sanic

logger = logging.getLogger(__name__)


def install(app: Sanic) -> None:
    """Attach the message handler and the start/stop listeners to ``app``."""
    app.ctx.handler = MessageHandler(app)
    app.ctx.owns_agent = app.ctx.agent is None
    app.ctx.model_loaded = not app.ctx.owns_agent

    @app.before_server_start
    async def _start(app: Sanic) -> None:
        if getattr(app.ctx, "model_swap_lock", None) is None:
            app.ctx.model_swap_lock = asyncio.Lock()
        if not app.ctx.model_loaded:
            from dialogflowlite.server.models import load_server_agent, model_fingerprints

            started = time.perf_counter()
            agent, model_file = await asyncio.get_running_loop().run_in_executor(
                None, load_server_agent, app.ctx.config)
            app.ctx.agent = agent
            app.ctx.model_file = model_file
            app.ctx.model_fingerprints = model_fingerprints(model_file)
            app.ctx.model_loaded = True
            seconds = time.perf_counter() - started
            app.ctx.metrics.model_load_seconds.set(seconds)
            app.ctx.metrics.model_loads.inc()
            logger.info("model %s loaded in %.2f s", model_file.name, seconds)
        app.ctx.handler.start()

    @app.after_server_stop
    async def _stop(app: Sanic) -> None:
        await app.ctx.handler.close()
        if app.ctx.owns_agent and app.ctx.agent is not None:
            from dialogflowlite.server.models import close_stores

            await close_stores(app.ctx.agent)
