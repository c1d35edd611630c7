"""``POST /model/test/intents`` and ``/model/test/stories``: test the loaded model (Rasa's routes).

The body is NLU test data as YAML (``nlu:`` with ``- intent:`` items, entity
annotation as in data files), or Rasa's JSON NLU data (``{"rasa_nlu_data":
{"common_examples": [...]}}``), sent as ``application/json`` or without a
type. The examples are parsed by the loaded model, a batch at a time on the
thread that parses live messages, so live traffic is served between batches.
The answer has Rasa's
shape: ``intent_evaluation``, ``entity_evaluation`` per extractor and
``response_selection_evaluation``
(:meth:`~dialogflowlite.evaluation.nlu.NluEvaluation.to_rasa_json`). With
``callback_url``, as in Rasa, the answer is 204 and the evaluation is POSTed
there when it is done (:mod:`dialogflowlite.server.callbacks`).

``/model/test/stories`` takes test stories as YAML and replays them against
the loaded model as ``dialogflowlite test core`` does (in memory: no
conversation is stored); user texts are parsed on the NLU thread and the
event loop serves other requests between stories.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dialogflowlite.errors import ApiError
from dialogflowlite.server.callbacks import CallbackResult, answer_later, callback_url
from dialogflowlite.server.long_requests import allow_long_response, receive_large_body

if TYPE_CHECKING:
    from sanic import Blueprint, Request
    from sanic.response import HTTPResponse

    from dialogflowlite.shared.training_data import TrainingData

#: test examples parsed per call on the NLU thread
CHUNK = 64


def blueprint() -> Blueprint:
    from json import dumps as json_dumps

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

    def refuse_unsupported(request: Request, unsupported: tuple[str, ...]) -> None:
        for name in unsupported:
            if request.args.get(name):
                raise ApiError(400, "BadRequest", f"the query parameter {name!r} is not "
                               "supported: the loaded model is tested, and the answer waits")

    def yaml_body(request: Request, what: str) -> str:
        return validation.yaml_body(request, "the test data",
                                    f"send {what} with Content-Type: application/yaml")

    @bp.post("/model/test/intents", name="test_intents", ctx_auth=True, stream=True)
    async def test_intents(request: Request) -> HTTPResponse:
        allow_long_response(request)
        await receive_large_body(request)
        refuse_unsupported(request, ("model",))
        url = callback_url(request)
        if request.args.get("cross_validation_folds"):
            # Rasa trains the body's pipeline once per fold here; training belongs in a
            # child process (as for /model/train), not in the serving one
            raise validation.bad_request(
                "the query parameter 'cross_validation_folds' is not supported: the loaded "
                "model is tested; run `dialogflowlite test nlu --cross-validation --folds N` "
                "in the project to cross-validate its pipeline",
                parameter="cross_validation_folds", location="query")
        try:
            if _is_json_nlu_data(request):
                data = _json_nlu_data(request)
            else:
                data = nlu_data_from_yaml(yaml_body(request, "`nlu:` test examples"))
        except DialogflowLiteError as e:
            if isinstance(e, ApiError):
                raise
            raise ApiError(400, "BadRequest", f"the test data is invalid: {e}") from e
        examples = [m for m in data.examples if m.intent]
        if not examples:
            raise ApiError(400, "BadRequest", "the test data has no labelled examples",
                           hint="add `- intent:` items with `examples:`")
        handler = request.app.ctx.handler
        pipeline = handler.agent.nlu
        if pipeline is None:
            raise ApiError(409, "Conflict", "the loaded model has no NLU to test")

        async def evaluate() -> dict:
            records = []
            for start in range(0, len(examples), CHUNK):
                chunk = examples[start : start + CHUNK]
                parsed = await handler.run_nlu(pipeline.parse_batch, [m.text for m in chunk])
                records += pair_predictions(chunk, parsed)
            return NluEvaluation(records).to_rasa_json()

        if url:
            # as Rasa: 204 now, the evaluation (or its error) POSTed to the URL later
            async def result() -> CallbackResult:
                return CallbackResult(json_dumps(await evaluate()).encode("utf-8"),
                                      "application/json")

            return answer_later(request, url, result, "the NLU test")
        return json(await evaluate())

    @bp.post("/model/test/stories", name="test_stories", ctx_auth=True, stream=True)
    async def test_stories(request: Request) -> HTTPResponse:
        allow_long_response(request)
        await receive_large_body(request)
        # Rasa's route takes no callback_url either: ignored, the client would wait for a
        # POST that never comes
        refuse_unsupported(request, ("model", "callback_url"))
        text = yaml_body(request, "`stories:` test stories")
        asked_e2e = validation.query_flag(request, "e2e", False)
        try:
            stories = stories_from_yaml(text)
        except DialogflowLiteError as e:
            raise ApiError(400, "BadRequest", f"the test stories are invalid: {e}") from e
        if not stories:
            raise ApiError(400, "BadRequest", "the body has no test stories",
                           hint="add `- story: ...` items with `steps:`")
        handler = request.app.ctx.handler
        agent = handler.agent
        # the texts are parsed by the model whose policies predict the stories, whatever
        # PUT /model does meanwhile
        tester = StoryTester(agent, parse=lambda texts: handler.parse_many(texts, agent),
                             yield_between_stories=True)
        try:
            evaluation = await tester.evaluate(stories)
        except DialogflowLiteError as e:
            raise ApiError(400, "BadRequest", f"the test stories cannot be replayed: {e}") from e
        # Rasa reports its e2e parameter; a step with the user's text is always parsed
        # and checked here, which is an end-to-end test whether asked or not
        end_to_end = asked_e2e or any(check.text for check in evaluation.user_checks())
        return json(rasa_story_result(evaluation, end_to_end=end_to_end))

    return bp


def _content_type(request: Request) -> str:
    return (request.headers.get("content-type") or "").split(";", 1)[0].strip().lower()


def _is_json_nlu_data(request: Request) -> bool:
    """Whether the body is Rasa's JSON NLU data: sent as ``application/json``, or sent
    without saying what it is (:data:`~dialogflowlite.server.validation.UNTYPED`) and
    being a JSON object with its root key. Rasa reads every body not sent as
    ``application/x-yaml`` as that data (``curl -d '{"rasa_nlu_data": ...}'``);
    an untyped body that is not is read as YAML test data."""
    from dialogflowlite.errors import JsonContentError
    from dialogflowlite.io.json_nlu_reader import ROOT_KEY
    from dialogflowlite.server.validation import UNTYPED
    from dialogflowlite.shared import safe_json

    kind = _content_type(request)
    if kind == "application/json":
        return True
    body = request.body or b""
    if kind not in UNTYPED or not body.lstrip().startswith(b"{"):
        return False
    try:
        data = safe_json.loads(body)
    except (JsonContentError, ValueError):
        return False  # YAML in flow style, or broken: the YAML reader says what is wrong
    return isinstance(data, dict) and ROOT_KEY in data


def _json_nlu_data(request: Request) -> TrainingData:
    """The examples of a body in Rasa's JSON NLU format (as Rasa takes a JSON body here).

    Only ``common_examples`` is read: synonyms, regexes and lookup tables do not
    change what the loaded model predicts, and a lookup table may name a file,
    which a request must not make the server read.
    """
    import json
    import tempfile
    from pathlib import Path

    from dialogflowlite.io.json_nlu_reader import ROOT_KEY, read_json_nlu
    from dialogflowlite.io.problems import ProblemLog
    from dialogflowlite.server import validation

    body = validation.json_body(request)
    section = body.get(ROOT_KEY)
    if not isinstance(section, dict):
        raise ApiError(400, "BadRequest",
                       f"JSON test data holds Rasa's NLU data under {ROOT_KEY!r}; other test "
                       "data must be sent as YAML",
                       hint=f'send {{"{ROOT_KEY}": {{"common_examples": [...]}}}}, or `nlu:` '
                            "examples with Content-Type: application/yaml")
    examples = {ROOT_KEY: {"common_examples": section.get("common_examples", [])}}
    log = ProblemLog()
    with tempfile.TemporaryDirectory() as folder:
        # the reader takes a file (its messages name it, and its line and column)
        path = Path(folder) / "test_data.json"
        path.write_text(json.dumps(examples, indent=1, ensure_ascii=False), encoding="utf-8")
        data = read_json_nlu(path, log, root=folder)
    if log.errors:
        from dialogflowlite.errors import ProjectValidationError

        raise ProjectValidationError(log.problems)
    return data
