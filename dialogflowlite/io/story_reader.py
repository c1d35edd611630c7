"""Reading ``stories:`` and ``rules:`` sections (training data and test stories)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dialogflowlite.errors import AnnotationError, Position
from dialogflowlite.io import formats
from dialogflowlite.io.nlu_reader import locate_text
from dialogflowlite.io.problems import ProblemLog
from dialogflowlite.io.yaml import position, to_plain, value_position
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
    StoryKind,
    UserStep,
)
from dialogflowlite.shared.training_data import parse_annotated_text

#: the kind of step each step key makes (Rasa's stories schema): a step is of one kind,
#: except that a checkpoint may carry ``slot_was_set`` conditions
STEP_KINDS = {
    "intent": "user",
    "user": "user",
    "entities": "user",
    "action": "action",
    "bot": "bot",
    "slot_was_set": "slot_was_set",
    "active_loop": "active_loop",
    "checkpoint": "checkpoint",
    "or": "or",
}

#: the only steps a rule's ``condition`` may hold (Rasa's rule schema)
CONDITION_KEYS = ("active_loop", "slot_was_set")

#: step keys whose value names something, so an empty one leaves the step meaningless
#: (``active_loop: null`` is meaningful: no loop is active)
NAMING_KEYS = ("intent", "user", "action", "bot", "checkpoint")


class StoryReader:
    """Turns YAML story and rule items into :class:`Story` objects."""

    def __init__(self, log: ProblemLog) -> None:
        self.log = log

    def read(self, file: Path, parent: Any, key: str, value: Any, kind: StoryKind) -> list[Story]:
        """Read the value of a ``stories:`` or ``rules:`` key."""
        if value is None:
            return []
        if not self.log.expect(file, parent, key, value, list, f"'{key}'"):
            return []
        found: list[Story] = []
        title_key = "rule" if key == "rules" else "story"
        for index, item in enumerate(value):
            where = position(file, value, index)
            if not self.log.expect(file, value, index, item, dict, f"an item of '{key}'"):
                continue
            known = formats.RULE_KEYS if title_key == "rule" else formats.STORY_KEYS
            self.log.check_keys(file, item, known, f"a {title_key}")
            name = item.get(title_key)
            if name is None:
                self.log.error(
                    where, f"{title_key} without a name", f"start it with `- {title_key}: <name>`"
                )
                name = f"<unnamed {title_key} at line {where.line}>"
            steps_raw = item.get("steps")
            if steps_raw is None:
                self.log.error(where, f"{title_key} '{name}' has no steps", "add `steps:`")
                continue
            if steps_raw == []:
                # read, it teaches nothing: say so, as for a story without `steps:`
                teaches = "tests" if kind == "test" else "teaches"
                self.log.warning(where, f"{title_key} '{name}' has no steps (`steps: []`), so "
                                        f"it {teaches} nothing", "add its steps, or remove it")
            story = Story(
                name=str(name),
                kind="rule" if title_key == "rule" else kind,
                steps=self._steps(file, item, "steps", steps_raw, str(name),
                                  in_rule=title_key == "rule"),
                metadata=to_plain(item.get("metadata")) or {},
                position=where,
            )
            if title_key == "rule":
                condition = self._condition(file, item, str(name))
                if condition is None:
                    continue
                story.condition = condition
                story.conversation_start = self.log.flag(file, item, "conversation_start",
                                                         False, f"rule '{name}'")
                story.wait_for_user_input = self.log.flag(file, item, "wait_for_user_input",
                                                          True, f"rule '{name}'")
            found.append(story)
        return found

    def _condition(self, file: Path, item: Any, rule: str) -> list[Step] | None:
        """A rule's ``condition``; None (reported) when it is not a list of ``active_loop``
        and ``slot_was_set`` steps, as Rasa's rule schema requires. Such a rule is left
        out: without its condition it would apply where it must not, and training cannot
        make an ``or``, a user turn or an action into a condition."""
        raw = item.get("condition")
        if raw is None:
            return []
        if not self.log.expect(file, item, "condition", raw, list, f"condition of rule '{rule}'"):
            return None
        allowed = True
        for index, step in enumerate(raw):
            keys = step if isinstance(step, dict) else {}
            wrong = [k for k in keys if k in STEP_KINDS and k not in CONDITION_KEYS]
            if wrong:
                allowed = False
                self.log.error(
                    position(file, raw, index),
                    f"`{wrong[0]}` in the condition of rule '{rule}': a condition holds only "
                    "`active_loop` and `slot_was_set` steps, so the rule is left out",
                    "write one rule per alternative" if wrong[0] == "or"
                    else "move the step into the rule's `steps:`",
                )
        if not allowed:
            return None
        errors = len(self.log.errors)
        steps = self._steps(file, item, "condition", raw, rule)
        # a condition with a step left out would let the rule apply too widely
        return steps if len(self.log.errors) == errors else None

    def _steps(
        self, file: Path, parent: Any, key: str, value: Any, story: str, in_rule: bool = False
    ) -> list[Step]:
        if value is None:
            return []
        if not self.log.expect(file, parent, key, value, list, f"{key} of '{story}'"):
            return []
        steps: list[Step] = []
        for index, item in enumerate(value):
            step = self._step(file, value, index, item, story, in_rule)
            if step is not None:
                steps.append(step)
        return steps

    def _step(
        self, file: Path, steps: Any, index: int, item: Any, story: str, in_rule: bool
    ) -> Step | None:
        where = position(file, steps, index)
        if not self.log.expect(file, steps, index, item, dict, f"a step of '{story}'"):
            return None
        if any(key in item for key in formats.STEP_KIND_KEYS):
            # (a step of no kind, `actoin:`, is one error below with the did-you-mean)
            self.log.check_keys(file, item, formats.STEP_KEYS, f"a step of '{story}'")
        if not self._one_kind(where, item, story) or self._empty(file, item, story):
            return None
        if in_rule and "checkpoint" in item:
            self.log.error(where, f"rule '{story}' has a checkpoint, but rules cannot have any",
                           "checkpoints join stories: write the rule out in full, or make "
                           "it a story")
            return None
        if in_rule and "bot" in item:
            # Rasa's rule schema has no `bot` step, so Rasa refuses the file: a rule
            # predicts actions by name, and a bot text names none
            self.log.error(where, f"rule '{story}' has a `bot` step, but rules cannot have any",
                           "write the response's name as `- action: utter_...`, or make it "
                           "a story")
            return None
        if "intent" in item or "user" in item:
            return self._user_step(file, item, story)
        if "action" in item or "bot" in item:
            name = item.get("action")
            if isinstance(name, (list, dict)):
                self.log.error(value_position(file, item, "action"),
                               f"the action of a step of '{story}' must be one name, not a "
                               f"{'list' if isinstance(name, list) else 'mapping'}",
                               "write one `- action: name` step per action")
                return None
            return ActionStep(
                name=None if name is None else str(name),
                bot_text=None if item.get("bot") is None else str(item["bot"]).strip(),
                position=where,
            )
        # before slot_was_set: a checkpoint's slot conditions are written under that key,
        # as in a slot_was_set step (Rasa's list of `- slot: value`)
        if "checkpoint" in item:
            conditions = {}
            if item.get("slot_was_set") is not None:
                conditions = self._slot_step(file, item, story).slots
            return CheckpointStep(str(item["checkpoint"]), conditions, where)
        if "slot_was_set" in item:
            return self._slot_step(file, item, story)
        if "active_loop" in item:
            loop = item.get("active_loop")
            return ActiveLoopStep(None if loop is None else str(loop), where)
        if "or" in item:
            alternatives: list[UserStep | SlotStep] = []
            raw = item["or"]
            if not self.log.expect(file, item, "or", raw, list, f"an 'or' step of '{story}'"):
                return None
            if not raw:
                # skipped when the paths are expanded: the story would lose a turn unsaid
                self.log.warning(where, f"an 'or' step of '{story}' has no alternatives, so "
                                        "it is skipped",
                                 "list them: `- or: [{intent: a}, {intent: b}]`")
            for alt_index, alternative in enumerate(raw):
                parsed = self._step(file, raw, alt_index, alternative, story, in_rule)
                if isinstance(parsed, (UserStep, SlotStep)):
                    alternatives.append(parsed)
                elif parsed is not None:
                    self.log.error(
                        position(file, raw, alt_index),
                        f"an 'or' step of '{story}' may hold only intents or slots",
                    )
            return OrStep(alternatives, where)
        self.log.error(
            where,
            f"step of '{story}' has none of the step keys "
            + ", ".join(f"`{key}`" for key in formats.STEP_KIND_KEYS[:-1])
            + f" or `{formats.STEP_KIND_KEYS[-1]}`",
            formats.did_you_mean(str(next(iter(item), "")), formats.STEP_KEYS),
        )
        return None

    def _one_kind(self, where: Position, item: Any, story: str) -> bool:
        """Whether the step's keys make one kind of step; reported when not. Rasa refuses
        a step such as ``intent`` with ``action``, and reading it as either one would
        silently drop the other."""
        first: dict[str, str] = {}
        for key in item:
            kind = STEP_KINDS.get(str(key))
            if kind is not None:
                first.setdefault(kind, str(key))
        if "checkpoint" in first:
            first.pop("slot_was_set", None)  # the checkpoint's slot conditions
        if len(first) < 2:
            return True
        keys = [f"`{key}`" for key in first.values()]
        self.log.error(
            where,
            f"a step of '{story}' has {', '.join(keys[:-1])} and {keys[-1]}, but one step "
            "is only one of them",
            "write one step for each: " + ", then ".join(f"`- {k}: ...`" for k in first.values()),
        )
        return False

    def _empty(self, file: Path, item: Any, story: str) -> bool:
        """Whether the step leaves a name empty (``- action:``); reported when it does.
        Read as it stands, an empty action would run as the bot saying nothing."""
        empty = [k for k in NAMING_KEYS
                 if k in item and (item[k] is None or not str(item[k]).strip())]
        for key in empty:
            self.log.error(position(file, item, key),
                           f"a step of '{story}' has an empty `{key}`",
                           f"write the {'text' if key in ('user', 'bot') else 'name'} after "
                           f"`{key}:`, or remove the step")
        return bool(empty)

    def _user_step(self, file: Path, item: Any, story: str) -> UserStep:
        where = position(file, item)
        step = UserStep(position=where)
        if item.get("intent") is not None:
            step.intent = str(item["intent"])
        text = item.get("user")
        if text is not None:
            text = str(text).strip()
            warnings: list[AnnotationError] = []
            try:
                plain, entities = parse_annotated_text(
                    text, locate_text(value_position(file, item, "user"), text), warnings
                )
                step.text = plain
                step.entities = entities
            except AnnotationError as e:
                self.log.add(e, file)
                step.text = text
            self.log.add_warnings(warnings, file)
        entities = item.get("entities") or []
        if not isinstance(entities, list):
            # a single name or mapping is not iterated into letters or keys
            self.log.warning(value_position(file, item, "entities"),
                             f"the entities of a user step of '{story}' are not a list; read "
                             "as one entity", "write them as a list: `entities: [city]`")
            entities = [entities]
        listed = item.get("entities")
        for index, entity in enumerate(entities):
            # each entry at its own line (the list's start for one read from a single value)
            where = (position(file, listed, index) if isinstance(listed, list)
                     else value_position(file, item, "entities"))
            parsed = self._entity(file, where, entity, story)
            if parsed is not None:
                step.entities.append(parsed)
        return step

    def _entity(self, file: Path, where: Position, entity: Any, story: str) -> Entity | None:
        if isinstance(entity, str):
            return Entity(entity, 0, 0, None)
        if isinstance(entity, dict):
            if "entity" in entity:
                self.log.check_keys(
                    file, entity, formats.STORY_ENTITY_KEYS, f"an entity of '{story}'"
                )
                role, group = entity.get("role"), entity.get("group")
                return Entity(
                    str(entity["entity"]),
                    0,
                    0,
                    to_plain(entity.get("value")),
                    role=None if role is None else str(role),
                    group=None if group is None else str(group),
                )
            if len(entity) == 1:
                name, value = next(iter(entity.items()))
                return Entity(str(name), 0, 0, to_plain(value))
        self.log.error(
            where,
            f"entity {to_plain(entity)!r} in '{story}' is not understood",
            "write `- city: Berlin` or `- entity: city`",
        )
        return None

    def _slot_step(self, file: Path, item: Any, story: str) -> SlotStep:
        raw = item.get("slot_was_set")
        slots: dict[str, Any] = {}
        for entry in raw if isinstance(raw, list) else [raw]:
            if isinstance(entry, str):
                # `- slot_name` means "was set to some value".
                slots[entry] = ANY_SLOT_VALUE
            elif isinstance(entry, dict):
                slots.update({str(k): to_plain(v) for k, v in entry.items()})
            else:
                self.log.error(
                    value_position(file, item, "slot_was_set"),
                    f"slot_was_set entry {to_plain(entry)!r} in '{story}' is not understood",
                    "write `- slot_name: value`",
                )
        return SlotStep(slots, position(file, item))
