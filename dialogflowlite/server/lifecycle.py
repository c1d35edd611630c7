"""Server start and stop: load the model into ``app.ctx.agent``, close stores on the way out.

Sanic stops accepting connections first, waits up to
``graceful_shutdown_timeout`` for requests in flight (so a message being
answered is answered and stored), and only then runs ``after_server_stop``.
Each answer given while the server stops closes its connection
(``Connection: close``), so a client that keeps its connection open sends no
more messages to it.
In ``after_server_stop`` the work still running for a ``callback_url`` (a training, an NLU
test) is stopped, and its URL told so (:mod:`~dialogflowlite.server.callbacks`);
the message handler waits, up to its ``finish_timeout`` (15 s), for
the turns still running (a turn goes on when Sanic cancels its request:
see :mod:`~dialogflowlite.server.handling`), then closes the batcher; the
reminders not yet due are stopped (those of the agents that ``PUT /model``
swapped out too) and those firing finish, and the stores close last, the
event broker after publishing what it still holds (also after ``DELETE
/model``, which keeps them open for the next model). An agent handed to
:func:`~dialogflowlite.server.app.create_app` belongs to the caller: the
server neither loads another one at start nor closes its stores or its
reminders.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import time
import weakref
from typing import TYPE_CHECKING

from dialogflowlite.server.handling import MessageHandler

if TYPE_CHECKING:
    from sanic import Sanic

logger = logging.getLogger(__name__)


def _load_into(app: Sanic) -> None:
    from dialogflowlite.server.models import (
        file_signature,
        load_server_agent,
        resolve_model_path,
        serve_agent,
    )

    started = time.perf_counter()
    if app.ctx.config.start_without_model and not _has_local_model(app):
        # the model server had none at start: the pulls load the first one
        app.ctx.model_loaded = True
        return
    model_file = resolve_model_path(app.ctx.config)
    signature = file_signature(model_file)  # before the load: see serve_agent
    agent, model_file = load_server_agent(app.ctx.config, model_file)
    seconds = serve_agent(app, agent, model_file, signature, started)
    app.ctx.model_loaded = True
    logger.info("model %s loaded in %.2f s", model_file.name, seconds)


def _has_local_model(app: Sanic) -> bool:
    """Whether ``models/`` holds a model this server can serve (another worker's pull)."""
    from dialogflowlite.artifact import latest_model

    folder = app.ctx.config.project_dir / "models"
    return latest_model(folder, include_rasa=False) is not None


def preload_agent(app: Sanic) -> None:
    """Load the model now, before the server starts (one process: errors surface here)."""
    if not app.ctx.model_loaded:
        _load_into(app)


def install(app: Sanic) -> None:
    """Attach the message handler, the model loading and the start/stop listeners."""
    app.ctx.handler = MessageHandler(app)
    app.ctx.owns_agent = app.ctx.agent is None
    app.ctx.model_loaded = not app.ctx.owns_agent
    app.ctx.loading = None
    #: whether the server is stopping: each answer then closes its connection
    app.ctx.stopping = False
    #: the processors of the agents the server loaded and then swapped out (weakly:
    #: only their pending reminders keep them alive)
    app.ctx.retired_processors = weakref.WeakSet()
    given = None if app.ctx.owns_agent else app.ctx.agent
    #: the stores of the agent ``DELETE /model`` unloaded, until the next model takes them
    app.ctx.unloaded_stores = None
    #: with --workers, where the workers tell each other which model they serve
    app.ctx.shared_model = None
    if app.ctx.owns_agent and app.ctx.config.workers > 1:
        from dialogflowlite.server.models import SharedModelChoice
        from dialogflowlite.server.workers import server_run_id

        app.ctx.shared_model = SharedModelChoice(app.ctx.config.project_dir / "models",
                                                 server_run_id())

    @app.before_server_start
    async def _start(app: Sanic) -> None:
        app.ctx.stopping = False
        if getattr(app.ctx, "model_swap_lock", None) is None:
            app.ctx.model_swap_lock = asyncio.Lock()
        app.ctx.handler.start()

    @app.after_server_start
    async def _load_in_background(app: Sanic) -> None:
        # A worker reports ready at once and loads its model meanwhile (requests wait
        # for it, /health says 503): a worker that is still loading can then be
        # stopped like any other, and Sanic's start-up timeout never hits a slow load.
        if not app.ctx.model_loaded and app.ctx.loading is None:
            app.ctx.loading = asyncio.get_running_loop().create_task(_load_or_stop(app))

    @app.after_server_start
    async def _pull_models(app: Sanic) -> None:
        # endpoints.yml `models:`: a model server's new models replace the running one
        from dialogflowlite.server.model_server import ModelServer, keep_pulling

        if not app.ctx.owns_agent:
            return
        server = ModelServer.from_config(app.ctx.config.read_endpoints().get("models"),
                                         app.ctx.config.project_dir)
        if server is None:
            return

        async def pull_when_loaded() -> None:
            if app.ctx.loading is not None:
                await asyncio.shield(app.ctx.loading)
            await keep_pulling(app, server)

        app.ctx.model_pulling = asyncio.get_running_loop().create_task(pull_when_loaded())

    @app.after_server_start
    async def _stop_with_the_manager(app: Sanic) -> None:
        # a worker whose manager was killed (SIGKILL, the OOM killer) kept serving the
        # port on its own, unseen, and the next `run` found the port taken
        if app.ctx.config.workers > 1:
            app.ctx.orphan_watch = asyncio.get_running_loop().create_task(
                _stop_when_orphaned(app, os.getppid()))

    @app.before_server_stop
    async def _stop_keeping_connections(app: Sanic) -> None:
        app.ctx.stopping = True

    @app.on_response
    async def _last_answer_on_its_connection(request, response) -> None:
        # Sanic closes only idle connections when it stops: a client that keeps its
        # connection busy (a proxy, an SDK) went on sending messages until
        # graceful_shutdown_timeout was over, and then the ones in flight were cut off,
        # stored but answered with a dropped connection (which a client sends again).
        # `Connection: close` on each answer ends them, and the stop waits for no more.
        stream = getattr(request, "stream", None)
        if request.app.ctx.stopping and hasattr(stream, "keep_alive"):
            stream.keep_alive = False

    @app.before_server_stop
    async def _stop_pulling(app: Sanic) -> None:
        pulling = getattr(app.ctx, "model_pulling", None)
        if pulling is not None and not pulling.done():
            pulling.cancel()

    @app.on_request(priority=75)
    async def _ticket_model_change(request) -> None:
        # a PUT or DELETE /model is ordered by its arrival (after the token check), not
        # by when this worker, done with its first load or with following another
        # worker's choice below, lets it run: that wait may be a whole model load
        route = request.route
        if route is None or not getattr(route.ctx, "model_change", False):
            return
        from dialogflowlite.server.models import choice_ticket

        request.ctx.model_change_ticket = await choice_ticket(request.app)

    @app.on_request(priority=50)
    async def _wait_for_model(request) -> None:
        loading = request.app.ctx.loading
        route = request.route
        if route is None or getattr(route.ctx, "no_model", False):
            return
        if loading is not None and not loading.done():
            await asyncio.shield(loading)
        if request.app.ctx.shared_model is not None:
            # another worker's PUT/DELETE /model (or pull) is this worker's too, before
            # it answers anything more
            from dialogflowlite.server.models import follow_shared_choice

            await follow_shared_choice(request.app)

    @app.after_server_stop
    async def _stop(app: Sanic) -> None:
        from dialogflowlite.server.callbacks import stop_answering_later

        loading = app.ctx.loading
        if loading is not None and not loading.done():
            loading.cancel()
        # before the NLU thread and the stores close: a callback's work may use them
        await stop_answering_later(app)
        await app.ctx.handler.close()
        # reminders not yet due would otherwise fire into closed stores (they are not
        # kept over a restart in any case, as in Rasa: see docs/deployment.md)
        processors = list(app.ctx.retired_processors)
        if app.ctx.agent is not None:
            processors.append(getattr(app.ctx.agent, "processor", None))
        # the caller's agent keeps its reminders: the caller closes it
        given_processor = None if app.ctx.owns_agent else getattr(given, "processor", None)
        for processor in processors:
            if processor is not None and processor is not given_processor:
                await processor.close()
        app.ctx.retired_processors.clear()
        if app.ctx.owns_agent:
            from dialogflowlite.server.models import close_store_objects, stores_of

            if app.ctx.agent is not None:
                await close_store_objects(stores_of(app.ctx.agent))
            elif app.ctx.unloaded_stores is not None:
                await close_store_objects(app.ctx.unloaded_stores)


async def _load_or_stop(app: Sanic) -> None:
    try:
        await asyncio.get_running_loop().run_in_executor(None, _load_into, app)
    except Exception as e:
        from dialogflowlite.errors import DialogflowLiteError

        text = e.render() if isinstance(e, DialogflowLiteError) else repr(e)
        logger.error("the model could not be loaded, the server stops: %s", text,
                     exc_info=not isinstance(e, DialogflowLiteError))
        multiplexer = getattr(app, "m", None)
        if multiplexer is not None and getattr(multiplexer, "name", ""):
            multiplexer.terminate()
        else:
            app.stop()


#: how often a worker looks whether its manager is still there (seconds)
ORPHAN_CHECK_SECONDS = 2.0


async def _stop_when_orphaned(app: Sanic, manager_pid: int) -> None:
    """Stop this worker once its manager process is gone (it is then another
    process's child): nothing would ever stop it, nor restart the others."""
    while True:
        await asyncio.sleep(ORPHAN_CHECK_SECONDS)
        if os.getppid() != manager_pid:
            logger.error("the server's manager process %d is gone: this worker stops too",
                         manager_pid)
            # as the manager would have stopped it: requests in flight are finished
            # (app.stop() would ask the manager, which is gone)
            os.kill(os.getpid(), signal.SIGTERM)
            return
