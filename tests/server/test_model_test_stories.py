"""``POST /model/test/stories``: test stories replayed against the loaded model, Rasa's shape."""

from __future__ import annotations

import asyncio

from serving_helpers import request

YAML = {"Content-Type": "application/yaml"}

STORIES = b"""
stories:
- story: greet and leave
  steps:
  - intent: greet
  - action: utter_greet
  - intent: goodbye
  - action: utter_goodbye
- story: a wrong expectation
  steps:
  - user: /goodbye
  - action: utter_greet
"""


def test_stories_are_replayed_and_scored_without_storing_anything(make_app, agent) -> None:
    response = asyncio.run(request(make_app(), "post", "/model/test/stories", content=STORIES,
                                   headers=YAML))
    assert response.status == 200, response.text
    result = response.json
    # after a wrong prediction the story goes on as written (as `test core` replays it)
    assert [(a["action"], a["predicted"]) for a in result["actions"]] == [
        ("utter_greet", "utter_greet"), ("action_listen", "action_listen"),
        ("utter_goodbye", "utter_goodbye"), ("action_listen", "action_listen"),
        ("utter_greet", "utter_goodbye"), ("action_listen", "action_default_fallback")]
    assert result["actions"][0]["policy"] == "RulePolicy"
    assert result["accuracy"] == 4 / 6
    assert result["report"]["conversation_accuracy"] == {"accuracy": 0.5, "correct": 1,
                                                         "with_warnings": 0, "total": 2}
    assert result["report"]["failed_stories"][0]["story"] == "a wrong expectation"
    assert result["is_end_to_end_evaluation"] is True  # a step with the user's text
    assert result["in_training_data_fraction"] == 1.0  # Rasa's key: all by the RulePolicy
    assert {"precision", "f1"} <= set(result)
    assert asyncio.run(agent.tracker_store.keys()) == []


def test_e2e_is_reported_as_asked(make_app) -> None:
    intents_only = STORIES.replace(b"user: /goodbye", b"intent: goodbye")
    app = make_app()
    asked, default = (asyncio.run(request(app, "post", f"/model/test/stories{query}",
                                          content=intents_only, headers=YAML)).json
                      for query in ("?e2e=true", ""))
    # Rasa's is_end_to_end_evaluation is its e2e parameter (it said false)
    assert asked["is_end_to_end_evaluation"] is True
    assert default["is_end_to_end_evaluation"] is False
    bad = asyncio.run(request(app, "post", "/model/test/stories?e2e=perhaps",
                              content=intents_only, headers=YAML))
    assert bad.status == 400 and bad.json["details"] == {"parameter": "e2e", "in": "query"}


def test_stories_sent_as_json_are_read_as_their_yaml(make_app) -> None:
    import json

    from dialogflowlite.io.yaml import read_yaml, to_plain

    stories = json.dumps(to_plain(read_yaml(STORIES.decode(), "stories")))
    app = make_app()
    as_json, as_yaml = (asyncio.run(request(app, "post", "/model/test/stories", content=body,
                                            headers={"Content-Type": kind}))
                        for kind, body in (("application/json", stories),
                                           ("application/yaml", STORIES)))
    # as Rasa reads this body whatever its type (it was a 400 asking for YAML)
    assert as_json.status == 200, as_json.text
    # the failed story's location is its place in the JSON document as sent
    column = stories.index('{"story": "a wrong expectation"') + 1
    assert as_json.json["report"].pop("failed_stories")[0]["location"] == \
        f"request body:1:{column}"
    as_yaml.json["report"].pop("failed_stories")
    assert as_json.json == as_yaml.json


def test_bad_bodies(make_app) -> None:
    app = make_app()
    for content, expected in ((b"stories: [", "the test stories are invalid"),
                              (b"nlu: []", "mapping with `stories:`"),
                              (b"stories: []", "no test stories"),
                              (b"stories:\n- story: x\n  steps:\n  - bogus: 1\n",
                               "the test stories are invalid")):
        response = asyncio.run(request(app, "post", "/model/test/stories", content=content,
                                       headers=YAML))
        assert response.status == 400, content
        assert expected in response.json["message"], response.json["message"]
