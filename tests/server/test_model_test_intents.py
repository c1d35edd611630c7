"""``POST /model/test/intents``: the loaded model's NLU scored on test examples, in Rasa's shape."""

from __future__ import annotations

import asyncio
import textwrap
from pathlib import Path

import pytest
from serving_helpers import request
from story_data import GREET_EXAMPLES, nlu_yaml

NLU = nlu_yaml(GREET_EXAMPLES, """\
- intent: travel
  examples: |
    - fly to [Rome](city)
    - a ticket to [Paris](city)
    - I want to go to [Oslo](city)
    - take me to [Rome](city)
- regex: city
  examples: |
    - Rome|Paris|Oslo|Lima
""")

CONFIG = """
language: en
pipeline:
- name: WhitespaceTokenizer
- name: RegexEntityExtractor
- name: ScratchTransformerClassifier
  epochs: 60
  hidden_size: 32
  num_heads: 2
  ff_size: 64
  learning_rate: 0.01
  batch_size: 8
  entity_recognition: false
policies:
- name: RulePolicy
"""

DOMAIN = """
version: "3.1"
intents: [greet, travel]
entities: [city]
responses:
  utter_greet: [{text: "Hi!"}]
"""

TEST_DATA = b"""
nlu:
- intent: greet
  examples: |
    - hello there
    - hi
- intent: travel
  examples: |
    - fly to [Lima](city)
    - a ticket to [Oslo](city) please
"""


@pytest.fixture(scope="module")
def nlu_model(tmp_path_factory) -> Path:
    from dialogflowlite.training.trainer import TrainOptions, train

    root = tmp_path_factory.mktemp("nlubot")
    for relative, text in {"config.yml": CONFIG, "domain.yml": DOMAIN,
                           "data/nlu.yml": NLU}.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return train(root, options=TrainOptions(progress=False, seed=3)).model_path


@pytest.fixture
def app(make_app, nlu_model: Path):
    from dialogflowlite.agent import Agent

    return make_app(agent=Agent.load(nlu_model))


YAML = {"Content-Type": "application/yaml"}


def test_intents_and_entities_are_scored_as_rasa_reports_them(app) -> None:
    response = asyncio.run(request(app, "post", "/model/test/intents", content=TEST_DATA,
                                   headers=YAML))
    assert response.status == 200, response.text
    result = response.json
    intents = result["intent_evaluation"]
    assert [p["text"] for p in intents["predictions"]] == [
        "hello there", "hi", "fly to Lima", "a ticket to Oslo please"]
    right = sum(p["intent"] == p["predicted"] for p in intents["predictions"])
    assert intents["accuracy"] == pytest.approx(right / 4)
    assert intents["report"]["greet"]["support"] == 2
    assert len(intents["errors"]) == 4 - right
    assert {"f1_score", "precision"} <= set(intents)
    regex = result["entity_evaluation"]["RegexEntityExtractor"]
    assert regex["report"]["city"]["support"] == 2
    assert regex["f1_score"] == 1.0 and regex["accuracy"] == 1.0 and regex["errors"] == []
    assert result["response_selection_evaluation"] is None


def test_entity_errors_name_the_message(app) -> None:
    data = b"nlu:\n- intent: travel\n  examples: |\n    - fly to [Lima](city) or [Quito](city)\n"
    result = asyncio.run(request(app, "post", "/model/test/intents", content=data,
                                 headers=YAML)).json
    regex = result["entity_evaluation"]["RegexEntityExtractor"]
    assert regex["report"]["city"]["recall"] == 0.5
    assert regex["errors"][0]["text"] == "fly to Lima or Quito"
    assert [e["value"] for e in regex["errors"][0]["entities"]] == ["Lima", "Quito"]


@pytest.mark.parametrize(("query", "content", "headers", "expected"), [
    ("", b"nlu: [", YAML, "the test data is invalid"),
    ("", b"rules: []", YAML, "mapping with `nlu:`"),
    ("", b"nlu:\n- regex: x\n  examples: |\n    - a\n", YAML, "no labelled examples"),
    ("", b'{"nlu": []}', {"Content-Type": "application/json"}, "must be sent as YAML"),
    ("?model=models/other.tar", TEST_DATA, YAML, "'model' is not supported"),
])
def test_bad_requests(app, query, content, headers, expected) -> None:
    response = asyncio.run(request(app, "post", f"/model/test/intents{query}", content=content,
                                   headers=headers))
    assert response.status == 400
    assert expected in response.json["message"]


async def _post_test(url: str, query: str = "") -> tuple[int, bytes]:
    """The status and body of an NLU test request to a running server at ``url``."""
    import aiohttp

    async with aiohttp.ClientSession() as session, \
            session.post(f"{url}/model/test/intents{query}", data=TEST_DATA,
                         headers=YAML) as answer:
        return answer.status, await answer.read()


def test_with_a_callback_url_the_evaluation_is_posted_there(app) -> None:
    import json

    from serving_helpers import StubHttpServer, serving, until

    with StubHttpServer(lambda r: (200, {}, b""), path="/tested") as receiver:

        async def main():
            # a running server: the ASGI client stops the app after each request, and
            # with it the work of a callback
            async with serving(app) as url:
                answer = await _post_test(url, f"?callback_url={receiver.url}")
                await until(lambda: receiver.requests, "the callback")
                waited = await _post_test(url)
            return answer, waited

        # as in Rasa: 204 at once, the answer POSTed when the test ends (it was a 400)
        answer, waited = asyncio.run(main())
    assert answer[0] == 204, answer[1]
    assert waited[0] == 200, waited[1]
    posted = receiver.requests[0]
    assert posted.method == "POST"
    assert posted.headers["Content-Type"].startswith("application/json")
    assert json.loads(posted.body) == json.loads(waited[1])


def test_a_callback_url_gets_the_error_of_a_test_that_fails(app, monkeypatch) -> None:
    import json

    from serving_helpers import StubHttpServer, serving, until

    def broken(texts):
        raise RuntimeError("the model broke")

    monkeypatch.setattr(app.ctx.agent.nlu, "parse_batch", broken)
    with StubHttpServer(lambda r: (200, {}, b""), path="/tested") as receiver:

        async def main():
            async with serving(app) as url:
                answer = await _post_test(url, f"?callback_url={receiver.url}")
                await until(lambda: receiver.requests, "the callback")
            return answer

        answer = asyncio.run(main())
    assert answer[0] == 204
    error = json.loads(receiver.requests[0].body)
    assert (error["code"], error["reason"]) == (500, "ServerError")
    assert set(error) == {"version", "status", "message", "reason", "details", "help", "code"}


def test_a_callback_url_that_is_no_http_address_is_refused_at_once(app) -> None:
    response = asyncio.run(request(app, "post", "/model/test/intents?callback_url=ftp://x",
                                   content=TEST_DATA, headers=YAML))
    assert response.status == 400
    assert response.json["details"] == {"parameter": "callback_url", "in": "query"}


def test_cross_validation_is_refused_not_ignored(app) -> None:
    # Rasa cross-validates with this parameter; a plain evaluation would pass for it
    response = asyncio.run(request(app, "post", "/model/test/intents?cross_validation_folds=3",
                                   content=TEST_DATA, headers=YAML))
    assert response.status == 400
    assert response.json["details"] == {"parameter": "cross_validation_folds", "in": "query"}
    assert "dialogflowlite test nlu --cross-validation" in response.json["message"]


def test_a_model_without_nlu_is_a_conflict(make_app) -> None:
    response = asyncio.run(request(make_app(), "post", "/model/test/intents",
                                   content=TEST_DATA, headers=YAML))
    assert response.status == 409
