"""The command line's log goes to the ``sys.stderr`` of the moment a record is logged,
so a library call after the CLI has run (its stream replaced and closed since) logs
without "I/O operation on closed file"."""

from __future__ import annotations

import io
import logging
import sys

import pytest

from dialogflowlite.cli.logs import log_settings
from dialogflowlite.cli.main import build_parser
from dialogflowlite.shared.log_setup import configure_logging


@pytest.fixture
def root_logging():
    """The root logger's handlers and level, put back after the test."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:
        yield root
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)


def test_a_record_after_the_stream_is_closed_goes_to_the_current_stderr(
        root_logging, monkeypatch) -> None:
    first, later = io.StringIO(), io.StringIO()
    monkeypatch.setattr(sys, "stderr", first)
    configure_logging(log_settings(build_parser().parse_args(["train"])))
    logging.getLogger("dialogflowlite.test").info("while the command runs")
    assert "INFO: while the command runs" in first.getvalue()

    first.close()  # as a test's captured stream is once the test ends
    monkeypatch.setattr(sys, "stderr", later)
    logging.getLogger("dialogflowlite.test").warning("in a later call")
    assert later.getvalue() == "WARNING: in a later call\n"  # no "--- Logging error ---"


def test_a_library_error_line_our_code_reports_itself_is_kept_back(root_logging,
                                                                     monkeypatch) -> None:
    stream = io.StringIO()
    monkeypatch.setattr(sys, "stderr", stream)
    aiormq = logging.getLogger("aiormq.connection")
    level = aiormq.level
    try:
        configure_logging(log_settings(build_parser().parse_args(["run"])))
        # repeated at every attempt while RabbitMQ was down, beside the broker's own message
        aiormq.error("error when creating transport: %r", ConnectionRefusedError(111))
        assert stream.getvalue() == ""
        configure_logging(log_settings(build_parser().parse_args(["run", "--debug"])))
        aiormq.error("error when creating transport")
        assert "error when creating transport" in stream.getvalue()
    finally:
        aiormq.setLevel(level)
