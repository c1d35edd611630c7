"""The command line's logging options (``--debug``, ``-q``, ``--log-file``, ...) as settings."""

from __future__ import annotations

import argparse
import logging

from dialogflowlite.shared.log_setup import LogSettings


def log_settings(args: argparse.Namespace, debug: bool = False) -> LogSettings:
    """The :class:`LogSettings` the parsed options ask for."""
    level = (logging.DEBUG if debug or getattr(args, "debug", False)
             else logging.WARNING if getattr(args, "quiet", False) else logging.INFO)
    return LogSettings(level, getattr(args, "log_file", None),
                       getattr(args, "logging_config_file", None))
