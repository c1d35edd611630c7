"""Running the server: one process, or a Sanic worker manager with ``workers`` processes.

With one worker the app runs in this process (fastest start, one model in
memory). With more, Sanic's manager starts ``workers`` processes that each
build the app from :func:`create_app` and load their own model; they share
the port, the tracker store and (see :mod:`dialogflowlite.stores.factory`)
the conversation locks. Ctrl-C or SIGTERM stops accepting connections,
finishes the requests in flight, then closes the stores.
"""

from __future__ import annotations

import functools
import logging

from dialogflowlite.errors import ConfigError
from dialogflowlite.server.app import ServerConfig, create_app

logger = logging.getLogger(__name__)

DEFAULT_HOST = "0.0.0.0"
DEFAULT_PORT = 5005


def check_config(config: ServerConfig, workers: int) -> None:
    """Fail early on settings that cannot work, before any process starts."""
    from dialogflowlite.server.models import resolve_model_path

    if workers < 1:
        raise ConfigError("--workers must be at least 1")
    if config.auth_token and config.jwt_secret:
        raise ConfigError("use either --auth-token or --jwt-secret, not both")
    resolve_model_path(config)  # a missing model is reported now, not by every worker
    config.read_endpoints()
    config.read_credentials()


def serve(config: ServerConfig, *, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT,
          workers: int = 1) -> None:
    """Serve until interrupted (blocks)."""
    from sanic import Sanic

    config.workers = workers
    check_config(config, workers)
    if workers == 1:
        app = create_app(config)
        app.run(host=host, port=port, single_process=True, access_log=False, motd=False)
        return
    from sanic.worker.loader import AppLoader

    loader = AppLoader(factory=functools.partial(create_app, config))
    app = loader.load()
    app.prepare(host=host, port=port, workers=workers, access_log=False, motd=False)
    Sanic.serve(primary=app, app_loader=loader)
