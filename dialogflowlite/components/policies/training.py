"""Training the dialogue policies: the ``core`` section of a model.

The policies listed under ``policies:`` in config.yml (Rasa names
translated, the defaults when the list is empty) learn from the stories and
rules. Each policy's fingerprint covers its settings, the parts of the
domain its states are made of, the training data it reads (stories, and for
the rule policy rules too; file positions left out) and the seed, so an
unchanged policy is copied from the previous model instead of retrained.
Rule policies train first: contradictions between rules and stories are
reported before anything slow runs.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from dialogflowlite.components.policies.base import Policy, PolicyContext
from dialogflowlite.components.policies.dialogues import path_signature
from dialogflowlite.components.policies.rasa_compat import translate_policies
from dialogflowlite.errors import ConfigError
from dialogflowlite.shared.domain import Domain
from dialogflowlite.shared.story_paths import StoryPath, expand_story_paths
from dialogflowlite.training.fingerprint import fingerprint as compute_fingerprint

if TYPE_CHECKING:
    from dialogflowlite.io.loader import Project
    from dialogflowlite.training.trainer import TrainingContext

logger = logging.getLogger(__name__)

DEFAULT_SEED = 42


@dataclass
class PolicyEntry:
    """One configured policy: where it is stored in the model and the policy itself."""

    key: str
    policy: Policy

    @property
    def name(self) -> str:
        return self.policy.name


def build_policies(project: Project, *, quiet: bool = False) -> list[PolicyEntry]:
    """Instantiate the project's policies (settings checked) with their storage keys;
    ``quiet`` leaves out the notices about Rasa names (training says them)."""
    from dialogflowlite.plugins.registry import get_registry

    registry = get_registry()
    entries = []
    for index, config in enumerate(translate_policies(project.config.policies, quiet=quiet)):
        policy_class = registry.get(config.name, config.position)
        if not issubclass(policy_class, Policy):
            raise ConfigError(f"'{config.name}' is a {policy_class.kind or 'component'}, "
                              "not a policy", position=config.position,
                              hint="list it under `pipeline:` instead of `policies:`")
        policy = policy_class(config.params, position=config.position)
        entries.append(PolicyEntry(f"policy_{index}_{policy_class.name}", policy))
    return entries


def training_paths(project: Project) -> list[StoryPath]:
    """Every story path and rule path of the project."""
    domain = project.domain
    return [*expand_story_paths(project.stories, domain=domain),
            *expand_story_paths(project.rules, domain=domain)]


def domain_signature(domain: Domain) -> dict[str, Any]:
    """The parts of the domain that dialogue states and action labels are made of.

    The format version is left out: a 2.0 domain and its ``data migrate``
    rewrite mean the same to the policies. Where the version does change what
    they learn (format 2.0 stories fill slots from entities), the story paths
    in the fingerprint differ.
    """
    return {
        "store_entities_as_slots": domain.store_entities_as_slots,
        "intents": {name: [i.use_entities, sorted(i.ignore_entities)]
                    for name, i in sorted(domain.intents.items())},
        "entities": {name: [e.roles, e.groups, e.influence_conversation]
                     for name, e in sorted(domain.entities.items())},
        "slots": {name: [s.type, s.influence_conversation, s.values, s.min_value, s.max_value,
                         repr(s.initial_value), [(m.type, m.entity) for m in s.mappings]]
                  for name, s in sorted(domain.slots.items())},
        "actions": domain.action_names,
        "forms": sorted(domain.forms),
    }


def policy_fingerprint(policy: Policy, domain_part: dict[str, Any],
                       paths: list[StoryPath], seed: int) -> str:
    """Everything that decides what ``policy`` learns."""
    from dialogflowlite.training.fingerprint import component_identity, fingerprint

    data = [path_signature(p) for p in paths if p.kind in policy.trains_on]
    return fingerprint("policy", policy.name, component_identity(type(policy)), policy.config,
                       domain_part, data, seed)


class CoreSection:
    """Trains (or reuses) every configured policy; the manifest entry lists them in order."""

    name = "core"

    def is_configured(self, project: Project) -> bool:
        return bool(project.stories or project.rules)

    def check(self, project: Project) -> None:
        """Raise the errors training would raise about the data, without training.

        Settings of every policy, and for rule policies the fallback action,
        over-long rules and contradictions between rules and stories (about as
        fast as reading the data), so a caller can report them before any
        section trains.
        """
        from dialogflowlite.components.policies.rule import RulePolicy

        entries = build_policies(project, quiet=True)
        paths = training_paths(project)
        for entry in entries:
            if isinstance(entry.policy, RulePolicy):
                checker = RulePolicy(entry.policy.config, position=entry.policy.position)
                checker.train(paths, project.domain, PolicyContext(progress=False))

    def train(self, project: Project, context: TrainingContext) -> dict[str, Any]:
        """Train the policies whose fingerprint changed; returns the ``core`` manifest entry."""
        from dialogflowlite.components.policies.rule import RulePolicy

        entries = build_policies(project)
        if project.domain.forms and not any(isinstance(e.policy, RulePolicy) for e in entries):
            logger.warning("the domain has forms, but no RulePolicy is configured to run them")
        paths = training_paths(project)
        options = context.options
        seed = DEFAULT_SEED if options.seed is None else int(options.seed)
        policy_context = PolicyContext(seed=seed, device=options.device,
                                       progress=options.progress)
        domain_part = domain_signature(project.domain)
        # rules first: their contradiction check fails fast, before slow training
        for entry in sorted(entries, key=lambda e: not isinstance(e.policy, RulePolicy)):
            fingerprint = policy_fingerprint(entry.policy, domain_part, paths, seed)
            if context.reuse(entry.key, fingerprint):
                logger.info("%s: unchanged, reused from the previous model", entry.name)
                continue
            context.will_train(entry.key)
            settings = policy_context
            source = (context.finetune_source(entry.key, entry.name)
                      if entry.policy.finetunable else None)
            if source is not None:
                fraction = options.epoch_fraction
                logger.info("fine-tuning %s from %s (%.2g of its epochs)", entry.name,
                            source.model.name, fraction)
                settings = replace(policy_context, finetune_from=source, epoch_fraction=fraction)
                # not what a training from scratch gives: a later plain train retrains it
                fingerprint = compute_fingerprint("core-finetuned", fingerprint,
                                                  source.fingerprint, fraction)
            entry.policy.train(paths, project.domain, settings)
            entry.policy.persist(context.storage(entry.key))
            context.record(entry.key, entry.name, "policy", self.name, entry.policy.config,
                           fingerprint)
        return {
            "policies": [{"key": e.key, "name": e.name, "config": e.policy.config}
                         for e in entries],
            "stories": sum(p.kind == "story" for p in paths),
            "rules": sum(p.kind == "rule" for p in paths),
        }
