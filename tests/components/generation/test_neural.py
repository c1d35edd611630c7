from __future__ import annotations

import asyncio

import pytest
from generation_project import (
    reload_and_compare,
    tiny_config,
    tracker_for,
    write_generation_project,
)

from dialogflowlite.artifact import ComponentStorage
from dialogflowlite.components.generation.data import (
    ACT2TEXT,
    CONTEXT2RESPONSE,
    USER,
    ActItem,
    GenerationExample,
    Turn,
    project_examples,
)
from dialogflowlite.components.generation.neural import NeuralResponseGenerator
from dialogflowlite.components.generation.responder import Responder
from dialogflowlite.errors import ComponentConfigError, TrainingError
from dialogflowlite.io.loader import load_project
from dialogflowlite.shared.events import UserUttered


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One tiny generator trained on the generation test project (both modes)."""
    root = write_generation_project(tmp_path_factory.mktemp("generation") / "project")
    project = load_project(root)
    generator = NeuralResponseGenerator(tiny_config())
    generator.train(project_examples(project))
    return generator, project


def test_generated_reply_keeps_the_slot_values(trained) -> None:
    generator, project = trained
    tracker = tracker_for(project, city="Tokyo", cuisine="dim sum")
    reply = generator.generate_for_action("utter_offer", tracker)
    assert reply.accepted, reply.reason
    assert "Tokyo" in reply.text and "dim sum" in reply.text
    # values it never saw in training are copied exactly too
    unseen = generator.generate_for_action("utter_offer", tracker_for(
        project, city="Reykjavik", cuisine="smørrebrød"))
    assert unseen.accepted, unseen.reason
    assert "Reykjavik" in unseen.text and "smørrebrød" in unseen.text


def test_acts_and_their_slots_are_learnt(trained) -> None:
    generator, _ = trained
    assert generator.act_slots["utter_confirm"] == ["cuisine", "city"]
    assert generator.act_slots["utter_offer"] == ["cuisine", "city"]
    assert generator.act_slots["utter_greet"] == []
    assert generator.modes == [ACT2TEXT, CONTEXT2RESPONSE]


def test_context_mode_answers_a_known_question(trained) -> None:
    generator, _ = trained
    reply = generator.generate(GenerationExample(
        CONTEXT2RESPONSE, context=[Turn(USER, "when do you open?")], intent="faq/hours"))
    assert reply.text == "We open at nine."
    assert reply.accepted


def test_dropped_slot_value_is_rejected(trained) -> None:
    generator, _ = trained
    # utter_greet never mentions a city: asked to say one, the reply drops it
    reply = generator.generate(GenerationExample(
        ACT2TEXT, acts=[ActItem("utter_greet"), ActItem("utter_greet", "city", "Paris")]))
    assert not reply.accepted
    assert "Paris" in reply.reason


def respond(responder: Responder, action: str, tracker):
    return asyncio.run(responder.respond(action, tracker))


def test_responder_realises_an_action_without_template(trained) -> None:
    generator, project = trained
    responder = Responder(project.domain, generators=[generator])
    assert responder.can_respond("utter_offer")
    [message] = respond(responder, "utter_offer", tracker_for(project, city="Perth",
                                                              cuisine="ramen"))
    assert "Perth" in message["text"] and "ramen" in message["text"]
    assert message["metadata"]["generated"] is True
    assert message["metadata"]["score"] <= 0.0
    # with use_for: missing, templated actions keep their templates
    [greet] = respond(responder, "utter_greet", tracker_for(project))
    assert "generated" not in greet["metadata"]


def test_responder_uses_the_template_when_the_reply_drops_a_value(trained,
                                                                  monkeypatch) -> None:
    generator, project = trained
    monkeypatch.setitem(generator.config, "use_for", "always")
    monkeypatch.setitem(generator.act_slots, "utter_greet", ["city"])
    responder = Responder(project.domain, generators=[generator])
    [message] = respond(responder, "utter_greet", tracker_for(project, city="Paris"))
    assert message == {"text": "Hello! How can I help?", "metadata": {"utter_action":
                                                                      "utter_greet"}}


def test_responder_falls_back_when_the_score_is_too_low(trained, monkeypatch) -> None:
    generator, project = trained
    monkeypatch.setitem(generator.config, "threshold", 0.0)  # nothing is that sure
    responder = Responder(project.domain, generators=[generator])
    tracker = tracker_for(project)
    tracker.update(UserUttered(text="when do you open?", parse_data={"intent": {"name": "faq"}}))
    [message] = respond(responder, "action_generate", tracker)
    assert "generated" not in message.get("metadata", {})


def test_action_generate_writes_a_marked_reply(trained) -> None:
    generator, project = trained
    responder = Responder(project.domain, generators=[generator])
    tracker = tracker_for(project)
    tracker.update(UserUttered(text="do you deliver?", parse_data={"intent": {"name": "faq"}}))
    [message] = respond(responder, "action_generate", tracker)
    assert message["text"] == "No, we do not deliver."
    assert message["metadata"]["generated"] is True


def test_persist_and_load_give_the_same_replies(trained, tmp_path) -> None:
    generator, project = trained
    loaded = reload_and_compare(generator, project, tmp_path / "gen")
    assert loaded.act_slots == generator.act_slots
    assert loaded.act_needs == generator.act_needs


def test_an_act_with_an_unset_needed_slot_is_not_realised(trained, monkeypatch,
                                                          caplog) -> None:
    from dialogflowlite.components.generation import decoding

    generator, project = trained
    # every utter_offer pair had both values: without one the model leaves a hole
    # ("How about a thai place in ?")
    assert generator.act_needs["utter_offer"] == ["cuisine", "city"]
    decoded = []
    original = decoding.decode
    monkeypatch.setattr(decoding, "decode",
                        lambda *a, **k: decoded.append(1) or original(*a, **k))
    for slots in ({"cuisine": "thai"}, {"cuisine": "thai", "city": ""}, {}):
        reply = generator.generate_for_action("utter_offer", tracker_for(project, **slots))
        assert not reply.accepted and "city" in reply.reason and not reply.text
    assert decoded == []
    responder = Responder(project.domain, generators=[generator])
    with caplog.at_level("INFO"):
        [message] = respond(responder, "utter_offer", tracker_for(project, cuisine="thai"))
    assert "generated" not in message["metadata"] and "score" not in message["metadata"]
    assert message["metadata"]["utter_action"] == "utter_default"
    assert "has no value for the slot(s) city" in caplog.text
    assert "the fallback utter_default" in caplog.text
    # a slot that some pairs of the act lacked is optional: left out, the act is realised
    monkeypatch.setitem(generator.act_needs, "utter_offer", ["cuisine"])
    reply = generator.generate_for_action("utter_offer", tracker_for(project, cuisine="thai"))
    assert decoded and "has no value" not in reply.reason


def test_a_generator_saved_without_needed_slots_needs_every_slot_of_an_act(trained,
                                                                           tmp_path) -> None:
    generator, project = trained
    storage = ComponentStorage(tmp_path / "old")
    generator.persist(storage)
    state = storage.read_json("generator.json")
    del state["act_needs"]
    storage.write_json("generator.json", state)
    loaded = NeuralResponseGenerator.load(generator.config, storage)
    assert loaded.act_needs == loaded.act_slots
    reply = loaded.generate_for_action("utter_offer", tracker_for(project, city="Rome"))
    assert not reply.accepted and "cuisine" in reply.reason


def test_a_quantized_generator_writes_replies_with_int8_weights(trained, tmp_path) -> None:
    import torch

    generator, project = trained
    storage = ComponentStorage(tmp_path / "gen")
    generator.persist(storage)
    # asked at load (``run --quantize``), or by the saved config (``train --quantize``)
    for loaded in (NeuralResponseGenerator.load(generator.config, storage, quantize=True),
                   NeuralResponseGenerator.load({**generator.config, "quantize": True},
                                                storage)):
        modules = list(loaded.backend.model.modules())
        assert not any(type(m) is torch.nn.Linear for m in modules)
        assert any("quantized" in type(m).__module__ for m in modules)
        reply = loaded.generate_for_action(
            "utter_offer", tracker_for(project, city="Tokyo", cuisine="dim sum"))
        assert reply.accepted, reply.reason
        assert "Tokyo" in reply.text and "dim sum" in reply.text
        total, count = loaded.token_nll(project_examples(project)[:5])
        assert count > 0 and total > 0
        with pytest.raises(TrainingError, match="quantized"):
            loaded.persist(ComponentStorage(tmp_path / "again"))
    plain = NeuralResponseGenerator.load(generator.config, storage)
    assert any(type(m) is torch.nn.Linear for m in plain.backend.model.modules())


def test_same_pairs_and_seed_give_the_same_model(trained) -> None:
    import torch

    _, project = trained
    examples = project_examples(project)[:12]
    weights = []
    for before in (1, 2):
        torch.manual_seed(before)  # whatever drew random numbers before must not matter
        generator = NeuralResponseGenerator(tiny_config(epochs=2))
        generator.train(examples)
        weights.append([p.detach().clone() for p in generator.backend.model.parameters()])
    assert all(torch.equal(a, b) for a, b in zip(*weights, strict=True))


def test_perplexity_inputs(trained) -> None:
    generator, project = trained
    total, count = generator.token_nll(project_examples(project))
    assert count > 0 and 0 < total / count < 1.5  # it learnt its training pairs


@pytest.mark.parametrize("settings, message", [
    ({"mode": "chat"}, "mode"),
    ({"use_for": "sometimes"}, "use_for"),
    ({"decoding": {"strategy": "nucleus"}}, "strategy"),
    ({"placeholder_style": "fancy"}, "placeholder_style"),
    ({"blocklist": "bad"}, "blocklist"),
    ({"hiden_size": 3}, "hidden_size"),
    ({"decoding": "beam"}, "'decoding' must be a mapping"),
    ({"decoding": {"beam_size": 0}}, "decoding beam_size must be at least 1, not 0"),
    ({"decoding": {"top_k": -2}}, "decoding top_k must be at least 0, not -2"),
    ({"decoding": {"beam_size": "4"}}, "beam_size must be a whole number"),
    ({"blocklist": ["damn", 7, None]}, "blocklist entries must be text"),
    ({"threshold": 0.7}, "threshold 0.7 is above 0"),
    # NaN is below nothing: it would let every reply through
    ({"threshold": float("nan")}, "'threshold' must be a number"),
    ({"threshold": "low"}, "'threshold' must be a number"),
    ({"threshold": None}, "'threshold' must be a number"),
])
def test_bad_settings_are_named(settings, message) -> None:
    with pytest.raises(ComponentConfigError, match=message):
        NeuralResponseGenerator(settings)


def test_training_without_pairs_is_an_error() -> None:
    generator = NeuralResponseGenerator({"mode": "act2text"})
    with pytest.raises(TrainingError, match="no training pairs"):
        generator.train([GenerationExample(CONTEXT2RESPONSE, "hi", context=[Turn(USER, "x")])])


def test_sampling_with_a_seed_repeats(trained) -> None:
    from dialogflowlite.components.generation.decoding import DecodingConfig

    generator, _ = trained
    example = GenerationExample(CONTEXT2RESPONSE, context=[Turn(USER, "do you deliver?")],
                                intent="faq")
    config = DecodingConfig(strategy="sample", seed=11, temperature=1.5, top_p=0.95,
                            max_length=24)
    assert generator.generate(example, config).text == generator.generate(example, config).text


def test_blocklisted_reply_is_rejected(trained, monkeypatch) -> None:
    from dialogflowlite.components.generation.guardrails import Blocklist

    generator, _ = trained
    monkeypatch.setattr(generator, "blocklist", Blocklist(["deliver"]))
    reply = generator.generate(GenerationExample(
        CONTEXT2RESPONSE, context=[Turn(USER, "do you deliver?")], intent="faq"))
    assert reply.text == "No, we do not deliver."
    assert not reply.accepted and "blocked" in reply.reason


def test_a_reply_is_decoded_on_one_thread_and_the_setting_comes_back(trained,
                                                                      monkeypatch) -> None:
    import torch

    from dialogflowlite.components.generation import decoding

    generator, project = trained
    seen = []
    original = decoding.decode

    def watched(*args, **kwargs):
        seen.append(torch.get_num_threads())
        return original(*args, **kwargs)

    monkeypatch.setattr(decoding, "decode", watched)
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        generator.generate_for_action("utter_offer", tracker_for(project, city="Oslo",
                                                                 cuisine="tapas"))
        assert seen == [1] and torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)


def test_a_placeholder_with_no_value_is_never_written(trained) -> None:
    from dialogflowlite.components.generation.decoding import decode

    generator, _ = trained
    # utter_offer was learnt with two values; given one, the model on its own
    # still writes the second value's placeholder
    example = GenerationExample(ACT2TEXT, acts=[ActItem("utter_offer", "cuisine", "ramen")])
    prepared = generator.delexicaliser.prepare(example)
    assert list(prepared.values) == ["[v1]"]
    backend = generator.backend
    unbanned = decode(backend.stepper(), backend.encode_source(prepared.source),
                      generator.decoding)[0]
    assert "[v2]" in backend.decode_ids(unbanned.tokens)
    # generating bans every placeholder the input has no value for
    reply = generator.generate(example)
    assert "ramen" in reply.text
    assert not [p for p in ("[v2]", "[v3]") if p in reply.delexicalised]


def test_a_reply_longer_than_the_model_allows_stops_at_its_last_position(trained, monkeypatch,
                                                                         caplog) -> None:
    from dialogflowlite.components.generation import decoding
    from dialogflowlite.components.generation.decoding import DecodingConfig

    generator, _ = trained
    backend = generator.backend
    stepper = backend.stepper

    def never_ending(banned=None):
        # a model that never ends its reply runs to max_length
        return stepper([*(banned or []), backend.vocabulary.eos_id])

    lengths = []
    original = decoding.decode

    def measured(*args, **kwargs):
        hypotheses = original(*args, **kwargs)
        lengths.extend(len(h.tokens) for h in hypotheses)
        return hypotheses

    monkeypatch.setattr(backend, "stepper", never_ending)
    monkeypatch.setattr(decoding, "decode", measured)
    example = GenerationExample(CONTEXT2RESPONSE, context=[Turn(USER, "do you deliver?")],
                                intent="faq")
    config = DecodingConfig(strategy="greedy", max_length=backend.longest_reply + 50)
    with caplog.at_level("WARNING"):
        reply = generator.generate(example, config)
    assert reply.text
    assert lengths == [backend.longest_reply]
    assert "max_length" in caplog.text
    # a reply cut off before its end is not sent
    assert not reply.accepted and "did not end" in reply.reason


def test_fine_tuning_keeps_a_slot_needed_only_when_every_pair_had_it(trained, tmp_path) -> None:
    from pathlib import Path

    from dialogflowlite.components.generation.neural import GenerationContext
    from dialogflowlite.training.finetune import FinetuneSource

    generator, _ = trained
    storage = ComponentStorage(tmp_path / "before")
    generator.persist(storage)
    source = FinetuneSource(Path("model.tar.gz"), storage, dict(generator.config), "x")
    # the new pairs say utter_offer without a city, and teach a new act
    new_pairs = [GenerationExample(ACT2TEXT, f"A {cuisine} place?",
                                   acts=[ActItem("utter_offer", "cuisine", cuisine)])
                 for cuisine in ("thai", "greek")]
    new_pairs.append(GenerationExample(ACT2TEXT, "Bye Ann!", acts=[ActItem("utter_bye",
                                                                            "name", "Ann")]))
    again = NeuralResponseGenerator(dict(generator.config))
    again.train(new_pairs, GenerationContext(finetune_from=source, epoch_fraction=0.02))
    assert again.act_needs["utter_offer"] == ["cuisine"]
    assert again.act_needs["utter_bye"] == ["name"]
    assert again.act_needs["utter_confirm"] == generator.act_needs["utter_confirm"]
