"""Rasa's policy names and settings, read the way this project understands them.

``TEDPolicy`` becomes :class:`TransformerPolicy` (its ``max_history`` and
``priority`` carry over; its training and architecture settings do not, as
the transformer policy sizes its own training and stops once it reproduces
the stories). Policies whose job is done elsewhere here are left out with a
notice. An empty ``policies:`` list means the default policies.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from dialogflowlite.components.nlu.rasa_compat import notice
from dialogflowlite.io.config_reader import ComponentConfig

logger = logging.getLogger(__name__)

#: Rasa's names for policies this project provides under another name
POLICY_ALIASES: dict[str, str] = {"TEDPolicy": "TransformerPolicy"}

#: Rasa policies without a counterpart here, and where their job went
DROPPED_POLICIES: dict[str, str] = {
    "UnexpecTEDIntentPolicy": "it only flags unlikely user turns; nothing replaces it here",
    "FormPolicy": "RulePolicy runs forms",
    "MappingPolicy": "write the intent-to-action mappings as rules (RulePolicy)",
    "FallbackPolicy": "RulePolicy's core_fallback_threshold predicts the fallback action",
    "TwoStageFallbackPolicy": "write an nlu_fallback rule that runs action_two_stage_fallback",
}

#: TEDPolicy settings that keep their meaning under TransformerPolicy
TED_KEPT_KEYS = ("max_history", "priority")

#: what a project without a `policies:` list gets
DEFAULT_POLICIES: tuple[str, ...] = ("MemoizationPolicy", "RulePolicy", "TransformerPolicy")


def translate_policy(config: ComponentConfig, *, quiet: bool = False) -> ComponentConfig | None:
    """The policy config to use for one config.yml entry, or None when it is left out.

    ``quiet`` leaves out the notices (for checks that run before training).
    """
    reason = DROPPED_POLICIES.get(config.name)
    if reason is not None:
        if not quiet:
            notice(f"{config.name} is not used: {reason}", config.position)
        return None
    target = POLICY_ALIASES.get(config.name)
    if target is None:
        return config
    params = {k: v for k, v in config.params.items() if k in TED_KEPT_KEYS}
    dropped = sorted(k for k in config.params if k not in TED_KEPT_KEYS)
    if not quiet:
        note = f"; settings not used: {', '.join(dropped)}" if dropped else ""
        notice(f"{config.name} is provided here by {target}, which sizes and stops its own "
               f"training{note}", config.position)
    return ComponentConfig(target, params, config.position)


def translate_policies(configs: Sequence[ComponentConfig], *,
                       quiet: bool = False) -> list[ComponentConfig]:
    """config.yml's ``policies:`` with Rasa names translated; the defaults when it is empty."""
    if not configs:
        if not quiet:
            logger.info("no policies configured; using %s", ", ".join(DEFAULT_POLICIES))
        return [ComponentConfig(name) for name in DEFAULT_POLICIES]
    translated = [translate_policy(config, quiet=quiet) for config in configs]
    return [config for config in translated if config is not None]
