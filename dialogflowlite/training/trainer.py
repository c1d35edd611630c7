"""``train(project)``: turn a project into one model file.

Training runs in sections, each owned by its part of the package: ``nlu``
(tokenizer, features, intent/slot model, response selector), ``core``
(policies) and ``generation`` (response generators). Every component records
a fingerprint of its inputs; when the previous model holds a component with
the same fingerprint, its resources are copied instead of retrained. When
nothing is trained and the model would hold what the previous one holds
(the same components, config, domain and kept data), no model is written:
the previous one is the result, as Rasa 2 did ("Nothing changed").
"""

from __future__ import annotations

import importlib
import json
import logging
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath
from typing import Any, Protocol

from dialogflowlite.artifact import (
    MANIFEST,
    MODEL_SUFFIX,
    ComponentRecord,
    ComponentStorage,
    Manifest,
    ModelArchive,
    ModelWriter,
    fixed_model_file,
    latest_model,
    model_file_name,
    open_model,
)
from dialogflowlite.errors import ModelLoadError, ProjectValidationError, TrainingError
from dialogflowlite.io.loader import Project, load_project
from dialogflowlite.training.finetune import FinetuneSource

logger = logging.getLogger(__name__)

#: section name -> "module:Class" of the object that trains it
SECTIONS: dict[str, str] = {
    "nlu": "dialogflowlite.components.nlu.training:NluSection",
    "core": "dialogflowlite.components.policies.training:CoreSection",
    "generation": "dialogflowlite.components.generation.training:GenerationSection",
}


@dataclass
class TrainOptions:
    """Settings of one training run (from the command line or the API)."""

    force: bool = False
    quantize: bool = False
    seed: int | None = None
    device: str | None = None
    progress: bool = True
    extra: dict[str, Any] = field(default_factory=dict)
    #: a model file (or a folder of models: its newest) whose trained weights the
    #: components that can be fine-tuned start from (Rasa's ``--finetune``)
    finetune: str | Path | None = None
    #: the share of the configured epochs a fine-tuned component trains for
    epoch_fraction: float = 1.0
    #: the check before training: ``errors`` stop it, ``warnings`` too, or ``skip``
    #: (only errors reading the files stop it)
    validation: str = "errors"
    #: turns of history the story-contradiction check considers (None: config.yml's)
    validation_max_history: int | None = None
    #: keep the NLU training data in the model (Rasa's ``--persist-nlu-data``)
    persist_nlu_data: bool = False
    #: the model's name in the output folder (``--fixed-model-name``); None: a time stamp
    fixed_model_name: str | None = None
    #: the name checked last, and the file it names (see :attr:`model_file`)
    _named_file: tuple[str, str] | None = field(init=False, default=None, repr=False,
                                                compare=False)

    def __post_init__(self) -> None:
        # the name is checked as the options are made, before any work: one with a
        # folder in it (`../x`) would write outside the output folder
        _ = self.model_file

    @property
    def model_file(self) -> str | None:
        """The file ``fixed_model_name`` names (``bot``, ``bot.tar.gz``: ``bot.tar``);
        None without one. A name set after the options were made counts too: it is
        checked when it is first used, and each name is checked once."""
        name = self.fixed_model_name
        if name is None:
            return None
        if self._named_file is None or self._named_file[0] != name:
            self._named_file = (name, fixed_model_file(name))
        return self._named_file[1]


class StaleComponent(Exception):  # a signal that ends a dry run early, never shown
    """Raised in a dry run where a component would be trained: its section is out of date."""

    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


class TrainingContext:
    """What a section gets while training: storage to write to, the previous model, options.

    :meth:`reuse` copies a reused component's files from the previous model at
    once. With ``defer_copies`` it takes only the component's record; the
    files follow when :meth:`storage` asks for them or :meth:`copy_reused` is
    called, so a training that ends with the previous model unchanged copies
    nothing.

    In a ``dry_run`` nothing is trained or copied: :meth:`reuse` only answers,
    and :meth:`will_train` raises :class:`StaleComponent` for the first
    component that would be trained.
    """

    def __init__(self, writer: ModelWriter, previous: ModelArchive | None,
                 options: TrainOptions, finetune: ModelArchive | None = None,
                 dry_run: bool = False, defer_copies: bool = False) -> None:
        self.writer = writer
        self.previous = previous
        self.options = options
        #: the model fine-tuning starts from (``--finetune``), or None
        self.finetune = finetune
        self.dry_run = dry_run
        self.defer_copies = defer_copies or dry_run
        self.reused: list[str] = []
        self.trained: list[str] = []
        #: reused components whose files are not in the new model yet
        self._uncopied: list[str] = []

    def storage(self, key: str) -> ComponentStorage:
        """The folder of the component stored under ``key``: a fresh one, or for a
        reused component its files copied from the previous model."""
        if key in self._uncopied:
            self._copy(key)
        return self.writer.storage(key)

    def reuse(self, key: str, fingerprint: str, config: dict[str, Any] | None = None) -> bool:
        """Take the previous model's component ``key`` if its fingerprint matches.

        ``config``, when given, replaces the settings the previous model saved for it:
        settings that only act when the model runs (a generator's ``threshold``) are
        left out of the fingerprint, and the new values go with the reused component.
        Returns True when taken (the caller then skips training it).
        """
        if self.options.force or self.previous is None:
            return False
        record = self.previous.manifest.component(key)
        if record is None or record.fingerprint != fingerprint or not self.previous.has(key):
            return False
        if config is not None:
            record = replace(record, config=dict(config))
        # the record alone is enough to compare manifests with the previous one
        self.writer.record(record)
        self.reused.append(key)
        self._uncopied.append(key)
        if not self.defer_copies:
            self._copy(key)
        return True

    def reused_config(self, config: dict[str, Any]) -> dict[str, Any]:
        """The settings a reused component is saved with: ``config`` (config.yml's), with
        the int8 flag that ``train --quantize`` sets on a component that has one, as its
        training sets it (the weights are saved in full precision either way)."""
        reused = dict(config)
        if self.options.quantize and "quantize" in reused:
            reused["quantize"] = True
        return reused

    def copy_reused(self) -> None:
        """Copy the files of every reused component not copied yet into the new model."""
        for key in list(self._uncopied):
            self._copy(key)

    def _copy(self, key: str) -> None:
        self._uncopied.remove(key)
        self.writer.storage(key).copy_from(self.previous.storage(key))

    def will_train(self, key: str) -> None:
        """Called by a section just before it trains ``key``; stops a dry run there."""
        if self.dry_run:
            raise StaleComponent(key)

    def finetune_source(self, key: str, component_name: str) -> FinetuneSource | None:
        """The ``--finetune`` model's stored component ``key``, if it is the same component."""
        if self.finetune is None:
            return None
        record = self.finetune.manifest.component(key)
        if record is None or record.name != component_name or not self.finetune.has(key):
            return None
        return FinetuneSource(Path(self.finetune.source or self.finetune.root),
                              self.finetune.storage(key), dict(record.config),
                              record.fingerprint)

    def record(self, key: str, name: str, kind: str, section: str, config: dict[str, Any],
               fingerprint: str) -> None:
        """Note a freshly trained component in the manifest, with the plugin it came from."""
        from dialogflowlite.plugins.registry import origin_of

        plugin, package = origin_of(name)
        self.writer.record(ComponentRecord(key, name, kind, section, config, fingerprint,
                                           plugin, package))
        self.trained.append(key)


class TrainingSection(Protocol):
    """One part of training (``nlu``, ``core`` or ``generation``)."""

    name: str

    def is_configured(self, project: Project) -> bool:
        """Whether the project has anything for this section to train."""

    def train(self, project: Project, context: TrainingContext) -> dict[str, Any]:
        """Train (or reuse) this section's components; returns its manifest entry."""


def load_section(name: str) -> TrainingSection:
    """Instantiate the trainer of section ``name``."""
    module_name, _, class_name = SECTIONS[name].partition(":")
    return getattr(importlib.import_module(module_name), class_name)()


@dataclass
class TrainResult:
    """What :func:`train` did."""

    model_path: Path
    trained: list[str]
    reused: list[str]
    seconds: float
    #: False when nothing changed since the newest model: ``model_path`` is that model
    written: bool = True


def _previous_model(models_dir: Path, options: TrainOptions) -> ModelArchive | None:
    if options.force:
        return None
    # a Rasa model left in models/ has nothing to reuse: no warning about it here
    path = latest_model(models_dir, include_rasa=False)
    if path is None:
        return None
    try:
        return open_model(path)
    except ModelLoadError as e:
        logger.warning("previous model %s is not reusable (%s); training everything", path, e)
        return None


def finetune_model_path(models_dir: str | Path, options: TrainOptions) -> Path | None:
    """The model file ``options.finetune`` names, checked as :func:`train` checks it.

    That is the file itself, a folder's newest model, or, for ``""``, the
    newest model of ``models_dir``; None without ``--finetune``. A model that
    is not there, and an ``epoch_fraction`` that is no number above 0, raise a
    :class:`TrainingError`; :func:`dry_run` checks the same, and also opens the
    model, so that a dry run stops where a training would.
    """
    if options.finetune is None:
        return None
    fraction = options.epoch_fraction
    if isinstance(fraction, bool) or not isinstance(fraction, int | float) or fraction <= 0:
        raise TrainingError(f"--epoch-fraction must be a number above 0, not {fraction!r}",
                            hint="for instance --epoch-fraction 0.2")
    given = Path(options.finetune) if str(options.finetune) else Path(models_dir)
    path = latest_model(given)
    if path is None:
        raise TrainingError(f"--finetune: no model to fine-tune at {given}",
                            hint="train one first with `dialogflowlite train`, or name a "
                                 "model file")
    return path


def _finetune_model(models_dir: Path, options: TrainOptions) -> ModelArchive | None:
    """The model ``--finetune`` names, opened (see :func:`finetune_model_path`)."""
    path = finetune_model_path(models_dir, options)
    if path is None:
        return None
    archive = open_model(path)
    logger.info("fine-tuning from %s (%.2g of the configured epochs)", path,
                options.epoch_fraction)
    return archive


VALIDATION_MODES = ("errors", "warnings", "skip")


def validated_project(project: str | Path | Project, mode: str = "errors",
                      max_history: int | None = None, *,
                      reported: set[str] | None = None,
                      sections: Iterable[str] | None = None) -> Project:
    """The project, loaded if need be, after validation (warnings logged, errors raised).

    ``mode`` (:attr:`TrainOptions.validation`): ``warnings`` makes warnings
    stop training too; ``skip`` checks only that the files could be read.
    ``reported`` holds the warnings logged already (by an earlier call over
    the same data): those are not logged again, and the new ones are added.
    ``sections``, the parts being trained: a problem of what only the response
    generator reads (its pair files, its blocklist) is a warning when the
    generator is not among them (``train nlu`` never reads them).
    """
    from dialogflowlite.io.validate import GENERATION_ONLY_CODES, validate_project

    if mode not in VALIDATION_MODES:
        raise TrainingError(f"unknown validation mode {mode!r}",
                            hint=f"use one of {', '.join(VALIDATION_MODES)}")
    if not isinstance(project, Project):
        project = load_project(project, strict=False)
    problems = list(project.problems)
    if mode != "skip":
        found = validate_project(project, include_loader_problems=False,
                                 max_history=max_history)
        if sections is not None and "generation" not in sections:
            found = [replace(p, severity="warning") if p.code in GENERATION_ONLY_CODES else p
                     for p in found]
        problems += found
    for problem in problems:
        if not problem.is_error and (reported is None or str(problem) not in reported):
            logger.warning("%s", problem)
            if reported is not None:
                reported.add(str(problem))
    if any(p.is_error for p in problems) or (mode == "warnings" and problems):
        raise ProjectValidationError(problems)
    return project


#: what each section trains from, for the error when there is none
_SECTION_NEEDS = {
    "nlu": ("NLU examples", "add examples under data/, or check the files given with "
                            "-u/--nlu or --data"),
    "core": ("stories or rules", "add them under data/, or check the files given with "
                                 "--stories or --data"),
    "generation": ("a generator", "list one under `generators:` in config.yml"),
}


def sections_to_train(project: Project, sections: Iterable[str]) -> list[str]:
    """The ``sections`` that the project has something to train for, in order; a
    :class:`TrainingError` when none has, so that ``--dry-run`` refuses what
    training would refuse."""
    chosen = []
    for name in sections:
        if name not in SECTIONS:
            raise TrainingError(f"unknown training section {name!r}",
                                hint=f"use one of {', '.join(SECTIONS)}")
        if load_section(name).is_configured(project):
            chosen.append(name)
    if not chosen:
        wanted = [name for name in SECTIONS if name in sections]
        if len(wanted) == 1:
            needs, hint = _SECTION_NEEDS[wanted[0]]
            raise TrainingError(f"nothing to train: `train {wanted[0]}` needs {needs}, and "
                                "the project has none", hint=hint)
        raise TrainingError("nothing to train: the project has no NLU data, stories or rules",
                            hint="add examples under data/")
    return chosen


def train(
    project: str | Path | Project = ".",
    *,
    output: str | Path | None = None,
    sections: Iterable[str] = ("nlu", "core", "generation"),
    options: TrainOptions | None = None,
    fixed_model_name: str | None = None,
) -> TrainResult:
    """Validate and train a project; write the model file and return where it is.

    ``sections`` limits training to some parts (``train nlu`` passes ``("nlu",)``).
    When nothing changed since the newest model in the output folder (every
    component reused, and :func:`same_model`), no file is written and the
    result names that model (``written`` False), as Rasa 2's "Nothing changed.
    You can use the old model"; ``options.force`` always writes one, and so
    does a ``fixed_model_name`` that is not the unchanged model's name. The
    reused components' files are copied only once a model is to be written:
    an unchanged training copies none of them.

    ``fixed_model_name`` (or ``options.fixed_model_name``; this one wins) is a
    file name inside ``output`` (see
    :func:`~dialogflowlite.artifact.fixed_model_file`): one with a folder in it
    is refused with a :class:`~dialogflowlite.errors.ConfigError` before any
    work, and ``bot``, ``bot.tar`` and Rasa's ``bot.tar.gz`` all write
    ``bot.tar``.
    """
    started = time.perf_counter()
    options = options or TrainOptions()
    if fixed_model_name is not None:
        # first, as the command line does: the options check the name
        options = replace(options, fixed_model_name=fixed_model_name)
    fixed_file = options.model_file
    sections = tuple(sections)
    project = validated_project(project, options.validation,
                                options.validation_max_history, sections=sections)
    models_dir = Path(output) if output is not None else project.root / "models"
    previous = _previous_model(models_dir, options)
    try:
        base = _finetune_model(models_dir, options)
    except BaseException:
        if previous is not None:
            previous.close()
        raise
    writer = ModelWriter()
    # copies wait until the model is known to differ from the previous one
    context = TrainingContext(writer, previous, options, finetune=base, defer_copies=True)
    writer.manifest.config = project.config.to_dict()
    writer.manifest.project = project.root.resolve().name
    written = True
    try:
        for name in sections_to_train(project, sections):
            writer.manifest.sections[name] = load_section(name).train(project, context)
        if options.quantize and not any("quantize" in record.config
                                        for record in writer.manifest.components):
            # else "nothing changed" alone read as if the flag had been taken
            logger.warning("--quantize: no component of this model has int8 weights to "
                           "take (JointTransformerClassifier, ResponseSelector and "
                           "NeuralResponseGenerator have); the model is as it is without it")
        write_model_extras(writer, project, options)
        prefix = _parts_prefix(sections)
        target = models_dir / fixed_file if fixed_file else _new_model_path(models_dir, prefix)
        old = None
        if previous is not None and not context.trained and same_model(writer, previous):
            old = Path(previous.source or previous.root)
        # --fixed-model-name asks for a file of that name: written unless the
        # unchanged model already is that file (Rasa 2 answered with the old
        # model under its old name, leaving the asked-for file missing). A
        # time-stamped name tells the parts trained: a `train` answered with an
        # unchanged `train nlu` model would blur that.
        if old is not None and (old.resolve() == target.resolve() if fixed_file
                                else _parts_in_name(old.name) == prefix):
            target, written = old, False
        else:
            context.copy_reused()
            writer.save(target)
    finally:
        writer.close()
        for archive in (previous, base):
            if archive is not None:
                archive.close()
    seconds = time.perf_counter() - started
    if written:
        logger.info("model written to %s in %.1fs (trained %d, reused %d components)", target,
                    seconds, len(context.trained), len(context.reused))
    else:
        logger.info("nothing changed since %s: no model written (reused %d components)",
                    target, len(context.reused))
    return TrainResult(target, context.trained, context.reused, seconds, written)


def _parts_prefix(sections: Iterable[str]) -> str:
    """How a model of ``sections`` is named: ``nlu`` (``nlu-<time>.tar``), or ``""``
    for all of them."""
    # named after its parts, as Rasa does, so that it is told apart from a whole bot
    partial = [name for name in SECTIONS if name in sections]
    return "-".join(partial) if len(partial) < len(SECTIONS) else ""


def _parts_in_name(name: str) -> str:
    """The parts a time-stamped model name says were trained (``nlu`` of
    ``nlu-20261201-101500.tar``); ``""`` for a whole model or a name given."""
    found = re.fullmatch(r"([a-z-]+)-\d{8}-\d{6}(?:-\d+)?" + re.escape(MODEL_SUFFIX), name)
    return found.group(1) if found else ""


def _new_model_path(models_dir: Path, prefix: str) -> Path:
    """A time-stamped model path in ``models_dir`` that no file has yet: a training
    ending in the same second as the previous one does not overwrite it."""
    name = model_file_name(prefix)
    stem, path, count = name[: -len(MODEL_SUFFIX)], models_dir / name, 1
    while path.exists():
        count += 1
        path = models_dir / f"{stem}-{count}{MODEL_SUFFIX}"
    return path


def write_model_extras(writer: ModelWriter, project: Project, options: TrainOptions) -> None:
    """Write what a model holds besides its components: the domain, and the NLU
    data with ``--persist-nlu-data``."""
    if options.persist_nlu_data:
        _persist_nlu_data(writer, project)
    # Every model carries its domain: the agent needs it to hold conversations.
    from dialogflowlite.dialogue.domain_json import domain_to_dict

    writer.storage("domain").write_json("domain.json", domain_to_dict(project.domain))


#: keys of a section's manifest entries that say what one training run did (a
#: generator reused or trained, and how its fit went), not what the model holds
_RUN_NOTES = frozenset({"reused", "fit"})


def _manifest_content(manifest: Manifest) -> dict[str, Any]:
    """What a manifest says about the model, without when and how it was trained."""
    # through JSON, as the manifest is stored: tuples become lists, keys strings
    content = json.loads(json.dumps(manifest.to_dict(), ensure_ascii=False))
    content.pop("created", None)
    if "sections" in content:
        content["sections"] = {name: _without_run_notes(entry)
                               for name, entry in content["sections"].items()}
    return content


def _without_run_notes(entry: Any) -> Any:
    """A section's manifest entry without its run notes.

    They sit in the items of the entry's lists (``{"generators": [{"key": ...,
    "reused": True, "fit": {...}}]}``); nothing deeper is touched, so a
    component setting that happens to be called ``fit`` still counts.
    """
    if not isinstance(entry, dict):
        return entry
    return {key: [_without_notes(item) for item in value] if isinstance(value, list) else value
            for key, value in entry.items()}


def _without_notes(item: Any) -> Any:
    """One list item of a section entry, its :data:`_RUN_NOTES` keys left out."""
    if not isinstance(item, dict):
        return item
    return {key: value for key, value in item.items() if key not in _RUN_NOTES}


def _files_beside_components(root: Path, manifest: Manifest) -> dict[str, bytes]:
    """The files of a model folder other than its manifest and its components' folders
    (the domain, kept training data), by path."""
    components = [PurePosixPath(record.key) for record in manifest.components]
    files = {}
    for path in root.rglob("*"):
        name = PurePosixPath(path.relative_to(root).as_posix())
        if (not path.is_file() or str(name) == MANIFEST
                or any(name.is_relative_to(key) for key in components)):
            continue
        files[str(name)] = path.read_bytes()
    return files


def same_model(writer: ModelWriter, previous: ModelArchive) -> bool:
    """Whether the model ``writer`` holds is the ``previous`` one: every component the
    same record (so the same files, copied), the manifest the same apart from
    when and how it was trained, and every other file (domain, kept data) the
    same bytes. A changed response text, for instance, makes a new model: the
    domain travels in it.
    """
    if _manifest_content(writer.manifest) != _manifest_content(previous.manifest):
        return False
    return (_files_beside_components(writer.workdir, writer.manifest)
            == _files_beside_components(previous.root, previous.manifest))


def _persist_nlu_data(writer: ModelWriter, project: Project) -> None:
    """``--persist-nlu-data``: the NLU data goes into a model that holds an NLU part."""
    from dialogflowlite.training.persisted_data import persist_nlu_data

    if "nlu" not in writer.manifest.sections:
        logger.warning("--persist-nlu-data: this model has no NLU part, so no NLU data "
                       "is kept in it")
        return
    persist_nlu_data(writer, project.nlu)


#: exit codes of ``train --dry-run``, Rasa's bit mask: nothing to train, ...
DRY_RUN_UP_TO_DATE = 0
#: ... some component would be trained, ...
DRY_RUN_NEEDS_TRAINING = 0b0001
#: ... ``--force`` would train everything
DRY_RUN_FORCED = 0b1000


@dataclass
class DryRunResult:
    """What :func:`dry_run` found: per section, whether training would change anything."""

    previous: Path | None
    #: section -> the first component that would be trained
    stale: dict[str, str]
    up_to_date: list[str]
    forced: bool = False
    #: ``--finetune`` was given: the components that can be fine-tuned would be trained
    finetune: bool = False
    #: the model ``--finetune`` would start from
    finetune_from: Path | None = None
    #: nothing would be trained and the model would be the previous one: none is written
    unchanged: bool = False

    @property
    def code(self) -> int:
        """Rasa's exit code: 0 up to date, 1 training needed, 8 training forced."""
        if self.forced:
            return DRY_RUN_FORCED
        needed = self.stale or self.previous is None or self.finetune
        return DRY_RUN_NEEDS_TRAINING if needed else DRY_RUN_UP_TO_DATE

    def report(self) -> list[str]:
        """One line per finding, for the terminal."""
        if self.forced:
            return ["--force: every component would be trained again."]
        if self.finetune:
            source = f"{self.finetune_from}'s" if self.finetune_from else "the given model's"
            return ["--finetune: the components that can be fine-tuned would be trained "
                    f"again, from {source} weights."]
        if self.previous is None:
            return ["There is no previous model: training would train everything."]
        lines = [f"Compared with {self.previous}:"]
        lines += [f"  {name}: up to date" for name in self.up_to_date]
        lines += [f"  {name}: would be trained ({key} changed)" for name, key in
                  self.stale.items()]
        if self.stale:
            lines.append("Training needed: run the same command without --dry-run.")
        elif self.unchanged:
            lines += ["No training needed.", "Nothing changed: training would write no new "
                      f"model and name {self.previous}."]
        else:
            # Rasa 3's dry run warns likewise that responses may still need updating
            # "No training needed." would read as a contradiction of the line after it
            lines += ["No component needs training.", "The domain, config or data the model "
                      "holds changed: training would write a new model from the reused "
                      "components."]
        return lines


def dry_run(
    project: str | Path | Project = ".",
    *,
    output: str | Path | None = None,
    sections: Iterable[str] = ("nlu", "core", "generation"),
    options: TrainOptions | None = None,
) -> DryRunResult:
    """Find out, without training, which sections a :func:`train` would train (``--dry-run``).

    A component is up to date when the newest model under ``output`` holds it
    with the same fingerprint, the test :func:`train` applies to reuse it.
    The problems :func:`train` stops at before it trains raise the same
    errors here: the project's, and a ``finetune`` model that is not there
    (:func:`finetune_model_path`) or cannot be opened.
    """
    options = options or TrainOptions()
    sections = tuple(sections)
    project = validated_project(project, options.validation,
                                options.validation_max_history, sections=sections)
    prefix = _parts_prefix(sections)
    sections = sections_to_train(project, sections)
    models_dir = Path(output) if output is not None else project.root / "models"
    base = finetune_model_path(models_dir, options)
    if base is not None:
        # opened as train opens it (a Rasa model or a broken file stops both), then
        # closed at once: a dry run loads no weights
        open_model(base).close()
    if options.force:
        return DryRunResult(latest_model(models_dir), {}, [], forced=True)
    if base is not None:
        return DryRunResult(latest_model(models_dir), {}, [], finetune=True,
                            finetune_from=base)
    previous = _previous_model(models_dir, options)
    if previous is None:
        return DryRunResult(None, {}, [])
    writer = ModelWriter()
    writer.manifest.config = project.config.to_dict()
    writer.manifest.project = project.root.resolve().name
    # a dry run names no model file: its options leave the name (checked already) out
    quiet = replace(options, progress=False, fixed_model_name=None)
    context = TrainingContext(writer, previous, quiet, dry_run=True)
    stale: dict[str, str] = {}
    current: list[str] = []
    unchanged = False
    try:
        for name in sections:
            section = load_section(name)
            if name not in previous.manifest.sections:
                stale[name] = f"the {name} section (not in the model)"
                continue
            try:
                writer.manifest.sections[name] = section.train(project, context)
            except StaleComponent as e:
                stale[name] = e.key
            else:
                current.append(name)
        if not stale:
            # the same judgement as train's: the domain and kept data written, then compared
            write_model_extras(writer, project, options)
            unchanged = (same_model(writer, previous) and _parts_in_name(
                Path(previous.source or previous.root).name) == prefix)
    finally:
        writer.close()
        previous.close()
    return DryRunResult(Path(previous.source or previous.root), stale, current,
                        unchanged=unchanged)
