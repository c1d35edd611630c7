"""Built-in plugin: NLU components (featurizers, classifiers, extractors, selectors)."""

from __future__ import annotations

from dialogflowlite import hookimpl


@hookimpl
def dfl_register_components() -> list[type]:
    from dialogflowlite.components.nlu.duckling import DucklingEntityExtractor
    from dialogflowlite.components.nlu.fallback import FallbackClassifier
    from dialogflowlite.components.nlu.joint_transformer import JointTransformerClassifier
    from dialogflowlite.components.nlu.regex_entity_extractor import RegexEntityExtractor
    from dialogflowlite.components.nlu.regex_featurizer import RegexFeaturizer
    from dialogflowlite.components.nlu.response_selector import ResponseSelector
    from dialogflowlite.components.nlu.scratch_transformer import ScratchTransformerClassifier
    from dialogflowlite.components.nlu.spacy_entities import SpacyEntityExtractor
    from dialogflowlite.components.nlu.synonyms import EntitySynonymMapper

    return [
        RegexFeaturizer,
        RegexEntityExtractor,
        EntitySynonymMapper,
        FallbackClassifier,
        DucklingEntityExtractor,
        SpacyEntityExtractor,
        JointTransformerClassifier,
        ScratchTransformerClassifier,
        ResponseSelector,
    ]


@hookimpl
def dfl_component_aliases() -> dict[str, str]:
    from dialogflowlite.components.nlu.rasa_compat import RASA_ALIASES

    return dict(RASA_ALIASES)
