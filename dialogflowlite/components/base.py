"""The base class of every pipeline component.

A component is declared once: its ``name`` (what config.yml writes), its
``kind``, its ``defaults`` (every config key with its default value) and what
it ``requires`` from earlier components and ``provides`` to later ones. The
registry resolves config names to these classes; code never hard-wires them.

Kind-specific interfaces (NLU components, policies, generators) build on this
class in their own packages. All of them persist through a
:class:`~dialogflowlite.artifact.ComponentStorage` (JSON and safetensors),
never by pickling themselves.
"""

from __future__ import annotations

import copy
import functools
import logging
import math
import os
import re
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from dialogflowlite.errors import ComponentConfigError, Position
from dialogflowlite.io.formats import did_you_mean, flag_meaning
from dialogflowlite.shared.domain import Domain
from dialogflowlite.shared.message import Message
from dialogflowlite.shared.training_data import TrainingData

if TYPE_CHECKING:
    from dialogflowlite.artifact import ComponentStorage
    from dialogflowlite.training.finetune import FinetuneSource

logger = logging.getLogger(__name__)

#: the kinds of components a plugin can contribute
KINDS: tuple[str, ...] = (
    "tokenizer",
    "featurizer",
    "intent_classifier",
    "entity_extractor",
    "response_selector",
    "policy",
    "generator",
)

#: the ranges of the training settings components share (most of them go to the shared
#: training loop); :meth:`Component.check_training_settings` checks those a component has.
#: A learning rate of 0 is allowed, as it leaves the weights as they start (a fine-tuning
#: check), and so is a patience of 0, which never stops early. (No comments next to the
#: keys: the components reference would take them for the settings' meanings.)
TRAINING_SETTING_RANGES: dict[str, dict[str, Any]] = {
    "epochs": {"at_least": 1, "whole": True},
    "batch_size": {"at_least": 1, "whole": True},
    "learning_rate": {"at_least": 0},
    "weight_decay": {"at_least": 0},
    "warmup_ratio": {"at_least": 0, "at_most": 1},
    "warmup_steps": {"at_least": 0, "whole": True},
    "max_grad_norm": {"at_least": 0},
    "patience": {"at_least": 0, "whole": True},
    "evaluations_per_epoch": {"at_least": 1, "whole": True},
    "max_minutes": {"above": 0},
    "validation_split": {"at_least": 0, "below": 1},
    "min_held_out": {"at_least": 0, "whole": True},
    "dropout": {"at_least": 0, "below": 1},
}

#: the values of a ``device`` setting (:meth:`Component.check_device`)
DEVICE_NAME = re.compile(r"auto|cpu|mps|cuda(:\d+)?")

#: the doubtful settings noted inside :func:`collecting_setting_warnings` (None: outside
#: it, where they are logged)
_setting_warnings: ContextVar[list[ComponentConfigError] | None] = ContextVar(
    "dialogflowlite_setting_warnings", default=None)

#: the bad settings found by the ``check_config`` running now (None: none is running);
#: a context variable, so checks in other threads or tasks keep their own list
_bad_settings: ContextVar[list[ComponentConfigError] | None] = ContextVar(
    "dialogflowlite_bad_settings", default=None)


class Component:
    """A configurable, trainable, persistable part of the pipeline."""

    #: the name config.yml uses
    name: ClassVar[str] = ""
    #: one of :data:`KINDS`
    kind: ClassVar[str] = ""
    #: every config key with its default
    defaults: ClassVar[dict[str, Any]] = {}
    #: what the component needs from earlier ones (e.g. ``tokens``)
    requires: ClassVar[tuple[str, ...]] = ()
    #: what it adds to messages or decisions (e.g. ``intent``, ``entities``)
    provides: ClassVar[tuple[str, ...]] = ()
    #: keys other frameworks write that are accepted and ignored with a notice
    compatible_keys: ClassVar[tuple[str, ...]] = ()
    #: the kind of each setting whose default does not show it (a null default, or
    #: text that is never a number): ``int`` for a whole number, ``str`` for text,
    #: ``list`` for a list; a value of another kind is reported as a bad setting, as
    #: for the others
    setting_kinds: ClassVar[dict[str, type]] = {}
    #: whether ``train --finetune`` can start it from its trained weights
    finetunable: ClassVar[bool] = False
    #: bump it when a component saved by the code before should not be reused by
    #: ``train`` (it saves new files, or trains differently): it is part of the
    #: component's fingerprint, as the version of the package that defines it is
    revision: ClassVar[int] = 1

    def __init__(self, config: dict[str, Any] | None = None, *,
                 position: Position | None = None) -> None:
        self.position = position
        self.config = self.resolve_config(config or {}, position=position)
        self.check_config(self.config, position=position)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # a subclass's own setting kinds add to its base's (a plugin policy that names
        # one keeps the check of `priority`)
        own_kinds = cls.__dict__.get("setting_kinds")
        if own_kinds is not None:
            cls.setting_kinds = {**getattr(super(cls, cls), "setting_kinds", {}), **own_kinds}
        # every check_config, a plugin's too, reports all its bad settings at once,
        # without each of them having to collect problems itself
        own = cls.__dict__.get("check_config")
        if isinstance(own, classmethod):
            cls.check_config = classmethod(_reporting_every_bad_setting(own.__func__))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({getattr(self, 'config', {})!r})"

    @classmethod
    def check_config(cls, config: dict[str, Any], *,
                     position: Position | None = None) -> None:
        """Raise :class:`ComponentConfigError` when settings of the resolved ``config``
        are out of range (a negative ``epochs``, a threshold above 1) or contradict
        each other: one error, with a line for each bad setting.

        Called by ``__init__`` and by ``data validate`` (and so by ``train`` before it
        trains anything), which does not build the component: only look at
        ``config``, without loading models, reading files or touching the network.
        Subclasses extend it and call ``super().check_config(config,
        position=position)``; :meth:`check_number` does the usual range checks and
        :meth:`report_bad_setting` reports any other problem. Both let the check go
        on, so it finds every bad setting (a check of two settings together should
        run only when each of them is fine on its own: :meth:`check_numbers` says
        so). A :class:`ComponentConfigError` raised directly ends the check; it is
        reported with the problems found before it.
        """

    @classmethod
    def report_bad_setting(cls, message: str, *, hint: str | None = None,
                           position: Position | None = None) -> None:
        """Report a bad setting of this component.

        Inside :meth:`check_config` it is noted and the check goes on, so the error
        at its end lists every bad setting; anywhere else it raises
        :class:`ComponentConfigError` at once. ``message`` names the component and
        the setting; ``hint`` says what to write instead.
        """
        error = ComponentConfigError(message, hint=hint, position=position)
        found = _bad_settings.get()
        if found is None:
            raise error
        found.append(error)

    @classmethod
    def check_number(cls, config: dict[str, Any], key: str, *,
                     at_least: float | None = None, above: float | None = None,
                     at_most: float | None = None, below: float | None = None,
                     whole: bool = False, nullable: bool | None = None,
                     words: tuple[str, ...] = (),
                     position: Position | None = None) -> bool:
        """Whether ``config[key]`` is a number within the bounds given
        (``at_least``/``at_most`` inclusive, ``above``/``below`` not), a whole one
        with ``whole``, or one of ``words`` (such as ``auto``); when it is not, it is
        reported with :meth:`report_bad_setting` (which raises outside
        :meth:`check_config`). ``null`` passes when ``nullable`` (by default: when the
        setting's default is null, which then means "chosen for you")."""
        value = config.get(key)
        if value is None and (cls.defaults.get(key) is None if nullable is None else nullable):
            return True
        if isinstance(value, str) and value in words:
            return True
        inside = (isinstance(value, (int, float)) and not isinstance(value, bool)
                  and math.isfinite(value) and (not whole or value == int(value))
                  and (at_least is None or value >= at_least)
                  and (above is None or value > above)
                  and (at_most is None or value <= at_most)
                  and (below is None or value < below))
        if inside:
            return True
        wanted = " or ".join([*(repr(word) for word in words),
                              _bounds_text(at_least, above, at_most, below, whole)])
        default = cls.defaults.get(key)
        cls.report_bad_setting(
            f"component {cls.name}: setting '{key}' must be {wanted}, not {value!r}",
            hint=f"for example `{key}: {default}`" if default is not None else
            f"write a {'whole ' if whole else ''}number, or null",
            position=position)
        return False

    @classmethod
    def check_training_settings(cls, config: dict[str, Any], *,
                                position: Position | None = None) -> None:
        """:meth:`check_number` for each setting of :data:`TRAINING_SETTING_RANGES` the
        component has (``epochs``, ``learning_rate``, ``patience``, ...). A setting
        whose default is a word (``epochs: auto``) takes that word too."""
        for key, bounds in TRAINING_SETTING_RANGES.items():
            if key not in cls.defaults:
                continue
            default = cls.defaults[key]
            words = (default,) if isinstance(default, str) else ()
            cls.check_number(config, key, words=words, position=position, **bounds)

    @classmethod
    def check_device(cls, config: dict[str, Any], key: str = "device", *,
                     position: Position | None = None) -> bool:
        """Whether ``config[key]`` names a device torch trains on (``cpu``, ``cuda``,
        ``cuda:1``, ``mps``, or ``auto`` / null: the GPU when there is one); when
        not, it is reported with :meth:`report_bad_setting`. Whether the machine has
        that device is for training to find out."""
        value = config.get(key)
        # any other kind (`device: 0`) is reported here too, with the names it takes
        if value is None or (isinstance(value, str) and DEVICE_NAME.fullmatch(value)):
            return True
        cls.report_bad_setting(
            f"component {cls.name}: setting '{key}' must be auto, cpu, cuda, cuda:<number> "
            f"or mps, not {value!r}", hint=f"write `{key}: cpu`, or leave it out to train "
            "on the GPU when there is one", position=position)
        return False

    @classmethod
    def check_numbers(cls, config: dict[str, Any], keys: Iterable[str], **bounds: Any) -> bool:
        """:meth:`check_number` for each of ``keys``, with the same ``bounds``; whether
        every one of them is fine (each bad one is reported)."""
        # a list, not a generator: all() would stop before reporting the later ones
        return all([cls.check_number(config, key, **bounds) for key in keys])

    @classmethod
    def resolve_config(cls, given: dict[str, Any], *,
                       position: Position | None = None) -> dict[str, Any]:
        """Defaults overlaid with ``given``. Unknown keys (each named with the closest
        known one) and values of the wrong kind are one error, a line for each."""
        config = copy.deepcopy(cls.defaults)
        with collecting_bad_settings(cls.name, position):
            for key, value in given.items():
                if key == "name":
                    continue
                if key in cls.defaults:
                    config[key] = cls._value_or_default(key, value, position)
                elif key in cls.compatible_keys:
                    logger.info("%s: setting '%s' has no effect here and is ignored",
                                cls.name, key)
                else:
                    hint = did_you_mean(key, cls.defaults) or (
                        f"known settings: {', '.join(cls.defaults) or 'none'}")
                    cls.report_bad_setting(f"component {cls.name} has no setting '{key}'",
                                           hint=hint, position=position)
        return config

    @classmethod
    def _value_or_default(cls, key: str, value: Any, position: Position | None) -> Any:
        """:meth:`_checked_value`; one of the wrong kind is reported, and the default
        stands in for it so the other settings are still read."""
        try:
            return cls._checked_value(key, value, position)
        except ComponentConfigError as error:
            cls.report_bad_setting(error.message, hint=error.hint, position=position)
            return copy.deepcopy(cls.defaults[key])

    @classmethod
    def _checked_value(cls, key: str, value: Any, position: Position | None) -> Any:
        """``value`` of ``key``, checked against the kind of its default.

        A setting whose default is true or false must be one of those; YAML 1.2
        reads ``no``, ``off`` and quoted words as text, which Python calls true,
        so such a word is read by its meaning (with a warning). A setting whose
        default is a number must be a number (a quoted one is converted; a
        whole number where the default is one). Anything else is a
        :class:`ComponentConfigError` naming the setting, not a failure deep in
        training. A setting whose default is a mapping or a list must be one. A
        setting named in :attr:`setting_kinds` must be of that kind. Settings with
        other defaults (text, which a word such as ``auto`` beside a number shares),
        and ``null``, are taken as given.
        """
        default = cls.defaults.get(key)
        if value is None:
            return value
        kind = cls.setting_kinds.get(key)
        if kind is int:
            return cls._checked_number(key, value, whole=True, position=position)
        if kind is str and isinstance(value, os.PathLike):
            return os.fspath(value)  # a folder given from Python (``Path``) is text enough
        if kind is str and not isinstance(value, str):
            raise ComponentConfigError(
                f"component {cls.name}: setting '{key}' must be text, not {value!r}",
                hint=f'write it in quotes: `{key}: "{value}"`', position=position)
        if kind is list and not isinstance(value, list):
            # text would be read letter by letter (`dimensions: time`: t, i, m, e)
            raise ComponentConfigError(
                f"component {cls.name}: setting '{key}' must be a list, not {value!r}",
                hint=f"write `{key}: [{value}]`", position=position)
        if default is None:
            return value
        if isinstance(default, bool):
            return cls._checked_flag(key, value, position)
        if isinstance(default, (int, float)):
            return cls._checked_number(key, value, whole=isinstance(default, int),
                                       position=position)
        if isinstance(default, dict) and not isinstance(value, dict):
            # a plugin's component read it as a mapping and failed at the first message
            raise ComponentConfigError(
                f"component {cls.name}: setting '{key}' must be a mapping of names to "
                f"values, not {value!r}", hint=f"write `{key}:` followed by indented "
                "`name: value` lines", position=position)
        if isinstance(default, list) and not isinstance(value, list):
            raise ComponentConfigError(
                f"component {cls.name}: setting '{key}' must be a list, not {value!r}",
                hint=f"write `{key}: [{value}]`", position=position)
        return value

    @classmethod
    def _checked_flag(cls, key: str, value: Any, position: Position | None) -> bool:
        if isinstance(value, bool):
            return value
        meaning = flag_meaning(value)
        if meaning is None:
            raise ComponentConfigError(
                f"component {cls.name}: setting '{key}' must be true or false, not {value!r}",
                hint=f"write `{key}: true` or `{key}: false`", position=position)
        cls.warn_about_setting(
            f"component {cls.name}: setting '{key}' is the text {value!r}, read as "
            f"{str(meaning).lower()}", hint=f"write `{key}: {str(meaning).lower()}` (no quotes)",
            position=position)
        return meaning

    @classmethod
    def warn_about_setting(cls, message: str, *, hint: str | None = None,
                           position: Position | None = None) -> None:
        """A setting that is read, but maybe not as meant: logged as a warning, or,
        inside :func:`collecting_setting_warnings` (``data validate``), noted there so
        it is counted with the other warnings."""
        found = _setting_warnings.get()
        if found is not None:
            found.append(ComponentConfigError(message, hint=hint, position=position))
            return
        where = f" ({position})" if position is not None else ""
        logger.warning("%s%s%s", message, f"; {hint}" if hint else "", where)

    @classmethod
    def _checked_number(cls, key: str, value: Any, *, whole: bool,
                        position: Position | None) -> int | float:
        kind = "a whole number" if whole else "a number"
        number: int | float | None = None
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            number = value
        elif isinstance(value, str):
            try:
                number = float(value.strip())
            except ValueError:
                number = None
        if number is None or not math.isfinite(number) or (whole and number != int(number)):
            default = cls.defaults.get(key)
            raise ComponentConfigError(
                f"component {cls.name}: setting '{key}' must be {kind}, not {value!r}",
                hint=f"write `{key}: {default}` or another {kind[2:]}" if default is not None
                else f"write {kind}, or leave the setting out", position=position)
        return int(number) if whole else number

    @classmethod
    def describe(cls) -> dict[str, Any]:
        """What the components reference says about this class."""
        doc = (cls.__doc__ or "").strip().split("\n\n", 1)[0].replace("\n", " ")
        return {
            "name": cls.name,
            "kind": cls.kind,
            "description": doc,
            "requires": list(cls.requires),
            "provides": list(cls.provides),
            "defaults": copy.deepcopy(cls.defaults),
        }

    # ------------------------------------------------------------ persistence

    def persist(self, storage: ComponentStorage) -> None:
        """Write what training learnt to ``storage``; stateless components write nothing."""

    @classmethod
    def load(cls, config: dict[str, Any], storage: ComponentStorage) -> Component:
        """Rebuild a trained component from ``storage``."""
        return cls(config)


def _reporting_every_bad_setting(check: Callable[..., None]) -> Callable[..., None]:
    """``check`` (a class's ``check_config``) raising one error for all the bad settings
    it reports; called from a subclass's ``check_config``, it leaves that to the
    subclass's."""

    @functools.wraps(check)
    def check_every_setting(cls: type[Component], config: dict[str, Any], *,
                            position: Position | None = None) -> None:
        with collecting_bad_settings(cls.name, position):
            check(cls, config, position=position)

    return check_every_setting


@contextmanager
def collecting_setting_warnings() -> Iterator[list[ComponentConfigError]]:
    """Note the warnings about settings (:meth:`Component.warn_about_setting`) made
    inside the block in the list it yields, instead of logging them."""
    found: list[ComponentConfigError] = []
    token = _setting_warnings.set(found)
    try:
        yield found
    finally:
        _setting_warnings.reset(token)


@contextmanager
def collecting_bad_settings(name: str, position: Position | None = None) -> Iterator[None]:
    """Report every bad setting of the component ``name`` found inside the block as
    one :class:`ComponentConfigError` at its end.

    Inside the block, :meth:`Component.report_bad_setting` (and so
    :meth:`Component.check_number`) notes a bad setting and lets the checking go on;
    a :class:`ComponentConfigError` raised there ends the block and joins the
    settings noted before it. One bad setting is raised as it is; several become
    one error (at ``position``, the component's place in config.yml) with a line
    for each. Nested in another such block, the outer block reports them all.

    ``check_config`` and ``resolve_config`` run in such a block on their own; use it
    to check a component's settings from outside the component, as ``data
    validate`` does for resolving and checking together::

        with collecting_bad_settings(cls.name, position):
            config = cls.resolve_config(params, position=position)
            cls.check_config(config, position=position)
    """
    if _bad_settings.get() is not None:
        yield
        return
    found: list[ComponentConfigError] = []
    token = _bad_settings.set(found)
    try:
        yield
    except ComponentConfigError as error:
        found.append(error)
    finally:
        _bad_settings.reset(token)
    if len(found) == 1:
        raise found[0]
    if found:
        raise _all_bad_settings(name, found, position)


def _all_bad_settings(name: str, found: list[ComponentConfigError],
                      position: Position | None) -> ComponentConfigError:
    """One error listing ``found``, a line for each bad setting; the hints stay on their
    lines (an error's own hint would print after the last one, as if it were about it)."""
    lines = "\n".join(f"- {error.message}" + (f" (hint: {error.hint})" if error.hint else "")
                      for error in found)
    return ComponentConfigError(f"component {name} has {len(found)} bad settings:\n{lines}",
                                position=position)


def _bounds_text(at_least: float | None, above: float | None, at_most: float | None,
                 below: float | None, whole: bool) -> str:
    """``a number between 0 and 1``, ``a whole number of at least 1``, ..."""
    kind = "a whole number" if whole else "a number"
    if at_least is not None and at_most is not None and above is None and below is None:
        return f"{kind} between {at_least:g} and {at_most:g}"
    parts = [f"{word} {bound:g}" for word, bound in (("at least", at_least), ("above", above),
                                                     ("at most", at_most), ("below", below))
             if bound is not None]
    if not parts:
        return kind
    of = "of " if parts[0].startswith("at ") else ""
    return f"{kind} {of}{' and '.join(parts)}"


def saved_config(klass: type[Component], config: dict[str, Any]) -> dict[str, Any]:
    """A component's saved settings without those this version no longer has (logged).

    Training refuses an unknown setting; a model trained before a setting was
    removed still loads, as the component is now.
    """
    known = {"name", *getattr(klass, "defaults", {}), *getattr(klass, "compatible_keys", ())}
    dropped = [key for key in config if key not in known]
    if dropped:
        logger.warning("%s: the model was saved with setting(s) %s, which this version no "
                       "longer has; they are ignored (retrain to drop this notice)",
                       getattr(klass, "name", klass.__name__), ", ".join(sorted(dropped)))
    return {key: value for key, value in config.items() if key in known}


def load_component(klass: type[Component], config: dict[str, Any], storage: ComponentStorage,
                   *, quantize: bool = False) -> Component:
    """``klass.load(config, storage)``, quantized when asked and the component supports it.

    A component supports quantization when its ``load`` takes a ``quantize``
    argument (it then gets ``quantize=True``) or when it has a ``quantize()``
    method (called after loading); others load as they are.
    """
    import inspect

    config = saved_config(klass, config)
    if quantize and "quantize" in inspect.signature(klass.load).parameters:
        return klass.load(config, storage, quantize=True)
    component = klass.load(config, storage)
    if quantize and callable(getattr(component, "quantize", None)):
        component.quantize()
    return component


@dataclass
class NluContext:
    """What NLU components may need while training, besides the data itself."""

    language: str = "en"
    domain: Domain | None = None
    seed: int = 42
    device: str | None = None
    progress: bool = True
    quantize: bool = False
    #: the same component of the model being fine-tuned (``train --finetune``),
    #: given to components whose ``finetunable`` is true
    finetune_from: FinetuneSource | None = None
    #: the share of the configured epochs to train for when fine-tuning
    epoch_fraction: float = 1.0


class NluComponent(Component):
    """A component of the NLU pipeline (tokenizer, featurizer, classifier, extractor).

    The pipeline calls, in config order: ``train`` on the training data, then
    ``process_training_data`` so later components see what this one adds
    (tokens, features). At run time ``process`` handles a batch of messages.
    Classifiers write predictions with :meth:`Message.set_intent` and append
    to ``message.entities``; they must not touch training labels in
    ``process_training_data``.
    """

    def train(self, training_data: TrainingData, context: NluContext) -> None:
        """Learn from ``training_data``; components without parameters do nothing."""

    def process_training_data(self, training_data: TrainingData) -> None:
        """Add this component's output (tokens, features) to the training examples."""

    def process(self, messages: list[Message]) -> None:
        """Add this component's output to each message of a batch."""
