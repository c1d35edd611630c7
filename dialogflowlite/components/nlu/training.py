"""``NluSection``: the NLU part of ``dialogflowlite train``.

Each component gets a fingerprint of everything its training depends on:
the NLU training data (texts, intents, entities, synonyms, regexes, lookups),
the language, the seed, and its own config together with the config of every
component before it (whose output it learns from). A component whose
fingerprint matches the previous model's is copied from it instead of
retrained. Once one component retrains, every component after it retrains
too, since its input may have changed.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from dialogflowlite.components.base import NluContext
from dialogflowlite.components.nlu.pipeline import (
    SECTION,
    NluPipeline,
    persist_component,
    working_copy,
)
from dialogflowlite.errors import TrainingError
from dialogflowlite.shared.training_data import TrainingData
from dialogflowlite.training.fingerprint import component_identity, fingerprint

if TYPE_CHECKING:
    from dialogflowlite.io.loader import Project
    from dialogflowlite.training.trainer import TrainingContext

logger = logging.getLogger(__name__)

DEFAULT_SEED = 42


def data_fingerprint(training_data: TrainingData, language: str) -> str:
    """A hash of the parts of the NLU data that training reads."""
    return fingerprint(
        "nlu-data",
        language,
        [
            (
                m.text,
                m.intent,
                [(e.entity, e.start, e.end, e.value, e.role, e.group) for e in m.entities],
            )
            for m in training_data.examples
        ],
        [(s.value, list(s.variants)) for s in training_data.synonyms],
        [(r.name, r.pattern) for r in training_data.regexes],
        [(t.name, list(t.elements)) for t in training_data.lookups],
    )


def component_fingerprints(pipeline: NluPipeline, data_hash: str, context: NluContext) -> list[str]:
    """One fingerprint per component: the data, the run's settings, and the configs up to it."""
    chain: list[Any] = []
    result = []
    for key, component in zip(pipeline.keys, pipeline.components, strict=True):
        chain.append((key, component_identity(type(component)), component.config))
        # not `--quantize`: the weights are saved in full precision either way, and int8
        # is a flag of the saved settings (TrainingContext.reused_config); it retrained
        # every component
        result.append(fingerprint("nlu-component", data_hash, context.seed, chain))
    return result



def _reusable(context: TrainingContext, key: str, expected: str) -> bool:
    if context.options.force or context.previous is None:
        return False
    record = context.previous.manifest.component(key)
    return record is not None and record.fingerprint == expected and context.previous.has(key)


def nlu_context(project: Project, context: TrainingContext) -> NluContext:
    """The NLU training settings of a project and a training run."""
    seed = context.options.seed
    if seed is None:
        seed = project.config.train.get("seed", DEFAULT_SEED)
    return NluContext(
        language=project.config.language,
        domain=project.domain,
        seed=int(seed),
        device=context.options.device,
        progress=context.options.progress,
        quantize=context.options.quantize,
    )


def train_pipeline(
    pipeline: NluPipeline,
    training_data: TrainingData,
    settings: NluContext,
    context: TrainingContext,
) -> dict[str, Any]:
    """Train ``pipeline`` into the model being written, reusing unchanged components."""
    prints = component_fingerprints(
        pipeline, data_fingerprint(training_data, settings.language), settings
    )
    keys = pipeline.keys
    first_stale = next(
        (
            i
            for i, (key, expected) in enumerate(zip(keys, prints, strict=True))
            if not _reusable(context, key, expected)
        ),
        len(keys),
    )
    later_ones_train = first_stale < len(keys)
    if later_ones_train:
        context.will_train(keys[first_stale])
    working = working_copy(training_data) if later_ones_train else training_data
    for index, (key, expected) in enumerate(zip(keys, prints, strict=True)):
        component = pipeline.components[index]
        if index < first_stale:
            config = context.reused_config(component.config)
            if not context.reuse(key, expected, config=config):
                raise TrainingError(
                    f"could not copy {key} from the previous model",
                    hint="retrain everything with --force",
                )
            # the manifest's nlu section, which loading reads, is made from the components
            component.config = config
            logger.info("%s is unchanged: reused from the previous model", key)
            if later_ones_train:
                # Later components learn from this one's output: load it to produce that.
                component = type(component).load(component.config, context.storage(key))
                pipeline.components[index] = component
                component.process_training_data(working)
            continue
        component_settings, expected = finetune_settings(component, key, expected, settings,
                                                         context)
        component.train(working, component_settings)
        persist_component(component, context.storage(key))
        context.record(key, component.name, component.kind, SECTION, component.config, expected)
        if index + 1 < len(keys):
            component.process_training_data(working)
    return {
        **pipeline.manifest_entry(),
        "examples": len(training_data.examples),
        "intents": training_data.intents,
        "retrieval_intents": training_data.retrieval_intents,
        "entities": training_data.entity_types,
    }


def finetune_settings(component: Any, key: str, expected: str, settings: NluContext,
                      context: TrainingContext) -> tuple[NluContext, str]:
    """The settings to train ``component`` with, and the fingerprint to record for it.

    Under ``--finetune``, a component that can be fine-tuned gets the same
    component of that model to start from. Its fingerprint then says so:
    such a component is not what a training from scratch would give, so a
    later plain ``train`` of the same data does not reuse it.
    """
    source = None
    if component.finetunable:
        source = context.finetune_source(key, component.name)
    if source is None:
        logger.info("training %s", key)
        return settings, expected
    fraction = context.options.epoch_fraction
    logger.info("fine-tuning %s from %s (%.2g of its epochs)", key, source.model.name, fraction)
    finetuned = fingerprint("nlu-finetuned", expected, source.fingerprint, fraction)
    return replace(settings, finetune_from=source, epoch_fraction=fraction), finetuned


class NluSection:
    """Trains the NLU pipeline of a project (a section of ``dialogflowlite train``)."""

    name = SECTION

    def is_configured(self, project: Project) -> bool:
        """The project has NLU examples to learn from."""
        return bool(project.nlu.intent_examples)

    def build(self, project: Project) -> NluPipeline:
        """The untrained pipeline of the project's config.yml."""
        return NluPipeline.from_config(project.config, training_data=project.nlu)

    def train(self, project: Project, context: TrainingContext) -> dict[str, Any]:
        pipeline = self.build(project)
        return train_pipeline(pipeline, project.nlu, nlu_context(project, context), context)
