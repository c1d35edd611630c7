"""``POST /model/test/intents`` and ``/model/test/stories``: test the loaded model (Rasa's routes).

The body is NLU test data as YAML (``nlu:`` with ``- intent:`` items, entity
annotation as in data files). The examples are parsed by the loaded model, a
batch at a time on the thread that parses live messages, so live traffic is
served between batches. The answer has Rasa's shape: ``intent_evaluation``,
``entity_evaluation`` per extractor and ``response_selection_evaluation``
(:meth:`~dialogflowlite.evaluation.nlu.NluEvaluation.to_rasa_json`).

``/model/test/stories`` takes test stories as YAML and replays them against
the loaded model as ``dialogflowlite test core`` does (in memory: no
conversation is stored); user texts are parsed on the NLU thread and the
event loop serves other requests between stories.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dialogflowlite.errors import ApiError

if TYPE_CHECKING:
    from sanic import Blueprint, Request
    from sanic.response import HTTPResponse

#: test examples parsed per call on the NLU thread
CHUNK = 64


def blueprint() -> Blueprint:
    from sanic import Blueprint
    from sanic.response import json

    from dialogflowlite.errors import DialogflowLiteError
    from dialogflowlite.evaluation.nlu import NluEvaluation, nlu_data_from_yaml, pair_predictions
    from dialogflowlite.evaluation.stories import (
        StoryTester,
        rasa_story_result,
        stories_from_yaml,
    )
    from dialogflowlite.server import validation

    bp = Blueprint("testing_api")

    def yaml_body(request: Request, what: str) -> str:
        for unsupported in ("model", "callback_url"):
            if request.args.get(unsupported):
                raise ApiError(400, "BadRequest", f"the query parameter {unsupported!r} is not "
                               "supported: the loaded model is tested, and the answer waits")
        return validation.yaml_body(request, "the test data",
                                    f"send {what} with Content-Type: application/yaml")

    @bp.post("/model/test/intents", name="test_intents", ctx_auth=True)
    async def test_intents(request: Request) -> HTTPResponse:
        if request.args.get("cross_validation_folds"):
            # Rasa trains the body's pipeline once per fold here; training belongs in a
            # child process (as for /model/train), not in the serving one
            raise validation.bad_request(
                "the query parameter 'cross_validation_folds' is not supported: the loaded "
                "model is tested; run `dialogflowlite test nlu --cross-validation --folds N` "
                "in the project to cross-validate its pipeline",
                parameter="cross_validation_folds", location="query")
        text = yaml_body(request, "`nlu:` test examples")
        try:
            data = nlu_data_from_yaml(text)
        except DialogflowLiteError as e:
            raise ApiError(400, "BadRequest", f"the test data is invalid: {e}") from e
        examples = [m for m in data.examples if m.intent]
        if not examples:
            raise ApiError(400, "BadRequest", "the test data has no labelled examples",
                           hint="add `- intent:` items with `examples:`")
        handler = request.app.ctx.handler
        pipeline = handler.agent.nlu
        if pipeline is None:
            raise ApiError(409, "Conflict", "the loaded model has no NLU to test")
        records = []
        for start in range(0, len(examples), CHUNK):
            chunk = examples[start : start + CHUNK]
            parsed = await handler.run_nlu(pipeline.parse_batch, [m.text for m in chunk])
            records += pair_predictions(chunk, parsed)
        return json(NluEvaluation(records).to_rasa_json())

    @bp.post("/model/test/stories", name="test_stories", ctx_auth=True)
    async def test_stories(request: Request) -> HTTPResponse:
        text = yaml_body(request, "`stories:` test stories")
        try:
            stories = stories_from_yaml(text)
        except DialogflowLiteError as e:
            raise ApiError(400, "BadRequest", f"the test stories are invalid: {e}") from e
        if not stories:
            raise ApiError(400, "BadRequest", "the body has no test stories",
                           hint="add `- story: ...` items with `steps:`")
        handler = request.app.ctx.handler
        tester = StoryTester(handler.agent, parse=handler.parse_many,
                             yield_between_stories=True)
        try:
            evaluation = await tester.evaluate(stories)
        except DialogflowLiteError as e:
            raise ApiError(400, "BadRequest", f"the test stories cannot be replayed: {e}") from e
        end_to_end = any(check.text for check in evaluation.user_checks())
        return json(rasa_story_result(evaluation, end_to_end=end_to_end))

    return bp
