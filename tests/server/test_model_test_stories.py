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
