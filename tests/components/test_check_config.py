"""``Component.check_config``: the range checks that building a component and
``data validate`` share, for every built-in component."""

from __future__ import annotations

from typing import Any

import pytest

from dialogflowlite.components.base import Component
from dialogflowlite.docs_gen import builtin_registry
from dialogflowlite.errors import ComponentConfigError, Position

WHERE = Position("config.yml", 7, 5)


def refused(name: str, settings: dict[str, Any]) -> ComponentConfigError:
    """The error that checking ``settings`` of component ``name`` raises, the same one
    that building it raises."""
    cls = builtin_registry().get(name)
    with pytest.raises(ComponentConfigError) as checked:
        cls.check_config(cls.resolve_config(settings), position=WHERE)
    assert checked.value.position == WHERE
    return checked.value


def test_every_built_in_component_accepts_its_defaults() -> None:
    registry = builtin_registry()
    for name in registry.names():
        cls = registry.get(name)
        config = cls.resolve_config({"model": "en_core_web_md"} if name.startswith("Spacy")
                                    else {})
        cls.check_config(config)  # raises nothing


@pytest.mark.parametrize(("name", "settings", "message"), [
    # the cases found on the template project
    ("FallbackClassifier", {"threshold": 5}, "'threshold' must be a number between 0 and 1"),
    ("FallbackClassifier", {"ambiguity_threshold": -1},
     "'ambiguity_threshold' must be a number between 0 and 1"),
    ("JointTransformerClassifier", {"epochs": -5},
     "'epochs' must be 'auto' or a whole number of at least 1, not -5"),
    ("TransformerPolicy", {"max_history": -1},
     "'max_history' must be a whole number of at least 1, not -1"),
    ("TransformerPolicy", {"max_history": None}, "'max_history' must be a whole number"),
    ("TransformerPolicy", {"epochs": -4}, "'epochs' must be a whole number of at least 1"),
    ("MemoizationPolicy", {"max_history": -3}, "'max_history' must be a whole number"),
    ("AugmentedMemoizationPolicy", {"max_history": 0}, "'max_history' must be a whole number"),
    # the same kind of gap in the other built-in components
    ("JointTransformerClassifier", {"freeze_layers": -1},
     "'freeze_layers' must be a whole number of at least 0"),
    ("JointTransformerClassifier", {"learning_rate": -1e-4}, "'learning_rate' must be a "
                                                             "number of at least 0"),
    ("JointTransformerClassifier", {"warmup_ratio": 1.5}, "'warmup_ratio' must be a number "
                                                          "between 0 and 1"),
    ("JointTransformerClassifier", {"dropout": 1}, "'dropout' must be a number of at least 0 "
                                                   "and below 1"),
    ("JointTransformerClassifier", {"max_minutes": -1}, "'max_minutes' must be a number"),
    ("ScratchTransformerClassifier", {"batch_size": 0}, "'batch_size' must be a whole number"),
    ("ScratchTransformerClassifier", {"ranking_length": -1}, "'ranking_length'"),
    ("ScratchTransformerClassifier", {"word_dropout": -0.1}, "'word_dropout'"),
    ("ResponseSelector", {"epochs": 0}, "'epochs' must be 'auto' or a whole number"),
    ("ResponseSelector", {"learning_rate": -1e-3}, "'learning_rate' must be a number of at "
                                                   "least 0"),
    ("ResponseSelector", {"hidden_size": 100, "num_heads": 3}, "not a multiple of num_heads"),
    ("RulePolicy", {"core_fallback_threshold": 1.3}, "'core_fallback_threshold'"),
    ("TransformerPolicy", {"learning_rate": -0.01}, "'learning_rate' must be a number of at "
                                                    "least 0"),
    ("TransformerPolicy", {"augmentation": -1}, "'augmentation' must be a whole number of at "
                                                "least 0"),
    ("TransformerPolicy", {"hidden_size": 30, "num_heads": 4}, "not a multiple of num_heads"),
    ("DucklingEntityExtractor", {"timeout": 0}, "'timeout' must be a number above 0"),
    ("NeuralResponseGenerator", {"epochs": -1}, "'epochs' must be a whole number"),
    ("NeuralResponseGenerator", {"label_smoothing": 1.0}, "'label_smoothing'"),
    ("NeuralResponseGenerator", {"lexical_ratio": 2}, "'lexical_ratio'"),
])
def test_settings_out_of_range_are_refused(name: str, settings: dict[str, Any],
                                           message: str) -> None:
    error = refused(name, settings)
    assert error.message.startswith(f"component {name}")
    assert message in error.message
    # building the component checks the same, so training stops the same way
    with pytest.raises(ComponentConfigError, match=message.replace("(", r"\(")):
        builtin_registry().get(name)(settings)


@pytest.mark.parametrize(("name", "settings"), [
    ("MemoizationPolicy", {"max_history": None}),  # the whole conversation
    ("JointTransformerClassifier", {"epochs": "auto", "ranking_length": 0, "patience": 0}),
    ("ResponseSelector", {"learning_rate": None, "model": "x", "hidden_size": 100}),
    # a learning rate of 0 keeps the weights as they are: the fine-tuning tests use it
    ("TransformerPolicy", {"augmentation": 0, "dropout": 0, "learning_rate": 0}),
    ("FallbackClassifier", {"threshold": 0, "ambiguity_threshold": 1}),
])
def test_settings_at_the_edges_of_their_range_pass(name: str, settings: dict) -> None:
    cls = builtin_registry().get(name)
    cls.check_config(cls.resolve_config(settings))


def test_the_existing_checks_moved_into_check_config() -> None:
    # what __init__ checked before is checked without building the component now
    assert "pooling" in refused("JointTransformerClassifier", {"pooling": "max"}).message
    assert "tag_scheme" in refused("ScratchTransformerClassifier", {"tag_scheme": "x"}).message
    assert "token_pattern" in refused("WhitespaceTokenizer", {"token_pattern": "("}).message
    assert "needs `model:`" in refused("SpacyEntityExtractor", {}).message
    assert "url" in refused("DucklingEntityExtractor", {"url": "localhost"}).message
    assert "mode" in refused("NeuralResponseGenerator", {"mode": "chat"}).message


class Plain(Component):
    """A plugin component that checks nothing itself."""

    name = "Plain"
    kind = "featurizer"
    defaults = {"size": 3, "rate": None, "mode": "auto"}


@pytest.mark.parametrize(("bounds", "value", "wanted"), [
    ({"at_least": 1, "whole": True}, 0, "a whole number of at least 1"),
    ({"above": 0}, 0, "a number above 0"),
    ({"at_least": 0, "at_most": 1}, 2, "a number between 0 and 1"),
    ({"above": 0, "at_most": 1}, 0, "a number above 0 and at most 1"),
    ({"at_least": 0, "below": 1}, 1, "a number of at least 0 and below 1"),
    ({"at_least": 1, "whole": True}, 1.5, "a whole number of at least 1"),
    ({"at_least": 1}, True, "a number of at least 1"),
    ({"at_least": 1}, float("nan"), "a number of at least 1"),
])
def test_check_number_says_what_the_setting_takes(bounds: dict, value: Any,
                                                  wanted: str) -> None:
    with pytest.raises(ComponentConfigError) as info:
        Plain.check_number({"size": value}, "size", **bounds)
    assert info.value.message == f"component Plain: setting 'size' must be {wanted}, not {value!r}"
    assert info.value.hint == "for example `size: 3`"


def test_check_number_lets_null_and_words_through_when_asked() -> None:
    Plain.check_number({"rate": None}, "rate", above=0)  # its default is null
    with pytest.raises(ComponentConfigError, match="write a number, or null"):
        Plain.check_number({"rate": "fast"}, "rate", above=0)
    with pytest.raises(ComponentConfigError, match="'size' must be a whole number"):
        Plain.check_number({"size": None}, "size", at_least=1, whole=True)
    Plain.check_number({"size": None}, "size", at_least=1, nullable=True)
    Plain.check_number({"mode": "auto"}, "mode", at_least=1, words=("auto",))
    with pytest.raises(ComponentConfigError, match="must be 'auto' or a number of at least 1"):
        Plain.check_number({"mode": "fast"}, "mode", at_least=1, words=("auto",))


def test_freezing_every_layer_is_a_warning_at_training(caplog) -> None:
    # how many layers the encoder has is known only once it loads
    from transformers import BertConfig, BertModel

    from dialogflowlite.components.nlu.pretrained import freeze_bottom_layers

    encoder = BertModel(BertConfig(vocab_size=40, hidden_size=16, num_hidden_layers=2,
                                   num_attention_heads=2, intermediate_size=32))
    with caplog.at_level("WARNING"):
        freeze_bottom_layers(encoder, 1, "JointTransformerClassifier")
    assert caplog.records == []
    with caplog.at_level("WARNING"):
        freeze_bottom_layers(encoder, 100, "JointTransformerClassifier")
    [record] = caplog.records
    assert record.getMessage() == (
        "JointTransformerClassifier: freeze_layers is 100 and the encoder has 2 layers, so all "
        "of it stays as pretrained and only the heads learn; use at most 1 to fine-tune its "
        "top layers")
    assert not any(p.requires_grad for p in encoder.encoder.parameters())


def test_ranking_length_0_lists_every_response_as_in_rasa() -> None:
    # 0 passes check_config, so it must mean what it means in Rasa, not an empty ranking
    from dialogflowlite.components.nlu.response_selector import ResponseSelector

    selector = ResponseSelector({"ranking_length": 0})
    selector.keys = ["faq/ask_hours", "faq/ask_parking", "faq/ask_menu"]
    ranking = selector._selection([0.2, 0.5, 0.3])["default"]["ranking"]
    assert [r["intent_response_key"] for r in ranking] == [
        "faq/ask_parking", "faq/ask_menu", "faq/ask_hours"]
