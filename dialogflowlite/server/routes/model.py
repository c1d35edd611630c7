"""The model part of the HTTP API: ``/status``, ``/model/parse``, ``/model/predict``,
``PUT|DELETE /model``, ``/domain``. Every route here needs the token or a JWT when one is
configured."""

from __future__ import annotations

from typing import TYPE_CHECKING

from dialogflowlite.errors import ApiError

if TYPE_CHECKING:
    from sanic import Blueprint, Request
    from sanic.response import HTTPResponse

JSON_TYPES = ("application/json", "application/*", "*/*")
YAML_TYPES = ("application/yaml", "application/x-yaml", "application/x-yml", "text/yaml",
              "text/x-yaml")


def _accepted(request: Request) -> str:
    header = request.headers.get("accept") or "*/*"
    for part in header.split(","):
        kind = part.split(";", 1)[0].strip().lower()
        if kind in JSON_TYPES:
            return "json"
        if kind in YAML_TYPES:
            return "yaml"
    raise ApiError(406, "InvalidHeader",
                   "the domain is available as application/json or application/yaml")


def blueprint() -> Blueprint:
    from sanic import Blueprint
    from sanic.response import empty, json, text

    from dialogflowlite.dialogue.domain_json import domain_to_dict
    from dialogflowlite.server import validation
    from dialogflowlite.server.handling import no_agent
    from dialogflowlite.server.models import swap_model

    bp = Blueprint("model_api")

    @bp.get("/status", name="status", ctx_auth=True)
    async def status(request: Request) -> HTTPResponse:
        app = request.app
        if app.ctx.agent is None:
            raise no_agent()
        model_file = app.ctx.model_file
        return json({
            "model_file": model_file.name if model_file is not None else None,
            "model_id": model_file.stem if model_file is not None else None,
            "num_active_training_jobs": getattr(app.ctx, "training_jobs", 0),
            "fingerprint": dict(getattr(app.ctx, "model_fingerprints", None) or {}),
        })

    @bp.post("/model/parse", name="parse", ctx_auth=True)
    async def parse(request: Request) -> HTTPResponse:
        body = validation.json_body(request)
        text_ = validation.message_text(body, "text", request.app.ctx.config.max_message_chars)
        message_id = validation.field(body, "message_id", (str, int), required=False)
        if request.args.get("emulation_mode"):
            raise validation.bad_request("emulation modes are not supported",
                                         parameter="emulation_mode", location="query")
        result = dict(await request.app.ctx.handler.parse(text_))
        result["text"] = text_
        if message_id is not None:
            result["message_id"] = str(message_id)
        return json(result)

    @bp.post("/model/predict", name="predict_from_events", ctx_auth=True)
    async def predict_from_events(request: Request) -> HTTPResponse:
        from dialogflowlite.server.routes.conversations import include_events, parse_events
        from dialogflowlite.shared.tracker import DialogueStateTracker

        events = parse_events(validation.json_body(request, expect=list))
        verbosity = include_events(request)
        agent = request.app.ctx.agent
        if agent is None:
            raise no_agent()
        if agent.processor.policies is None:
            raise ApiError(409, "Conflict", "the loaded model has no dialogue policies to "
                                            "predict with")
        # a conversation that exists only for this request: nothing is stored
        tracker = DialogueStateTracker.for_domain("default", agent.domain, events)
        result = dict(agent.processor.prediction_summary(tracker))
        result["tracker"] = tracker.current_state(verbosity)
        return json(result)

    @bp.put("/model", name="replace_model", ctx_auth=True)
    async def replace_model(request: Request) -> HTTPResponse:
        body = validation.json_body(request)
        for unsupported in ("model_server", "remote_storage"):
            if body.get(unsupported) is not None:
                raise validation.bad_request(
                    f"{unsupported!r} is not supported; pass 'model_file', a model file "
                    "on the server", parameter=unsupported)
        model_file = validation.field(body, "model_file", str)
        if not model_file.strip():
            # swap_model() reads an empty name as "the default model" and would
            # silently reload that one
            raise validation.bad_request("the field 'model_file' is empty; pass the path of "
                                         "a model file on the server", parameter="model_file")
        await swap_model(request.app, model_file)
        return empty(status=204)

    @bp.delete("/model", name="unload_model", ctx_auth=True)
    async def unload_model(request: Request) -> HTTPResponse:
        app = request.app
        async with app.ctx.model_swap_lock:
            app.ctx.agent = None
            app.ctx.model_file = None
        return empty(status=204)

    @bp.get("/domain", name="domain", ctx_auth=True)
    async def domain(request: Request) -> HTTPResponse:
        kind = _accepted(request)
        agent = request.app.ctx.agent
        if agent is None:
            raise no_agent()
        data = domain_to_dict(agent.domain)
        if kind == "yaml":
            from dialogflowlite.io.yaml import dump_yaml

            return text(dump_yaml(data), content_type="application/x-yml")
        return json(data)

    return bp
