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
    ("TransformerPolicy", {"max_history": 0}, "'max_history' must be a whole number"),
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
    ("TransformerPolicy", {"max_history": None}),  # the whole dialogue, as TEDPolicy's default
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


def test_every_bad_setting_of_a_component_is_reported_in_one_error() -> None:
    error = refused("TransformerPolicy", {"epochs": -4, "dropout": 1, "hidden_size": 30,
                                          "max_history": 0})
    assert error.code == "DFL202"
    assert error.message == (
        "component TransformerPolicy has 4 bad settings:\n"
        "- component TransformerPolicy: setting 'max_history' must be a whole number of at "
        "least 1, not 0 (hint: for example `max_history: 5`)\n"
        "- component TransformerPolicy: setting 'epochs' must be a whole number of at least 1, "
        "not -4 (hint: for example `epochs: 100`)\n"
        "- component TransformerPolicy: setting 'dropout' must be a number of at least 0 and "
        "below 1, not 1 (hint: for example `dropout: 0.1`)\n"
        "- component TransformerPolicy: hidden_size 30 is not a multiple of num_heads 4 "
        "(hint: make hidden_size a multiple of num_heads)")
    assert error.hint is None  # each line has its own


def test_one_bad_setting_keeps_its_own_message_and_hint() -> None:
    error = refused("FallbackClassifier", {"threshold": 5})
    assert error.message == ("component FallbackClassifier: setting 'threshold' must be a "
                             "number between 0 and 1, not 5")
    assert error.hint == "for example `threshold: 0.3`"


@pytest.mark.parametrize(("name", "settings", "lines"), [
    # the check of two settings together is left out when one of them is bad itself
    ("TransformerPolicy", {"num_heads": 0, "epochs": 0}, ["'epochs'", "'num_heads'"]),
    ("ResponseSelector", {"num_heads": 0, "ngram_min": 0, "ngram_max": None},
     ["'num_heads'", "'ngram_min'", "'ngram_max'"]),
    ("ScratchTransformerClassifier", {"num_heads": 0, "conv_kernel": 2, "word_dropout": 2},
     ["'num_heads'", "'word_dropout'", "'conv_kernel'"]),
    ("NeuralResponseGenerator", {"mode": "chat", "heads": 0, "lexical_ratio": 2},
     ["mode 'chat'", "'heads'", "'lexical_ratio'"]),
    ("JointTransformerClassifier", {"pooling": "max", "tag_scheme": "x", "epochs": 0},
     ["'tag_scheme'", "'epochs'", "'pooling'"]),
])
def test_components_report_each_bad_setting_on_its_own_line(name: str, settings: dict,
                                                            lines: list[str]) -> None:
    found = refused(name, settings).message.split("\n")
    assert found[0] == f"component {name} has {len(lines)} bad settings:"
    assert len(found) == len(lines) + 1
    for line, wanted in zip(found[1:], lines, strict=True):
        assert line.startswith(f"- component {name}:") or line.startswith(f"- {name}:")
        assert wanted in line


class Picky(Plain):
    """A plugin component with checks of its own, one of them raising directly."""

    name = "Picky"
    defaults = {**Plain.defaults, "level": 1, "pattern": ""}

    @classmethod
    def check_config(cls, config: dict[str, Any], *,
                     position: Position | None = None) -> None:
        super().check_config(config, position=position)
        cls.check_number(config, "size", at_least=1, whole=True, position=position)
        if config["mode"] not in ("auto", "manual"):
            cls.report_bad_setting(f"component {cls.name}: mode {config['mode']!r} is not known",
                                   hint="use auto or manual", position=position)
        if config["pattern"] == "(":
            raise ComponentConfigError(f"component {cls.name}: pattern is not valid",
                                       position=position)
        cls.check_number(config, "level", at_least=1, position=position)


class Pickier(Picky):
    """Extends a plugin component's checks, as subclasses do."""

    name = "Pickier"

    @classmethod
    def check_config(cls, config: dict[str, Any], *,
                     position: Position | None = None) -> None:
        super().check_config(config, position=position)
        cls.check_number(config, "level", at_most=3, position=position)


def test_a_plugin_s_checks_report_together_and_a_direct_raise_ends_them() -> None:
    with pytest.raises(ComponentConfigError) as info:
        Picky.check_config(Picky.resolve_config({"size": 0, "mode": "x", "pattern": "(",
                                                 "level": 0}), position=WHERE)
    lines = info.value.message.split("\n")
    assert lines[0] == "component Picky has 3 bad settings:"
    assert ["'size'" in lines[1], "mode 'x'" in lines[2], "pattern" in lines[3]] == [True] * 3
    assert info.value.position == WHERE
    # a subclass's checks and its parent's end up in the one error, named after it
    with pytest.raises(ComponentConfigError) as info:
        Pickier.check_config(Pickier.resolve_config({"size": 0, "level": 5}))
    lines = info.value.message.split("\n")
    assert lines[0] == "component Pickier has 2 bad settings:"
    assert "'size'" in lines[1] and "'level' must be a number of at most 3" in lines[2]
    # building the component raises the same error
    with pytest.raises(ComponentConfigError, match="Pickier has 2 bad settings"):
        Pickier({"size": 0, "level": 5})
    Pickier({"level": 2})  # fine settings pass


def test_report_bad_setting_raises_at_once_outside_check_config() -> None:
    with pytest.raises(ComponentConfigError, match="component Plain: size is odd"):
        Plain.report_bad_setting("component Plain: size is odd", position=WHERE)
    assert Plain.check_number({"size": 2}, "size", at_least=1) is True
    assert Picky.check_numbers({"size": 2, "level": 1}, ("size", "level"), at_least=1) is True


def test_unknown_settings_and_values_of_the_wrong_kind_are_one_error() -> None:
    cls = builtin_registry().get("TransformerPolicy")
    with pytest.raises(ComponentConfigError) as info:
        cls.resolve_config({"epochs": "many", "hiden_size": 32, "dropout": "0.2"},
                           position=WHERE)
    assert info.value.position == WHERE and info.value.code == "DFL202"
    assert info.value.message.split("\n") == [
        "component TransformerPolicy has 2 bad settings:",
        "- component TransformerPolicy: setting 'epochs' must be a whole number, not 'many' "
        "(hint: write `epochs: 100` or another whole number)",
        "- component TransformerPolicy has no setting 'hiden_size' (hint: did you mean "
        "'hidden_size' or 'batch_size'?)",
    ]
    # one of them alone keeps its own message and hint
    with pytest.raises(ComponentConfigError) as info:
        cls.resolve_config({"hiden_size": 32})
    assert info.value.message == "component TransformerPolicy has no setting 'hiden_size'"
    assert info.value.hint == "did you mean 'hidden_size' or 'batch_size'?"


class Trainable(Component):
    """A plugin component with some of the shared training settings."""

    name = "Trainable"
    kind = "intent_classifier"
    defaults = {"epochs": "auto", "learning_rate": 0.1, "patience": 3, "size": 2}

    @classmethod
    def check_config(cls, config: dict[str, Any], *,
                     position: Position | None = None) -> None:
        super().check_config(config, position=position)
        cls.check_training_settings(config, position=position)


def test_check_training_settings_checks_the_shared_settings_a_component_has() -> None:
    Trainable.check_config(Trainable.resolve_config({"epochs": "auto", "patience": 0,
                                                     "learning_rate": 0, "size": -7}))
    with pytest.raises(ComponentConfigError) as info:
        Trainable({"epochs": 0, "patience": -1, "learning_rate": -0.5})
    assert info.value.message.split("\n") == [
        "component Trainable has 3 bad settings:",
        "- component Trainable: setting 'epochs' must be 'auto' or a whole number of at "
        "least 1, not 0 (hint: for example `epochs: auto`)",
        "- component Trainable: setting 'learning_rate' must be a number of at least 0, "
        "not -0.5 (hint: for example `learning_rate: 0.1`)",
        "- component Trainable: setting 'patience' must be a whole number of at least 0, "
        "not -1 (hint: for example `patience: 3`)",
    ]


@pytest.mark.parametrize("name", ["JointTransformerClassifier", "ScratchTransformerClassifier",
                                  "ResponseSelector", "NeuralResponseGenerator",
                                  "TransformerPolicy"])
def test_the_shared_training_settings_take_the_same_range_everywhere(name: str) -> None:
    for key, value, wanted in [("batch_size", 0, "a whole number of at least 1"),
                               ("learning_rate", -1, "a number of at least 0"),
                               ("weight_decay", -1, "a number of at least 0"),
                               ("dropout", 1, "a number of at least 0 and below 1")]:
        assert f"setting '{key}' must be {wanted}, not {value}" in \
            refused(name, {key: value}).message


def test_collecting_bad_settings_joins_resolving_and_checking_into_one_error() -> None:
    from dialogflowlite.components.base import collecting_bad_settings

    # what data validate does: an unknown key and a value out of range, fixed in one go
    with pytest.raises(ComponentConfigError) as info, collecting_bad_settings(Picky.name,
                                                                            WHERE):
        config = Picky.resolve_config({"size": 0, "sise": 1}, position=WHERE)
        Picky.check_config(config, position=WHERE)
    lines = info.value.message.split("\n")
    assert lines[0] == "component Picky has 2 bad settings:"
    assert "no setting 'sise'" in lines[1] and "'size'" in lines[2]
    assert info.value.position == WHERE
    # resolving alone stops at the unknown key
    with pytest.raises(ComponentConfigError) as alone:
        Picky.resolve_config({"size": 0, "sise": 1})
    assert alone.value.message == "component Picky has no setting 'sise'"
    # fine settings pass the block
    with collecting_bad_settings(Picky.name):
        Picky.check_config(Picky.resolve_config({"size": 2}))


@pytest.mark.parametrize(("name", "settings", "message"), [
    # each passed `data validate` and failed later with a traceback: the policy's
    # priority when a model was loaded, the others a few seconds into training
    ("RulePolicy", {"priority": "high"}, "'priority' must be a whole number, not 'high'"),
    ("TransformerPolicy", {"priority": 2.5}, "'priority' must be a whole number"),
    ("JointTransformerClassifier", {"random_seed": "abc"},
     "'random_seed' must be a whole number, not 'abc'"),
    ("ScratchTransformerClassifier", {"device": 0},
     "'device' must be auto, cpu, cuda, cuda:<number> or mps, not 0"),
    ("JointTransformerClassifier", {"device": "tpu"},
     "'device' must be auto, cpu, cuda, cuda:<number> or mps, not 'tpu'"),
    ("ResponseSelector", {"device": "cuda:x"}, "'device' must be auto, cpu, cuda"),
    ("ResponseSelector", {"random_seed": [1]}, "'random_seed' must be a whole number"),
    ("WhitespaceTokenizer", {"intent_split_symbol": 5},
     "'intent_split_symbol' must be text, not 5"),
])
def test_settings_of_a_kind_their_null_default_does_not_show_are_checked(
        name: str, settings: dict[str, Any], message: str) -> None:
    cls = builtin_registry().get(name)
    with pytest.raises(ComponentConfigError) as checked:
        cls.check_config(cls.resolve_config(settings, position=WHERE), position=WHERE)
    assert message in checked.value.message
    assert checked.value.position == WHERE


@pytest.mark.parametrize(("name", "settings", "kept"), [
    ("RulePolicy", {"priority": "7"}, {"priority": 7}),
    ("RulePolicy", {"priority": None}, {"priority": 4}),  # its default
    ("JointTransformerClassifier", {"random_seed": 7, "device": "cuda:1"},
     {"random_seed": 7, "device": "cuda:1"}),
    ("ResponseSelector", {"device": "auto"}, {"device": "auto"}),
    ("WhitespaceTokenizer", {"intent_split_symbol": "+"}, {"intent_split_symbol": "+"}),
])
def test_settings_of_the_right_kind_pass(name: str, settings: dict, kept: dict) -> None:
    cls = builtin_registry().get(name)
    config = cls.resolve_config(settings)
    cls.check_config(config)
    assert {key: config[key] for key in kept} == kept


def test_a_device_the_machine_lacks_is_a_config_error_at_training(monkeypatch) -> None:
    import torch

    from dialogflowlite.errors import ConfigError
    from dialogflowlite.training.loop import resolve_device

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device(None).type == "cpu" and resolve_device("auto").type == "cpu"
    assert resolve_device("cpu") == torch.device("cpu")
    with pytest.raises(ConfigError, match="asks for 'cuda', but this machine has no GPU"):
        resolve_device("cuda")
    with pytest.raises(ConfigError, match="names no device torch knows: 'tpu'"):
        resolve_device("tpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    with pytest.raises(ConfigError, match="has 1 GPU"):
        resolve_device("cuda:1")
    assert resolve_device("cuda:0") == torch.device("cuda:0")


def test_a_subclass_s_own_setting_kinds_add_to_its_base_s() -> None:
    from typing import ClassVar

    from dialogflowlite.components.policies.base import Policy

    class PluginPolicy(Policy):
        name = "PluginPolicy"
        defaults: ClassVar[dict[str, Any]] = {"priority": None, "seed": None}
        setting_kinds: ClassVar[dict[str, type]] = {"seed": int}

    assert PluginPolicy.setting_kinds == {"priority": int, "seed": int}
    with pytest.raises(ComponentConfigError, match="'priority' must be a whole number"):
        PluginPolicy.resolve_config({"priority": "high"})
    with pytest.raises(ComponentConfigError, match="'seed' must be a whole number"):
        PluginPolicy.resolve_config({"seed": "x"})


@pytest.mark.parametrize(("name", "settings", "message"), [
    # `dimensions: time` was read letter by letter: nothing was ever extracted
    ("DucklingEntityExtractor", {"dimensions": "time"}, "'dimensions' must be a list, not 'time'"),
    ("SpacyEntityExtractor", {"model": "en_core_web_md", "dimensions": "PERSON"},
     "'dimensions' must be a list"),
    ("DucklingEntityExtractor", {"locale": 5}, "'locale' must be text, not 5"),
    ("ResponseSelector", {"retrieval_intent": 5}, "'retrieval_intent' must be text, not 5"),
    ("JointTransformerClassifier", {"model": ["x"]}, "'model' must be text"),
    ("NeuralResponseGenerator", {"blocklist_file": True}, "'blocklist_file' must be text"),
])
def test_lists_and_names_are_checked_by_kind(name: str, settings: dict[str, Any],
                                             message: str) -> None:
    cls = builtin_registry().get(name)
    with pytest.raises(ComponentConfigError, match=message.replace("[", r"\[")):
        cls.resolve_config(settings, position=WHERE)


def test_a_path_given_from_python_counts_as_text(tmp_path) -> None:
    cls = builtin_registry().get("ResponseSelector")
    assert cls.resolve_config({"model": tmp_path})["model"] == str(tmp_path)


class Mapper(Component):
    """A plugin component with a mapping and a list among its settings."""

    name = "Mapper"
    kind = "featurizer"
    defaults = {"mapping": {}, "stop_words": [], "label": "x"}


def test_a_mapping_or_list_setting_of_another_kind_is_named() -> None:
    # `mapping: notadict` passed, and the component failed at its first message
    with pytest.raises(ComponentConfigError) as info:
        Mapper.resolve_config({"mapping": "notadict", "stop_words": "the"})
    message = info.value.message
    assert "setting 'mapping' must be a mapping of names to values, not 'notadict'" in message
    assert "setting 'stop_words' must be a list, not 'the'" in message
    assert Mapper.resolve_config({"mapping": {"a": 1}, "stop_words": ["the"], "label": 5}) == {
        "mapping": {"a": 1}, "stop_words": ["the"], "label": 5}


@pytest.mark.parametrize(("lora", "said"), [
    # a traceback once the encoder had loaded
    ({"r": "abc"}, "setting 'lora.r' must be a whole number of at least 1, not 'abc'"),
    ({"r": None}, "setting 'lora.r' must be a whole number of at least 1, not None"),
    # cut to 2 without a word
    ({"r": 2.5}, "setting 'lora.r' must be a whole number of at least 1, not 2.5"),
    ({"alpha": -1}, "setting 'lora.alpha' must be a number above 0, not -1"),
    ({"dropout": 2}, "setting 'lora.dropout' must be a number of at least 0 and below 1"),
    ({"target_modules": 5}, "setting 'lora.target_modules' must be a module name or a list"),
])
def test_lora_settings_are_checked_before_training(lora: dict, said: str) -> None:
    assert said in refused("JointTransformerClassifier", {"lora": lora}).message


def test_lora_settings_left_out_take_their_defaults() -> None:
    cls = builtin_registry().get("JointTransformerClassifier")
    for lora in ({}, {"r": 4, "alpha": 0.5, "target_modules": ["query", "value"]},
                 {"target_modules": "all-linear"}):
        cls.check_config(cls.resolve_config({"lora": lora}))
