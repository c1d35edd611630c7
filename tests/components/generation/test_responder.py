from __future__ import annotations

import asyncio
from dataclasses import dataclass

import pytest

from dialogflowlite.components.generation.responder import FALLBACK_TEXT, Responder
from dialogflowlite.io.loader import load_project
from dialogflowlite.shared.domain import Domain
from dialogflowlite.shared.events import SlotSet, UserUttered
from dialogflowlite.shared.tracker import DialogueStateTracker

DOMAIN = """
version: "3.1"
intents: [greet, faq, chitchat]
slots:
  city:
    type: text
    mappings: [{type: custom}]
responses:
  utter_greet:
  - text: "Hi there"
  utter_faq/ask_price:
  - text: "It costs 5 euros."
  utter_faq/ask_hours:
  - text: "We open at 9 in {city}."
  utter_chitchat/ask_name:
  - text: "I am a bot."
"""


@pytest.fixture
def domain(write_project) -> Domain:
    return load_project(write_project(domain=DOMAIN)).domain


def tracker_after(domain: Domain, parse_data: dict | None = None) -> DialogueStateTracker:
    tracker = DialogueStateTracker.for_domain("u1", domain)
    tracker.update(SlotSet(name="city", value="Bonn"))
    if parse_data is not None:
        tracker.update(UserUttered(text="q", parse_data=parse_data))
    return tracker


def selector(intent: str, key: str) -> dict:
    result = {"response": {"intent_response_key": key, "confidence": 0.9,
                           "utter_action": f"utter_{key}"}, "ranking": []}
    return {"all_retrieval_intents": ["faq", "chitchat"], intent: result}


def respond(responder: Responder, action: str, tracker, channel=None):
    return asyncio.run(responder.respond(action, tracker, channel))


def test_utter_action_renders_its_template(domain) -> None:
    assert respond(Responder(domain), "utter_greet", tracker_after(domain)) == [
        {"text": "Hi there", "metadata": {"utter_action": "utter_greet"}}]


def test_unknown_actions_are_not_answered(domain) -> None:
    responder = Responder(domain)
    assert respond(responder, "action_custom", tracker_after(domain)) is None
    assert respond(responder, "utter_unknown", tracker_after(domain)) is None
    assert not responder.can_respond("utter_unknown")
    assert responder.can_respond("utter_faq")


def test_retrieval_action_uses_the_selected_response(domain) -> None:
    responder = Responder(domain)
    tracker = tracker_after(domain, {"intent": {"name": "faq", "confidence": 1.0},
                                     "response_selector": selector("faq", "faq/ask_hours")})
    [message] = respond(responder, "utter_faq", tracker)
    assert message["text"] == "We open at 9 in Bonn."
    assert message["metadata"]["utter_action"] == "utter_faq/ask_hours"


def test_retrieval_action_answers_the_selection_even_beside_a_response_of_its_name(
        write_project) -> None:
    # as Rasa, which takes utter_faq for the retrieval action before any response
    domain = load_project(write_project(domain=DOMAIN.replace(
        "  utter_greet:", "  utter_faq:\n  - text: \"Ask me anything\"\n  utter_greet:"))).domain
    tracker = tracker_after(domain, {"intent": {"name": "faq", "confidence": 1.0},
                                     "response_selector": selector("faq", "faq/ask_price")})
    [message] = respond(Responder(domain), "utter_faq", tracker)
    assert message["text"] == "It costs 5 euros."


def test_retrieval_falls_back_to_the_default_selector(domain) -> None:
    responder = Responder(domain)
    tracker = tracker_after(domain, {"response_selector": selector("default", "faq/ask_price")})
    assert respond(responder, "utter_faq", tracker)[0]["text"] == "It costs 5 euros."


def test_retrieval_picks_the_selector_of_its_own_intent(domain) -> None:
    both = {**selector("faq", "faq/ask_price"), **selector("chitchat", "chitchat/ask_name")}
    tracker = tracker_after(domain, {"response_selector": both})
    responder = Responder(domain)
    assert respond(responder, "utter_chitchat", tracker)[0]["text"] == "I am a bot."
    assert respond(responder, "utter_faq", tracker)[0]["text"] == "It costs 5 euros."


def test_retrieval_without_selection_sends_nothing(domain, caplog) -> None:
    assert respond(Responder(domain), "utter_faq", tracker_after(domain, {})) == []
    assert "no response selector result" in caplog.text


def test_retrieval_uses_responses_carried_by_the_selector(domain) -> None:
    sel = {"default": {"response": {"intent_response_key": "faq/ask_parking",
                                    "responses": [{"text": "Parking is free."}]}}}
    tracker = tracker_after(domain, {"response_selector": sel})
    assert respond(Responder(domain), "utter_faq", tracker)[0]["text"] == "Parking is free."


def test_full_retrieval_response_name_renders_directly(domain) -> None:
    [message] = respond(Responder(domain), "utter_faq/ask_price", tracker_after(domain))
    assert message["text"] == "It costs 5 euros."


def test_action_generate_without_generator_sends_the_fallback(domain) -> None:
    [message] = respond(Responder(domain), "action_generate", tracker_after(domain))
    assert message["text"] == FALLBACK_TEXT


@dataclass
class FakeGeneration:
    text: str
    score: float
    accepted: bool
    reason: str = ""


class FakeGenerator:
    def __init__(self, generation: FakeGeneration) -> None:
        self.generation = generation

    def realises(self, action_name: str, has_template: bool) -> bool:
        return not has_template

    def writes_free_replies(self) -> bool:
        return True

    def generate_for_action(self, action_name, tracker):
        return self.generation

    def generate_reply(self, tracker):
        return self.generation


def test_generated_reply_is_marked_with_its_score(domain) -> None:
    responder = Responder(domain, generators=[FakeGenerator(FakeGeneration("Hello!", -0.25, True))])
    [message] = respond(responder, "action_generate", tracker_after(domain))
    assert message == {"text": "Hello!", "metadata": {
        "generated": True, "score": -0.25, "utter_action": "action_generate"}}
    # an action without template is realised by the generator
    assert responder.can_respond("utter_offer")
    [offer] = respond(responder, "utter_offer", tracker_after(domain))
    assert offer["metadata"]["generated"] is True
    # templates still win where the generator does not want the action
    assert respond(responder, "utter_greet", tracker_after(domain))[0]["text"] == "Hi there"


def test_rejected_generation_falls_back(domain) -> None:
    responder = Responder(domain, generators=[FakeGenerator(FakeGeneration("bad", -9.0, False,
                                                                           "low score"))])
    [message] = respond(responder, "action_generate", tracker_after(domain))
    assert message["text"] == FALLBACK_TEXT
    assert "generated" not in message.get("metadata", {})


def test_load_takes_selection_from_endpoints(domain, tmp_path) -> None:
    from dialogflowlite.artifact import ModelWriter, open_model

    writer = ModelWriter()
    try:
        target = writer.save(tmp_path / "model.tar")
    finally:
        writer.close()
    with open_model(target) as archive:
        responder = Responder.load(archive, domain, endpoints={
            "nlg": {"response_selection": "sequential", "seed": 3}})
        assert responder.templates.selection == "sequential"
        assert responder.generators == []
        assert Responder.load(archive, domain).templates.selection == "random"


@pytest.mark.parametrize(("nlg", "problem"), [
    ("http://localhost:5056/nlg", "nlg must be a mapping"),
    ({"seed": "three"}, "seed must be a whole number"),
    ({"seed": True}, "seed must be a whole number"),
])
def test_a_bad_nlg_section_is_a_config_error(domain, tmp_path, nlg, problem) -> None:
    from dialogflowlite.artifact import ModelWriter, open_model
    from dialogflowlite.errors import ConfigError

    writer = ModelWriter()
    try:
        target = writer.save(tmp_path / "model.tar")
    finally:
        writer.close()
    with open_model(target) as archive, pytest.raises(ConfigError, match=problem):
        Responder.load(archive, domain, endpoints={"nlg": nlg})


def test_a_model_trained_without_its_configured_generator_is_reported(domain, tmp_path,
                                                                      caplog) -> None:
    from dialogflowlite.artifact import ModelWriter, open_model

    writer = ModelWriter()
    # config.yml lists a generator, but only the NLU was trained (`train nlu`)
    writer.manifest.config = {"generators": [{"name": "NeuralResponseGenerator"}]}
    try:
        target = writer.save(tmp_path / "model.tar")
    finally:
        writer.close()
    with open_model(target) as archive, caplog.at_level("WARNING"):
        responder = Responder.load(archive, domain)
    assert responder.generators == []
    assert "trained with 0 of the 1 generator(s)" in caplog.text
    assert "NeuralResponseGenerator" in caplog.text and "model.tar" in caplog.text
    assert "dialogflowlite train generation" in caplog.text


def test_a_model_without_generators_in_its_config_is_not_reported(domain, tmp_path,
                                                                   caplog) -> None:
    from dialogflowlite.artifact import ModelWriter, open_model

    writer = ModelWriter()
    try:
        target = writer.save(tmp_path / "model.tar")
    finally:
        writer.close()
    with open_model(target) as archive, caplog.at_level("WARNING"):
        Responder.load(archive, domain)
    assert "generator" not in caplog.text


class AnsweringNlgServer:
    """An NLG server that answers every response with ``answer``."""

    def __init__(self, answer: dict) -> None:
        self.answer = answer

    async def generate(self, response, tracker, channel, arguments=None, response_id=None):
        return dict(self.answer)


def test_an_nlg_server_cannot_mark_its_reply_as_generated(domain) -> None:
    server = AnsweringNlgServer({
        "text": "Hola", "buttons": [{"title": "Sí", "payload": "/affirm"}],
        "generated": True,
        "metadata": {"generated": True, "score": 0.99, "lang": "es", "utter_action": "x"},
    })
    responder = Responder(domain, nlg_server=server)
    [message] = respond(responder, "utter_greet", tracker_after(domain))
    # the rest of the server's message is passed on; the action is the one answered
    assert message == {"text": "Hola", "buttons": [{"title": "Sí", "payload": "/affirm"}],
                       "metadata": {"lang": "es", "utter_action": "utter_greet"}}
    # the generator's own reply keeps its marks
    responder.generators.append(FakeGenerator(FakeGeneration("Hello!", -0.25, True)))
    [generated] = respond(responder, "action_generate", tracker_after(domain))
    assert generated["metadata"]["generated"] is True


SHARED_ID_DOMAIN = """
version: "3.1"
intents: [greet]
responses:
  utter_greet:
  - text: "Hi"
    id: g1
  - text: "Hello"
    id: g1
  utter_bye:
  - text: "Bye"
    id: b1
  - text: "See you"
    id: b2
"""


class RecordingNlgServer(AnsweringNlgServer):
    """An answering NLG server that keeps the ``id`` of every request."""

    def __init__(self, answer: dict) -> None:
        super().__init__(answer)
        self.ids: list = []

    async def generate(self, response, tracker, channel, arguments=None, response_id=None):
        self.ids.append(response_id)
        return dict(self.answer)


def test_variations_sharing_an_id_are_reported_once_at_load_not_per_request(
        write_project, caplog) -> None:
    # before, every NLG request for utter_greet logged the warning again
    root = write_project(domain=SHARED_ID_DOMAIN)
    domain = load_project(root).domain
    server = RecordingNlgServer({"text": "Hola"})
    with caplog.at_level("WARNING"):
        responder = Responder(domain, nlg_server=server)
        at_load = [record.getMessage() for record in caplog.records]
        caplog.clear()
        for _ in range(3):
            respond(responder, "utter_greet", DialogueStateTracker.for_domain("u1", domain))
    assert caplog.records == []
    assert server.ids == [None, None, None]  # as in Rasa: no id where two share one
    [warning] = at_load
    assert warning.startswith(f"{root / 'domain.yml'}:")
    assert "utter_greet share the id 'g1'" in warning and "utter_bye" not in warning
    # without an NLG server the ids are sent nowhere: nothing to say
    caplog.clear()
    with caplog.at_level("WARNING"):
        Responder(domain)
    assert caplog.records == []
