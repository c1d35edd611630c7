"""What clients written against Rasa's HTTP API rely on: emulation modes, story sessions,
the 404s of conversations that do not exist, and the domain's Accept rules."""

from __future__ import annotations

import asyncio

import pytest
from serving_helpers import request

from dialogflowlite.io.yaml import read_yaml, to_plain

CHOOSE_RED = '/choose{"colour": "red"}'


def _parse(app, body: dict, mode: str | None = None):
    params = {"emulation_mode": mode} if mode is not None else {}
    return asyncio.run(request(app, "post", "/model/parse", json=body, params=params))


# ------------------------------------------------------------------ /model/parse


def test_wit_mode_groups_entities_by_name_and_role(make_app) -> None:
    response = _parse(make_app(), {"text": CHOOSE_RED}, "wit")
    assert response.status == 200, response.text
    answer = response.json
    assert set(answer) == {"text", "intents", "entities"}
    assert answer["text"] == CHOOSE_RED
    assert answer["intents"][0]["name"] == "choose"
    [entity] = answer["entities"]["colour:colour"]
    assert entity["name"] == "colour" and entity["value"] == "red"
    assert entity["role"] == "colour" and entity["entities"] == []
    # the text the entity was found in, as the user wrote it
    assert entity["body"] == CHOOSE_RED[entity["start"]:entity["end"]]


def test_luis_mode_answers_the_v3_prediction(make_app) -> None:
    app = make_app()
    [plain] = _parse(app, {"text": CHOOSE_RED}).json["entities"]
    answer = _parse(app, {"text": CHOOSE_RED}, "LUIS").json
    assert answer["query"] == CHOOSE_RED
    prediction = answer["prediction"]
    assert prediction["normalizedQuery"] == CHOOSE_RED
    assert prediction["topIntent"] == "choose"
    assert prediction["intents"]["choose"]["score"] == pytest.approx(1.0)
    assert prediction["entities"]["colour"] == ["red"]
    [instance] = prediction["entities"]["$instance"]["colour"]
    assert instance["type"] == "colour" and instance["text"] == "red"
    assert instance["startIndex"] == plain["start"]
    assert instance["length"] == plain["end"] - plain["start"]


def test_dialogflow_mode_answers_detect_intent(make_app) -> None:
    answer = _parse(make_app(), {"text": CHOOSE_RED}, "Dialogflow").json
    assert answer["responseId"]
    result = answer["queryResult"]
    assert result["queryText"] == CHOOSE_RED and result["action"] == "choose"
    assert result["parameters"] == {"colour": ["red"]}
    assert result["intent"] == {"name": "choose", "displayName": "choose"}
    assert result["intentDetectionConfidence"] == pytest.approx(1.0)


def test_an_unknown_emulation_mode_is_400_naming_the_parameter(make_app) -> None:
    response = _parse(make_app(), {"text": "hi"}, "rasa")
    assert response.status == 400
    assert response.json["details"] == {"parameter": "emulation_mode", "in": "query"}
    assert "WIT, LUIS, DIALOGFLOW" in response.json["message"]


def test_a_list_of_texts_parses_the_first(make_app) -> None:
    # as Rasa reads a body whose `text` is a list (a query's repeated parameter)
    answer = _parse(make_app(), {"text": [CHOOSE_RED, "/greet"]}).json
    assert answer["text"] == CHOOSE_RED and answer["intent"]["name"] == "choose"
    assert _parse(make_app(), {"text": []}).status == 400


def test_the_parsed_text_is_the_message_without_white_space_and_offsets_count_in_it(
        make_app) -> None:
    app = make_app()
    answer = _parse(app, {"text": f"   {CHOOSE_RED}  \n"}).json
    assert answer["text"] == CHOOSE_RED
    [entity] = answer["entities"]
    assert answer["text"][entity["start"]:entity["end"]] == '{"colour": "red"}'
    assert _parse(app, {"text": "  hello there "}).json["text"] == "hello there"


def test_an_intent_or_entity_the_domain_lacks_is_not_taken_as_written(make_app, agent,
                                                                      caplog) -> None:
    app = make_app()
    with caplog.at_level("WARNING"):
        typo = _parse(app, {"text": "/chose"}).json
        extra = _parse(app, {"text": '/choose{"colour": "red", "size": "L"}'}).json
    # as Rasa 3: the message is text for the models (this bot has none: no intent)
    assert typo["intent"]["name"] is None and typo["text"] == "/chose"
    assert "names the intent 'chose', which the domain does not have" in caplog.text
    assert [e["entity"] for e in extra["entities"]] == ["colour"]
    assert "names entities the domain does not have (size)" in caplog.text
    # a default intent every domain has is taken as written
    assert _parse(app, {"text": "/restart"}).json["intent"]["name"] == "restart"
    # a misspelt button payload puts no unknown intent into the conversation
    asyncio.run(request(app, "post", "/webhooks/rest/webhook",
                        json={"sender": "typo", "message": "/chose"}))
    events = asyncio.run(request(app, "get", "/conversations/typo/tracker")).json["events"]
    [user] = [e for e in events if e["event"] == "user"]
    assert user["parse_data"]["intent"]["name"] != "chose"


# ------------------------------------------------------------------ conversations


async def _chat(app, sender: str, *texts: str) -> None:
    for text in texts:
        response = await request(app, "post", "/webhooks/rest/webhook",
                                 json={"sender": sender, "message": text})
        assert response.status == 200, response.text


def _new_session(*texts: str) -> list[dict]:
    """The events of a session that answers each of ``texts`` (intents) with an utterance."""
    events = [{"event": "action", "name": "action_session_start"},
              {"event": "session_started"}, {"event": "action", "name": "action_listen"}]
    for intent in texts:
        events += [{"event": "user", "text": f"/{intent}",
                    "parse_data": {"intent": {"name": intent, "confidence": 1.0},
                                   "entities": []}},
                   {"event": "action", "name": f"utter_{intent}"},
                   {"event": "action", "name": "action_listen"}]
    return events


def test_story_and_predict_of_a_conversation_that_does_not_exist_are_404(make_app,
                                                                         agent) -> None:
    app = make_app()

    async def main() -> None:
        for method, path in (("get", "story"), ("post", "predict")):
            response = await request(app, method, f"/conversations/nobody/{path}")
            assert response.status == 404, (path, response.text)
            assert response.json["reason"] == "NotFound" and "nobody" in response.json["message"]
        # and asking created nothing
        assert await agent.tracker_store.keys() == []

    asyncio.run(main())


def test_story_writes_the_current_session_or_all_of_them(make_app) -> None:
    app = make_app()

    async def main() -> None:
        stored = await request(app, "put", "/conversations/ivy/tracker/events",
                               json=_new_session("greet") + _new_session("goodbye"))
        assert stored.status == 200, stored.text
        current = to_plain(read_yaml((await request(
            app, "get", "/conversations/ivy/story")).text))["stories"]
        assert [story["story"] for story in current] == ["ivy"]
        assert {"intent": "greet"} not in current[0]["steps"]
        assert {"intent": "goodbye"} in current[0]["steps"]
        every = await request(app, "get", "/conversations/ivy/story",
                              params={"all_sessions": "true"})
        assert every.status == 200
        stories = to_plain(read_yaml(every.text))["stories"]
        assert [story["story"] for story in stories] == ["ivy, story 1", "ivy, story 2"]
        assert stories[0]["steps"] == [{"intent": "greet"}, {"action": "utter_greet"}]
        assert stories[1]["steps"] == [{"intent": "goodbye"}, {"action": "utter_goodbye"}]
        bad = await request(app, "get", "/conversations/ivy/story",
                            params={"all_sessions": "sometimes"})
        assert bad.status == 400 and bad.json["details"]["parameter"] == "all_sessions"

    asyncio.run(main())


def test_predict_answers_the_best_action_first(make_app) -> None:
    app = make_app()

    async def main() -> None:
        await request(app, "post", "/conversations/ada/messages",
                      json={"text": "/greet", "sender": "user"})
        scores = (await request(app, "post", "/conversations/ada/predict")).json["scores"]
        assert scores[0] == {"action": "utter_greet", "score": pytest.approx(1.0)}
        assert scores == sorted(scores, key=lambda s: (-s["score"], s["action"]))

    asyncio.run(main())


def test_a_logged_message_fills_the_slots_its_entities_map_to(make_app, agent) -> None:
    # as Rasa runs action_extract_slots after logging, so /predict sees the slot set
    app = make_app()

    async def main() -> None:
        logged = await request(app, "post", "/conversations/sue/messages",
                               json={"text": CHOOSE_RED, "sender": "user"})
        assert logged.status == 200, logged.text
        assert logged.json["slots"]["colour"] == "red"
        assert logged.json["events"][-1] == {**logged.json["events"][-1], "event": "slot",
                                             "name": "colour", "value": "red"}
        stored = await agent.tracker_store.retrieve("sue")
        assert stored.slots["colour"] == "red"
        # and nothing was predicted or said
        assert not [e for e in logged.json["events"] if e["event"] == "bot"]

    asyncio.run(main())


# ------------------------------------------------------------------ /domain


@pytest.mark.parametrize(("accept", "kind"), [
    (None, "json"),
    ("application/json", "json"),
    ("application/vnd.api+json", "json"),
    ("*/*", "json"),
    ("application/x-yml", "yaml"),
    ("application/x-yaml", "yaml"),
    ("text/yml", "yaml"),
    ("text/html, application/yaml;q=0.9", "yaml"),
    # the preferred one wins, not the first (it answered YAML)
    ("application/x-yaml;q=0.1, application/json", "json"),
    ("application/json;q=0.5, text/yaml;q=0.8", "yaml"),
])
def test_the_domain_in_the_format_the_accept_header_names(make_app, accept, kind) -> None:
    headers = {"Accept": accept} if accept else {}
    response = asyncio.run(request(make_app(), "get", "/domain", headers=headers))
    assert response.status == 200, response.text
    if kind == "json":
        assert response.headers["content-type"].startswith("application/json")
        assert "greet" in response.json["intents"]
    else:
        assert response.headers["content-type"].startswith("application/x-yaml")
        assert "greet" in to_plain(read_yaml(response.text))["intents"]


def test_whole_minutes_of_the_session_config_are_answered_as_written(make_app) -> None:
    # the tiny bot's domain says 60: Rasa answers 60, this answered 60.0
    config = asyncio.run(request(make_app(), "get", "/domain")).json["session_config"]
    expiry = config["session_expiration_time"]
    assert expiry == 60 and isinstance(expiry, int)


@pytest.mark.parametrize("accept", ["text/html", "application/json;q=0"])
def test_a_domain_format_it_cannot_answer_is_406_not_acceptable(make_app, accept) -> None:
    response = asyncio.run(request(make_app(), "get", "/domain", headers={"Accept": accept}))
    assert response.status == 406 and response.json["reason"] == "NotAcceptable"


# ------------------------------------------------------------------ /model/test/intents

REGEX_BOT = {
    "config.yml": "language: en\npipeline:\n- name: WhitespaceTokenizer\n"
                  "- name: RegexEntityExtractor\npolicies:\n- name: RulePolicy\n",
    "domain.yml": 'version: "3.1"\nintents: [travel]\nentities: [city]\n'
                  'responses:\n  utter_ok: [{text: "ok"}]\n',
    "data/nlu.yml": 'version: "3.1"\nnlu:\n- intent: travel\n  examples: |\n'
                    "    - fly to [Rome](city)\n    - a ticket to [Oslo](city)\n"
                    "- regex: city\n  examples: |\n    - Rome|Oslo|Lima\n",
}


@pytest.fixture(scope="module")
def regex_model(tmp_path_factory):
    from dialogflowlite.training.trainer import TrainOptions, train

    root = tmp_path_factory.mktemp("regexbot")
    for relative, text in REGEX_BOT.items():
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_text(text, encoding="utf-8")
    return train(root, options=TrainOptions(progress=False)).model_path


def test_test_intents_takes_rasa_json_nlu_data(make_app, regex_model) -> None:
    # as Rasa takes a JSON body here: its NLU data format
    from dialogflowlite.agent import Agent

    app = make_app(agent=Agent.load(regex_model))
    body = {"rasa_nlu_data": {"common_examples": [
        {"text": "fly to Lima", "intent": "travel",
         "entities": [{"start": 7, "end": 11, "value": "Lima", "entity": "city"}]},
        {"text": "a ticket to Quito", "intent": "travel",
         "entities": [{"start": 12, "end": 17, "value": "Quito", "entity": "city"}]}],
        # not read: a lookup table may name a file on the server
        "lookup_tables": [{"name": "city", "elements": "/etc/hostname"}]}}

    async def main() -> None:
        response = await request(app, "post", "/model/test/intents", json=body)
        assert response.status == 200, response.text
        result = response.json
        assert [p["text"] for p in result["intent_evaluation"]["predictions"]] == [
            "fly to Lima", "a ticket to Quito"]
        regex = result["entity_evaluation"]["RegexEntityExtractor"]
        assert regex["report"]["city"]["support"] == 2
        assert regex["report"]["city"]["recall"] == 0.5
        wrong = await request(app, "post", "/model/test/intents", json={
            "rasa_nlu_data": {"common_examples": [{"text": "x", "intent": "travel",
                                                   "entities": [{"start": 0}]}]}})
        assert wrong.status == 400 and "test_data.json" in wrong.json["message"]
        other = await request(app, "post", "/model/test/intents", json={"nlu": []})
        assert other.status == 400 and "rasa_nlu_data" in other.json["message"]
        # Rasa's `model` parameter is refused here too, not ignored
        elsewhere = await request(app, "post", "/model/test/intents?model=models/x.tar",
                                  json=body)
        assert elsewhere.status == 400 and "'model'" in elsewhere.json["message"]

    asyncio.run(main())


@pytest.mark.parametrize("headers", [
    {},  # requests.post(url, data=json.dumps(data))
    {"Content-Type": "application/x-www-form-urlencoded"},  # curl -d '{"rasa_nlu_data": ...}'
    {"Content-Type": "application/octet-stream"},
])
def test_test_intents_read_rasa_json_nlu_data_that_does_not_name_its_type(
        make_app, regex_model, headers) -> None:
    import json

    from dialogflowlite.agent import Agent

    app = make_app(agent=Agent.load(regex_model))
    body = json.dumps({"rasa_nlu_data": {"common_examples": [
        {"text": "fly to Lima", "intent": "travel",
         "entities": [{"start": 7, "end": 11, "value": "Lima", "entity": "city"}]}]}})
    response = asyncio.run(request(app, "post", "/model/test/intents", content=body,
                                   headers=headers))
    # Rasa reads every body not sent as application/x-yaml as its JSON NLU data (this
    # one was read as YAML, and refused for having no `nlu:`)
    assert response.status == 200, response.text
    assert [p["text"] for p in response.json["intent_evaluation"]["predictions"]] == [
        "fly to Lima"]


@pytest.mark.parametrize("headers", [
    {},  # requests.post(url, data=text)
    {"Content-Type": "application/x-www-form-urlencoded"},  # curl --data-binary @file
    {"Content-Type": "application/octet-stream"},
])
def test_test_stories_read_a_body_that_does_not_name_its_type_as_yaml(make_app,
                                                                      headers) -> None:
    # as Rasa reads every body of this route
    stories = (b'stories:\n- story: hello\n  steps:\n  - intent: greet\n'
               b'  - action: utter_greet\n')
    response = asyncio.run(request(make_app(), "post", "/model/test/stories",
                                   content=stories, headers=headers))
    assert response.status == 200, response.text
    assert response.json["report"]["conversation_accuracy"]["total"] == 1
