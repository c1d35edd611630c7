"""The conversation part of the HTTP API (Rasa's shapes), every route behind auth:

* ``GET  /conversations/{id}/tracker``        the tracker (``include_events``, ``until``)
* ``POST /conversations/{id}/tracker/events`` append events
* ``PUT  /conversations/{id}/tracker/events`` replace all events
* ``GET  /conversations/{id}/story``          the conversation as a YAML story
* ``POST /conversations/{id}/messages``       add a user message without running actions
* ``POST /conversations/{id}/trigger_intent`` inject an intent and run the bot
* ``POST /conversations/{id}/predict``        scores of the next action (nothing runs)
* ``POST /conversations/{id}/execute``        run one named action (Rasa's deprecated route)

``trigger_intent``, ``execute`` and ``tracker/events`` (with
``execute_side_effects=true``) take Rasa's ``output_channel``: the bot's
messages then also go to the user through that channel (see
:mod:`dialogflowlite.server.channels.output`).

Writes hold the conversation's lock, so they never interleave with messages
being processed for the same sender.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from dialogflowlite.components.generation.messages import rasa_replies
from dialogflowlite.errors import ApiError, DialogflowLiteError
from dialogflowlite.server.channels.output import (
    checked_channel,
    requested_channel,
    send_through,
)

if TYPE_CHECKING:
    from sanic import Blueprint, Request
    from sanic.response import HTTPResponse

    from dialogflowlite.shared.events import Event
    from dialogflowlite.shared.tracker import DialogueStateTracker

#: ``include_events`` values and what :meth:`DialogueStateTracker.current_state` calls them
EVENT_VERBOSITY = {"ALL": "all", "AFTER_RESTART": "after_restart", "APPLIED": "applied",
                   "NONE": None}


def include_events(request: Request, default: str = "AFTER_RESTART") -> str | None:
    from dialogflowlite.server.validation import bad_request

    value = (request.args.get("include_events") or default).upper()
    if value not in EVENT_VERBOSITY:
        raise bad_request("include_events must be one of " + ", ".join(EVENT_VERBOSITY),
                          parameter="include_events", location="query")
    return EVENT_VERBOSITY[value]


def until(request: Request) -> float | None:
    from dialogflowlite.server.validation import bad_request

    raw = request.args.get("until")
    if raw is None:
        return None
    try:
        return float(raw)
    except ValueError as e:
        raise bad_request("until must be a timestamp (seconds since 1970)",
                          parameter="until", location="query") from e


def conversation_id(value: str) -> str:
    from dialogflowlite.server.validation import sender_id

    return sender_id(value, parameter="conversation_id", location="path")


async def load_tracker(agent: Any, sender_id: str) -> DialogueStateTracker:
    """The stored conversation, or an empty one with the domain's slots."""
    return await agent.get_tracker(sender_id)


async def log_user_message(agent: Any, message: Any) -> DialogueStateTracker:
    """Add a user message to its conversation without predicting any action (``/messages``).

    As Rasa does: a conversation without a session gets ``action_session_start``
    first, as for a message the bot answers, and the slots the message fills (the
    domain's slot mappings, Rasa's ``action_extract_slots``) are set, so a later
    ``/predict`` sees the turn as the bot would.

    The conversation answered is the one stored under the lock, as Rasa answers
    it: read again afterwards, it could hold a turn that ran meanwhile.
    """
    return (await agent.processor.handle_message(message, predict=False)).tracker


def parse_events(data: Any) -> list[Event]:
    """Event JSON (one object or a list) as events; 400 naming the bad entry."""
    from dialogflowlite.server.validation import bad_request
    from dialogflowlite.shared.events import event_from_dict

    items = data if isinstance(data, list) else [data]
    events = []
    for index, item in enumerate(items):
        where = f"event {index}" if isinstance(data, list) else "the event"
        if not isinstance(item, dict):
            raise bad_request(f"{where} must be a JSON object", parameter="body")
        try:
            events.append(event_from_dict(item, strict=True))
        except Exception as e:
            # render() keeps the hint, which lists the event types when the type is wrong
            message = e.render() if isinstance(e, DialogflowLiteError) else str(e)
            raise bad_request(f"{where} cannot be read: {message}", parameter="body") from e
    if isinstance(data, list) and not events and data:
        raise bad_request("no event could be read from the body", parameter="body")
    return events


def blueprint() -> Blueprint:
    from sanic import Blueprint
    from sanic.response import json, text

    from dialogflowlite.dialogue.messages import IncomingMessage
    from dialogflowlite.dialogue.story_export import conversation_story
    from dialogflowlite.server import validation

    # Every route says unquote=True: Sanic hands path values over percent-encoded
    # otherwise, and clients must encode ids such as "müller" or "tag#1"
    # (encodeURIComponent). Sanic's router decides it once for the id segment all
    # these routes share, from one of them, so one route without it can switch
    # decoding off for the others.
    bp = Blueprint("conversations", url_prefix="/conversations/<conversation_id:str>")

    def agent_of(request: Request) -> Any:
        return request.app.ctx.handler.agent

    @bp.get("/tracker", name="tracker", ctx_auth=True, unquote=True)
    async def tracker(request: Request, conversation_id: str) -> HTTPResponse:
        sender = _conversation(conversation_id)
        verbosity = include_events(request)
        limit = until(request)
        found = await load_tracker(agent_of(request), sender)
        if limit is not None:
            found = _until(found, limit)
        return json(found.current_state(verbosity))

    @bp.post("/tracker/events", name="append_events", ctx_auth=True, unquote=True)
    async def append_events(request: Request, conversation_id: str) -> HTTPResponse:
        sender = _conversation(conversation_id)
        events = parse_events(validation.json_body(request, expect=(dict, list)))
        verbosity = include_events(request)
        side_effects = validation.query_flag(request, "execute_side_effects", False)
        if side_effects:
            checked_channel(request)
        processor = agent_of(request).processor
        found = await processor.append_events(sender, events)
        if side_effects:
            # resolved after appending, as in Rasa: `latest` may be a user event just added
            channel = requested_channel(request, found)
            # the reminders among the events later send through the same channel
            replies = processor.execute_side_effects(sender, events, _name_of(channel))
            await send_through(channel, sender, replies)
        return json(found.current_state(verbosity))

    @bp.put("/tracker/events", name="replace_events", ctx_auth=True, unquote=True)
    async def replace_events(request: Request, conversation_id: str) -> HTTPResponse:
        sender = _conversation(conversation_id)
        events = parse_events(validation.json_body(request, expect=list))
        verbosity = include_events(request)
        found = await agent_of(request).processor.replace_events(sender, events)
        return json(found.current_state(verbosity))

    @bp.get("/story", name="story", ctx_auth=True, unquote=True)
    async def story(request: Request, conversation_id: str) -> HTTPResponse:
        sender = _conversation(conversation_id)
        limit = until(request)
        every_session = validation.query_flag(request, "all_sessions", False)
        agent = agent_of(request)
        await _require_conversation(agent, sender)
        found = await load_tracker(agent, sender)
        if limit is not None:
            found = _until(found, limit)
        if every_session:
            body = sessions_story(sender, found.events)
        else:
            body = conversation_story(sender, found.events)
        return text(body, content_type="application/x-yml; charset=utf-8")

    @bp.post("/messages", name="add_message", ctx_auth=True, unquote=True)
    async def add_message(request: Request, conversation_id: str) -> HTTPResponse:
        sender = _conversation(conversation_id)
        body = validation.json_body(request)
        text_ = validation.message_text(body, "text", request.app.ctx.config.max_message_chars)
        who = validation.field(body, "sender", str)
        if who != "user":
            raise validation.bad_request(
                f"only user messages can be added; 'sender' is {who!r}, not 'user'",
                parameter="sender")
        parse_data = validation.field(body, "parse_data", dict, required=False)
        if parse_data is not None:
            from dialogflowlite.shared.events import parse_data_problem

            problem = parse_data_problem(parse_data)
            if problem:
                # stored as it is, it would break every later turn of the conversation
                raise validation.bad_request(problem, parameter="parse_data")
        metadata = validation.metadata(body)
        message_id = _message_id(body)
        verbosity = include_events(request)
        agent = agent_of(request)
        if parse_data is None:
            parse_data = await request.app.ctx.handler.parse(text_)
        message = IncomingMessage(text_, sender_id=sender, channel=None, metadata=metadata,
                                  message_id=message_id,
                                  parse_data=dict(parse_data))
        found = await log_user_message(agent, message)
        return json(found.current_state(verbosity))

    @bp.post("/trigger_intent", name="trigger_intent", ctx_auth=True, unquote=True)
    async def trigger_intent(request: Request, conversation_id: str) -> HTTPResponse:
        sender = _conversation(conversation_id)
        body = validation.json_body(request)
        intent = validation.field(body, "name", str)
        entities = validation.field(body, "entities", (dict, list), required=False, default={})
        if isinstance(entities, list) and not all(
                isinstance(e, dict) and isinstance(e.get("entity"), str) for e in entities):
            # such items were dropped and the intent triggered without them, answering 200
            raise validation.bad_request(
                "the field 'entities' must be an object of entity -> value, or a list of "
                "objects each with a text 'entity'", parameter="entities")
        verbosity = include_events(request)
        agent = agent_of(request)
        if intent not in agent.domain.intent_names:
            raise ApiError(404, "NotFound", f"the intent {intent!r} is not in the domain")
        channel = requested_channel(request, await load_tracker(agent, sender))
        request.app.ctx.metrics.active.touch(sender)
        # the processor's replies, not the agent's flattened ones: a channel that shows
        # quick replies and cards gets them as they are
        result = await agent.processor.trigger_intent(sender, intent, entities,
                                                      _name_of(channel))
        await send_through(channel, sender, result.replies)
        found = await load_tracker(agent, sender)
        return json({"tracker": found.current_state(verbosity),
                     "messages": rasa_replies(result.replies)})

    @bp.post("/execute", name="execute", ctx_auth=True, unquote=True)
    async def execute(request: Request, conversation_id: str) -> HTTPResponse:
        # Rasa's deprecated route, kept for scripts written against it: one named
        # action runs, and nothing is predicted after it
        sender = _conversation(conversation_id)
        body = validation.json_body(request)
        name = validation.field(body, "name", str)
        policy = validation.field(body, "policy", str, required=False)
        confidence = validation.field(body, "confidence", (int, float), required=False)
        verbosity = include_events(request)
        agent = agent_of(request)
        if not (agent.domain.is_known_action(name) or name in agent.domain.responses):
            raise ApiError(404, "NotFound", f"the action {name!r} is not in the domain")
        channel = requested_channel(request, await load_tracker(agent, sender))
        request.app.ctx.metrics.active.touch(sender)
        result = await agent.execute_action(sender, name, policy=policy,
                                            confidence=None if confidence is None
                                            else float(confidence),
                                            channel=_name_of(channel))
        await send_through(channel, sender, result.replies)
        found = await load_tracker(agent, sender)
        return json({"tracker": found.current_state(verbosity),
                     "messages": rasa_replies(result.replies)})

    @bp.post("/predict", name="predict", ctx_auth=True, unquote=True)
    async def predict(request: Request, conversation_id: str) -> HTTPResponse:
        sender = _conversation(conversation_id)
        verbosity = include_events(request)
        agent = agent_of(request)
        await _require_conversation(agent, sender)
        prediction = await agent.predict_next(sender)
        if prediction is None:
            raise ApiError(409, "Conflict", "the loaded model has no dialogue policies to "
                                            "predict with")
        result = dict(prediction)
        # as Rasa answers this route (not /model/predict): the best first, ties by name
        result["scores"] = sorted(result["scores"],
                                  key=lambda score: (-score["score"], score["action"]))
        found = await load_tracker(agent, sender)
        result["tracker"] = found.current_state(verbosity)
        return json(result)

    return bp


def _conversation(value: str) -> str:
    return conversation_id(value)


async def _require_conversation(agent: Any, sender_id: str) -> None:
    """404 unless the tracker store holds ``sender_id``, as Rasa answers ``story`` and
    ``predict``, which describe a conversation that happened. (Rasa's ``execute`` does too;
    here it may start a conversation, to send a user a first message unasked.)"""
    if not await agent.tracker_store.exists(sender_id):
        raise ApiError(404, "NotFound", f"the conversation {sender_id!r} does not exist",
                       hint="its id is the `sender` of its messages")


def session_chunks(events: list[Event]) -> list[list[Event]]:
    """``events`` cut before each ``action_session_start``: one list per session (what
    came before the first session start, when anything did, is one too)."""
    from dialogflowlite.shared.domain import ACTION_SESSION_START
    from dialogflowlite.shared.events import ActionExecuted

    chunks: list[list[Event]] = [[]]
    for event in events:
        if isinstance(event, ActionExecuted) and event.name == ACTION_SESSION_START \
                and chunks[-1]:
            chunks.append([])
        chunks[-1].append(event)
    return [chunk for chunk in chunks if chunk]


def sessions_story(sender_id: str, events: list[Event]) -> str:
    """Every session of a conversation as a story of its own (``?all_sessions=true``), in
    order, named ``"<id>, story <n>"`` when there are several; sessions with no step are
    left out."""
    from dialogflowlite.dialogue.story_export import WrittenStory, events_to_steps, stories_yaml
    from dialogflowlite.shared.tracker import applied_events

    steps = [events_to_steps(applied_events(chunk, keep_loop_turns=True))
             for chunk in session_chunks(events)]
    kept = [session for session in steps if session] or steps[-1:]
    if len(kept) == 1:
        return stories_yaml([WrittenStory(sender_id, kept[0])])
    # as Rasa names them, so each story's name is its own
    return stories_yaml([WrittenStory(f"{sender_id}, story {number}", session)
                         for number, session in enumerate(kept, 1)])


def _name_of(channel: Any) -> str | None:
    """The channel's name, which picks the responses' variations for it (None: no channel)."""
    return None if channel is None else channel.name()


def _message_id(body: dict[str, Any]) -> str | None:
    """The optional ``message_id``: text, or a number taken as text (as ``/model/parse``
    and the REST channel take it); 400 for anything else, which would be stored as
    Python's text for it."""
    from dialogflowlite.server import validation

    value = validation.field(body, "message_id", (str, int), required=False)
    return None if value is None else str(value)


def _until(tracker: DialogueStateTracker, timestamp: float) -> DialogueStateTracker:
    """The tracker as it was at ``timestamp`` (events up to and including it)."""
    from dialogflowlite.shared.tracker import DialogueStateTracker

    kept = [event for event in tracker.events if event.timestamp <= timestamp]
    slots = None if tracker.takes_any_slot else tracker.slot_defs.values()
    return DialogueStateTracker(tracker.sender_id, slots, kept)
