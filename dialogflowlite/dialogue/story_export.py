"""Conversations written back as YAML stories.

Used for ``GET /conversations/{id}/story`` and for the failed test stories of
``dialogflowlite test``, where a step may carry a ``# predicted: ...`` comment.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from dialogflowlite.io.yaml import yaml_scalar
from dialogflowlite.shared.domain import ACTION_LISTEN, ACTION_SESSION_START
from dialogflowlite.shared.events import (
    ActionExecuted,
    ActiveLoop,
    Event,
    SlotSet,
    UserUttered,
    bot_text,
)
from dialogflowlite.shared.message import full_intent_name
from dialogflowlite.shared.tracker import applied_events

STORY_FORMAT_VERSION = "3.1"


@dataclass
class StoryStepText:
    """One written step: its YAML lines (the first holds the ``- `` marker) and a comment."""

    lines: list[str]
    comment: str | None = None


@dataclass
class WrittenStory:
    """A story to write: a name and its steps."""

    name: str
    steps: list[StoryStepText] = field(default_factory=list)


def annotated_text(text: str, entities: Sequence[dict[str, Any]]) -> str:
    """``text`` with Rasa's inline entity annotation (``[Berlin](city)``)."""
    spans = sorted((e for e in entities
                    if isinstance(e.get("start"), int) and isinstance(e.get("end"), int)
                    and e["end"] > e["start"]), key=lambda e: e["start"])
    out, position = [], 0
    for entity in spans:
        start, end = entity["start"], entity["end"]
        if start < position or end > len(text):
            continue
        surface = text[start:end]
        out.append(text[position:start])
        extra = {key: entity[key] for key in ("role", "group") if entity.get(key)}
        if str(entity.get("value")) != surface or extra:
            detail = {"entity": entity["entity"], **extra}
            if str(entity.get("value")) != surface:
                detail["value"] = entity.get("value")
            out.append(f"[{surface}]{json.dumps(detail, ensure_ascii=False)}")
        else:
            out.append(f"[{surface}]({entity['entity']})")
        position = end
    out.append(text[position:])
    return "".join(out)


def story_intent(event: UserUttered) -> str | None:
    """The intent a story step names for ``event``: a retrieval intent in full
    (``faq/ask_hours``), as Rasa writes it, else the parsed intent.

    A test story's event carries the full name itself; a live message has it
    only in the response selector's answer, which is used when it belongs to
    the parsed intent (a ``default`` selector answers for every message, a
    greeting included).
    """
    full_name = (event.parse_data.get("intent") or {}).get("full_retrieval_intent_name")
    return full_name or full_intent_name(event.parse_data) or event.intent_name


def user_step(event: UserUttered, comment: str | None = None) -> StoryStepText:
    """The story step of a user message: its intent, text (annotated) or entities."""
    lines = []
    intent = story_intent(event)
    if intent:
        lines.append(f"- intent: {yaml_scalar(intent)}")
    entities = event.entities
    if event.text and not event.text.startswith("/"):
        text = annotated_text(event.text, entities)
        head = "- " if not lines else "  "
        lines.append(f"{head}user: |-")
        lines += [f"    {line}" for line in text.splitlines() or [""]]
    elif entities:
        lines.append("  entities:")
        for entity in entities:
            name, value = yaml_scalar(entity.get("entity")), yaml_scalar(entity.get("value"))
            lines.append(f"  - {name}: {value}")
    if not lines:
        lines.append("- intent: null")
    return StoryStepText(lines, comment)


def events_to_steps(events: Iterable[Event],
                    comments: dict[int, str] | None = None) -> list[StoryStepText]:
    """Story steps for ``events`` (``comments`` by event index go on the steps)."""
    comments = comments or {}
    steps: list[StoryStepText] = []
    pending_slots: list[tuple[str, Any]] = []

    def flush() -> None:
        if pending_slots:
            lines = ["- slot_was_set:"] + [f"  - {yaml_scalar(name)}: {yaml_scalar(value)}"
                                           for name, value in pending_slots]
            steps.append(StoryStepText(lines))
            pending_slots.clear()

    for index, event in enumerate(events):
        if isinstance(event, SlotSet):
            pending_slots.append((event.name, event.value))
            continue
        if isinstance(event, UserUttered):
            flush()
            steps.append(user_step(event, comments.get(index)))
        elif isinstance(event, ActionExecuted):
            if event.name in (ACTION_LISTEN, ACTION_SESSION_START) and index not in comments:
                continue
            flush()
            # a story's bot step runs as action_send_text with its text: written back as `bot:`
            if bot_text(event):
                steps.append(StoryStepText([f"- bot: {yaml_scalar(event.action_text)}"],
                                           comments.get(index)))
            else:
                steps.append(StoryStepText([f"- action: {yaml_scalar(event.name)}"],
                                           comments.get(index)))
        elif isinstance(event, ActiveLoop):
            flush()
            steps.append(StoryStepText([f"- active_loop: {yaml_scalar(event.name)}"]))
    flush()
    return steps


def stories_yaml(stories: Sequence[WrittenStory]) -> str:
    """The YAML text of ``stories`` (``version`` and ``stories:``)."""
    lines = [f'version: "{STORY_FORMAT_VERSION}"', "stories:"]
    for story in stories:
        lines.append(f"- story: {json.dumps(story.name, ensure_ascii=False)}")
        # a conversation with no step yet (only its session start) is an empty list,
        # not a null that story readers refuse
        lines.append("  steps:" if story.steps else "  steps: []")
        for step in story.steps:
            for number, line in enumerate(step.lines):
                text = f"  {line}"
                if number == 0 and step.comment:
                    text += f"  # {' '.join(step.comment.split())}"
                lines.append(text)
    return "\n".join(lines) + "\n"


def conversation_story(sender_id: str, events: Iterable[Event]) -> str:
    """A conversation's applied events as one YAML story (``GET /story``)."""
    steps = events_to_steps(applied_events(events, keep_loop_turns=True))
    return stories_yaml([WrittenStory(sender_id, steps)])
