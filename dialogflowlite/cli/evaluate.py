"""``dialogflowlite evaluate markers``: where markers applied in the stored conversations.

Rasa's ``rasa evaluate markers``: the markers of ``--config`` (checked against
the domain) are evaluated on every session of the conversations in the
tracker store that ``run`` uses, and the results written as Rasa's CSV plus
two statistics files. ``all``, ``first_n N`` or ``sample_n N [--seed S]``
chooses the conversations; the output file follows the strategy.
"""

from __future__ import annotations

import argparse
import logging
from dataclasses import dataclass
from pathlib import Path

from dialogflowlite.cli.command import Command

logger = logging.getLogger(__name__)

#: the extracted markers file when none is named (written in the project folder)
DEFAULT_OUTPUT = "extracted_markers.csv"
#: the statistics files' prefix when none is named (in the project folder, as Rasa's
#: ``stats`` is in the working folder, wherever the output file goes)
DEFAULT_STATS_PREFIX = "stats"

_STRATEGY_HELP = {
    "all": "evaluate every conversation in the tracker store",
    "first_n": "evaluate the first N conversations, in the tracker store's order",
    "sample_n": "evaluate N conversations drawn at random (--seed for the same draw again)",
}


@dataclass(frozen=True)
class MarkersRun:
    """What ``evaluate markers`` wrote."""

    output: Path
    #: the overall and per-session statistics files (empty with --no-stats)
    stats_files: tuple[Path, ...]
    conversations: int
    sessions: int
    #: rows of the extracted markers file: one per event where a marker applied
    rows: int


#: what a bare ``--stats-file-prefix`` (no value) stores: Rasa reads it as no prefix
_BARE_STATS_PREFIX = object()


def _add_options(parser: argparse.ArgumentParser) -> None:
    # The options go on `evaluate markers` and on each strategy, so they may come before or
    # after the strategy (`evaluate markers all --config m.yml out.csv`, as in Rasa). SUPPRESS
    # keeps a value given before the strategy from being reset by the strategy's defaults.
    suppress = argparse.SUPPRESS
    parser.add_argument("--project", default=suppress, metavar="DIR",
                        help="the project folder (default: the current folder)")
    parser.add_argument("--config", default=suppress, metavar="PATH",
                        help="a markers file, or a folder of them (default: markers.yml)")
    parser.add_argument("--endpoints", default=suppress, metavar="FILE",
                        help="endpoints file with the tracker_store section (default: "
                             "endpoints.yml of the project; without one, its trackers.db)")
    parser.add_argument("-d", "--domain", default=suppress, metavar="PATH",
                        help="the domain file or folder to check the markers against "
                             "(default: the project's)")
    stats = parser.add_mutually_exclusive_group()
    stats.add_argument("--no-stats", action="store_true", default=suppress,
                       help="write no statistics files")
    # as in Rasa, the option without a value means no prefix, so no statistics files
    stats.add_argument("--stats-file-prefix", default=suppress, nargs="?",
                       const=_BARE_STATS_PREFIX, metavar="PREFIX",
                       help="write the statistics to PREFIX-overall.csv and "
                            "PREFIX-per-session.csv (default: stats, in the project folder); "
                            "without PREFIX, write none (as --no-stats)")


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    _add_options(parser)
    strategies = parser.add_subparsers(dest="strategy", metavar="STRATEGY",
                                       title="strategies (default: all)")
    for name, text in _STRATEGY_HELP.items():
        sub = strategies.add_parser(name, help=text, description=text)
        if name != "all":
            sub.add_argument("count", type=int, metavar="N", help="how many conversations")
        sub.add_argument("output", nargs="?", default=argparse.SUPPRESS, metavar="OUTPUT.csv",
                         help=f"where to write the extracted markers (default: {DEFAULT_OUTPUT} "
                              "in the project)")
        # after options too, as Rasa takes it: `first_n 3 --no-stats out.csv`
        sub.late_positional = "output"
        if name == "sample_n":
            sub.add_argument("--seed", type=int, default=argparse.SUPPRESS,
                             help="seed of the random draw")
        _add_options(sub)
        sub.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                         help="show tracebacks and debug logs")
        sub.add_argument("-q", "--quiet", action="store_true", default=argparse.SUPPRESS,
                         help="only print warnings and errors")


async def run_evaluate_markers(
    project: str | Path = ".",
    *,
    strategy: str = "all",
    count: int | None = None,
    seed: int | None = None,
    output: str | Path | None = None,
    config: str | Path | None = None,
    endpoints_file: str | None = None,
    domain: str | Path | None = None,
    stats_file_prefix: str | Path | None = None,
    stats: bool = True,
) -> MarkersRun:
    """Evaluate the markers on the stored conversations and write the CSV files.

    Paths given are read relative to the working folder, else to the project
    (``config``, ``domain``); ``output`` and ``stats_file_prefix`` as given.
    Without ``output`` the markers go to ``extracted_markers.csv`` in the
    project; without ``stats_file_prefix`` the statistics go to
    ``stats-overall.csv`` and ``stats-per-session.csv`` in the project (Rasa's
    working folder), wherever the markers go.
    Existing output files are not overwritten: that is an error, raised
    before the tracker store is read.
    """
    from dialogflowlite.errors import ProjectError
    from dialogflowlite.evaluation.markers import (
        MARKERS_FILE,
        check_strategy,
        evaluate_tracker_store,
        load_markers,
        read_domain,
        stats_paths,
        write_markers_csv,
        write_statistics,
    )
    from dialogflowlite.io.loader import existing_domain, resolve_in_project
    from dialogflowlite.server.app import ServerConfig
    from dialogflowlite.stores.factory import create_tracker_store

    server_config = ServerConfig(project=str(project), endpoints_file=endpoints_file)
    project_dir = server_config.project_dir
    check_strategy(strategy, count)
    if seed is not None and strategy != "sample_n":
        logger.warning("--seed is only used by sample_n; %s ignores it", strategy)

    domain_path = resolve_in_project(domain, project_dir) if domain is not None \
        else existing_domain(project_dir)
    if domain_path is None:
        logger.info("the project has no domain: the markers are not checked against one")
    definitions = load_markers(resolve_in_project(config or MARKERS_FILE, project_dir),
                               read_domain(domain_path) if domain_path is not None else None)

    target = Path(output) if output is not None else project_dir / DEFAULT_OUTPUT
    prefix = Path(stats_file_prefix) if stats_file_prefix is not None \
        else project_dir / DEFAULT_STATS_PREFIX
    planned = [target, *(stats_paths(prefix) if stats else ())]
    for path in planned:
        if path.exists():
            raise ProjectError(f"{path} already exists; it is not overwritten",
                               hint="move or remove it, or name another output file "
                                    "(and --stats-file-prefix)")

    with server_config.endpoints_errors():
        tracker_store = create_tracker_store(server_config.read_endpoints().get("tracker_store"),
                                             project=project_dir,
                                             default_sqlite=server_config.tracker_db)
    try:
        results = await evaluate_tracker_store(tracker_store, definitions, strategy=strategy,
                                               count=count, seed=seed)
    finally:
        await tracker_store.close()

    for path in planned:
        path.parent.mkdir(parents=True, exist_ok=True)
    rows = write_markers_csv(results, target)
    stats_files = write_statistics(results, prefix) if stats else ()
    run = MarkersRun(output=target, stats_files=tuple(stats_files),
                     conversations=len(results),
                     sessions=sum(len(r.sessions) for r in results), rows=rows)
    print(f"{len(definitions)} markers applied {run.rows} times in {run.sessions} sessions of "
          f"{run.conversations} conversations: {target}")
    if stats_files:
        print(f"Statistics: {stats_files[0]} and {stats_files[1]}")
    return run


def _run(args: argparse.Namespace) -> int:
    import asyncio

    from dialogflowlite.errors import ConfigError

    no_stats = getattr(args, "no_stats", False)
    prefix = getattr(args, "stats_file_prefix", None)
    if no_stats and prefix is not None:
        raise ConfigError("--no-stats and --stats-file-prefix exclude each other",
                          hint="keep one of them")
    if prefix is _BARE_STATS_PREFIX:
        no_stats, prefix = True, None
    asyncio.run(run_evaluate_markers(
        getattr(args, "project", "."), strategy=args.strategy or "all",
        count=getattr(args, "count", None), seed=getattr(args, "seed", None),
        output=getattr(args, "output", None), config=getattr(args, "config", None),
        endpoints_file=getattr(args, "endpoints", None), domain=getattr(args, "domain", None),
        stats_file_prefix=prefix, stats=not no_stats))
    return 0


COMMAND = Command(
    name="evaluate markers",
    help="find where markers (Rasa's conversation markers) applied in the stored conversations",
    description="Evaluate the markers of markers.yml (or --config) on every session of the "
    "conversations in the tracker store that `run` uses (Rasa's `rasa evaluate markers`). "
    "Give a strategy (all, first_n N or sample_n N; default all), then the output file "
    "(default extracted_markers.csv in the project); statistics go to stats-overall.csv and "
    "stats-per-session.csv in the project folder (--stats-file-prefix names others).",
    add_arguments=_add_arguments,
    run=_run,
)
