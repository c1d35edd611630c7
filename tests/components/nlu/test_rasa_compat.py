from __future__ import annotations

import logging
from pathlib import Path

import pytest
from tiny_nlu import TinyPlugin, standin

from dialogflowlite.components.nlu.pipeline import NluPipeline
from dialogflowlite.components.nlu.rasa_compat import (
    DEFAULT_MODEL,
    default_pipeline,
    translate_pipeline,
)
from dialogflowlite.io.config_reader import ComponentConfig
from dialogflowlite.io.loader import load_project
from dialogflowlite.plugins.registry import get_registry
from dialogflowlite.shared.message import Message
from dialogflowlite.shared.training_data import TrainingData

#: settings of the components that stand in for Rasa's, as these tests assume them
TARGETS = {
    "WhitespaceTokenizer": {
        "intent_tokenization_flag": False,
        "intent_split_symbol": "_",
        "token_pattern": None,
        "prefix_separator_symbol": None,
    },
    "SpacyTokenizer": {"model": None, "language": None},
    "RegexFeaturizer": {"case_sensitive": True},
    "EntitySynonymMapper": {},
    "FallbackClassifier": {"threshold": 0.3, "ambiguity_threshold": 0.1},
    "ResponseSelector": {"retrieval_intent": None, "epochs": 10, "model": None},
    "ScratchTransformerClassifier": {
        "epochs": 50,
        "intent_classification": True,
        "entity_recognition": True,
        "seed": 1,
        "num_layers": 2,
        "hidden_size": 128,
        "dropout": 0.1,
        "tag_scheme": "bio",
        "split_entities_by_comma": True,
    },
    "JointTransformerClassifier": {
        "model": None,
        "tag_scheme": "bio",
        "split_entities_by_comma": True,
        "epochs": "auto",
        "random_seed": None,
        "intent_classification": True,
        "entity_recognition": True,
    },
}


def translate(*items: tuple[str, dict]) -> list[tuple[str, dict]]:
    specs = [ComponentConfig(name, dict(params)) for name, params in items]
    return [(s.name, s.params) for s in translate_pipeline(specs, defaults_of=TARGETS.get)]


def test_featurizers_disappear_and_diet_trains_from_scratch(caplog) -> None:
    with caplog.at_level(logging.WARNING):
        result = translate(
            ("WhitespaceTokenizer", {}),
            ("LexicalSyntacticFeaturizer", {}),
            ("CountVectorsFeaturizer", {"analyzer": "char_wb", "min_ngram": 1}),
            (
                "DIETClassifier",
                {
                    "epochs": 100,
                    "random_seed": 3,
                    "batch_size": [64, 256],
                    "constrain_similarities": True,
                    "transformer_size": 64,
                    "number_of_transformer_layers": 1,
                    "drop_rate": 0.2,
                },
            ),
            ("FallbackClassifier", {"threshold": 0.4}),
        )
    assert result == [
        ("WhitespaceTokenizer", {}),
        (
            "ScratchTransformerClassifier",
            {"epochs": 100, "seed": 3, "hidden_size": 64, "num_layers": 1, "dropout": 0.2},
        ),
        ("FallbackClassifier", {"threshold": 0.4}),
    ]
    text = caplog.text
    assert "notice: CountVectorsFeaturizer is not needed here" in text
    assert "notice: LexicalSyntacticFeaturizer is not needed here" in text
    assert "notice: DIETClassifier is provided here by ScratchTransformerClassifier" in text
    assert "`constrain_similarities` has no equivalent in ScratchTransformerClassifier" in text
    assert "batch_size" in text


def test_language_model_featurizer_makes_diet_a_fine_tuned_encoder(caplog) -> None:
    with caplog.at_level(logging.WARNING):
        result = translate(
            ("WhitespaceTokenizer", {}),
            ("LanguageModelFeaturizer", {"model_name": "bert", "model_weights": "./my-bert"}),
            ("DIETClassifier", {"epochs": 100, "entity_recognition": False}),
        )
    assert result == [
        ("WhitespaceTokenizer", {}),
        ("JointTransformerClassifier", {"model": "./my-bert", "entity_recognition": False}),
    ]
    assert "Rasa's `epochs: 100` does not mean the same for JointTransformerClassifier" in (
        caplog.text
    )
    unnamed = translate(
        ("WhitespaceTokenizer", {}),
        ("LanguageModelFeaturizer", {}),
        ("DIETClassifier", {}),
        ("ResponseSelector", {}),
    )
    assert unnamed[1:] == [
        ("JointTransformerClassifier", {"model": DEFAULT_MODEL}),
        ("ResponseSelector", {"model": DEFAULT_MODEL}),
    ]


def test_split_entities_by_comma_is_kept_for_either_classifier(caplog) -> None:
    setting = {"address": False, "ingredients": True}
    with caplog.at_level(logging.WARNING):
        scratch = translate(("WhitespaceTokenizer", {}),
                            ("DIETClassifier", {"split_entities_by_comma": setting}))
        joint = translate(("WhitespaceTokenizer", {}), ("LanguageModelFeaturizer", {}),
                          ("CRFEntityExtractor", {"split_entities_by_comma": False}))
    assert scratch[1] == ("ScratchTransformerClassifier", {"split_entities_by_comma": setting})
    assert joint[1] == ("JointTransformerClassifier",
                        {"split_entities_by_comma": False, "model": DEFAULT_MODEL,
                         "intent_classification": False})
    assert "split_entities_by_comma" not in caplog.text


def test_split_entities_by_comma_comes_from_the_component_that_extracts_entities(
    caplog,
) -> None:
    # DIET classifies intents only and the CRF extracts the entities: the one
    # classifier here cuts entities as the CRF's setting says
    address = {"address": False}
    with caplog.at_level(logging.WARNING):
        merged = translate(("WhitespaceTokenizer", {}),
                           ("DIETClassifier", {"entity_recognition": False,
                                               "split_entities_by_comma": True}),
                           ("CRFEntityExtractor", {"split_entities_by_comma": address}))
    assert merged[1] == ("ScratchTransformerClassifier", {"split_entities_by_comma": address})
    assert ("CRFEntityExtractor: its job is done by the ScratchTransformerClassifier above, "
            "which stands in for DIETClassifier; its `split_entities_by_comma: "
            "{'address': False}` is used (DIETClassifier's `split_entities_by_comma: True` "
            "is not used, as it extracts no entities)") in caplog.text
    # an extractor that leaves it unset cuts at every comma, as Rasa's default
    unset = translate(("WhitespaceTokenizer", {}),
                      ("DIETClassifier", {"entity_recognition": False,
                                          "split_entities_by_comma": False}),
                      ("CRFEntityExtractor", {}))
    assert unset[1] == ("ScratchTransformerClassifier", {})


def test_two_entity_extractors_with_different_comma_splitting_keep_the_first(caplog) -> None:
    with caplog.at_level(logging.WARNING):
        merged = translate(("WhitespaceTokenizer", {}),
                           ("DIETClassifier", {"split_entities_by_comma": False}),
                           ("CRFEntityExtractor", {"split_entities_by_comma": True}))
    assert merged[1] == ("ScratchTransformerClassifier", {"split_entities_by_comma": False})
    assert ("CRFEntityExtractor: its job is done by the ScratchTransformerClassifier above, "
            "which stands in for DIETClassifier; its `split_entities_by_comma: True` is "
            "ignored, as DIETClassifier's `split_entities_by_comma: False` is used") in (
        caplog.text
    )
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        same = translate(("WhitespaceTokenizer", {}),
                         ("DIETClassifier", {"split_entities_by_comma": False}),
                         ("CRFEntityExtractor", {"split_entities_by_comma": False}))
    assert same[1] == ("ScratchTransformerClassifier", {"split_entities_by_comma": False})
    assert "ignored" not in caplog.text


def test_the_merge_notice_names_the_settings_of_the_merged_component_it_ignores(
    caplog,
) -> None:
    # the classifier above keeps its own tag scheme, features and schedule: the one
    # notice line of the merged CRF says which of its settings are therefore unused
    features = [["low"], ["low", "suffix3"], ["low"]]
    with caplog.at_level(logging.WARNING):
        merged = translate(("WhitespaceTokenizer", {}), ("DIETClassifier", {"epochs": 5}),
                           ("CRFEntityExtractor", {"BILOU_flag": True, "features": features,
                                                   "max_iterations": 50,
                                                   "split_entities_by_comma": False}),
                           ("SklearnIntentClassifier", {"C": [1, 2]}))
    assert merged[1] == ("ScratchTransformerClassifier",
                         {"epochs": 5, "split_entities_by_comma": False})
    [crf] = [r.getMessage() for r in caplog.records
             if r.getMessage().startswith("notice: CRFEntityExtractor")]
    assert crf == (
        "notice: CRFEntityExtractor: its job is done by the ScratchTransformerClassifier "
        "above, which stands in for DIETClassifier; its `split_entities_by_comma: False` is "
        "used; its settings `BILOU_flag`, `features`, `max_iterations` are ignored")
    assert ("SklearnIntentClassifier: its job is done by the ScratchTransformerClassifier "
            "above, which stands in for DIETClassifier, CRFEntityExtractor; its setting `C` "
            "is ignored") in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        translate(("WhitespaceTokenizer", {}), ("DIETClassifier", {}), ("CRFEntityExtractor", {}))
    assert "ignored" not in caplog.text


def test_bilou_flag_becomes_the_tag_scheme(caplog) -> None:
    scratch = translate(("WhitespaceTokenizer", {}), ("DIETClassifier", {"BILOU_flag": True}))
    assert scratch[1] == ("ScratchTransformerClassifier", {"tag_scheme": "bilou"})
    with caplog.at_level(logging.WARNING):
        joint = translate(
            ("WhitespaceTokenizer", {}),
            ("LanguageModelFeaturizer", {}),
            ("CRFEntityExtractor", {"BILOU_flag": False}),
            ("ResponseSelector", {"BILOU_flag": True}),
        )
    assert joint[1] == ("JointTransformerClassifier", {"model": DEFAULT_MODEL,
                                                       "intent_classification": False,
                                                       "tag_scheme": "bio"})
    # the selector tags nothing: the flag is dropped there, with a notice
    assert joint[2] == ("ResponseSelector", {"model": DEFAULT_MODEL})
    assert "`BILOU_flag` has no equivalent in ResponseSelector" in caplog.text


def test_rasa_classifiers_merge_into_one() -> None:
    result = translate(
        ("WhitespaceTokenizer", {}),
        ("SklearnIntentClassifier", {"C": [1, 2]}),
        ("CRFEntityExtractor", {"max_iterations": 50}),
    )
    assert result == [("WhitespaceTokenizer", {}), ("ScratchTransformerClassifier", {})]
    intent_only = translate(("WhitespaceTokenizer", {}), ("LogisticRegressionClassifier", {}))
    assert intent_only[1] == ("ScratchTransformerClassifier", {"entity_recognition": False})
    entities_only = translate(("WhitespaceTokenizer", {}), ("CRFEntityExtractor", {}))
    assert entities_only[1] == ("ScratchTransformerClassifier", {"intent_classification": False})


def test_tokenizers_without_an_equivalent(caplog) -> None:
    with caplog.at_level(logging.WARNING):
        result = translate(("JiebaTokenizer", {"dictionary_path": "dict/"}), ("DIETClassifier", {}))
    assert result[0] == ("WhitespaceTokenizer", {})
    assert "splitting Chinese text into characters" in caplog.text
    assert translate(("MitieTokenizer", {}))[0] == ("WhitespaceTokenizer", {})


def test_kept_names_keep_their_meaning_and_drop_rasa_only_settings(caplog) -> None:
    with caplog.at_level(logging.WARNING):
        result = translate(
            ("WhitespaceTokenizer", {"intent_tokenization_flag": True}),
            (
                "ResponseSelector",
                {"epochs": 50, "retrieval_intent": "faq", "use_text_as_label": True},
            ),
            ("RegexFeaturizer", {"case_sensitive": False, "casesensitive": 1}),
        )
    assert result == [
        ("WhitespaceTokenizer", {"intent_tokenization_flag": True}),
        ("ResponseSelector", {"epochs": 50, "retrieval_intent": "faq"}),
        # not a Rasa setting either: left for the component to reject with a did-you-mean
        ("RegexFeaturizer", {"case_sensitive": False, "casesensitive": 1}),
    ]
    assert "`use_text_as_label` has no equivalent in ResponseSelector" in caplog.text


def test_unknown_names_pass_through_for_the_registry() -> None:
    assert translate(("my_module.MyComponent", {"x": 1})) == [("my_module.MyComponent", {"x": 1})]


def test_missing_spacy_pipeline_falls_back_to_blank_and_skips_the_extractor(caplog) -> None:
    with caplog.at_level(logging.WARNING):
        result = translate(
            ("SpacyNLP", {"model": "xx_missing_pipeline"}),
            ("SpacyTokenizer", {}),
            ("SpacyFeaturizer", {}),
            ("DIETClassifier", {}),
            ("SpacyEntityExtractor", {"dimensions": ["X"]}),
        )
    assert [name for name, _ in result] == ["SpacyTokenizer", "ScratchTransformerClassifier"]
    assert result[0] == ("SpacyTokenizer", {})
    assert "xx_missing_pipeline is not installed" in caplog.text
    assert "SpacyEntityExtractor is skipped" in caplog.text


def test_installed_spacy_pipeline_reaches_tokenizer_and_extractor(tmp_path: Path) -> None:
    import spacy

    nlp = spacy.blank("en")
    ruler = nlp.add_pipe("entity_ruler")
    ruler.add_patterns(
        [{"label": "PERSON", "pattern": "Ada Lovelace"}, {"label": "ORG", "pattern": "Acme"}]
    )
    folder = str(tmp_path / "ner_pipeline")
    nlp.to_disk(folder)
    specs = translate_pipeline(
        [
            ComponentConfig("SpacyNLP", {"model": folder}),
            ComponentConfig("SpacyTokenizer"),
            ComponentConfig("SpacyEntityExtractor", {"dimensions": ["PERSON"]}),
        ]
    )
    assert [(s.name, s.params) for s in specs] == [
        ("SpacyTokenizer", {"model": folder}),
        ("SpacyEntityExtractor", {"dimensions": ["PERSON"], "model": folder}),
    ]
    pipeline = NluPipeline.from_config(specs)
    pipeline.train(TrainingData([Message("hi", intent="greet")]))
    message = pipeline.parse("Ada Lovelace works at Acme")
    assert [(e.entity, e.start, e.end, e.value, e.extractor) for e in message.entities] == [
        ("PERSON", 0, 12, "Ada Lovelace", "SpacyEntityExtractor")
    ]
    assert [t.text for t in message.tokens] == ["Ada", "Lovelace", "works", "at", "Acme"]


def test_default_pipeline_adds_a_response_selector_for_retrieval_intents() -> None:
    names = [c.name for c in default_pipeline(TrainingData([Message("hi", intent="greet")]))]
    assert names == [
        "WhitespaceTokenizer",
        "RegexFeaturizer",
        "JointTransformerClassifier",
        "EntitySynonymMapper",
        "FallbackClassifier",
    ]
    faq = default_pipeline(TrainingData([Message("name?", intent="faq/ask_name")]))
    assert [c.name for c in faq][-2:] == ["ResponseSelector", "FallbackClassifier"]
    assert faq[2].params == {"model": "all-MiniLM-L6-v2"}
    assert faq[-2].params == {"model": "all-MiniLM-L6-v2", "skip_other_intents": True}
    assert faq[-1].params == {"threshold": 0.3, "ambiguity_threshold": 0.1}


def test_registry_aliases_name_the_stand_in(plugin_manager, caplog) -> None:
    with caplog.at_level(logging.WARNING):
        assert get_registry().get("SpacyNLP").name == "SpacyTokenizer"
    assert "notice: SpacyNLP is provided here by SpacyTokenizer" in caplog.text


# ---------------------------------------------------------------- the Rasa example projects

EXPECTED = {
    "concertbot": [
        "WhitespaceTokenizer",
        "RegexFeaturizer",
        "ScratchTransformerClassifier",
        "FallbackClassifier",
        "EntitySynonymMapper",
    ],
    "financial_demo": [
        "WhitespaceTokenizer",
        "RegexFeaturizer",
        "ScratchTransformerClassifier",
        "FallbackClassifier",
        "DucklingEntityExtractor",
        "EntitySynonymMapper",
    ],
    "formbot": [
        "WhitespaceTokenizer",
        "DucklingEntityExtractor",
        "ScratchTransformerClassifier",
        "EntitySynonymMapper",
    ],
    "initial_project_3x": [
        "WhitespaceTokenizer",
        "RegexFeaturizer",
        "JointTransformerClassifier",
        "EntitySynonymMapper",
        "FallbackClassifier",
    ],
    "knowledgebasebot": [
        "WhitespaceTokenizer",
        "RegexFeaturizer",
        "ScratchTransformerClassifier",
        "EntitySynonymMapper",
    ],
    "moodbot": ["SpacyTokenizer", "ScratchTransformerClassifier"],
    "reminderbot": [
        "WhitespaceTokenizer",
        "RegexFeaturizer",
        "ScratchTransformerClassifier",
        "EntitySynonymMapper",
    ],
    "responseselectorbot": [
        "WhitespaceTokenizer",
        "ScratchTransformerClassifier",
        "ResponseSelector",
    ],
    "rules": [
        "WhitespaceTokenizer",
        "DucklingEntityExtractor",
        "ScratchTransformerClassifier",
        "EntitySynonymMapper",
        "FallbackClassifier",
    ],
}


@pytest.fixture
def classifiers(register_plugin) -> None:
    """The neural classifiers, or tiny stand-ins where they are not installed here."""
    missing = [
        name
        for name in (
            "ScratchTransformerClassifier",
            "JointTransformerClassifier",
            "ResponseSelector",
        )
        if name not in get_registry().entries
    ]
    if missing:
        register_plugin(
            TinyPlugin(*(standin(name, TARGETS[name]) for name in missing)), "classifier-stand-ins"
        )


@pytest.mark.shared_data
@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_every_rasa_example_project_builds_its_pipeline(
    name: str, rasa_projects: Path, classifiers, caplog
) -> None:
    from dialogflowlite.components.nlu.pipeline import pipeline_problems

    project = load_project(rasa_projects / name, strict=False)
    with caplog.at_level(logging.WARNING):
        pipeline = NluPipeline.from_config(project.config, training_data=project.nlu)
    assert [c.name for c in pipeline.components] == EXPECTED[name]
    assert pipeline_problems(project.config, project.nlu) == []
    if project.config.pipeline:
        assert "notice: DIETClassifier is provided here by ScratchTransformerClassifier" in (
            caplog.text
        )
    if name == "moodbot":
        assert pipeline.components[0].config["model"] is None  # en_core_web_md is not here
        assert pipeline.components[1].config["entity_recognition"] is False
