"""Setting up logging: level, log file, or a logging config file.

The settings are a small picklable :class:`LogSettings`, so a server worker
process (``run --workers N``) can set up the same logging as the command that
started it.
"""

from __future__ import annotations

import logging
import logging.config
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from dialogflowlite.errors import ConfigError

#: libraries whose INFO logs would drown ours
NOISY_LOGGERS = ("urllib3", "matplotlib", "PIL", "filelock", "httpx", "asyncio",
                 "transformers", "huggingface_hub", "sanic.root", "sanic.access")
#: libraries whose failures our code reports itself, clearer and once: their own ERROR
#: lines (aiormq's "error when creating transport: <AMQPConnectionError ...>" at every
#: attempt while RabbitMQ is down) only repeat it, so they show from this level on
REPORTED_BY_US = {"aiormq.connection": logging.CRITICAL}
FILE_FORMAT = "%(asctime)s %(process)d %(levelname)s %(name)s: %(message)s"


@dataclass(frozen=True)
class LogSettings:
    """What the command line asked for: a level, a log file, a logging config file."""

    level: int = logging.INFO
    log_file: str | None = None
    config_file: str | None = None


def in_worker_process() -> bool:
    """Whether this is a process started by another one (a server worker)."""
    import multiprocessing

    return multiprocessing.parent_process() is not None


class StderrHandler(logging.StreamHandler):
    """A handler that writes to whatever ``sys.stderr`` is when a record is logged.

    A handler given ``sys.stderr`` itself keeps that stream: once it is
    replaced and closed (a test's captured output, a redirected stream), every
    later record fails with "I/O operation on closed file".
    """

    def __init__(self, level: int = logging.NOTSET) -> None:
        # not StreamHandler's __init__: it would store the stream this looks up
        logging.Handler.__init__(self, level)

    @property
    def stream(self) -> TextIO:  # type: ignore[override]
        return sys.stderr


def configure_logging(settings: LogSettings) -> None:
    """Log to stderr at ``settings.level``, also to ``log_file``; or as ``config_file`` says.

    A logging config file (Rasa's ``--logging-config-file``: YAML in
    :func:`logging.config.dictConfig`'s schema) replaces the rest.
    """
    if settings.config_file:
        _apply_config_file(Path(settings.config_file))
        return
    handlers: list[logging.Handler] = [StderrHandler()]
    handlers[0].setFormatter(logging.Formatter("%(levelname)s: %(message)s"))
    if settings.log_file:
        handlers.append(_file_handler(Path(settings.log_file)))
    logging.basicConfig(level=settings.level, handlers=handlers, force=True)
    debug = settings.level <= logging.DEBUG
    for noisy in NOISY_LOGGERS:
        logging.getLogger(noisy).setLevel(logging.DEBUG if debug else logging.WARNING)
    for name, level in REPORTED_BY_US.items():
        logging.getLogger(name).setLevel(logging.DEBUG if debug else level)


def _file_handler(path: Path) -> logging.Handler:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handler = logging.FileHandler(path, encoding="utf-8")
    except OSError as e:
        raise ConfigError(f"--log-file: cannot write {path}: {e.strerror or e}",
                          hint="give a file in a folder you can write to") from e
    handler.setFormatter(logging.Formatter(FILE_FORMAT))
    return handler


def _apply_config_file(path: Path) -> None:
    from dialogflowlite.io.yaml import read_yaml_file, to_plain

    if path.is_dir():
        raise ConfigError(f"--logging-config-file: {path} is a folder",
                          hint="pass the YAML logging config file itself")
    if not path.is_file():
        raise ConfigError(f"--logging-config-file: {path} does not exist")
    config = to_plain(read_yaml_file(path))
    if not isinstance(config, dict) or "version" not in config:
        raise ConfigError(f"{path}: a logging config must be a mapping with `version: 1`",
                          hint="see Python's logging.config dictionary schema")
    try:
        logging.config.dictConfig(config)
    except (ValueError, TypeError, AttributeError, ImportError) as e:
        raise ConfigError(f"{path}: the logging config is not valid: {e}") from e
