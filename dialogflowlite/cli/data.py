"""The ``dialogflowlite data`` commands: ``validate``, ``split``, ``convert`` and ``migrate``."""

from __future__ import annotations

import argparse
import functools
import itertools
import sys
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple, TextIO

from dialogflowlite.cli.command import Command
from dialogflowlite.cli.options import (
    add_source_options,
    output_folder,
    positive_int,
    require_project,
    sources_from_args,
)

if TYPE_CHECKING:
    from dialogflowlite.io.loader import ProjectSources
    from dialogflowlite.io.problems import ProblemLog
    from dialogflowlite.shared.stories import Story
    from dialogflowlite.shared.training_data import Synonym, TrainingData


#: ``data validate stories``: only the checks of the stories against each other (Rasa's form)
VALIDATE_PARTS = ("stories",)


def validate(
    project_dir: str | Path = ".",
    *,
    fail_on_warnings: bool = False,
    out: TextIO | None = None,
    max_history: int | None = None,
    stories_only: bool = False,
    sources: ProjectSources | None = None,
) -> int:
    """Load and validate the project in ``project_dir``, print the problems and a summary.

    ``sources`` reads another domain, data or config instead of the
    project's (``--domain``, ``--data``, ``--config``). ``max_history``
    replaces config.yml's in the contradiction check. With ``stories_only``
    only the story-structure checks run (contradictions and checkpoints),
    plus the errors met while reading the files, since a file that cannot be
    read leaves its stories unchecked.

    Returns the exit code: 1 when there are errors (or, with
    ``fail_on_warnings``, any problem at all), else 0.
    """
    from dialogflowlite.io.loader import load_project
    from dialogflowlite.io.validate import STORY_STRUCTURE_CHECKS, summary, validate_project

    out = out or sys.stdout
    project = load_project(project_dir, strict=False, sources=sources)
    if stories_only:
        problems = [p for p in project.problems if p.is_error] + validate_project(
            project, include_loader_problems=False, checks=STORY_STRUCTURE_CHECKS,
            max_history=max_history)
    else:
        problems = validate_project(project, max_history=max_history)
    for problem in problems:
        print(problem, file=out)
    print(summary(project, problems), file=out)
    if any(p.is_error for p in problems):
        return 1
    return 1 if fail_on_warnings and problems else 0


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("part", nargs="?", choices=VALIDATE_PARTS,
                        help="`stories`: only check the stories against each other "
                        "(contradictions, checkpoints), as `rasa data validate stories`")
    parser.add_argument(
        "--project",
        default=".",
        metavar="DIR",
        help="the project folder (default: the current folder)",
    )
    parser.add_argument(
        "--fail-on-warnings",
        action="store_true",
        help="exit with 1 on warnings too, not only on errors",
    )
    parser.add_argument("--max-history", type=positive_int, default=None, metavar="N",
                        help="compare the last N turns when looking for contradicting stories "
                        "(default: the largest max_history of the policies in config.yml, "
                        "else 5)")
    add_source_options(parser, "check")


def _run(args: argparse.Namespace) -> int:
    sources = sources_from_args(args, VALIDATE_PARTS, "data validate")
    require_project(args.project, sources)
    return validate(args.project, fail_on_warnings=args.fail_on_warnings,
                    max_history=args.max_history, stories_only=args.part == "stories",
                    sources=sources)


COMMAND = Command(
    "data validate",
    "check the project's files: YAML, domain, NLU data, stories, rules and config",
    _add_arguments,
    _run,
    description="Check every file of a project and print each problem as "
    "file:line:col: error|warning: message, then a summary. Exits with 1 when there are errors. "
    "`data validate stories` checks only the stories against each other.",
)


# ---------------------------------------------------------------- data split nlu

#: where ``data split nlu`` writes, relative to the project (Rasa's folder and file names)
SPLIT_FOLDER = "train_test_split"
TRAINING_FILE = "training_data.yml"
TEST_FILE = "test_data.yml"
#: what Rasa's split puts before a part's name for the file of that part's responses
NLG_PREFIX = "nlg_"


def split_nlu(
    project_dir: str | Path = ".",
    *,
    nlu: str | Path | None = None,
    training_fraction: float = 0.8,
    seed: int = 42,
    out: str | Path | None = None,
    echo: TextIO | None = None,
) -> tuple[Path, Path]:
    """Split the project's NLU examples into a training and a test file.

    Reads every NLU file under ``nlu`` (default: the project's ``data/``),
    splits each intent's examples by ``training_fraction`` as Rasa does (see
    :meth:`TrainingData.train_test_split`: an intent with one example goes to
    the test part; synonyms, regexes and lookup tables to both) and writes
    Rasa's four files into ``out`` (default: ``<project>/train_test_split``),
    YAML whatever the source's format: ``training_data.yml`` and
    ``test_data.yml`` with the NLU data, ``nlg_training_data.yml`` and
    ``nlg_test_data.yml`` with each part's responses (empty when it has none).
    The responses written in the NLU files go as in Rasa's split: a retrieval
    intent's response into each part that has examples of it. A response no
    example uses, which Rasa's split drops, goes with the training part, and
    the command names it. Returns the paths of the two NLU files.
    """
    from dialogflowlite.errors import ProjectError
    from dialogflowlite.evaluation.nlu import load_nlu_data
    from dialogflowlite.io.nlu_writer import nlg_yaml, write_nlu

    stream = echo or sys.stdout
    root = Path(project_dir)
    source = Path(nlu) if nlu is not None else root / "data"
    data = load_nlu_data(source, root)
    if not data.intent_examples:
        raise ProjectError(f"{source} has no NLU examples to split",
                           hint="pass the NLU file or folder with --nlu")
    train, test = data.train_test_split(training_fraction, seed)
    responses = _data_responses(source)
    train_responses, test_responses = (_responses_of(part, responses) for part in (train, test))
    unused = [k for k in responses if k not in train_responses and k not in test_responses]
    train_responses.update((k, responses[k]) for k in unused)
    folder = output_folder(out) if out is not None else root / SPLIT_FOLDER
    training_path = write_nlu(train, folder / TRAINING_FILE)
    test_path = write_nlu(test, folder / TEST_FILE)
    nlg_paths = (folder / f"{NLG_PREFIX}{TRAINING_FILE}", folder / f"{NLG_PREFIX}{TEST_FILE}")
    for nlg_path, part_responses in zip(nlg_paths, (train_responses, test_responses),
                                        strict=True):
        nlg_path.write_text(nlg_yaml(part_responses), encoding="utf-8")
    _warn_about_short_split(data, train, training_fraction, training_path, stream)
    single = sorted(i for i, n in data.intent_counts().items() if n < 2)
    if single:
        # Rasa's split sends them to the test part; a model trained on the other lacks them
        print(f"note: {len(single)} intent(s) with one example, written to the test file "
              f"only: {', '.join(single)}", file=stream)
    if unused:
        # Rasa's split would drop them; kept, so the split loses none of the author's data
        print(f"note: {len(unused)} response(s) that no example uses, kept in "
              f"{nlg_paths[0].name}: {', '.join(unused)}", file=stream)

    def count(part: TrainingData) -> str:
        return f"{len(part.examples)} examples, {len(part.full_intents)} intents"

    print(f"training: {training_path} ({count(train)})", file=stream)
    print(f"test:     {test_path} ({count(test)})", file=stream)
    if responses:
        print(f"responses: {nlg_paths[0]} ({len(train_responses)}), "
              f"{nlg_paths[1]} ({len(test_responses)})", file=stream)
    return training_path, test_path


def _warn_about_short_split(data: TrainingData, train: TrainingData, training_fraction: float,
                            training_path: Path, stream: TextIO) -> None:
    """Say when the examples are too few for the split asked for (Rasa warns too), and
    plainly when the training part is left without examples: a model cannot be trained
    on it."""
    if not data.split_keeps_fraction(training_fraction):
        print(f"warning: there are too few examples to put one of each of the "
              f"{len(data.full_intents)} intents into both parts and keep "
              f"{training_fraction:g} of the examples for training: the parts' shares "
              "differ from it", file=stream)
    if not train.examples:
        print(f"warning: {training_path} holds no examples: every intent has a single "
              "example, and those go to the test file; `train nlu` cannot train on it "
              "(add examples: an intent needs two to be in both parts)", file=stream)


def _data_responses(source: Path) -> dict[str, Any]:
    """The ``responses:`` of the YAML training data files at ``source`` (a file or folder).

    Rasa reads responses written in NLU files with the examples (the answers
    of retrieval intents); a domain file under the folder is not data.
    """
    from dialogflowlite.io.formats import DATA_KEYS
    from dialogflowlite.io.yaml import read_yaml_file, to_plain

    files = ([source] if source.is_file() else
             sorted(p for p in source.rglob("*") if p.suffix in (".yml", ".yaml") and p.is_file()))
    responses: dict[str, Any] = {}
    for file in files:
        if file.suffix not in (".yml", ".yaml"):
            continue
        written = read_yaml_file(file)
        if (isinstance(written, dict) and isinstance(written.get("responses"), dict)
                and set(written) <= set(DATA_KEYS)):
            responses.update(to_plain(written["responses"]))
    return responses


def _responses_of(part: TrainingData, responses: dict[str, Any]) -> dict[str, Any]:
    """The responses (``utter_<full intent>``) of the retrieval intents with examples in
    ``part``."""
    from dialogflowlite.shared.message import RETRIEVAL_SEPARATOR

    used = {f"utter_{m.intent}" for m in part.examples
            if m.intent and RETRIEVAL_SEPARATOR in m.intent}
    return {name: value for name, value in responses.items() if name in used}


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0.0 < value < 1.0:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1 (exclusive), not {text}")
    return value


def _add_split_options(parser: argparse.ArgumentParser, *, share: str, files: str) -> None:
    """The options both ``data split`` commands take (their source option comes first)."""
    parser.add_argument("--project", default=".", metavar="DIR",
                        help="the project folder (default: the current folder)")
    parser.add_argument("--training-fraction", type=_fraction, default=0.8, metavar="F",
                        help=f"share of {share} for training (default: 0.8)")
    parser.add_argument("--random-seed", type=int, default=42, metavar="N",
                        help="seed of the shuffle (default: 42)")
    parser.add_argument("--out", default=None, metavar="DIR",
                        help=f"folder for {files} (default: <project>/{SPLIT_FOLDER})")


def _add_split_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-u", "--nlu", default=None, metavar="PATH",
                        help="NLU file or folder to split (default: <project>/data)")
    _add_split_options(parser, share="each intent's examples",
                       files=f"{TRAINING_FILE} and {TEST_FILE}")


def _run_split(args: argparse.Namespace) -> int:
    split_nlu(args.project, nlu=args.nlu, training_fraction=args.training_fraction,
              seed=args.random_seed, out=args.out)
    return 0


SPLIT_NLU_COMMAND = Command(
    "data split nlu",
    "split the NLU examples into a training and a test file",
    _add_split_arguments,
    _run_split,
    description="Split every intent's examples into train_test_split/training_data.yml "
    "and test_data.yml, as Rasa does (an intent with one example goes to the test part; "
    "synonyms, regexes and lookup tables go to both). Each part's responses go to "
    "nlg_training_data.yml and nlg_test_data.yml, as in Rasa: a retrieval intent's "
    "response with the part holding its examples; one no example uses with the training "
    "part. "
    "Train on one with `dialogflowlite train nlu --nlu ...`, test with "
    "`dialogflowlite test nlu --nlu ...`.",
)


# ---------------------------------------------------------------- data split stories

#: what ``data split stories`` puts before a stories file's name (Rasa's names)
TRAIN_STORIES_PREFIX = "train_"
TEST_STORIES_PREFIX = "test_"


@dataclass(frozen=True)
class StoriesFileSplit:
    """What ``data split stories`` wrote for one stories file."""

    source: Path
    #: the file with its training stories and everything else it held (rules, NLU data, ...)
    training: Path
    #: the held-out stories; ``None`` when the file had too few stories to hold one out
    test: Path | None
    training_stories: int
    test_stories: int


def split_stories(
    project_dir: str | Path = ".",
    *,
    stories: str | Path | None = None,
    training_fraction: float = 0.8,
    seed: int = 42,
    out: str | Path | None = None,
    echo: TextIO | None = None,
) -> list[StoriesFileSplit]:
    """Split the stories of each stories file into a training and a test file, as Rasa does.

    Every YAML file with stories under ``stories`` (default: the project's
    ``data/``) is split on its own: its stories are shuffled with ``seed``,
    ``1 - training_fraction`` of them (rounded; at least one, never all) go
    to ``test_<file name>`` and the file itself, with only the other
    stories, to ``train_<file name>``, both in ``out`` (default:
    ``<project>/train_test_split``). The training file keeps everything
    else the file held (rules, NLU data, comments): rules are not examples
    to hold out. Stories joined by checkpoints only make sense together, so
    they stay in training, and so does the story of a file with only one;
    such a file gets no test file. Two files of the same name in different
    folders, or nothing to hold out at all, raise before anything is written.
    """
    import random

    from dialogflowlite.errors import ProjectError
    from dialogflowlite.io.loader import YAML_SUFFIXES, resolve_in_project

    stream = echo or sys.stdout
    root = Path(project_dir)
    if stories is not None:
        source = resolve_in_project(stories, root)
        found, parsed = _given_stories(source)
    else:
        source = root / "data"
        found, parsed = _project_stories(root)
    files = sorted({Path(s.position.file) for s in found if s.position is not None})
    under = source.resolve()
    files = [f for f in files if f.resolve() == under or f.resolve().is_relative_to(under)]
    for file in (f for f in files if f.suffix not in YAML_SUFFIXES):
        print(f"note: {file} is not YAML: its stories are not split "
              "(`data convert core` writes them as YAML)", file=stream)
    files = [f for f in files if f.suffix in YAML_SUFFIXES]

    folder = output_folder(out) if out is not None else root / SPLIT_FOLDER
    _refuse_same_names(files)
    plans = []
    for file in files:
        data = parsed[file.resolve()]
        entries = list(data.get("stories") or [])
        free = [e for e in entries if not _has_checkpoint(e)]
        random.Random(seed).shuffle(free)
        held = {id(e) for e in free[:_held_out_count(len(free), training_fraction)]}
        # both parts keep the file's order, so they read (and diff) like the source
        plans.append(_FilePlan(file, data, [e for e in entries if id(e) not in held],
                               [e for e in entries if id(e) in held],
                               joined=len(entries) - len(free)))
    if not any(plan.test for plan in plans):
        free_count = sum(len(plan.train) - plan.joined for plan in plans)
        if free_count < 2:
            raise ProjectError(f"{source} has {_count_stories(free_count)} without checkpoints: "
                               "too few to split",
                               hint="write more stories, or pass the stories with --stories")
        raise ProjectError(f"no stories file under {source} has two stories without "
                           "checkpoints: each file is split on its own, so none can be held out",
                           hint="put more stories into one file, or pass the stories with "
                           "--stories")

    results = []
    for file, data, train, test, joined in plans:
        if joined:
            print(f"note: {file}: {_count_stories(joined)} joined by checkpoints kept for "
                  "training only", file=stream)
        test_path = None
        if test:
            test_path = _write_part(data, test, folder / f"{TEST_STORIES_PREFIX}{file.name}",
                                    keep_rest=False)
        training_path = _write_part(data, train, folder / f"{TRAIN_STORIES_PREFIX}{file.name}",
                                    keep_rest=True)
        if not test:
            print(f"note: {file} has too few stories without checkpoints to hold one out: "
                  "all of them train", file=stream)
        results.append(StoriesFileSplit(file, training_path, test_path, len(train), len(test)))
        print(f"{file} -> {training_path} ({_count_stories(len(train))})"
              + (f", {test_path} ({_count_stories(len(test))})" if test_path else ""),
              file=stream)
    return results


def _project_stories(root: Path) -> tuple[list[Story], dict[Path, Any]]:
    """The project's training stories and its files as written (each read once), when
    every file under ``data/`` could be read."""
    from dialogflowlite.io.loader import load_project_as_written

    project, parsed = load_project_as_written(root)
    # a file that cannot be read would be missing from both halves without a word
    project.check_files_under("data", "fix the files under data/, then split again")
    return project.stories, parsed


def _given_stories(source: Path) -> tuple[list[Story], dict[Path, Any]]:
    """The stories of the YAML file or folder ``source`` (``--stories``) and those files
    as written (each read once); errors as ``train --stories`` raises them."""
    from dialogflowlite.errors import ProjectError
    from dialogflowlite.io.loader import YAML_SUFFIXES
    from dialogflowlite.io.problems import ProblemLog
    from dialogflowlite.io.story_reader import StoryReader
    from dialogflowlite.io.yaml import read_yaml_file

    if source.is_dir():
        files = sorted(p for p in source.rglob("*") if p.suffix in YAML_SUFFIXES)
    elif source.is_file():
        files = [source]
    else:
        raise ProjectError(f"training stories {source} do not exist",
                           hint="pass a YAML file or a folder of them with --stories")
    log = ProblemLog()
    reader = StoryReader(log)
    found: list[Story] = []
    parsed: dict[Path, Any] = {}
    for file in files:
        data = read_yaml_file(file)
        if not isinstance(data, dict) or "stories" not in data:
            continue
        parsed[file.resolve()] = data
        found += reader.read(file, data, "stories", data["stories"], "story")
    if log.errors:
        raise ProjectError("the stories have errors:\n"
                           + "\n".join(str(p) for p in log.errors[:10]))
    return found, parsed


class _FilePlan(NamedTuple):
    """How one stories file is split, before anything is written."""

    file: Path
    data: Any
    train: list
    test: list
    #: how many of ``train`` are joined by checkpoints
    joined: int


def _count_stories(count: int) -> str:
    return f"{count} stor{'y' if count == 1 else 'ies'}"


def _has_checkpoint(entry: Any) -> bool:
    """Whether a story, as written in its file, starts or ends at a checkpoint."""
    steps = entry.get("steps") if isinstance(entry, dict) else None
    return any(isinstance(step, dict) and "checkpoint" in step for step in steps or ())


def _held_out_count(count: int, training_fraction: float) -> int:
    """How many of ``count`` stories the test part gets: rounded, at least one, never all."""
    if count < 2:
        return 0
    return min(count - 1, max(1, round(count * (1.0 - training_fraction))))


def _refuse_same_names(files: list[Path]) -> None:
    """Raise when two files to split share a name: their outputs would overwrite each other."""
    from collections import defaultdict

    from dialogflowlite.errors import ProjectError

    by_name: dict[str, list[Path]] = defaultdict(list)
    for file in files:
        by_name[file.name].append(file)
    clashes = [paths for paths in by_name.values() if len(paths) > 1]
    if clashes:
        raise ProjectError(
            "; ".join(" and ".join(str(p) for p in paths) for paths in clashes)
            + " have the same name, and the split names its files after the source's name",
            hint="rename one of them, or split each folder on its own with --stories and --out")


def _write_part(data: Any, stories: list, path: Path, *, keep_rest: bool) -> Path:
    """Write ``stories`` as the ``stories:`` of the file read as ``data``: with everything
    else it held when ``keep_rest`` (``data`` itself is changed then), else only its
    ``version:``."""
    from ruamel.yaml.comments import CommentedMap, CommentedSeq

    from dialogflowlite.io.story_writer import write_story_file

    part = data if keep_rest else CommentedMap()
    if not keep_rest and "version" in data:
        part["version"] = data["version"]
    part["stories"] = CommentedSeq(stories)
    return write_story_file(part, path)


def _add_split_stories_arguments(parser: argparse.ArgumentParser) -> None:
    # Rasa's `data split stories` names its source -u/--nlu (the option it shares with
    # `data split nlu`); both spellings are taken so its scripts run unchanged
    parser.add_argument("--stories", "-u", "--nlu", dest="stories", default=None,
                        metavar="PATH",
                        help="stories file or folder to split (default: <project>/data); "
                        "-u/--nlu is Rasa's name for it")
    _add_split_options(parser, share="each file's stories",
                       files=f"{TRAIN_STORIES_PREFIX}<file> and {TEST_STORIES_PREFIX}<file>")


def _run_split_stories(args: argparse.Namespace) -> int:
    split_stories(args.project, stories=args.stories, training_fraction=args.training_fraction,
                  seed=args.random_seed, out=args.out)
    return 0


SPLIT_STORIES_COMMAND = Command(
    "data split stories",
    "split each stories file into a training and a test file",
    _add_split_stories_arguments,
    _run_split_stories,
    description="Split the stories of each stories file, as Rasa does: "
    "train_test_split/train_<file> holds the file with its training stories (and its rules "
    "and everything else), test_<file> the held-out stories; stories joined by checkpoints "
    "stay in training. Train on the training files with `dialogflowlite train --stories ...`, "
    "test the model with `dialogflowlite test core --stories ...`.",
)


# ---------------------------------------------------------------- data convert nlu|core|nlg

#: what ``data convert`` converts, by its subcommand
CONVERT_KINDS = {"nlu": "NLU data", "core": "stories", "nlg": "responses"}

#: what ``data convert`` adds to a file's name when it writes into a folder (Rasa's suffix)
CONVERTED_SUFFIX = "_converted.yml"
#: the output formats of ``data convert nlu`` (Rasa's), with the suffixes of their files
CONVERT_FORMATS = ("yaml", "json")
_FORMAT_SUFFIXES = {"yaml": (".yml", ".yaml"), "json": (".json",)}
#: where ``data convert`` writes without ``--out`` (Rasa's default output path)
DEFAULT_CONVERTED_FOLDER = "converted_data"


def _names_one_file(out: Path, output_format: str, kind: str = "nlu") -> bool:
    """Whether ``--out`` names the file to write (rather than a folder) for ``output_format``."""
    from dialogflowlite.errors import ProjectError

    if out.suffix in _FORMAT_SUFFIXES[output_format]:
        return True
    other = next((f for f, suffixes in _FORMAT_SUFFIXES.items() if out.suffix in suffixes), None)
    if other is not None:
        hint = f"name a {_FORMAT_SUFFIXES[output_format][0]} file or a folder as --out"
        # stories have no other format to offer
        hint += f", or pass --format {other}" if kind == "nlu" else "; stories are written as YAML"
        raise ProjectError(f"--out {out} names a {other.upper()} file, but --format is "
                           f"{output_format}", hint=hint)
    return False


def _conversion_targets(files: list[Path], source: Path, out: Path,
                        output_format: str = "yaml", kind: str = "nlu") -> list[Path]:
    """Where each converted file goes: ``out`` itself when it names one file of the format,
    else ``<out>/<sub-folder>/<name>_converted.yml`` (``.json`` for JSON; sub-folders as
    under ``source``)."""
    from dialogflowlite.errors import ProjectError

    if _names_one_file(out, output_format, kind):
        if len(files) > 1:
            raise ProjectError(f"--out {out} names one file, but {source} holds {len(files)} "
                               "files to convert", hint="pass a folder as --out")
        return [out]
    suffix = Path(CONVERTED_SUFFIX).with_suffix(_FORMAT_SUFFIXES[output_format][0]).name
    targets = []
    for file in files:
        relative = file.relative_to(source).parent if source.is_dir() else Path()
        targets.append(out / relative / f"{file.stem}{suffix}")
    return targets


#: what ``_training_data_format`` calls a YAML file with NLU data (``nlu:``)
YAML_NLU = "YAML NLU data"


def _training_data_format(file: Path, *, read_yaml: bool = True) -> str | None:
    """The older formats of ``old_training_data_format``, or ``YAML_NLU``.

    A YAML file is parsed only with ``read_yaml`` (else it is none of them): a folder's
    YAML files matter only to ``convert nlu -f json``. One that is not valid YAML is
    none of them either, unless a line of it starts ``nlu:``: then its error is raised.
    """
    from dialogflowlite.errors import YamlSyntaxError
    from dialogflowlite.io.loader import YAML_SUFFIXES, has_key_line, old_training_data_format
    from dialogflowlite.io.yaml import read_yaml_file

    if file.suffix not in YAML_SUFFIXES:
        return old_training_data_format(file)
    if not read_yaml:
        return None
    try:
        written = read_yaml_file(file)
    except OSError:
        return None
    except YamlSyntaxError:
        if has_key_line(file, "nlu"):
            raise
        return None
    return YAML_NLU if isinstance(written, dict) and "nlu" in written else None


def _files_to_convert(kind: str, source: Path, output_format: str = "yaml") -> list[Path]:
    """The files of ``kind`` at ``source`` (a file, or a folder searched for them).

    YAML NLU files are converted only into JSON: as YAML they need no conversion.
    """
    from dialogflowlite.errors import ProjectError, ProjectNotFoundError
    from dialogflowlite.io.loader import (
        JSON_NLU,
        MARKDOWN_NLU,
        MARKDOWN_RESPONSES,
        MARKDOWN_STORIES,
    )

    wanted: tuple[str, ...] = {"core": (MARKDOWN_STORIES,), "nlg": (MARKDOWN_RESPONSES,)}.get(
        kind, (MARKDOWN_NLU, JSON_NLU))
    what = {"core": "Markdown stories", "nlg": "Markdown responses"}.get(
        kind, "Markdown or JSON NLU data")
    if kind == "nlu" and output_format == "json":
        wanted, what = (*wanted, YAML_NLU), "YAML, Markdown or JSON NLU data"
    if source.is_dir():
        read_yaml = YAML_NLU in wanted
        files = sorted(p for p in source.rglob("*")
                       if p.is_file() and _training_data_format(p, read_yaml=read_yaml) in wanted)
        if not files:
            raise ProjectError(f"{source} holds no {what} to convert",
                               hint="YAML files need no conversion; for the other kinds use "
                               + " or ".join(f"`data convert {other}`" for other in
                                             CONVERT_KINDS if other != kind))
        return files
    if source.is_file():
        found = _training_data_format(source)
        if found not in wanted:
            if found == YAML_NLU:
                raise ProjectError(f"{source} is YAML NLU data already",
                                   hint="pass --format json to write it in Rasa's JSON format")
            other = {MARKDOWN_STORIES: "core", MARKDOWN_RESPONSES: "nlg"}.get(found, "nlu")
            raise ProjectError(
                f"{source} is not {what}" + (f" but {found}" if found else ""),
                hint=f"use `data convert {other}`" if found else
                "`data convert` reads Rasa's Markdown (.md) and JSON (.json) training data")
        return [source]
    raise ProjectNotFoundError(f"{source} does not exist",
                               hint="pass a file or folder with --data")


def _refuse_existing(targets: list[Path]) -> None:
    """Raise, before anything is written, when a target exists or two inputs share one."""
    from dialogflowlite.errors import ProjectError

    existing = [t for t in targets if t.exists()]
    clashing = sorted({t for t in targets if targets.count(t) > 1})
    if existing or clashing:
        raise ProjectError(
            "; ".join([*(f"{t} exists already" for t in existing),
                       *(f"two files would be written to {t}" for t in clashing)])
            + ": nothing was converted",
            hint="remove or rename those files, or choose another --out; "
            "an existing file is never overwritten")


def convert_training_data(
    kind: str,
    data: str | Path,
    out: str | Path,
    *,
    output_format: str = "yaml",
    echo: TextIO | None = None,
) -> list[Path]:
    """Convert Markdown or JSON training data into YAML files; returns the written paths.

    ``kind`` is ``"nlu"`` (Markdown and JSON NLU data) or ``"core"`` (Markdown
    stories and rules). ``data`` is one file or a folder searched for files of
    that kind. ``out`` is the YAML file to write or a folder, which gets
    ``<name>_converted.yml`` per file. NLU data of several files written to
    one YAML file is merged into it, as Rasa 3's ``data convert nlu`` does
    with a folder; stories need a folder then. With ``output_format="json"``
    NLU data (YAML files too) is written in Rasa's JSON format instead
    (``.json`` files, ``<name>_converted.json``; see
    :func:`dialogflowlite.io.nlu_writer.nlu_json`). Nothing is written when a
    target exists already, or when a file has errors: those raise, and
    every problem found is listed.
    """
    from dialogflowlite.errors import ProjectError, ProjectValidationError
    from dialogflowlite.io.markdown_reader import read_markdown_responses, read_markdown_stories
    from dialogflowlite.io.nlu_writer import nlg_yaml, nlu_json, nlu_yaml
    from dialogflowlite.io.problems import ProblemLog
    from dialogflowlite.io.story_writer import stories_and_rules_yaml
    from dialogflowlite.io.yaml import to_plain
    from dialogflowlite.shared.training_data import TrainingData

    if kind not in CONVERT_KINDS:
        raise ValueError(f"kind must be one of {', '.join(CONVERT_KINDS)}, not {kind!r}")
    formats = CONVERT_FORMATS if kind == "nlu" else ("yaml",)
    if output_format not in formats:
        raise ProjectError(f"cannot convert {CONVERT_KINDS[kind]} to "
                           f"{output_format!r}", hint="use --format yaml")
    stream = echo or sys.stdout
    source = Path(data)
    files = _files_to_convert(kind, source, output_format)
    merged = (kind == "nlu" and len(files) > 1
              and _names_one_file(Path(out), output_format))
    targets = ([Path(out)] if merged
               else _conversion_targets(files, source, Path(out), output_format, kind))
    _refuse_existing(targets)
    write_text = nlu_json if output_format == "json" else nlu_yaml

    log = ProblemLog()
    texts, summaries = [], []
    together = TrainingData()
    for file in files:
        if kind == "nlg":
            responses = to_plain(read_markdown_responses(file, log)["responses"])
            texts.append(nlg_yaml(responses))
            summaries.append(f"{len(responses)} responses")
        elif kind == "core":
            stories = read_markdown_stories(file, log)
            texts.append(stories_and_rules_yaml(stories))
            rules = sum(1 for s in stories if s.kind == "rule")
            summaries.append(f"{len(stories) - rules} stories, {rules} rules")
        else:
            nlu = _read_nlu_to_convert(file, log)
            if output_format == "yaml":
                _note_lossy_examples(nlu, log)
            elif file.suffix != ".json":
                nlu = _with_annotated_synonyms(nlu)
            together = together.merge(nlu)
            texts.append(write_text(nlu))
            summaries.append(_nlu_summary(nlu, output_format))
    if merged:
        summaries = [f"{len(files)} files merged: {_nlu_summary(together, output_format)}"]
        files, texts = [source], [write_text(together)]
    if log.errors:
        raise ProjectValidationError(
            log.problems, hint="fix them and convert again: nothing was written")
    for problem in log.problems:
        print(problem, file=stream)
    for file, target, text, summary in zip(files, targets, texts, summaries, strict=True):
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
        print(f"{file} -> {target} ({summary})", file=stream)
    if output_format == "yaml" and any(
            _data_folder(file) is not None and _data_folder(file) == _data_folder(target)
            for file, target in zip(files, targets, strict=True)):
        # only then: a JSON export, or YAML written elsewhere, is no second copy the
        # project reads, and its source is no old file to delete
        print("check the new files, then delete the old ones: a project reads both while "
              "both sit under data/", file=stream)
    return targets


def _data_folder(path: Path) -> Path | None:
    """The nearest folder named ``data`` that holds ``path`` (a project's data folder)."""
    return next((folder for folder in path.resolve().parents if folder.name == "data"), None)


def _read_nlu_to_convert(file: Path, log: ProblemLog) -> TrainingData:
    """The NLU data of one Markdown, JSON or YAML file (problems go to ``log``)."""
    from dialogflowlite.io.json_nlu_reader import read_json_nlu
    from dialogflowlite.io.markdown_reader import read_markdown_nlu
    from dialogflowlite.io.nlu_reader import NluReader
    from dialogflowlite.io.yaml import read_yaml_file

    if file.suffix == ".json":
        return read_json_nlu(file, log)
    if file.suffix == ".md":
        return read_markdown_nlu(file, log)
    reader = NluReader(log)
    written = read_yaml_file(file)
    reader.read(file, written, written["nlu"])
    _note_responses_left_out(file, written, log)
    return reader.data


def _with_annotated_synonyms(nlu: TrainingData) -> TrainingData:
    """``nlu`` with the synonyms its examples give inline among its own, in file order,
    so that the JSON written has them in ``entity_synonyms`` where Rasa's readers of
    YAML and Markdown data list them (its JSON reader does not).

    Where a synonym stands changes only the order of the entries: each variant is
    listed under the value training gives it (:func:`nlu_writer.json_synonyms`).
    """
    from dialogflowlite.shared.training_data import annotated_synonyms

    return replace(nlu, synonyms=_in_file_order([*nlu.synonyms,
                                                 *annotated_synonyms(nlu.examples)]))


def _in_file_order(synonyms: list[Synonym]) -> list[Synonym]:
    """``synonyms`` (of one file) by where they stand; as given when a position lacks
    its line (data not read from a file)."""
    if any(s.position is None or s.position.line is None for s in synonyms):
        return synonyms
    return sorted(synonyms, key=lambda s: (s.position.line, s.position.col or 0))


def _note_responses_left_out(file: Path, written: Any, log: ProblemLog) -> None:
    """Warn that a YAML NLU file's ``responses:`` are not written: Rasa's JSON NLU format
    (``rasa_nlu_data``) has no place for them."""
    from dialogflowlite.io.yaml import position

    responses = written.get("responses")
    if not isinstance(responses, dict) or not responses:
        return
    names = ", ".join(map(str, responses))
    log.warning(position(file, written, "responses"),
                f"the responses of {file.name} are left out of the JSON ({names}): Rasa's "
                "JSON NLU format holds no responses",
                "keep them in a YAML file (domain or NLU data)")


def _nlu_summary(nlu: TrainingData, output_format: str) -> str:
    """What one converted file holds, counted as written: JSON lists one entry per
    synonym value, after the variants given twice or overridden are left out."""
    from dialogflowlite.io.nlu_writer import json_synonyms

    synonyms = len(json_synonyms(nlu) if output_format == "json" else nlu.synonyms)
    return (f"{len(nlu.examples)} examples, {synonyms} synonyms, "
            f"{len(nlu.regexes)} regexes, {len(nlu.lookups)} lookup tables")


def _note_lossy_examples(data: TrainingData, log: ProblemLog) -> None:
    """Warn about examples that YAML's inline annotation cannot hold as they are.

    JSON examples carry entities as offsets; written inline, overlapping spans
    lose all but the first, and brackets in the text itself read as annotation.
    """
    from dialogflowlite.errors import AnnotationError
    from dialogflowlite.shared.training_data import annotate, parse_annotated_text

    def labels(entities: list) -> list:
        return sorted((e.entity, e.start, e.end, repr(e.value), e.role, e.group)
                      for e in entities)

    for message in data.examples:
        try:
            text, entities = parse_annotated_text(annotate(message.text, message.entities))
        except AnnotationError:
            text, entities = None, []
        if text == message.text and labels(entities) == labels(message.entities):
            continue
        spans = sorted({(e.start, e.end) for e in message.entities})
        if any(start < end for (_, end), (start, _) in itertools.pairwise(spans)):
            log.warning(message.position, f"example {message.text!r} has overlapping "
                        "entities; the YAML keeps only the first of them",
                        "annotate one entity per span of text")
        else:
            log.warning(message.position, f"example {message.text!r} has brackets that YAML "
                        "reads as entity annotation; the YAML does not hold it unchanged",
                        "reword the example in the written file")


def _add_convert_arguments(parser: argparse.ArgumentParser, formats: tuple[str, ...] = ("yaml",),
                           data_help: str = "a Markdown file, or a folder of them") -> None:
    parser.add_argument("--data", default="data", metavar="PATH",
                        help=f"{data_help} (default: data)")
    merged = "NLU data of several files is merged into it" if "json" in formats else \
        "for one file converted"
    parser.add_argument("--out", default=DEFAULT_CONVERTED_FOLDER, metavar="PATH",
                        help=f"the file to write ({merged}), or a folder that gets one "
                        f"<name>{CONVERTED_SUFFIX} per file (default: "
                        f"{DEFAULT_CONVERTED_FOLDER}, as Rasa's)")
    parser.add_argument("-f", "--format", default="yaml", choices=formats,
                        help="the output format (default: yaml)" + (
                            "; json writes Rasa's JSON NLU format (rasa_nlu_data), "
                            "<name>_converted.json per file" if "json" in formats else ""))
    # Rasa's convert takes the data's language; neither format holds one
    parser.add_argument("-l", "--language", default="en", metavar="LANG",
                        help="the language of the data (taken as Rasa's is; the file written "
                        "does not depend on it)")


def _add_convert_nlu_arguments(parser: argparse.ArgumentParser) -> None:
    _add_convert_arguments(parser, CONVERT_FORMATS, "a Markdown or JSON file (for --format "
                           "json also YAML), or a folder of them")


def _run_convert(kind: str):
    def run(args: argparse.Namespace) -> int:
        convert_training_data(kind, args.data, args.out, output_format=args.format)
        return 0

    return run


CONVERT_NLU_COMMAND = Command(
    "data convert nlu",
    "convert Markdown or JSON NLU data into YAML (or NLU data into Rasa's JSON)",
    _add_convert_nlu_arguments,
    _run_convert("nlu"),
    description="Write Rasa's Markdown NLU data (## intent:..., ## synonym:..., ## regex:..., "
    "## lookup:...) and JSON NLU data (rasa_nlu_data) as YAML NLU files; with --format json, "
    "write those and YAML NLU files in Rasa's JSON format. An existing output "
    "file is never overwritten.",
)

CONVERT_NLG_COMMAND = Command(
    "data convert nlg",
    "convert Markdown responses of retrieval intents into YAML",
    functools.partial(_add_convert_arguments, data_help="a Markdown responses file (Rasa 1's "
                      "responses.md), or a folder of them"),
    _run_convert("nlg"),
    description="Write Rasa 1's Markdown responses of retrieval intents (## title, "
    "* faq/ask_name, - text) as YAML `responses:` (utter_faq/ask_name with one `text` "
    "per variation). An existing output file is never overwritten.",
)

CONVERT_CORE_COMMAND = Command(
    "data convert core",
    "convert Markdown stories (and rules) into YAML",
    _add_convert_arguments,
    _run_convert("core"),
    description="Write Rasa's Markdown stories (## story, * intent{...}, - action, "
    "- slot{...}, - form{...}, > checkpoint, >> rule) as YAML stories and rules. "
    "An existing output file is never overwritten.",
)


# ---------------------------------------------------------------- data migrate


def migrate_domain_format(
    project_dir: str | Path = ".",
    *,
    domain: str | Path | None = None,
    out: str | Path | None = None,
    echo: TextIO | None = None,
) -> Path:
    """Rewrite a format 2.0 domain in the 3.x format; returns the migrated file or folder.

    ``domain`` is a domain file or folder (default: the project's
    ``domain.yml`` or ``domain/``). Without ``out`` the domain is rewritten in
    place and the original kept as ``original_domain.yml`` (or
    ``original_domain/``) next to it, as Rasa's ``rasa data migrate`` does;
    with ``out`` the migrated domain goes there and the original stays as it
    is. See :mod:`dialogflowlite.io.domain_migrate` for what changes.
    """
    from dialogflowlite.io.domain_migrate import (
        MIGRATED_VERSION,
        migrate_domain,
        project_domain_path,
        write_migration,
    )
    from dialogflowlite.io.loader import resolve_in_project

    stream = echo or sys.stdout
    root = Path(project_dir)
    source = resolve_in_project(domain, root) if domain is not None else project_domain_path(root)
    migration = migrate_domain(source)
    # (an --out from the working folder, as every command's --out and as Rasa reads it)
    result = write_migration(migration, Path(out) if out is not None else None)
    for note in migration.notes:
        print(f"note: {note}", file=stream)
    changed = len(migration.changed_files)
    print(f"{source} -> {result.target} ({changed} of {len(migration.files)} file(s) rewritten "
          f"in the {MIGRATED_VERSION} format)", file=stream)
    if result.backup is not None:
        print(f"the original is kept at {result.backup}", file=stream)
    print("check the result with `dialogflowlite data validate`", file=stream)
    return result.target


def _add_migrate_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--project", default=".", metavar="DIR",
                        help="the project folder (default: the current folder)")
    parser.add_argument("-d", "--domain", default=None, metavar="PATH",
                        help="the domain file or folder (default: <project>/domain.yml "
                        "or <project>/domain)")
    parser.add_argument("--out", default=None, metavar="PATH",
                        help="write the migrated domain here (a file, or a folder for a "
                        "domain folder) and leave the original as it is (default: rewrite "
                        "it in place, keeping the original as original_domain.yml or "
                        "original_domain/)")


def _run_migrate(args: argparse.Namespace) -> int:
    migrate_domain_format(args.project, domain=args.domain, out=args.out)
    return 0


MIGRATE_COMMAND = Command(
    "data migrate",
    "rewrite a 2.0 domain in the 3.x format (slot mappings instead of auto_fill and form mappings)",
    _add_migrate_arguments,
    _run_migrate,
    description="Rewrite a format 2.0 domain in the 3.x format: auto_fill becomes a from_entity "
    "mapping, mappings written inside forms move to their slots with a condition naming the "
    "form, forms list their slot names, and version becomes \"3.1\". Only the slots:, forms: "
    "and version: parts change; comments stay. The migrated domain loads exactly as the "
    "original did. A domain already in the 3.x format, an existing backup or --out, and a "
    "mapping that cannot be converted are refused, and then nothing is written.",
)
