from __future__ import annotations

import json
from pathlib import Path

import pytest
from tiny_nlu import TinyPlugin, standin

from dialogflowlite.artifact import ModelWriter, open_model
from dialogflowlite.components.nlu.intent_shortcut import ShortcutNames, is_intent_shortcut
from dialogflowlite.components.nlu.pipeline import NluPipeline, pipeline_problems
from dialogflowlite.errors import ConfigError, ModelLoadError, UnknownComponentError
from dialogflowlite.io.config_reader import ComponentConfig
from dialogflowlite.io.loader import load_project
from dialogflowlite.shared.message import Message

DOMAIN = """
version: "3.1"
intents: [greet, goodbye, book]
entities:
  - city:
      roles: [from, to]
  - cuisine
"""

FROM = '{"entity": "city", "role": "from"}'
TO = '{"entity": "city", "role": "to"}'
TO_NYC = '{"entity": "city", "role": "to", "value": "New York"}'

NLU = f"""
version: "3.1"
nlu:
  - intent: greet
    examples: |
      - hello there
      - hi
      - good morning
  - intent: goodbye
    examples: |
      - bye bye
      - see you later
  - intent: book
    examples: |
      - a flight from [Berlin]{FROM} to [Paris]{TO}
      - fly from [Rome]{FROM} to [NYC]{TO_NYC}
      - [italian](cuisine) food in [Rome](city)
      - [chinese](cuisine) food please
      - [chinees](cuisine) dishes
  - synonym: chinese
    examples: |
      - chinees
  - regex: zipcode
    examples: |
      - \\d{{5}}
"""

PIPELINE = """
language: en
pipeline:
  - name: WhitespaceTokenizer
  - name: RegexFeaturizer
  - name: TinyClassifier
  - name: EntitySynonymMapper
  - name: FallbackClassifier
    threshold: 0.4
    ambiguity_threshold: 0.05
"""


def project(write_project, config: str = PIPELINE, nlu: str = NLU):
    return load_project(write_project(domain=DOMAIN, nlu=nlu, config=config))


def trained(write_project, config: str = PIPELINE) -> NluPipeline:
    loaded = project(write_project, config)
    pipeline = NluPipeline.from_config(loaded.config, training_data=loaded.nlu)
    pipeline.train(loaded.nlu)
    return pipeline


def test_builds_components_in_config_order(tiny_classifier, write_project) -> None:
    loaded = project(write_project)
    pipeline = NluPipeline.from_config(loaded.config, training_data=loaded.nlu)
    assert [c.name for c in pipeline.components] == [
        "WhitespaceTokenizer",
        "RegexFeaturizer",
        "TinyClassifier",
        "EntitySynonymMapper",
        "FallbackClassifier",
    ]
    assert pipeline.keys[0] == "nlu/0_WhitespaceTokenizer"
    assert pipeline.keys[4] == "nlu/4_FallbackClassifier"
    assert pipeline.components[4].config == {"threshold": 0.4, "ambiguity_threshold": 0.05,
                                            "unknown_words": False}
    assert pipeline_problems(loaded.config, loaded.nlu) == []


def test_missing_requirement_names_the_config_line(tiny_classifier, write_project) -> None:
    config = "pipeline:\n  - name: RegexFeaturizer\n  - name: WhitespaceTokenizer\n"
    loaded = project(write_project, config)
    with pytest.raises(ConfigError) as info:
        NluPipeline.from_config(loaded.config)
    error = info.value
    assert str(error.position).endswith("config.yml:2:5")
    assert "RegexFeaturizer needs tokens" in error.message
    assert "WhitespaceTokenizer" in error.hint and "SpacyTokenizer" in error.hint
    (problem,) = pipeline_problems(loaded.config)
    assert "needs tokens" in problem.message
    assert str(problem.position).endswith("config.yml:2:5")


def test_order_errors(tiny_classifier, write_project) -> None:
    two = "pipeline:\n- WhitespaceTokenizer\n- SpacyTokenizer\n"
    with pytest.raises(ConfigError, match="two tokenizers") as info:
        NluPipeline.from_config(project(write_project, two).config)
    assert str(info.value.position).endswith("config.yml:3:3")
    late = "pipeline:\n- WhitespaceTokenizer\n- FallbackClassifier\n- TinyClassifier\n"
    with pytest.raises(ConfigError, match="must follow every intent classifier"):
        NluPipeline.from_config(project(write_project, late).config)


def test_policy_in_the_pipeline_is_an_error(register_plugin, write_project) -> None:
    from dialogflowlite.components.policies.base import Policy

    class SomePolicy(Policy):
        """Test policy."""

        name = "SomePolicy"
        kind = "policy"

    register_plugin(TinyPlugin(SomePolicy), "policies-for-test")
    with pytest.raises(ConfigError, match="SomePolicy is a policy") as info:
        NluPipeline.from_config([ComponentConfig("SomePolicy")])
    assert info.value.hint == "list it under `policies:`"


def test_unknown_component_suggests_names(write_project) -> None:
    loaded = project(write_project, "pipeline:\n- WhitespaceTokeniser\n")
    with pytest.raises(UnknownComponentError) as info:
        NluPipeline.from_config(loaded.config)
    assert "WhitespaceTokenizer" in info.value.hint
    assert "WhitespaceTokenizer" in pipeline_problems(loaded.config)[0].hint


def test_parse_result_has_roles_groups_synonyms_and_fallback(
    tiny_classifier, write_project
) -> None:
    pipeline = trained(write_project)
    message = pipeline.parse("Fly from Berlin to NYC")
    result = message.parse_result()
    assert result["intent"]["name"] == "book"
    assert result["text_tokens"] == [[0, 3], [4, 8], [9, 15], [16, 18], [19, 22]]
    assert [
        (e["entity"], e["value"], e["role"], e["start"], e["end"], e.get("processors"),
         e["extractor"])
        for e in result["entities"]
    ] == [
        # Berlin is an annotated value: the mapper knows it (Rasa 3.6+ records that too)
        ("city", "Berlin", "from", 9, 15, ["EntitySynonymMapper"], "TinyClassifier"),
        ("city", "New York", "to", 19, 22, ["EntitySynonymMapper"], "TinyClassifier"),
    ]
    # white space around a message is left out, as Rasa reads every message
    padded = pipeline.parse("  Fly from Berlin to NYC\n").parse_result()
    assert padded["text"] == "Fly from Berlin to NYC"
    assert [(e["start"], e["end"]) for e in padded["entities"]] == [(9, 15), (19, 22)]
    chinese = pipeline.parse("chinees food please")
    assert [(e.value, e.processors) for e in chinese.entities] == [
        ("chinese", ["EntitySynonymMapper"])
    ]
    unsure = pipeline.parse("completely unrelated words")
    assert unsure.intent == "nlu_fallback"
    assert unsure.intent_ranking[0].name == "nlu_fallback"
    assert len(unsure.intent_ranking) == 4
    assert pipeline.parse("hello 12345").features["regex"]["sentence"] == [1]


def test_groups_survive_the_pipeline(tiny_classifier, write_project) -> None:
    def part(entity: str, group: str) -> str:
        return json.dumps({"entity": entity, "group": group})

    example = (
        f"a [large]{part('size', '1')} [pizza]{part('food', '1')} and "
        f"a [small]{part('size', '2')} [salad]{part('food', '2')}"
    )
    nlu = (
        NLU
        + f"""
  - intent: book
    examples: |
      - {example}
"""
    )
    loaded = project(write_project, nlu=nlu)
    pipeline = NluPipeline.from_config(loaded.config)
    pipeline.train(loaded.nlu)
    entities = pipeline.parse("a large pizza and a small salad").parse_result()["entities"]
    assert [(e["entity"], e["value"], e["group"]) for e in entities] == [
        ("size", "large", "1"),
        ("food", "pizza", "1"),
        ("size", "small", "2"),
        ("food", "salad", "2"),
    ]


def test_parse_batch_matches_single_parses(tiny_classifier, write_project) -> None:
    pipeline = trained(write_project)
    texts = ["hi", "bye bye", "italian food in Rome", "", "/greet"]
    batch = [m.parse_result() for m in pipeline.parse_batch(texts)]
    single = [pipeline.parse(t).parse_result() for t in texts]
    assert batch == single
    assert batch[3]["text_tokens"] == []
    kept = Message("hi", metadata={"channel": "x"})
    assert pipeline.parse_batch([kept])[0] is kept
    assert kept.intent == "greet"


def test_intent_shortcuts_skip_the_models(tiny_classifier, write_project) -> None:
    pipeline = trained(write_project)
    text = '/book{"city": "Berlin", "cuisine": ["thai", "lao"]}'
    result = pipeline.parse(text).parse_result()
    assert result["intent"] == {"name": "book", "confidence": 1.0}
    assert result["intent_ranking"] == [{"name": "book", "confidence": 1.0}]
    assert [(e["entity"], e["value"], e["start"], e["end"]) for e in result["entities"]] == [
        ("city", "Berlin", 5, len(text)),
        ("cuisine", "thai", 5, len(text)),
        ("cuisine", "lao", 5, len(text)),
    ]
    # as Rasa: the whitespace around it is left out, and the offsets count without it
    spaced = pipeline.parse(f"  {text}\n").parse_result()
    assert (spaced["text"], spaced["entities"]) == (text, result["entities"])
    assert pipeline.parse("/goodbye@0.7").parse_result()["intent"] == {
        "name": "goodbye",
        "confidence": 0.7,
    }
    roles = pipeline.parse('/book[{"entity": "city", "value": "Rome", "role": "to"}]')
    assert [(e.entity, e.value, e.role) for e in roles.entities] == [("city", "Rome", "to")]
    retrieval = pipeline.parse("/faq/ask_name")
    # the intent faq to the dialogue, with the selector's choice made
    assert retrieval.intent == "faq"
    assert retrieval.response_selector["faq"]["response"]["intent_response_key"] == \
        "faq/ask_name"


def test_with_the_domains_names_an_unknown_intent_is_text_and_unknown_entities_go(
        tiny_classifier, write_project, caplog) -> None:
    pipeline = trained(write_project)
    names = ShortcutNames(frozenset({"book", "greet", "restart", "faq"}), frozenset({"city"}),
                          frozenset({"book/by_phone", "faq/hours"}))
    with caplog.at_level("WARNING"):
        [typo, known, retrieval, unanswered] = pipeline.parse_batch(
            ["/bok", '/book{"city": "Rome", "colour": "red"}', "/book/by_phone",
             "/book/by_mail"], names=names)
    # as Rasa: the models parse a misspelt intent's text instead of taking it as written
    # (a word they have never seen: the fallback)
    assert (typo.text, typo.intent) == ("/bok", "nlu_fallback")
    assert "'/bok' names the intent 'bok', which the domain does not have" in caplog.text
    assert (known.intent, [e.entity for e in known.entities]) == ("book", ["city"])
    assert "names entities the domain does not have (colour)" in caplog.text
    # a retrieval intent's full name counts by its base intent
    assert retrieval.intent == "book"
    assert retrieval.parse_result()["response_selector"]["book"]["response"][
        "intent_response_key"] == "book/by_phone"
    # every retrieval intent of the domain is listed, as a trained selector lists them
    assert retrieval.response_selector["all_retrieval_intents"] == ["book", "faq"]
    # a key the domain has no answer for is text for the models, as an unknown intent
    assert unanswered.intent == "nlu_fallback"
    assert "names the intent 'book/by_mail', which the domain does not have" in caplog.text
    # without names (a model served without a domain) every name is taken as written
    assert pipeline.parse("/bok").intent == "bok"


def test_broken_shortcut_json_keeps_the_intent(tiny_classifier, write_project, caplog) -> None:
    pipeline = trained(write_project)
    with caplog.at_level("WARNING"):
        message = pipeline.parse('/book{"city": Berlin}')
    assert (message.intent, message.entities) == ("book", [])
    assert "not valid JSON" in caplog.text
    # text that merely starts with a slash, or has spaces after the name, is ordinary text
    assert pipeline.parse("/ hello there").intent == "greet"
    assert not is_intent_shortcut("/greet me please")
    assert not is_intent_shortcut("/etc/passwd is a file")
    assert is_intent_shortcut("  /greet  ")
    # a confidence that is no number from 0 to 1 keeps the intent too, at 1.0
    caplog.clear()
    with caplog.at_level("WARNING"):
        for text in ("/book@high", "/book@", '/book@1.5{"city": "Rome"}'):
            message = pipeline.parse(text)
            assert (message.intent, message.confidence) == ("book", 1.0)
    assert caplog.text.count("must be a number from 0 to 1") == 3
    # digits and dots that make no number read as 0.0, as Rasa's pattern reads them
    caplog.clear()
    with caplog.at_level("WARNING"):
        assert pipeline.parse("/book@..").confidence == 0.0
        assert pipeline.parse("/book@1.2.3").confidence == 0.0
    assert caplog.text.count("is no number; 0.0 is used") == 2
    assert [e.value for e in pipeline.parse('/book@1.5{"city": "Rome"}').entities] == ["Rome"]


def saved_model(pipeline: NluPipeline, target: Path) -> Path:
    """A model file at ``target`` that holds ``pipeline`` as its NLU part."""
    writer = ModelWriter()
    try:
        writer.manifest.sections["nlu"] = pipeline.persist(writer)
        return writer.save(target)
    finally:
        writer.close()


def test_persist_and_load_give_the_same_parses(
    tiny_classifier, write_project, tmp_path: Path
) -> None:
    pipeline = trained(write_project)
    model_file = saved_model(pipeline, tmp_path / "model.tar")
    with open_model(model_file) as archive:
        assert archive.has("nlu/2_TinyClassifier")
        loaded = NluPipeline.load(archive)
    assert [c.name for c in loaded.components] == [c.name for c in pipeline.components]
    texts = ["hello there", "fly from Rome to NYC", "chinees food", "random", "/greet"]
    assert [m.parse_result() for m in loaded.parse_batch(texts)] == [
        m.parse_result() for m in pipeline.parse_batch(texts)
    ]
    assert NluPipeline.load(model_file).parse("bye bye").intent == "goodbye"


def test_load_calls_quantize_on_components_that_support_it(
    register_plugin, write_project, tmp_path: Path
) -> None:
    quantized: list[str] = []
    plain = standin("PlainClassifier")
    with_method = standin("MethodQuantized")
    with_method.quantize = lambda self: quantized.append("method")
    with_argument = standin("ArgumentQuantized")

    def load(cls, config, storage, quantize=False):
        quantized.append(f"argument={quantize}")
        return cls(config)

    with_argument.load = classmethod(load)
    register_plugin(TinyPlugin(plain, with_method, with_argument), "quantize-test")
    pipeline = NluPipeline.from_config(
        [
            ComponentConfig(n)
            for n in (
                "WhitespaceTokenizer",
                "PlainClassifier",
                "MethodQuantized",
                "ArgumentQuantized",
            )
        ]
    )
    model_file = saved_model(pipeline, tmp_path / "model.tar")
    NluPipeline.load(model_file)
    assert quantized == ["argument=False"]
    quantized.clear()
    NluPipeline.load(model_file, quantize=True)
    assert quantized == ["method", "argument=True"]


def test_loading_a_model_without_nlu_is_a_clear_error(tmp_path: Path) -> None:
    writer = ModelWriter()
    try:
        model_file = writer.save(tmp_path / "empty.tar")
    finally:
        writer.close()
    with pytest.raises(ModelLoadError, match="no NLU part"):
        NluPipeline.load(model_file)


def test_training_does_not_touch_the_project_data(tiny_classifier, write_project) -> None:
    loaded = project(write_project)
    pipeline = NluPipeline.from_config(loaded.config)
    annotated = pipeline.train(loaded.nlu)
    assert all(not m.tokens and not m.features for m in loaded.nlu.examples)
    assert all(m.tokens and "regex" in m.features for m in annotated.examples)
