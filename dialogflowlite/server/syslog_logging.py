"""Sending the logs to a syslog server too: ``run --use-syslog`` (Rasa's option).

``--syslog-address`` (default localhost), ``--syslog-port`` (514) and
``--syslog-protocol`` (UDP, or TCP) say where. The handler sits on the root
logger, beside the terminal output, so everything logged goes to both.
"""

from __future__ import annotations

import logging
import logging.handlers
import socket

from dialogflowlite.errors import ConfigError

DEFAULT_SYSLOG_ADDRESS = "localhost"
DEFAULT_SYSLOG_PORT = 514
SYSLOG_PROTOCOLS = ("UDP", "TCP")
#: syslog's own line shape: a tag, the process id, then the message
SYSLOG_FORMAT = "dialogflowlite[%(process)d]: %(levelname)s %(name)s: %(message)s"


def _socket_type(protocol: str) -> int:
    name = protocol.upper()
    if name not in SYSLOG_PROTOCOLS:
        raise ConfigError(f"--syslog-protocol {protocol!r} is not known",
                          hint="use UDP (the default) or TCP")
    return socket.SOCK_STREAM if name == "TCP" else socket.SOCK_DGRAM


def install_syslog_handler(address: str = DEFAULT_SYSLOG_ADDRESS,
                           port: int = DEFAULT_SYSLOG_PORT,
                           protocol: str = "UDP") -> logging.Handler:
    """Add a handler sending every log record to the syslog server at ``address:port``.

    Installing the same target twice returns the handler already there (the
    app factory calls this in every worker, and once more in the main process).
    """
    target = (address, int(port), protocol.upper())
    root = logging.getLogger()
    for handler in root.handlers:
        if getattr(handler, "dfl_syslog_target", None) == target:
            return handler
    try:
        handler = logging.handlers.SysLogHandler(address=target[:2],
                                                 socktype=_socket_type(protocol))
    except OSError as e:
        # UDP never connects; TCP does, at once, so a server that is not there shows here
        raise ConfigError(f"cannot reach the syslog server at {address}:{port} over "
                          f"{target[2]}: {e.strerror or e}",
                          hint="check --syslog-address and --syslog-port, or use UDP") from e
    handler.setFormatter(logging.Formatter(SYSLOG_FORMAT))
    handler.dfl_syslog_target = target
    root.addHandler(handler)
    return handler
