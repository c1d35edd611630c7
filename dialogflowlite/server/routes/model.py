"""The model part of the HTTP API: ``/status``, ``/model/parse``, ``/model/predict``,
``PUT|DELETE /model``, ``/domain``. Every route here needs the token or a JWT when one is
configured."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from dialogflowlite.errors import ApiError

if TYPE_CHECKING:
    from pathlib import Path

    from sanic import Blueprint, Request, Sanic
    from sanic.response import HTTPResponse

#: media ranges that take the domain as JSON, besides every type ending in "json"
JSON_TYPES = ("application/*", "*/*")
#: the content type of the domain as YAML, as Rasa 3 answers it
YAML_CONTENT_TYPE = "application/x-yaml"


def _accepted(request: Request) -> str:
    """``"json"`` or ``"yaml"``: the format of the Accept header's most preferred media
    type that names one (by ``q``, then order; ``q=0`` refuses it).

    As in Rasa, a type ending in ``json`` asks for JSON and one ending in
    ``yml`` or ``yaml`` (``application/x-yml``, ``text/yaml``, ...) for YAML.
    Unlike Rasa, a wildcard (curl's and browsers' ``*/*``) gets JSON, not a 406.
    """
    header = request.headers.get("accept") or "application/json"
    offers: list[tuple[float, int, str]] = []
    for index, part in enumerate(header.split(",")):
        kind, *parameters = (piece.strip().lower() for piece in part.split(";"))
        fmt = ("json" if kind.endswith("json") or kind in JSON_TYPES
               else "yaml" if kind.endswith(("yml", "yaml")) else None)
        if fmt is not None:
            offers.append((_quality(parameters), -index, fmt))
    wanted = max(offers, default=None)
    if wanted is not None and wanted[0] > 0:
        return wanted[2]
    raise ApiError(406, "NotAcceptable",
                   "the domain is available as JSON (Accept: application/json) or YAML "
                   f"(Accept: {YAML_CONTENT_TYPE})")


def _quality(parameters: list[str]) -> float:
    """A media type's ``q`` (1 when not given; 0 for one that is no number)."""
    for parameter in parameters:
        name, _, value = parameter.partition("=")
        if name.strip() == "q":
            try:
                return min(1.0, max(0.0, float(value)))
            except ValueError:
                return 0.0
    return 1.0


async def load_from_model_server(app: Sanic, section: Any, ticket: int | None) -> Path:
    """``PUT /model`` with ``model_server``: download the model and switch to it, as Rasa does.

    ``section`` has the keys of endpoints.yml ``models:`` (``url``, ``headers``,
    ``timeout``, ``wait_time_between_pulls``, ...). As in Rasa, the server then keeps
    pulling from there every ``wait_time_between_pulls`` seconds (100 unless given; 0 or
    null: this once), instead of any model server it pulled from before. A download
    that is not a model is a 400, and the running model stays, as it does (409)
    when a ``PUT`` or ``DELETE /model`` that arrived later was served meanwhile.
    ``ticket``: the request's :func:`~dialogflowlite.server.models.choice_ticket`,
    taken as it arrived.
    """
    from dialogflowlite.errors import ConfigError
    from dialogflowlite.server import validation
    from dialogflowlite.server.model_server import ModelServer, pull_later, share_pulls
    from dialogflowlite.server.models import swap_model

    url = section.get("url") if isinstance(section, dict) else None
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise validation.bad_request(
            "'model_server' must be an object whose 'url' is the http(s) address of a model "
            'file, such as {"url": "https://models.example.com/bot.tar"}',
            parameter="model_server")
    try:
        server = ModelServer.from_config(section, app.ctx.config.project_dir)
    except ConfigError as e:
        message = e.message.replace("endpoints.yml models", "'model_server'")
        raise validation.bad_request(message, parameter="model_server") from e
    loaded: list[Path] = []

    async def switch(pulled: Path) -> None:
        # the other workers switch too, and pull from this server from then on
        loaded.append(await swap_model(app, str(pulled), model_server=dict(section),
                                       ticket=ticket))

    # no `current`: the same bytes as the running model are still a model to switch to;
    # take=False: the model the server serves now, never one pulled from it earlier
    # (a failed switch deletes the file: not the newest model at the next start)
    pulled = await share_pulls(app, server).pull(None, take=False, switch=switch)
    if pulled is None or not loaded:
        why = server.no_model_reason or "it sent none"
        raise ApiError(400, "LoadingError",
                       f"the model server {url} sent no model to serve ({why}); the running "
                       "model stays")
    server.prune(loaded[0])
    pull_later(app, server)
    return loaded[0]


async def arrival_ticket(request: Request) -> int | None:
    """The ticket of the ``PUT`` or ``DELETE /model`` ``request``, taken as it arrived
    (by the request hook of :mod:`~dialogflowlite.server.lifecycle`, before the request
    waits for this worker's model), or now where no hook took one."""
    from dialogflowlite.server.models import choice_ticket

    if hasattr(request.ctx, "model_change_ticket"):
        return request.ctx.model_change_ticket
    return await choice_ticket(request.app)


def blueprint() -> Blueprint:
    from sanic import Blueprint
    from sanic.response import empty, json, text

    from dialogflowlite.dialogue.domain_json import domain_to_dict
    from dialogflowlite.server import validation
    from dialogflowlite.server.handling import no_agent
    from dialogflowlite.server.models import model_fingerprints, swap_model, unload_model

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
            "fingerprint": model_fingerprints(app.ctx.agent),
        })

    @bp.post("/model/parse", name="parse", ctx_auth=True)
    async def parse(request: Request) -> HTTPResponse:
        from dialogflowlite.server.routes.emulation import emulator

        body = validation.json_body(request)
        if isinstance(body.get("text"), list) and body["text"]:
            # as Rasa reads it: a list of texts (a query's repeated `q`) parses its first
            body = {**body, "text": body["text"][0]}
        text_ = validation.message_text(body, "text", request.app.ctx.config.max_message_chars)
        message_id = validation.field(body, "message_id", (str, int), required=False)
        convert = emulator(request.args.get("emulation_mode"))
        # the result's text is the message without the white space around it, which
        # the entities' offsets count in (as in Rasa)
        result = dict(await request.app.ctx.handler.parse(text_))
        if message_id is not None:
            result["message_id"] = str(message_id)
        return json(convert(result) if convert else result)

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

    # ctx_model_change: the request gets its ticket as it arrives (arrival_ticket)
    @bp.put("/model", name="replace_model", ctx_auth=True, ctx_model_change=True)
    async def replace_model(request: Request) -> HTTPResponse:
        from dialogflowlite.server.long_requests import allow_long_response

        body = validation.json_body(request)
        # loading a large model (and downloading it, waiting for another worker's pull
        # first) may take minutes: cut off, the loaded model would be thrown away
        allow_long_response(request)
        if body.get("remote_storage") is not None:
            raise validation.bad_request(
                "'remote_storage' is not supported; pass 'model_file', a model file on the "
                "server, or 'model_server', where to download one", parameter="remote_storage")
        if body.get("model_server") is not None:
            await load_from_model_server(request.app, body["model_server"],
                                         await arrival_ticket(request))
            return empty(status=204)
        model_file = validation.field(body, "model_file", str)
        if not model_file.strip():
            # swap_model() reads an empty name as "the default model" and would
            # silently reload that one
            raise validation.bad_request("the field 'model_file' is empty; pass the path of "
                                         "a model file on the server", parameter="model_file")
        # of two changes, the one that arrived later is served (the earlier, loading
        # longer, is a 409)
        await swap_model(request.app, model_file, ticket=await arrival_ticket(request))
        return empty(status=204)

    @bp.delete("/model", name="unload_model", ctx_auth=True, ctx_model_change=True)
    async def delete_model(request: Request) -> HTTPResponse:
        await unload_model(request.app, ticket=await arrival_ticket(request))
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

            return text(dump_yaml(data), content_type=YAML_CONTENT_TYPE)
        return json(data)

    return bp
