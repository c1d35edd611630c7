"""The Sanic app factory: ``create_app(config, agent=None) -> Sanic``.

The factory only wires things up: settings, the error handler, auth, CORS,
metrics, channels (from the ``dfl_register_channels`` hook), the HTTP API
blueprints and plugins' ``dfl_server_setup``. The model is loaded by a
``before_server_start`` listener into ``app.ctx.agent`` (unless an agent is
passed in, as tests and embedding applications do), so every worker process
loads its own copy after it has started.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dialogflowlite.io.endpoint_settings import read_settings_file
from dialogflowlite.shared.log_setup import LogSettings, configure_logging, in_worker_process

if TYPE_CHECKING:
    from sanic import Sanic

    from dialogflowlite.agent import Agent

logger = logging.getLogger(__name__)

_app_numbers = itertools.count(1)


@dataclass
class ServerConfig:
    """Everything ``dialogflowlite run`` can set; picklable, so workers rebuild the app.

    ``endpoints`` / ``credentials`` default to the files ``endpoints_file`` /
    ``credentials_file`` name (``--endpoints`` / ``--credentials``; relative
    to the working folder, else to the project), else to the project's
    ``endpoints.yml`` and ``credentials.yml``. ``tracker_db`` is the SQLite file used when
    endpoints.yml configures no tracker store (relative to the project).
    """

    project: str = "."
    model_path: str | None = None
    enable_api: bool = False
    auth_token: str | None = None
    jwt_secret: str | None = None
    jwt_method: str = "HS256"
    cors_origins: tuple[str, ...] = ()
    endpoints: dict[str, Any] | None = None
    credentials: dict[str, Any] | None = None
    endpoints_file: str | None = None
    credentials_file: str | None = None
    tracker_db: str = "trackers.db"
    #: load transformer NLU models with dynamic int8 quantization (faster on CPU)
    quantize: bool = False
    #: PyTorch threads per worker (None: PyTorch's default, one per core)
    torch_threads: int | None = None
    #: worker processes serving this config (several share the stores and need shared locks)
    workers: int = 1
    #: largest request body accepted (bytes); larger ones get 413
    max_request_bytes: int = 1_000_000
    #: longest user message accepted (characters); longer ones get 413
    max_message_chars: int = 5_000
    #: most messages parsed in one NLU batch
    max_batch: int = 64
    #: seconds a request may take before it is answered with 503
    response_timeout: float = 60.0
    #: seconds a client may take to send a whole request (None: 60, or
    #: ``response_timeout`` when that is longer); Sanic's REQUEST_TIMEOUT
    request_timeout: float | None = None
    #: seconds a stopping worker waits for requests in flight
    graceful_shutdown_timeout: float = 15.0
    #: whether ``/chat`` serves the web chat page (needs the REST channel)
    webchat: bool = True
    #: conversations with a message within this many seconds count as active
    active_window: float = 300.0
    #: serve HTTPS with this PEM certificate (chain) and key (see server/tls.py)
    ssl_certificate: str | None = None
    ssl_keyfile: str | None = None
    #: CA certificates loaded into the TLS context, as Rasa's --ssl-ca-file
    ssl_ca_file: str | None = None
    #: password of an encrypted key (kept out of the repr, which may be logged)
    ssl_password: str | None = field(default=None, repr=False)
    #: serve only this input channel (``--connector``); None: those of credentials.yml
    connector: str | None = None
    #: (address, port, "UDP" or "TCP") of a syslog server the logs also go to
    syslog: tuple[str, int, str] | None = None
    #: the command line's logging (level, --log-file, ...), set up again in worker processes
    log_settings: LogSettings | None = None
    #: set by the start-up checks when there is no local model and the model server of
    #: endpoints.yml had none yet: the server starts without a model and keeps pulling
    start_without_model: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def project_dir(self) -> Path:
        return Path(self.project).resolve()

    def read_endpoints(self) -> dict[str, Any]:
        if self.endpoints is None:
            found = None if self.endpoints_file else _optional_yaml(self.project_dir, "endpoints")
            self.endpoints = (_read_given_yaml(self.endpoints_file, self.project_dir, "endpoints")
                              if self.endpoints_file
                              else read_settings_file(found) if found is not None else {})
            # the file as the user knows it: the --endpoints value as typed, or the
            # project's own (endpoints.yml, or endpoints.yaml)
            warn_unknown_sections(self.endpoints,
                                  self.endpoints_file or (found.name if found else None))
        return self.endpoints

    def endpoints_path(self) -> Path | None:
        """The endpoints file read: the ``--endpoints`` one, or the project's own."""
        if self.endpoints_file:
            return _given_path(self.endpoints_file, self.project_dir)
        return _optional_yaml(self.project_dir, "endpoints")

    def endpoints_errors(self) -> contextlib.AbstractContextManager[None]:
        """Errors about endpoints.yml raised inside, at the file read and the line of the
        setting they name (:func:`~dialogflowlite.io.settings_errors.errors_located_in`)."""
        from dialogflowlite.io.settings_errors import errors_located_in

        return errors_located_in(self.endpoints_path(), "endpoints.yml")

    def credentials_path(self) -> Path | None:
        """The credentials file read: the ``--credentials`` one, or the project's own."""
        if self.credentials_file:
            return _given_path(self.credentials_file, self.project_dir)
        return _optional_yaml(self.project_dir, "credentials")

    def read_credentials(self) -> dict[str, Any]:
        if self.credentials is None:
            self.credentials = (
                _read_given_yaml(self.credentials_file, self.project_dir, "credentials")
                if self.credentials_file
                else _read_optional_yaml(self.project_dir, "credentials"))
        return self.credentials


#: the endpoints.yml sections something here reads
ENDPOINT_SECTIONS = ("action_endpoint", "tracker_store", "lock_store", "event_broker", "nlg",
                     "models", "masking")


def warn_unknown_sections(endpoints: dict[str, Any], source: str | Path | None = None,
                          ) -> list[str]:
    """Log (and return) the endpoints sections nothing here reads; ``source`` is the file
    they were read from, named in the warning (default: endpoints.yml)."""
    from dialogflowlite.io.formats import did_you_mean

    unknown = [key for key in endpoints if key not in ENDPOINT_SECTIONS]
    for key in unknown:
        hint = did_you_mean(str(key), list(ENDPOINT_SECTIONS))
        logger.warning("%s: section %r is not used here%s (the endpoints sections read "
                       "are: %s)", source or "endpoints.yml", key,
                       f"; {hint}" if hint else "", ", ".join(ENDPOINT_SECTIONS))
    return unknown


def _optional_yaml(folder: Path, stem: str) -> Path | None:
    """``stem.yml`` (or ``stem.yaml``) in ``folder``, when there is one."""
    for suffix in (".yml", ".yaml"):
        path = folder / f"{stem}{suffix}"
        if path.is_file():
            return path
    return None


def _read_optional_yaml(folder: Path, stem: str) -> dict[str, Any]:
    """``stem.yml`` (or ``.yaml``) of ``folder`` read by :func:`read_settings_file`; empty
    when there is none."""
    path = _optional_yaml(folder, stem)
    return read_settings_file(path) if path is not None else {}


def _given_path(name: str, folder: Path) -> Path:
    """The file a ``--endpoints`` / ``--credentials`` value names: as typed, else in the
    project folder."""
    path = Path(name).expanduser()
    if not path.is_absolute() and not path.is_file() and (folder / path).is_file():
        path = folder / path
    elif not path.is_absolute() and not path.exists() and (folder / path).is_dir():
        path = folder / path  # to say it is a folder, not that nothing is there
    return path


def _read_given_yaml(name: str, folder: Path, kind: str) -> dict[str, Any]:
    """The file ``--endpoints`` / ``--credentials`` names; a missing one is an error."""
    from dialogflowlite.errors import ConfigError

    path = _given_path(name, folder)
    if path.is_dir():
        raise ConfigError(f"the {kind} file {name} is a folder",
                          hint=f"pass the file itself with --{kind} (such as {kind}.yml), or "
                               f"leave it out to use {kind}.yml of the project")
    if not path.is_file():
        raise ConfigError(f"the {kind} file {name} does not exist",
                          hint=f"pass an existing file with --{kind}, or leave it out to use "
                               f"{kind}.yml of the project")
    return read_settings_file(path)


def create_app(config: ServerConfig | None = None, agent: Agent | None = None) -> Sanic:
    """Build the server: routes, channels, auth, CORS, metrics; the model loads on start."""
    from sanic import Sanic

    from dialogflowlite.plugins.manager import get_plugin_manager
    from dialogflowlite.server import cors, lifecycle, long_requests
    from dialogflowlite.server.auth import Authenticator, install_auth
    from dialogflowlite.server.channels.loader import mount_channels
    from dialogflowlite.server.channels.settings import located_in
    from dialogflowlite.server.errors import install_error_handler
    from dialogflowlite.server.metrics import ServerMetrics
    from dialogflowlite.server.routes import register_routes
    from dialogflowlite.server.tls import install_tls

    config = config or ServerConfig()
    if config.log_settings is not None and in_worker_process():
        # a worker process starts with Python's default logging: set up the command's
        configure_logging(config.log_settings)
    if config.syslog:
        from dialogflowlite.server.syslog_logging import install_syslog_handler

        # each worker process has its own root logger; once per process is enough
        install_syslog_handler(*config.syslog)
    # Worker processes rebuild the app and find it by name, so the name must not depend
    # on the process: the n-th app of every process gets the same one.
    # Sanic would add handlers of its own to its loggers, and every line it logs
    # would then be printed twice: once by them, once by the root handler that
    # configure_logging set up (with the --log-file and syslog handlers).
    app = Sanic(f"dialogflowlite_{next(_app_numbers)}", configure_logging=False)
    app.config.REQUEST_MAX_SIZE = config.max_request_bytes
    app.config.WEBSOCKET_MAX_SIZE = config.max_request_bytes
    app.config.RESPONSE_TIMEOUT = config.response_timeout
    app.config.REQUEST_TIMEOUT = (config.request_timeout if config.request_timeout is not None
                                  else max(config.response_timeout, 60.0))
    app.config.GRACEFUL_SHUTDOWN_TIMEOUT = config.graceful_shutdown_timeout
    app.config.KEEP_ALIVE_TIMEOUT = 75
    app.config.FALLBACK_ERROR_FORMAT = "json"
    app.config.ACCESS_LOG = False
    app.config.MOTD = False

    app.ctx.config = config
    install_tls(app, config)
    app.ctx.agent = agent
    app.ctx.metrics = ServerMetrics(config.active_window)
    # no model_file_signature for a given agent: only following another worker's choice
    # compares it, and an app given its agent shares no choice (see lifecycle.install)
    app.ctx.model_file = getattr(agent, "model_path", None)

    install_error_handler(app)
    authenticator = Authenticator(config.auth_token, config.jwt_secret, config.jwt_method)
    install_auth(app, authenticator)
    cors.install_cors(app, config.cors_origins)
    lifecycle.install(app)
    long_requests.install(app)
    with located_in(config.credentials_path()):
        channels = mount_channels(app, config.read_credentials(), config.connector)
    _log_missing_webchat(config, channels)
    register_routes(app, config, channels)
    if config.enable_api and not authenticator.enabled:
        logger.warning("the HTTP API is enabled without --auth-token or --jwt-secret: "
                       "anyone who can reach the server can read and change conversations")
    get_plugin_manager().hook.dfl_server_setup(app=app)
    return app


def _log_missing_webchat(config: ServerConfig, channels: list) -> None:
    """Say why ``/chat`` is not served when it was not turned off but cannot work."""
    if not config.webchat or any(channel.name() == "rest" for channel in channels):
        return
    why = (f"--connector {config.connector} serves only that channel" if config.connector
           else "credentials.yml does not enable it")
    logger.info("no web chat at /chat: it talks to the REST channel, and %s", why)
