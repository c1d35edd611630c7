"""Built-in plugin: dialogue policies."""

from __future__ import annotations

from dialogflowlite import hookimpl


@hookimpl
def dfl_register_components() -> list[type]:
    from dialogflowlite.components.policies.memoization import (
        AugmentedMemoizationPolicy,
        MemoizationPolicy,
    )
    from dialogflowlite.components.policies.rule import RulePolicy
    from dialogflowlite.components.policies.transformer_policy import TransformerPolicy

    return [MemoizationPolicy, AugmentedMemoizationPolicy, RulePolicy, TransformerPolicy]


@hookimpl
def dfl_component_aliases() -> dict[str, str]:
    from dialogflowlite.components.policies.rasa_compat import POLICY_ALIASES

    return dict(POLICY_ALIASES)
