"""Running the server: one process, or a Sanic worker manager with ``workers`` processes.

With one worker the app runs in this process (fastest start, one model in
memory). With more, Sanic's manager starts ``workers`` processes that each
build the app from :func:`create_app` and load their own model; they share
the port, the tracker store and (see :mod:`dialogflowlite.stores.factory`)
the conversation locks. Ctrl-C or SIGTERM stops accepting connections,
finishes the requests in flight, then closes the stores.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import logging
import os
import socket
from typing import Any

from dialogflowlite.errors import ConfigError
from dialogflowlite.server.app import ServerConfig, create_app
from dialogflowlite.server.lifecycle import preload_agent

logger = logging.getLogger(__name__)

DEFAULT_HOST = "0.0.0.0"
DEFAULT_PORT = 5005
#: seconds a worker may take to load the model and report ready
WORKER_START_SECONDS = 180
#: seconds a stopping worker may take, after its requests and turns are done, to stop
#: the reminders and close the stores and the event broker
WORKER_CLOSE_SECONDS = 15


def default_torch_threads(workers: int) -> int:
    """PyTorch threads per worker: half its share of the cores, at least one.

    In a worker, two threads run models at the same time (the NLU batch and the
    policies of other conversations), each with this many PyTorch threads; more
    threads than cores only make them wait for each other.
    """
    return max(1, (os.cpu_count() or 1) // (2 * workers))


def check_config(config: ServerConfig, workers: int) -> None:
    """Fail early on settings that cannot work, before any process starts."""
    from dialogflowlite.server.models import resolve_model_path

    if workers < 1:
        raise ConfigError("--workers must be at least 1")
    _check_options(config)
    from dialogflowlite.artifact import open_model

    endpoints = config.read_endpoints()
    _first_model_from_server(config, endpoints)
    # A missing or damaged model is reported now, once, not by every worker.
    if not config.start_without_model:
        open_model(resolve_model_path(config))
    config.read_credentials()
    from dialogflowlite.brokers.base import create_event_broker

    # an unknown broker type or setting is one clear error now (brokers connect lazily,
    # unless the broker's own settings ask for a check, like Rasa's raise_on_failure)
    with config.endpoints_errors():
        broker = create_event_broker(endpoints.get("event_broker"), project=config.project_dir)
        if broker is not None:
            import asyncio

            asyncio.run(broker.check_connection())


def check_channels_and_stores(config: ServerConfig) -> None:
    """Build the channels of credentials.yml and the stores of endpoints.yml once, and
    close them: a setting they do not take is one clear error here, at the file and
    line of the setting, not one per worker after the server said it is serving.
    Building them connects to nothing."""
    import asyncio

    from dialogflowlite.server.channels.loader import enabled_channels
    from dialogflowlite.server.channels.settings import located_in
    from dialogflowlite.stores.factory import create_lock_store, create_tracker_store

    with located_in(config.credentials_path()):
        enabled_channels(config.read_credentials(), config.connector)
    endpoints = config.read_endpoints()
    with config.endpoints_errors():
        tracker_store = create_tracker_store(endpoints.get("tracker_store"),
                                             project=config.project_dir,
                                             default_sqlite=config.tracker_db)
        # (as for one worker: the workers warn themselves about a lock store they lack)
        lock_store = create_lock_store(endpoints.get("lock_store"), project=config.project_dir,
                                       tracker_store=tracker_store, workers=1)

    async def close() -> None:
        await tracker_store.close()
        await lock_store.close()

    asyncio.run(close())


def _check_options(config: ServerConfig) -> None:
    """The cheap checks of TLS files, timeouts, ``--cors`` and ``--connector``, before
    the model loads."""
    from dialogflowlite.server.channels.loader import connector_name
    from dialogflowlite.server.cors import AllowedOrigins
    from dialogflowlite.server.tls import ssl_context_of

    for name in ("response_timeout", "request_timeout"):
        value = getattr(config, name)
        if value is not None and value <= 0:
            raise ConfigError(f"--{name.replace('_', '-')} must be more than 0 seconds")
    # built once here so a bad file or password is one clear error; each serving
    # process builds its own context again when it starts (server/tls.py)
    ssl_context_of(config)
    # (each worker's app reads them again: with several, after "serving" was said)
    AllowedOrigins.of(config.cors_origins)
    if config.connector:
        connector_name(config.connector)


def _first_model_from_server(config: ServerConfig, endpoints: dict) -> None:
    """Without a local model, pull one from the model server of endpoints.yml (if any)."""
    import asyncio

    from dialogflowlite.artifact import latest_model
    from dialogflowlite.server.model_server import ModelServer

    server = ModelServer.from_config(endpoints.get("models"), config.project_dir)
    # a Rasa model in the folder cannot be served: pull one as if the folder were empty
    if (server is None or config.model_path
            or latest_model(server.folder, include_rasa=False) is not None):
        return
    if asyncio.run(server.pull()) is not None:
        return
    reason = server.no_model_reason or "it sent none"
    if not server.wait_time_between_pulls:
        # pulled once only: nothing would ever bring the server a model
        raise ConfigError(f"no local model, and none could be pulled from {server.url}: "
                          f"{reason}",
                          hint="give the model server a model, set wait_time_between_pulls "
                               "to wait for one, or train one with `dialogflowlite train`")
    # As Rasa: a model server that is down or empty at start (it may be starting too)
    # does not stop the server; the next pulls bring the model.
    logger.warning("no local model, and none could be pulled from %s yet: %s; the server "
                   "starts without a model and pulls again every %g s (until one is "
                   "loaded, requests that need a model are answered 409)",
                   server.url, reason, server.wait_time_between_pulls)
    config.start_without_model = True


def listening_socket(host: str, port: int) -> socket.socket:
    """A socket bound to ``host``:``port`` and listening, for the server to serve on.

    Bound before anything else is done, so that a port in use is one clear error
    at once (not after the model loaded, and never after the log said the server
    is serving).
    """
    from sanic.server.socket import bind_socket

    try:
        return bind_socket(host, port)
    except OSError as e:
        raise _listen_error(e, host, port) from e


def _listen_error(error: OSError, host: str, port: int) -> ConfigError:
    """What a failed bind means, naming the address and port and the way out."""
    if error.errno == errno.EADDRINUSE:
        # the bare "Address already in use" names neither the port nor the way out
        return ConfigError(f"port {port} on {host} is already in use",
                           hint="stop the program that listens there (another "
                                "`dialogflowlite run`?), or pass another --port")
    if error.errno == errno.EACCES:
        return ConfigError(f"no permission to listen on port {port} on {host}",
                           hint="a port below 1024 needs administrator rights: pass "
                                "--port 1024 or higher")
    # an address this machine does not have, a host name that does not resolve
    return ConfigError(f"cannot listen on {host} (port {port}): {error.strerror or error}",
                       hint="pass an address of this machine with -i (0.0.0.0: all of them)")


def server_url(scheme: str, host: str, port: int) -> str:
    """The URL of the server on ``host``:``port``, an IPv6 address in brackets
    (``http://[::1]:5005``): unbracketed, its colons read as the port's."""
    if ":" in host and not host.startswith("["):
        host = f"[{host.replace('%', '%25')}]"  # a zone (fe80::1%eth0) is %25 in a URL
    return f"{scheme}://{host}:{port}"


def serve(config: ServerConfig, *, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT,
          workers: int = 1) -> None:
    """Serve until interrupted (blocks)."""
    if workers < 1:
        raise ConfigError("--workers must be at least 1")
    sock = listening_socket(host, port)
    try:
        _serve_on(sock, config, host, workers)
    finally:
        sock.close()  # Sanic closes it too when it served; closing twice is harmless


def _serve_on(sock: socket.socket, config: ServerConfig, host: str, workers: int) -> None:
    """Check the settings, load what can be loaded once, then serve on ``sock``."""
    from sanic import Sanic

    config.workers = workers
    if config.syslog:
        from dialogflowlite.server.syslog_logging import install_syslog_handler

        install_syslog_handler(*config.syslog)
    check_config(config, workers)
    if config.torch_threads is None and "OMP_NUM_THREADS" not in os.environ:
        config.torch_threads = default_torch_threads(workers)
    scheme = "https" if config.ssl_certificate else "http"
    port = sock.getsockname()[1]  # the port asked for, or the one given for port 0
    serving = ("serving %s on %s with %d worker(s)%s", config.project_dir.name,
               server_url(scheme, host, port), workers,
               "; HTTP API enabled" if config.enable_api else "")
    # first, for one worker too: the agent builds the stores without knowing which
    # endpoints file they came from, so their errors named no file and line
    check_channels_and_stores(config)
    # Sanic takes the socket instead of an address (it refuses both at once)
    if workers == 1:
        # Loading before the server starts turns a bad model, channel or store setting
        # into one clear error, before the server says it is serving.
        app = create_app(config, agent=None)
        preload_agent(app)
        logger.info(*serving)
        app.run(sock=sock, single_process=True, access_log=False, motd=False)
        return
    logger.info(*serving)
    from sanic.worker.loader import AppLoader
    from sanic.worker.manager import WorkerManager

    # Workers report ready before they load the model, but even starting a process can
    # take longer than Sanic's default 30 s allowance on a busy machine.
    WorkerManager.THRESHOLD = max(WorkerManager.THRESHOLD, WORKER_START_SECONDS * 10)
    # When a worker fails to start, Sanic kills its whole process group; leading our own
    # group keeps that from reaching whatever started us (a script, a test runner).
    if os.getpgrp() != os.getpid():
        os.setpgid(0, 0)
    _close_listener_at_shutdown(WorkerManager, sock)
    from dialogflowlite.server.callbacks import STOP_NOTICE_TIMEOUT
    from dialogflowlite.server.handling import MessageHandler

    # (a callback's work is stopped first, its URL told within twice the notice's time)
    _wait_for_workers_at_shutdown(WorkerManager, config.graceful_shutdown_timeout
                                  + 2 * STOP_NOTICE_TIMEOUT + MessageHandler.finish_timeout
                                  + WORKER_CLOSE_SECONDS)
    loader = AppLoader(factory=functools.partial(create_app, config))
    app = loader.load()
    app.prepare(sock=sock, workers=workers, access_log=False, motd=False)
    Sanic.serve(primary=app, app_loader=loader)


def _close_listener_at_shutdown(manager_class: type, sock: socket.socket) -> None:
    """Have the worker manager close its copy of the listening socket as soon as it is
    told to stop. The workers stop listening at once, but the manager's copy kept the
    port open: connections made after SIGTERM waited unanswered until the workers had
    finished (16 s), then were reset; now they are refused at once, as with one worker."""
    manager_class.dfl_listener = sock  # type: ignore[attr-defined]
    if getattr(manager_class.shutdown_signal, "closes_listener", False):
        return
    original = manager_class.shutdown_signal

    def shutdown_signal(manager: Any, signum: int, frame: Any) -> Any:
        with contextlib.suppress(OSError):
            manager_class.dfl_listener.close()  # type: ignore[attr-defined]
        return original(manager, signum, frame)

    shutdown_signal.closes_listener = True  # type: ignore[attr-defined]
    manager_class.shutdown_signal = shutdown_signal


def _wait_for_workers_at_shutdown(manager_class: type, seconds: float) -> None:
    """Have the worker manager, once told to stop, wait up to ``seconds`` for its workers
    to finish before it exits. Sanic's manager waited 10 s for each, then exited, and
    its workers were terminated with it, in the middle of their stop: a message still
    being answered then (a slow custom action) was cut off and never stored, and the
    stores were not closed, where one worker waits for it (graceful_shutdown_timeout,
    then the turns still running)."""
    manager_class.dfl_worker_stop_seconds = seconds  # type: ignore[attr-defined]
    if getattr(manager_class.cleanup, "waits_for_workers", False):
        return
    original = manager_class.cleanup

    def cleanup(manager: Any) -> Any:
        import time

        deadline = time.monotonic() + manager_class.dfl_worker_stop_seconds  # type: ignore[attr-defined]
        for process in manager.processes:
            while process.is_alive() and time.monotonic() < deadline:
                time.sleep(0.1)
        return original(manager)

    cleanup.waits_for_workers = True  # type: ignore[attr-defined]
    manager_class.cleanup = cleanup
