"""``GenerationSection``: the response-generation part of ``dialogflowlite train``.

Trains every generator listed under ``generators:`` in config.yml on the
pairs the project offers (see :mod:`.data`). A generator's fingerprint covers
its class, its config, the seed and its training pairs; when the previous
model holds a generator with the same fingerprint, it is copied instead of
retrained.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from dialogflowlite.components.generation.data import GenerationExample, project_examples
from dialogflowlite.components.generation.neural import GenerationContext
from dialogflowlite.errors import TrainingError
from dialogflowlite.training.fingerprint import component_identity, fingerprint

if TYPE_CHECKING:
    from dialogflowlite.io.loader import Project
    from dialogflowlite.training.trainer import TrainingContext

logger = logging.getLogger(__name__)

SECTION = "generation"
DEFAULT_SEED = 42


def generator_key(index: int, name: str) -> str:
    """Where generator ``index`` of ``generators:`` lives in a model file."""
    return f"{SECTION}/{index}_{name}"


def pairs_fingerprint(examples: list[GenerationExample]) -> list[Any]:
    """What of the pairs training reads (not where they came from)."""
    return [
        (e.mode, e.target, [(a.act, a.slot, repr(a.value)) for a in e.acts],
         [(t.speaker, t.text) for t in e.context], e.intent,
         [(name, repr(value)) for name, value in e.slots])
        for e in examples
    ]


def training_examples(project: Project, generator: Any, seed: int) -> list[GenerationExample]:
    """The pairs ``generator`` learns from in ``project``."""
    config = generator.config
    return project_examples(project, modes=generator.configured_modes,
                            history=int(config["history"]), samples=int(config["story_samples"]),
                            seed=seed, pair_files_too=bool(config["pair_files"]))


class GenerationSection:
    """Trains the response generators of a project (a section of ``dialogflowlite train``)."""

    name = SECTION

    def is_configured(self, project: Project) -> bool:
        """The project lists generators under ``generators:``."""
        return bool(project.config.generators)

    def train(self, project: Project, context: TrainingContext) -> dict[str, Any]:
        from dialogflowlite.plugins.registry import get_registry

        registry = get_registry()
        seed = context.options.seed
        if seed is None:
            seed = project.config.train.get("seed", DEFAULT_SEED)
        entries = []
        for index, entry in enumerate(project.config.generators):
            component_cls = registry.get(entry.name, entry.position)
            if component_cls.kind != "generator":
                raise TrainingError(f"'{entry.name}' is a {component_cls.kind}, not a generator",
                                    hint="list only generators under `generators:`",
                                    position=entry.position)
            generator = _new_generator(component_cls, entry, project)
            key = generator_key(index, component_cls.name)
            examples = training_examples(project, generator, int(seed))
            expected = fingerprint("generation", component_identity(component_cls),
                                   trained_settings(component_cls, generator.config), int(seed),
                                   pairs_fingerprint(examples), *_blocklist_phrases(generator))
            entry_info = {"key": key, "name": component_cls.name, "pairs": len(examples)}
            # a setting that acts only when the model runs goes with the reused model, and
            # so does the int8 flag of `train --quantize`
            if context.reuse(key, expected, config=context.reused_config(generator.config)):
                logger.info("%s is unchanged: reused from the previous model", key)
                entries.append({**entry_info, "reused": True})
                continue
            context.will_train(key)
            source = (context.finetune_source(key, component_cls.name)
                      if component_cls.finetunable else None)
            settings = GenerationContext(project.domain, int(seed), context.options.progress,
                                         context.options.quantize)
            if source is None:
                logger.info("training %s on %d pairs", key, len(examples))
            else:
                fraction = context.options.epoch_fraction
                logger.info("fine-tuning %s from %s on %d pairs (%.2g of its epochs)", key,
                            source.model.name, len(examples), fraction)
                settings = replace(settings, finetune_from=source, epoch_fraction=fraction)
                # not what a training from scratch gives: a later plain train retrains it
                expected = fingerprint("generation-finetuned", expected, source.fingerprint,
                                       fraction)
            generator.train(examples, settings)
            generator.persist(context.storage(key))
            context.record(key, component_cls.name, component_cls.kind, SECTION,
                           generator.config, expected)
            entries.append({**entry_info, "reused": False,
                            "fit": getattr(generator, "fit_result", {})})
        return {"generators": entries}


def trained_settings(component_cls: Any, config: dict[str, Any]) -> dict[str, Any]:
    """The settings that change what training makes: all but the class's
    ``run_time_settings`` (a reply's ``threshold``, its ``decoding``), which act only when
    the trained model runs, so that changing one does not retrain the generator."""
    run_time = set(getattr(component_cls, "run_time_settings", ()))
    return {key: value for key, value in config.items() if key not in run_time}


def _new_generator(component_cls: Any, entry: Any, project: Project) -> Any:
    """The configured generator; ours finds its files (``blocklist_file``) in the project."""
    if getattr(component_cls, "reads_project_files", False):
        return component_cls(entry.params, position=entry.position, project_dir=project.root)
    return component_cls(entry.params, position=entry.position)


def _blocklist_phrases(generator: Any) -> list[list[str]]:
    """The phrases a generator keeps in the model, so that editing its
    ``blocklist_file`` retrains (copies) it with them; nothing for other generators."""
    if not generator.config.get("blocklist_file"):
        return []  # the config, already in the fingerprint, holds every phrase
    return [list(generator.blocklist.phrases)]
