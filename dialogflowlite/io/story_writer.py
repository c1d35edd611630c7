"""Stories and rules written back as YAML, in the format the loader reads (and Rasa 3).

Used by ``dialogflowlite data convert core``. Reading what this writes gives
the same steps: intents with their entities (values, roles, groups),
end-to-end user text with its annotation, actions and bot text, slots,
active loops, checkpoints with their slot conditions, ``or`` steps, and for
rules their condition, ``conversation_start`` and ``wait_for_user_input``.
(Conversations, which are events rather than steps, are written by
:mod:`dialogflowlite.dialogue.story_export`.)
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from dialogflowlite.io.yaml import yaml_scalar
from dialogflowlite.shared.message import Entity
from dialogflowlite.shared.stories import (
    ANY_SLOT_VALUE,
    ActionStep,
    ActiveLoopStep,
    CheckpointStep,
    OrStep,
    SlotStep,
    Step,
    Story,
    UserStep,
)
from dialogflowlite.shared.training_data import annotate

STORY_FORMAT_VERSION = "3.1"


def _slots(slots: dict[str, Any]) -> list[str]:
    lines = []
    for name, value in slots.items():
        if value == ANY_SLOT_VALUE:
            lines.append(f"- {yaml_scalar(name)}")
        else:
            lines.append(f"- {yaml_scalar(name)}: {yaml_scalar(value)}")
    return lines


def _entity(entity: Entity) -> str:
    # `- entity: x` would read as the long form, so that name takes the long form too
    if entity.role or entity.group or entity.entity == "entity":
        detail: dict[str, Any] = {"entity": entity.entity}
        if entity.value is not None:
            detail["value"] = entity.value
        if entity.role:
            detail["role"] = entity.role
        if entity.group:
            detail["group"] = entity.group
        return f"- {json.dumps(detail, ensure_ascii=False)}"
    if entity.value is None:
        return f"- {yaml_scalar(entity.entity)}"
    return f"- {yaml_scalar(entity.entity)}: {yaml_scalar(entity.value)}"


def _user(step: UserStep) -> list[str]:
    lines = []
    if step.intent is not None:
        lines.append(f"intent: {yaml_scalar(step.intent)}")
    listed = step.entities
    if step.text is not None:
        spans = [e for e in step.entities if e.end > e.start]
        listed = [e for e in step.entities if e.end <= e.start]
        lines.append(f"user: {json.dumps(annotate(step.text, spans), ensure_ascii=False)}")
    if listed:
        lines.append("entities:")
        lines += [f"  {_entity(e)}" for e in listed]
    return lines or ["intent: null"]


def _step(step: Step) -> list[str]:
    """One step as YAML lines without the leading ``- `` (the caller indents them)."""
    if isinstance(step, UserStep):
        return _user(step)
    if isinstance(step, ActionStep):
        if step.name is None and step.bot_text is not None:
            return [f"bot: {json.dumps(step.bot_text, ensure_ascii=False)}"]
        return [f"action: {yaml_scalar(step.name)}"]
    if isinstance(step, SlotStep):
        return ["slot_was_set:", *(f"  {line}" for line in _slots(step.slots))]
    if isinstance(step, ActiveLoopStep):
        return [f"active_loop: {yaml_scalar(step.name)}"]
    if isinstance(step, CheckpointStep):
        lines = [f"checkpoint: {yaml_scalar(step.name)}"]
        if step.slot_conditions:
            lines += ["slot_was_set:", *(f"  {line}" for line in _slots(step.slot_conditions))]
        return lines
    if isinstance(step, OrStep):
        lines = ["or:"]
        for alternative in step.alternatives:
            lines += _item(_step(alternative), "  ")
        return lines
    raise TypeError(f"not a story step: {step!r}")


def _item(lines: list[str], indent: str) -> list[str]:
    """``lines`` as one YAML list item: ``- `` before the first, two spaces before the rest."""
    return [f"{indent}- {lines[0]}", *(f"{indent}  {line}" for line in lines[1:])]


def _story(story: Story) -> list[str]:
    key = "rule" if story.kind == "rule" else "story"
    lines = [f"- {key}: {json.dumps(story.name, ensure_ascii=False)}"]
    if story.kind == "rule":
        if story.conversation_start:
            lines.append("  conversation_start: true")
        if story.condition:
            lines.append("  condition:")
            for step in story.condition:
                lines += _item(_step(step), "  ")
        if not story.wait_for_user_input:
            lines.append("  wait_for_user_input: false")
    if story.metadata:
        lines.append(f"  metadata: {json.dumps(story.metadata, ensure_ascii=False)}")
    lines.append("  steps:" if story.steps else "  steps: []")
    for step in story.steps:
        lines += _item(_step(step), "  ")
    return lines


def stories_and_rules_yaml(stories: Sequence[Story]) -> str:
    """The text of one YAML data file: ``stories:`` and ``rules:`` (each only when used)."""
    lines = [f'version: "{STORY_FORMAT_VERSION}"']
    rules = [s for s in stories if s.kind == "rule"]
    others = [s for s in stories if s.kind != "rule"]
    for key, group in (("stories", others), ("rules", rules)):
        if group or (key == "stories" and not rules):
            lines += ["", f"{key}:" if group else f"{key}: []"]
            for story in group:
                lines += _story(story)
    return "\n".join(lines) + "\n"


def write_stories_and_rules(stories: Sequence[Story], path: str | Path) -> Path:
    """Write ``stories`` (and rules) to ``path`` (UTF-8), creating its folder; returns the path."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(stories_and_rules_yaml(stories), encoding="utf-8")
    return target


def write_story_file(data: Any, path: str | Path) -> Path:
    """Write a stories file's YAML, as :func:`~dialogflowlite.io.yaml.read_yaml_file` read it.

    ``data`` is the file's top-level mapping (with its lists changed, say): the
    round trip keeps what the file said as it said it (comments, quoting, the
    layout of each step), which rewriting it from parsed stories would not.
    Creates the folder; returns ``path``.
    """
    import io

    from ruamel.yaml import YAML

    yaml = YAML(typ="rt")
    yaml.indent(mapping=2, sequence=2, offset=0)
    yaml.width = 4096  # long user texts stay on one line
    stream = io.StringIO()
    yaml.dump(data, stream)
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(stream.getvalue(), encoding="utf-8")
    return target
