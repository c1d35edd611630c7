"""``NluPipeline``: config.yml's ``pipeline:`` built, trained, stored, loaded and run.

Build: :meth:`NluPipeline.from_config` translates Rasa names (or picks the
default pipeline, see :mod:`~dialogflowlite.components.nlu.rasa_compat`),
resolves every name through the component registry and checks that each
component's ``requires`` is provided by one before it.

Train: each component in order learns (``train``) and then adds its output to
the training examples (``process_training_data``) for the ones after it.

Store: each component writes to its own folder, ``nlu/<index>_<Name>``, of
the model file; the manifest's ``nlu`` section lists them in order.

Run: :meth:`NluPipeline.parse_batch` sends a batch through every component's
``process``; messages written as ``/intent{...}`` skip the models.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

from dialogflowlite.artifact import ComponentStorage, ModelArchive, open_model
from dialogflowlite.components.base import NluComponent, NluContext, load_component
from dialogflowlite.components.nlu.intent_shortcut import ShortcutNames, parse_intent_shortcut
from dialogflowlite.components.nlu.rasa_compat import prepare_pipeline
from dialogflowlite.errors import (
    ConfigError,
    DialogflowLiteError,
    ModelLoadError,
    Position,
    Problem,
)
from dialogflowlite.io.config_reader import ComponentConfig, ProjectConfig
from dialogflowlite.shared.message import Message
from dialogflowlite.shared.training_data import TrainingData

logger = logging.getLogger(__name__)

SECTION = "nlu"
COMPONENT_RECORD = "component.json"


class StorageProvider(Protocol):
    """Anything that hands out component folders by key (a model writer, a training context)."""

    def storage(self, key: str) -> ComponentStorage: ...


def component_key(index: int, name: str) -> str:
    """Where component ``index`` of the pipeline lives in a model file."""
    return f"{SECTION}/{index}_{name}"


def persist_component(component: NluComponent, storage: ComponentStorage) -> None:
    """Write a component's resources plus a record of what it is.

    The record also gives stateless components a file, so their folder exists
    in the model file and can be reused by the next training run.
    """
    component.persist(storage)
    storage.write_json(COMPONENT_RECORD, {"name": component.name, "config": component.config})


def working_copy(training_data: TrainingData) -> TrainingData:
    """A copy of the examples that components may annotate without touching the project's."""
    examples = [
        dataclasses.replace(
            m,
            tokens=[],
            features={},
            intent_ranking=[],
            response_selector={},
            metadata=dict(m.metadata),
            entities=[dataclasses.replace(e, processors=list(e.processors)) for e in m.entities],
        )
        for m in training_data.examples
    ]
    return TrainingData(
        examples,
        list(training_data.synonyms),
        list(training_data.regexes),
        list(training_data.lookups),
    )


def _providers(requirement: str) -> list[str]:
    from dialogflowlite.plugins.registry import get_registry

    registry = get_registry()
    return [
        name
        for name in registry.names()
        if requirement in registry.entries[name].cls.provides
        and issubclass(registry.entries[name].cls, NluComponent)
    ][:4]


def _kind_in_words(kind: str | None) -> str:
    """``a policy``, ``an intent_classifier component``: the kind with its article."""
    if kind == "policy":
        return "a policy"
    if not kind:
        return "not an NLU component"
    return f"{'an' if kind[0] in 'aeiou' else 'a'} {kind} component"


def check_pipeline(specs: Sequence[ComponentConfig], classes: Sequence[type]) -> None:
    """Raise :class:`ConfigError` (at the config.yml line) when the order cannot work.

    Every component must be an NLU component, each of its ``requires`` must be
    provided by an earlier one, there is at most one tokenizer, and no intent
    classifier comes after the FallbackClassifier (it would undo the fallback).
    """
    provided: set[str] = set()
    tokenizer: str | None = None
    fallback: str | None = None
    for spec, cls in zip(specs, classes, strict=True):
        if not issubclass(cls, NluComponent):
            section = {"policy": "policies", "generator": "generators"}.get(cls.kind, "")
            raise ConfigError(
                f"{spec.name} is {_kind_in_words(cls.kind)} and cannot be part of the NLU "
                "pipeline",
                position=spec.position,
                hint=f"list it under `{section}:`" if section else "remove it from `pipeline:`",
            )
        missing = [r for r in cls.requires if r not in provided]
        if missing:
            providers = sorted({p for r in missing for p in _providers(r)})
            hint = (
                f"add {' or '.join(providers)} before it"
                if providers
                else "add a component that provides it before this one"
            )
            raise ConfigError(
                f"{spec.name} needs {', '.join(missing)}, which no component before it in the "
                "pipeline provides",
                position=spec.position,
                hint=hint,
            )
        if cls.kind == "tokenizer":
            if tokenizer is not None:
                raise ConfigError(
                    f"the pipeline has two tokenizers, {tokenizer} and {spec.name}",
                    position=spec.position,
                    hint="keep one of them",
                )
            tokenizer = spec.name
        if cls.kind == "intent_classifier":
            if fallback is not None and spec.name != fallback:
                raise ConfigError(
                    f"{spec.name} comes after {fallback}, which must follow every intent "
                    "classifier",
                    position=spec.position,
                    hint=f"move {fallback} to the end of the pipeline",
                )
            if spec.name == "FallbackClassifier":
                if "intent" not in provided and not any(
                        later.kind == "intent_classifier" and later is not cls
                        for later in classes):
                    # it would send every message to nlu_fallback (Rasa refuses it too)
                    classifiers = sorted(p for p in _providers("intent") if p != spec.name)
                    raise ConfigError(
                        f"{spec.name} has no intent classifier before it, so every message "
                        "would become nlu_fallback",
                        position=spec.position,
                        hint=f"add {' or '.join(classifiers)} before it"
                        if classifiers else "add an intent classifier before it",
                    )
                fallback = spec.name
        provided.update(cls.provides)


def pipeline_problems(
    config: ProjectConfig, training_data: TrainingData | None = None
) -> list[Problem]:
    """Everything wrong with config.yml's ``pipeline:``, as problems rather than one error.

    Rasa names are translated first (quietly: training prints the notices),
    so a validator can call this instead of looking names up one by one.
    """
    from dialogflowlite.plugins.registry import get_registry

    file = str(config.file or "config.yml")
    problems: list[Problem] = []
    try:
        specs = prepare_pipeline(
            list(config.pipeline), language=config.language, training_data=training_data, quiet=True
        )
        registry = get_registry()
    except DialogflowLiteError as e:
        return [Problem.from_error(e, file)]
    classes: list[type] = []
    for spec in specs:
        try:
            classes.append(registry.get(spec.name, spec.position or Position(file)))
        except DialogflowLiteError as e:
            problems.append(Problem.from_error(e, file))
    if problems:
        return problems
    try:
        check_pipeline(specs, classes)
    except DialogflowLiteError as e:
        return [Problem.from_error(e, file)]
    for spec, klass in zip(specs, classes, strict=True):
        try:
            klass(spec.params, position=spec.position or Position(file))
        except DialogflowLiteError as e:
            problems.append(Problem.from_error(e, file))
    return problems


class NluPipeline:
    """The trained (or to be trained) NLU components, in config order."""

    def __init__(
        self,
        components: list[NluComponent],
        *,
        specs: list[ComponentConfig] | None = None,
        language: str = "en",
    ) -> None:
        self.components = list(components)
        self.specs = (
            list(specs)
            if specs is not None
            else [ComponentConfig(c.name, dict(c.config)) for c in self.components]
        )
        self.language = language

    # ------------------------------------------------------------ building

    @classmethod
    def from_config(
        cls,
        config: ProjectConfig | Sequence[ComponentConfig] | None = None,
        *,
        language: str | None = None,
        training_data: TrainingData | None = None,
        quiet: bool = False,
    ) -> NluPipeline:
        """Build the untrained pipeline from config.yml's ``pipeline:`` (or a list of entries).

        An empty pipeline becomes the default one (a response selector is added
        when ``training_data`` has retrieval intents); Rasa names are
        translated with a notice each (unless ``quiet``).
        """
        from dialogflowlite.plugins.registry import get_registry

        if isinstance(config, ProjectConfig):
            items = list(config.pipeline)
            language = language or config.language
        else:
            items = list(config or [])
        language = language or "en"
        specs = prepare_pipeline(items, language=language, training_data=training_data, quiet=quiet)
        if not specs:
            raise ConfigError(
                "the NLU pipeline is empty after translating config.yml",
                hint="add a tokenizer and a classifier to `pipeline:`, or remove "
                "`pipeline:` to use the default one",
            )
        registry = get_registry()
        classes = [registry.get(spec.name, spec.position) for spec in specs]
        check_pipeline(specs, classes)
        components = [
            klass(spec.params, position=spec.position)
            for spec, klass in zip(specs, classes, strict=True)
        ]
        return cls(components, specs=specs, language=language)

    @property
    def keys(self) -> list[str]:
        """The model-file key of each component."""
        return [component_key(i, c.name) for i, c in enumerate(self.components)]

    # ------------------------------------------------------------ training

    def context(self, context: NluContext | None = None) -> NluContext:
        return context or NluContext(language=self.language)

    def train(self, training_data: TrainingData, context: NluContext | None = None) -> TrainingData:
        """Train every component in order; returns the annotated copy of the training data."""
        context = self.context(context)
        working = working_copy(training_data)
        for index, component in enumerate(self.components):
            logger.info("training %s", component_key(index, component.name))
            component.train(working, context)
            component.process_training_data(working)
        return working

    # ------------------------------------------------------------ persistence

    def persist(self, target: StorageProvider) -> dict[str, Any]:
        """Write every component to ``target.storage(key)``; returns the manifest section."""
        for key, component in zip(self.keys, self.components, strict=True):
            persist_component(component, target.storage(key))
        return self.manifest_entry()

    def manifest_entry(self) -> dict[str, Any]:
        """What the model's manifest records under ``sections["nlu"]``."""
        return {
            "language": self.language,
            "components": [
                {"key": key, "name": component.name, "config": component.config}
                for key, component in zip(self.keys, self.components, strict=True)
            ],
        }

    @classmethod
    def load(cls, archive: ModelArchive | str | Path, quantize: bool = False) -> NluPipeline:
        """Rebuild the trained pipeline from a model file (or an opened one).

        With ``quantize``, components that support it (the transformer
        classifiers: dynamic int8) are quantized (see
        :func:`~dialogflowlite.components.base.load_component`).
        """
        from dialogflowlite.plugins.registry import class_for_model

        if not isinstance(archive, ModelArchive):
            archive = open_model(archive)
        entry = archive.manifest.sections.get(SECTION)
        if not entry or not entry.get("components"):
            raise ModelLoadError(
                f"the model {archive.source or archive.root} has no NLU part",
                hint="train one with `dialogflowlite train nlu`",
            )
        components: list[NluComponent] = []
        for item in entry["components"]:
            klass = class_for_model(archive.manifest.component(item["key"]), item["name"])
            config, storage = item.get("config") or {}, archive.storage(item["key"])
            components.append(load_component(klass, config, storage, quantize=quantize))
        return cls(components, language=entry.get("language") or "en")

    # ------------------------------------------------------------ parsing

    def process(self, messages: list[Message]) -> None:
        """Run every component on a batch of messages (no ``/intent`` handling)."""
        if not messages:
            return
        for component in self.components:
            component.process(messages)

    def parse_batch(
        self,
        texts: Sequence[str | Message],
        metadata: dict[str, Any] | None = None,
        *,
        names: ShortcutNames | None = None,
    ) -> list[Message]:
        """Parse many messages with one pass through each component.

        ``texts`` may hold strings or :class:`Message` objects (kept, with
        their metadata). A string is read without the white space around it, as
        Rasa reads every message: the result's ``text`` is that, and the entities'
        offsets count in it. Text written as ``/intent{"entity": "value"}`` is
        parsed directly, as Rasa does; with ``names`` (the domain's), only when
        it names one of their intents (see :func:`parse_intent_shortcut`).
        """
        messages: list[Message] = []
        to_process: list[Message] = []
        for item in texts:
            message = (
                item
                if isinstance(item, Message)
                else Message(text=item.strip(), metadata=dict(metadata or {}))
            )
            shortcut = parse_intent_shortcut(message.text, names)
            if shortcut is not None:
                # the text without the whitespace around it, which the offsets count in
                message.text = shortcut.text
                message.intent = shortcut.intent
                message.confidence = shortcut.confidence
                message.intent_ranking = shortcut.intent_ranking
                message.entities = shortcut.entities
                message.response_selector = shortcut.response_selector
            else:
                to_process.append(message)
            messages.append(message)
        self.process(to_process)
        return messages

    def parse(self, text: str, metadata: dict[str, Any] | None = None) -> Message:
        """Parse one message; ``parse(text).parse_result()`` is Rasa's parse JSON."""
        return self.parse_batch([text], metadata)[0]

    def __repr__(self) -> str:
        return f"NluPipeline([{', '.join(c.name for c in self.components)}])"
