"""``dialogflowlite train [nlu|core|generation]``: train a project into one model file.

Components whose inputs did not change since the previous model are copied
from it instead of retrained (``--force`` retrains everything); when nothing
changed at all, no model is written and the previous one is named instead.
``train nlu`` and ``train core`` train only that part, as in Rasa: the model
then holds only that part.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from dataclasses import fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from dialogflowlite.cli.command import Command
from dialogflowlite.cli.options import (
    add_source_options,
    config_files,
    exclusion_percentage,
    positive_int,
    require_project,
    sources_from_args,
)
from dialogflowlite.errors import ConfigError, TrainingError
from dialogflowlite.io.loader import (
    Project,
    ProjectSources,
    load_project,
    resolve_in_project,
    resolve_output,
)
from dialogflowlite.training import core_comparison

if TYPE_CHECKING:
    from dialogflowlite.training.trainer import DryRunResult, TrainOptions

PARTS = ("nlu", "core", "generation")
#: where a comparison writes its models when no --out is given
COMPARISON_MODELS = "comparison_models"
#: the graph ``--debug-plots`` writes into the project folder (Rasa's file name)
DEBUG_PLOT = "story_blocks_connections"


def train_project(
    project_dir: str | Path = ".",
    *,
    part: str | None = None,
    out: str | Path | None = None,
    force: bool = False,
    quantize: bool = False,
    fixed_model_name: str | None = None,
    seed: int | None = None,
    nlu: str | Path | None = None,
    stories: str | Path | None = None,
    finetune: str | Path | None = None,
    epoch_fraction: float = 1.0,
    sources: ProjectSources | None = None,
    augmentation: int | None = None,
    validation: str = "errors",
    validation_max_history: int | None = None,
    persist_nlu_data: bool = False,
    debug_plots: bool = False,
    echo: TextIO | None = None,
):
    """Train the project (or one ``part`` of it); print what happened and return the result.

    When nothing changed since the newest model, none is written: the result
    names that model, and Rasa's "Nothing changed" line is printed.

    ``nlu`` (a YAML file or a folder of them) replaces the NLU data of the
    project's ``data/``, as after ``data split nlu``; ``stories`` (a YAML file
    or folder) replaces its stories the same way, as after ``data split
    stories`` (its rules stay). ``finetune`` names the
    model (a file, or a folder whose newest model is taken; ``""``: the newest
    in the output folder) whose trained weights the components that can be
    fine-tuned start from, for ``epoch_fraction`` of their epochs.
    ``sources`` names other domain, data and config files (``--domain``,
    ``--data``, ``--config``); ``augmentation`` overrides the policies' story
    augmentation; ``validation`` is ``errors`` (the default: errors stop
    training), ``warnings`` (warnings stop it too) or ``skip``;
    ``validation_max_history`` is the history the story-contradiction check uses;
    ``persist_nlu_data`` keeps the NLU data in the model
    (:mod:`dialogflowlite.training.persisted_data`); ``debug_plots`` first
    draws the stories that training reads, checkpoints joined, into
    ``story_blocks_connections.html`` in the project folder.
    """
    from dialogflowlite.training.trainer import train

    options = _train_options(
        project_dir, force=force, quantize=quantize, fixed_model_name=fixed_model_name,
        seed=seed, finetune=finetune, epoch_fraction=epoch_fraction, validation=validation,
        validation_max_history=validation_max_history, persist_nlu_data=persist_nlu_data)
    stream = echo or sys.stdout
    if finetune is None and epoch_fraction != 1.0:
        logging.getLogger(__name__).warning("--epoch-fraction applies only with --finetune; "
                                            "training with the configured epochs")
    project, output, sections = _prepare(
        project_dir, part=part, out=out, nlu=nlu, stories=stories, sources=sources,
        augmentation=augmentation)
    if debug_plots:
        draw_training_stories(project, sections, stream)
    result = train(project, output=output, sections=sections, options=options)
    if not result.written:
        # Rasa 2's words, so that scripts and people used to them read the same
        print(f"Nothing changed. You can use the old model stored at "
              f"'{result.model_path.resolve()}'.", file=stream)
    print(f"model: {result.model_path}", file=stream)
    print(f"trained ({len(result.trained)}): {', '.join(result.trained) or '-'}", file=stream)
    print(f"reused ({len(result.reused)}): {', '.join(result.reused) or '-'}", file=stream)
    print(f"time: {result.seconds:.1f}s", file=stream)
    return result


def draw_training_stories(project: Project, sections: tuple[str, ...], stream: TextIO) -> None:
    """``--debug-plots``: the stories as training reads them (checkpoints joined, ``or``
    steps apart) as one graph, written before training starts."""
    from dialogflowlite.cli.visualize import write_story_graph
    from dialogflowlite.shared.story_paths import expand_story_paths

    if "core" not in sections or not project.stories:
        print("--debug-plots: no stories to draw for this training", file=stream)
        return
    paths = expand_story_paths(project.stories, domain=project.domain)
    target, steps = write_story_graph(paths, None, project.root, name=DEBUG_PLOT)
    print(f"--debug-plots: {len(project.stories)} stories drawn as {steps} steps into {target}",
          file=stream)


def dry_run_project(project_dir: str | Path = ".", **settings: Any) -> DryRunResult:
    """What :func:`train_project` with the same ``settings`` would train, training nothing.

    The problems a training would stop at before it trains are raised here too,
    in the same order: a ``fixed_model_name`` that is not a file name, the
    project's, then a ``finetune`` model that is not there or cannot be opened.
    ``echo`` and ``debug_plots`` are accepted and change nothing here.
    """
    from dialogflowlite.training.trainer import TrainOptions, dry_run

    for unused in ("echo", "debug_plots"):
        settings.pop(unused, None)
    wanted = {f.name for f in fields(TrainOptions) if f.init}
    options = _train_options(project_dir, **{key: settings.pop(key) for key in list(settings)
                                             if key in wanted})
    project, output, sections = _prepare(project_dir, **settings)
    # dry_run checks the --finetune model as train does
    return dry_run(project, output=output, sections=sections, options=options)


def _train_options(project_dir: str | Path, **options: Any) -> TrainOptions:
    """The options of a training (or a dry run) of the project in ``project_dir``.

    Made before any other work: :class:`TrainOptions` refuses a
    ``fixed_model_name`` that is not a file name.
    """
    from dialogflowlite.training.trainer import TrainOptions

    if options.get("finetune"):  # "" stays: the newest model of the output folder
        # read like --nlu and --model: from the working folder, else the project
        options["finetune"] = resolve_in_project(options["finetune"], project_dir)
    return TrainOptions(**options)


def _prepare(project_dir: str | Path, *, part: str | None = None,
             out: str | Path | None = None, nlu: str | Path | None = None,
             stories: str | Path | None = None, sources: ProjectSources | None = None,
             augmentation: int | None = None) -> tuple[Project, Path | None, tuple[str, ...]]:
    """The project as training sees it, the output folder and the sections.

    One place for both :func:`train_project` and :func:`dry_run_project`, so
    a dry run judges exactly the data a training would use.
    """
    require_project(project_dir, sources)
    # given: from the working folder, as Rasa reads --out (`--project bot --out
    # bot/models` wrote into bot/bot/models)
    output = None if out is None else resolve_output(out, project_dir)
    folder = output if output is not None else Path(project_dir) / "models"
    if folder.exists() and not folder.is_dir():
        # said now: the model would be written only after the whole training
        raise ConfigError(f"--out {out} is a file, and models are written into a folder"
                          if out is not None else
                          f"{folder} is a file, where the folder of the models should be",
                          hint="move the file away, or pass a folder with --out (default: "
                               "<project>/models); --fixed-model-name names the model file")
    _check_writable(folder, f"--out {out}" if out is not None else f"the models folder {folder}")
    project = load_project(project_dir, strict=False, sources=sources)
    sections = (part,) if part else PARTS
    if sources is not None and sources.data and nlu is None and stories is None:
        _check_given_data(project, sources.data, sections)
    if nlu is not None or stories is not None:
        from dialogflowlite.evaluation.nlu import load_nlu_data
        from dialogflowlite.evaluation.stories import load_test_stories

        if nlu is not None:
            source = resolve_in_project(nlu, project_dir)
            project.nlu = load_nlu_data(source, project_dir)
            if not project.nlu.intent_examples and part != "nlu":
                # the NLU part would be left out of the training without a word (`train
                # nlu` is refused by the trainer: it has nothing else to train)
                raise ConfigError(f"--nlu {nlu}: no NLU examples in {source}",
                                  hint="pass a file (or folder) with an `nlu:` section, or "
                                       "Rasa's Markdown or JSON NLU data")
        if stories is not None:
            source = resolve_in_project(stories, project_dir)
            project.stories = load_test_stories(source, kind="story")
            if not project.stories:
                # training on the rules alone would replace the stories without a word
                raise ConfigError(f"--stories {stories}: no stories in {source}",
                                  hint="pass a YAML file (or folder) with a `stories:` section")
    if augmentation is not None:
        set_augmentation(project, augmentation)
    return project, output, sections


def _check_writable(folder: Path, label: str) -> None:
    """Refuse a models folder that cannot be made or written, before training: the
    model is written only once the whole training is done."""
    existing = folder.absolute()
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise ConfigError(f"{label}: {existing} is a file, so the folder cannot be made",
                          hint="pass another folder with --out")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ConfigError(f"{label}: the folder {existing} may not be written",
                          hint="pass a folder you may write to with --out")


def _check_given_data(project: Project, data: tuple[str | Path, ...],
                      sections: tuple[str, ...]) -> None:
    """Refuse ``--data`` files in which training finds nothing to train (a domain or a
    config given as data, which the loader leaves out), naming the option.

    Training would stop at the same point, but after the project's warnings and
    with a hint about data/, which ``--data`` replaced.
    """
    from dialogflowlite.training.trainer import sections_to_train

    try:
        sections_to_train(project, sections)
    except TrainingError as e:
        names = " ".join(str(path) for path in data)
        raise ConfigError(f"--data {names}: {e.message}",
                          hint="give --data the training data: YAML files (or folders) with "
                               "`nlu:`, `stories:` or `rules:`; the domain goes with --domain, "
                               "the config with --config") from e


def set_augmentation(project: Project, factor: int) -> None:
    """Set ``augmentation`` of every configured policy that has the setting (``--augmentation``).

    A policy given by its Rasa name (``TEDPolicy``) is first replaced by the
    one that provides it here, whose settings these are.
    """
    from dialogflowlite.components.policies.rasa_compat import (
        POLICY_ALIASES,
        translate_policies,
        translate_policy,
    )
    from dialogflowlite.plugins.registry import get_registry

    if factor < 0:
        raise ConfigError(f"--augmentation must be 0 or more, not {factor}",
                          hint="0 turns story augmentation off")
    if not project.config.policies:
        # a config without policies (as `rasa init` writes it) trains the default ones,
        # whose transformer policy augments stories: Rasa's --augmentation reaches it too
        project.config.policies = translate_policies([])
    registry = get_registry()
    changed = []
    for index, entry in enumerate(project.config.policies):
        if entry.name in POLICY_ALIASES:
            entry = project.config.policies[index] = translate_policy(entry)
        component = registry.get(entry.name, entry.position)
        if "augmentation" in getattr(component, "defaults", {}):
            entry.params["augmentation"] = factor
            changed.append(entry.name)
    if not changed:
        logging.getLogger(__name__).warning(
            "--augmentation %d changes nothing: no configured policy augments stories", factor)


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("part", nargs="?", choices=PARTS,
                        help="train only this part (default: everything configured)")
    parser.add_argument("--project", default=".", metavar="DIR",
                        help="the project folder (default: the current folder)")
    parser.add_argument("--out", default=None, metavar="DIR",
                        help="where to write the model, from the working folder (default: "
                             "<project>/models)")
    parser.add_argument("--force", action="store_true",
                        help="retrain every component, even unchanged ones, and write a "
                        "model even when nothing changed")
    parser.add_argument("--quantize", action="store_true",
                        help="quantize the transformer models for faster CPU inference")
    parser.add_argument("--fixed-model-name", default=None, metavar="NAME",
                        help="file name of the model in the output folder, without a "
                        "folder (default: a timestamp); written even when nothing changed, "
                        "unless the newest model already has it")
    parser.add_argument("--seed", type=int, default=None, help="random seed for training")
    parser.add_argument("-u", "--nlu", default=None, metavar="PATH",
                        help="NLU file or folder to train on instead of the project's "
                        "(for instance train_test_split/training_data.yml)")
    parser.add_argument("--stories", default=None, metavar="PATH",
                        help="stories file or folder to train on instead of the project's "
                        "(for instance train_test_split/train_stories.yml); rules stay")
    parser.add_argument("--finetune", nargs="?", const="", default=None, metavar="MODEL",
                        help="start the trainable models (NLU, policies, generator) from the "
                        "weights of a trained model (the newest in the output folder when "
                        "MODEL is not given) instead of from scratch; the labels must be "
                        "the same")
    parser.add_argument("--epoch-fraction", type=float, default=1.0, metavar="F",
                        help="with --finetune: train for this share of the configured epochs "
                        "(default: 1.0)")
    rasa = parser.add_argument_group("Rasa's options")
    add_source_options(rasa, "train on", compare_help=(
        "with `train core`, several files (or a folder of them) compare their policies: "
        "each is trained on less and less of the stories (--runs, --percentages) into "
        "--out (default: <project>/comparison_models), for `test core "
        "--evaluate-model-directory`"))
    rasa.add_argument("--runs", type=positive_int, default=None, metavar="N",
                      help="comparing configs: how many times to draw the stories left out "
                           f"(default: {core_comparison.DEFAULT_RUNS})")
    rasa.add_argument("--percentages", type=exclusion_percentage, nargs="+", default=None,
                      metavar="P",
                      help="comparing configs: the percentages of the stories to leave out, "
                           "one training each (default: "
                           f"{' '.join(map(str, core_comparison.DEFAULT_PERCENTAGES))})")
    rasa.add_argument("--dry-run", action="store_true",
                      help="train nothing; say whether training would change the newest "
                      "model (exit code 0: up to date, 1: training needed, 8: --force)")
    rasa.add_argument("--num-threads", type=positive_int, default=None, metavar="N",
                      help="most CPU threads PyTorch may use")
    rasa.add_argument("--augmentation", type=int, default=None, metavar="N",
                      help="story augmentation of the policies that have it (0: off); it "
                      "counts glued story pairs per story, where Rasa counts stories in all")
    rasa.add_argument("--persist-nlu-data", action="store_true",
                      help="keep the NLU training data in the model (training_data/nlu.yml "
                      "in the model file)")
    rasa.add_argument("--debug-plots", action="store_true",
                      help="before training, draw the stories as training reads them "
                      "(checkpoints joined) into story_blocks_connections.html in the "
                      "project folder")
    rasa.add_argument("--skip-validation", action="store_true",
                      help="train without checking the project first (reading errors still "
                      "stop it)")
    rasa.add_argument("--fail-on-validation-warnings", action="store_true",
                      help="stop before training when the check finds warnings too")
    rasa.add_argument("--validation-max-history", type=positive_int, default=None, metavar="N",
                      help="turns of history the check for contradicting stories considers "
                      "(default: the policies' max_history in config.yml)")


def _validation(args: argparse.Namespace) -> str:
    if args.skip_validation and args.fail_on_validation_warnings:
        raise ConfigError("--skip-validation and --fail-on-validation-warnings contradict "
                            "each other", hint="give one of them")
    if args.skip_validation:
        return "skip"
    return "warnings" if args.fail_on_validation_warnings else "errors"


def _settings(args: argparse.Namespace) -> dict[str, Any]:
    """The keyword arguments of :func:`train_project` the options ask for."""
    return dict(part=args.part, out=args.out, force=args.force, quantize=args.quantize,
                fixed_model_name=args.fixed_model_name, seed=args.seed, nlu=args.nlu,
                stories=args.stories, finetune=args.finetune,
                epoch_fraction=args.epoch_fraction,
                sources=sources_from_args(args, PARTS, "train"),
                augmentation=args.augmentation, validation=_validation(args),
                validation_max_history=args.validation_max_history,
                persist_nlu_data=args.persist_nlu_data, debug_plots=args.debug_plots)


def compare_configs(project_dir: str | Path, configs: list[Path], *,
                    out: str | Path | None = None, runs: int | None = None,
                    percentages: list[int] | None = None, seed: int | None = None,
                    stories: str | Path | None = None, sources: ProjectSources | None = None,
                    augmentation: int | None = None, validation: str = "errors",
                    validation_max_history: int | None = None,
                    echo: TextIO | None = None) -> dict[str, Any]:
    """``train core -c A.yml B.yml``: train every config's policies on less and less of
    the stories (:mod:`dialogflowlite.training.core_comparison`); returns the manifest.

    ``sources`` gives the domain and data to use instead of the project's (its
    config is ignored: ``configs`` are the ones compared).
    """
    from dialogflowlite.evaluation.comparison import config_names

    stream = echo or sys.stdout
    base = sources or ProjectSources()
    projects = {}
    output = resolve_output(out, project_dir, COMPARISON_MODELS)
    for name, config in zip(config_names(configs), configs, strict=True):
        # `out`: the folder checked before training is the one the models go to
        projects[name], _, _ = _prepare(
            project_dir, part="core", out=output, stories=stories, augmentation=augmentation,
            sources=ProjectSources(domain=base.domain, data=base.data, config=config))
    manifest = core_comparison.train_core_comparison(
        projects, output, runs=runs or core_comparison.DEFAULT_RUNS,
        percentages=percentages if percentages is not None else core_comparison.DEFAULT_PERCENTAGES,
        seed=42 if seed is None else seed, validation=validation,
        validation_max_history=validation_max_history,
        echo=lambda text: print(text, file=stream))
    print(f"{len(manifest['models'])} models written to {output} (listed in comparison.json); "
          f"compare them with `dialogflowlite test core --model {output} "
          "--evaluate-model-directory`", file=stream)
    return manifest


def _comparison(args: argparse.Namespace) -> list[Path] | None:
    """The configs to compare when ``--config`` names several; None for a plain training."""
    words = args.config or []
    if (args.part is None and len(words) > 1 and words[-1] in PARTS
            and not resolve_in_project(words[-1], args.project).exists()):
        # `train -c config.yml nlu`: --config took one file before it took several, so
        # the part written after it is still the part
        args.part, args.config = words[-1], words[:-1]
    configs = config_files(args.config, args.project, PARTS, "train") or []
    if len(configs) < 2:
        if configs:  # a folder holding one config trains that one
            args.config = [str(configs[0])]
        if args.runs is not None or args.percentages is not None:
            logging.getLogger(__name__).warning(
                "--runs and --percentages apply only when --config names several configs "
                "to compare")
        return None
    if args.part != "core":
        raise ConfigError(f"--config names {len(configs)} configs: `train core` compares "
                          "dialogue policies",
                          hint="write `train core -c A.yml B.yml`; NLU pipelines are compared "
                               "by `test nlu -c A.yml B.yml`")
    given = [option for option, value in (("--dry-run", args.dry_run),
                                          ("--finetune", args.finetune is not None),
                                          ("--fixed-model-name", args.fixed_model_name),
                                          ("--debug-plots", args.debug_plots),
                                          ("--persist-nlu-data", args.persist_nlu_data))
             if value]
    if given:
        raise ConfigError(f"{given[0]} does not go with comparing configs",
                          hint="leave it out: a comparison trains and names many models")
    return configs


def _run(args: argparse.Namespace) -> int:
    if args.num_threads is not None:
        import torch

        torch.set_num_threads(args.num_threads)
    compared = _comparison(args)
    if compared is not None:
        domain_and_data = ProjectSources(domain=args.domain,
                                         data=tuple(args.data) if args.data else None)
        compare_configs(args.project, compared, out=args.out, runs=args.runs,
                        percentages=args.percentages, seed=args.seed, stories=args.stories,
                        sources=domain_and_data, augmentation=args.augmentation,
                        validation=_validation(args),
                        validation_max_history=args.validation_max_history)
        return 0
    if args.dry_run:
        result = dry_run_project(args.project, **_settings(args))
        for line in result.report():
            print(line)
        return result.code
    train_project(args.project, **_settings(args))
    return 0


COMMAND = Command(
    "train",
    "train the project (NLU, dialogue policies, response generators) into one model file",
    _add_arguments,
    _run,
    description="Train the project into models/<timestamp>.tar, retraining only the "
    "components whose inputs changed; when nothing changed since the newest model, none "
    "is written and that one is named. `train nlu` / `train core` / `train generation` "
    "train one part only.",
)
