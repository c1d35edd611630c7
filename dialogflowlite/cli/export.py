"""``dialogflowlite export``: publish stored conversations to the event broker (Rasa's export)."""

from __future__ import annotations

import argparse
import asyncio
import datetime
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from dialogflowlite.cli.command import Command
from dialogflowlite.cli.options import finite_number

if TYPE_CHECKING:
    from dialogflowlite.brokers.base import EventBroker

logger = logging.getLogger(__name__)


def conversation_id_list(text: str) -> list[str] | None:
    """An argparse type: comma-separated conversation ids (None for empty text, as Rasa
    reads it: every conversation). Text of nothing but commas and spaces names no
    conversation: an error, rather than an export of every conversation."""
    if not text.strip():
        return None
    ids = list(dict.fromkeys(part.strip() for part in text.split(",") if part.strip()))
    if not ids:
        raise argparse.ArgumentTypeError(f"names no conversation: {text!r}")
    return ids


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--project", default=".", help="project folder (default: .)")
    parser.add_argument("--endpoints", default=None, metavar="FILE",
                        help="endpoints file with the tracker_store and event_broker sections "
                             "(default: endpoints.yml of the project)")
    parser.add_argument("--minimum-timestamp", type=finite_number, default=None, metavar="T",
                        help="only events at or after this Unix timestamp")
    parser.add_argument("--maximum-timestamp", type=finite_number, default=None, metavar="T",
                        help="only events before this Unix timestamp")
    parser.add_argument("--conversation-ids", type=conversation_id_list, default=None,
                        metavar="IDS",
                        help="comma-separated conversation ids (default: every conversation)")
    parser.add_argument("--offset-timestamps-by-seconds", type=int, default=None, metavar="N",
                        help="add N seconds (may be negative) to the timestamp of every event "
                             "published; the stored events keep theirs, and the minimum and "
                             "maximum apply to those")


async def run_export(project: str | Path = ".", endpoints_file: str | None = None, *,
                     conversation_ids: Sequence[str] | None = None,
                     minimum_timestamp: float | None = None,
                     maximum_timestamp: float | None = None,
                     offset_seconds: int | None = None) -> int:
    """Publish the stored events to the configured broker; returns how many were published.

    ``offset_seconds`` moves the published timestamps (the stored ones stay).

    The tracker store is the one ``run`` uses (endpoints.yml's, else the
    project's ``trackers.db``); endpoints.yml must configure ``event_broker``.
    """
    from dialogflowlite.brokers.base import create_event_broker
    from dialogflowlite.brokers.export import export_events
    from dialogflowlite.errors import ConfigError, ProjectNotFoundError
    from dialogflowlite.server.app import ServerConfig
    from dialogflowlite.stores.factory import create_tracker_store, sqlite_file

    # Checked first: without it, a mistyped --project reads as an endpoints.yml that
    # has no event_broker, and the tracker store would be a new, empty trackers.db.
    if not Path(project).is_dir():
        raise ProjectNotFoundError(f"the project folder {project} does not exist"
                                   if not Path(project).exists()
                                   else f"--project {project} is a file, not a folder",
                                   hint="pass the project folder with --project DIR")
    config = ServerConfig(project=str(project), endpoints_file=endpoints_file)
    endpoints = config.read_endpoints()
    if offset_seconds:
        sign = "-" if offset_seconds < 0 else "+"
        print(f"Every published timestamp is moved by {sign}"
              f"{datetime.timedelta(seconds=abs(offset_seconds))} (the stored events keep "
              "theirs).")
    with config.endpoints_errors():
        broker = create_event_broker(endpoints.get("event_broker"), project=config.project_dir)
    if broker is None:
        add = "add `event_broker:` with a `type:` (file, SQL, or a plugin's)"
        if not endpoints_file and not any((config.project_dir / f"endpoints{suffix}").is_file()
                                          for suffix in (".yml", ".yaml")):
            # "endpoints.yml has no event_broker" would send the user to a file not there
            raise ConfigError(f"there is no endpoints.yml in {config.project_dir} to name the "
                              "event broker to export to",
                              hint=f"create it and {add}, or pass --endpoints FILE")
        raise ConfigError(f"{endpoints_file or 'endpoints.yml'} has no event_broker section "
                          "to export to", hint=add)
    stored = sqlite_file(endpoints.get("tracker_store"), project=config.project_dir,
                         default_sqlite=config.tracker_db)
    if stored is not None and not stored.exists():
        # opening it would create an empty database, and export nothing without a word
        raise ConfigError(f"the tracker store's SQLite database {stored} does not exist: "
                          "there are no conversations to export",
                          hint="point tracker_store's db at the database `run` used "
                               "(default trackers.db in the project)")
    with config.endpoints_errors():
        tracker_store = create_tracker_store(endpoints.get("tracker_store"),
                                             project=config.project_dir,
                                             default_sqlite=config.tracker_db)

    def progress(done: int, total: int) -> None:
        logger.info("published %d of %d events", done, total)

    try:
        await _check_broker(broker)
        result = await export_events(tracker_store, broker, conversation_ids=conversation_ids,
                                     minimum_timestamp=minimum_timestamp,
                                     maximum_timestamp=maximum_timestamp,
                                     offset_seconds=offset_seconds, progress=progress)
    finally:
        await broker.close()
        await tracker_store.close()
    print(f"Published {result.events} events of {result.conversations} conversations to the "
          f"event broker ({type(broker).__name__}).")
    return result.events


async def _check_broker(broker: EventBroker) -> None:
    """Connect to the broker before anything is read or published, so that an
    unreachable one is one clear error at once rather than retries."""
    from dialogflowlite.errors import DialogflowLiteError, ExportError

    broker.prepare_for_export()
    try:
        await broker.check_connection()
    except DialogflowLiteError as e:
        raise ExportError(f"nothing was published: {e.message}",
                          hint="check the event_broker section of endpoints.yml and that "
                               "the broker is running, then run the export again") from e


def _run(args: argparse.Namespace) -> int:
    asyncio.run(run_export(args.project, args.endpoints, conversation_ids=args.conversation_ids,
                           minimum_timestamp=args.minimum_timestamp,
                           maximum_timestamp=args.maximum_timestamp,
                           offset_seconds=args.offset_timestamps_by_seconds))
    return 0


COMMAND = Command(
    name="export",
    help="publish the conversations in the tracker store to the event broker",
    description="Publish the events the tracker store holds to the event broker of "
    "endpoints.yml, oldest first, as the server publishes them (Rasa's `rasa export`). "
    "If the broker fails, the export stops and names the --minimum-timestamp to run it "
    "again from.",
    add_arguments=_add_arguments,
    run=_run,
)
