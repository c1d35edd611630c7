"""``POST /model/test/intents``: score the loaded model's NLU on test examples (Rasa's route).

The body is NLU test data as YAML (``nlu:`` with ``- intent:`` items, entity
annotation as in data files). The examples are parsed by the loaded model, a
batch at a time on the thread that parses live messages, so live traffic is
served between batches. The answer has Rasa's shape: ``intent_evaluation``,
``entity_evaluation`` per extractor and ``response_selection_evaluation``
(:meth:`~dialogflowlite.evaluation.nlu.NluEvaluation.to_rasa_json`).
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
    from dialogflowlite.server.routes.training import YAML_TYPES

    bp = Blueprint("testing_api")

    @bp.post("/model/test/intents", name="test_intents", ctx_auth=True)
    async def test_intents(request: Request) -> HTTPResponse:
        for unsupported in ("model", "callback_url"):
            if request.args.get(unsupported):
                raise ApiError(400, "BadRequest", f"the query parameter {unsupported!r} is not "
                               "supported: the loaded model is tested, and the answer waits")
        kind = (request.headers.get("content-type") or "").split(";", 1)[0].strip().lower()
        if kind not in YAML_TYPES:
            raise ApiError(400, "BadRequest", f"the test data must be sent as YAML, not "
                           f"{kind or 'no type'}",
                           hint="send `nlu:` test examples with Content-Type: application/yaml")
        try:
            data = nlu_data_from_yaml((request.body or b"").decode("utf-8"))
        except UnicodeDecodeError as e:
            raise ApiError(400, "BadRequest", "the request body is not UTF-8 text") from e
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

    return bp
