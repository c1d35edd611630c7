"""Reading ``domain.yml`` (or the files of a ``domain/`` folder) into a :class:`Domain`."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from pathlib import Path
from typing import Any

from dialogflowlite.errors import Position
from dialogflowlite.io import formats
from dialogflowlite.io.problems import ProblemLog
from dialogflowlite.io.yaml import position, to_plain, value_position
from dialogflowlite.shared.domain import (
    ACTION_QUERY_KNOWLEDGE_BASE,
    FROM_ENTITY,
    FROM_INTENT,
    FROM_TRIGGER_INTENT,
    KNOWLEDGE_BASE_SLOTS,
    MAPPING_TYPES,
    POSITION_FIELDS,
    REQUESTED_SLOT,
    SLOT_TYPES,
    Domain,
    EntityDef,
    FormDef,
    IntentDef,
    MappingCondition,
    ResponseDef,
    SessionConfig,
    SlotDef,
    SlotMapping,
    bool_slot_reading,
)


def _as_list(value: Any) -> list:
    if value is None:
        return []
    if isinstance(value, list):
        return list(value)
    return [value]


#: where YAML joins a list entry with a deeper-indented `- next` below it
_RUN_TOGETHER = re.compile(r"\s+-\s+")


def _on_one_line(where: Position, item: str) -> bool:
    """Whether ``item`` is written whole on its line of the file (a quoted name such as
    ``"Ask - Hours"``), so YAML did not join it from two lines."""
    if where.line is None:
        return False
    try:
        with open(where.file, encoding="utf-8-sig") as lines:
            for number, line in enumerate(lines, 1):
                if number == where.line:
                    return item in line
    except (OSError, UnicodeDecodeError):
        return False
    return False

#: the keys of a response variation whose value is text (Rasa's schema: str)
_TEXT_KEYS = ("text", "image", "channel")

#: what a response variation may show besides ``text`` and ``custom``
_OTHER_CONTENT = {"image": "an image", "buttons": "buttons", "quick_replies": "quick replies",
                  "attachment": "an attachment", "elements": "elements"}


def _fills_everywhere(mapping: SlotMapping, entity: str) -> bool:
    """Whether ``mapping`` is 2.0 auto-fill's own: ``entity`` with no filter or condition."""
    return (mapping.type == FROM_ENTITY and mapping.entity == entity
            and not (mapping.role or mapping.group or mapping.intent or mapping.not_intent
                     or mapping.conditions))


class DomainReader:
    """Reads domain sections from one or more files into one :class:`Domain`.

    Problems go to the shared :class:`ProblemLog`; a broken entry is skipped
    and reported, the rest still loads.
    """

    def __init__(self, log: ProblemLog, *, stored: bool = False) -> None:
        self.log = log
        #: reading the domain a model was trained with: what it holds is read as it is,
        #: without the checks a project must pass to train (a model trained by an
        #: earlier version, before a check was added, still loads)
        self.stored = stored
        self.domain = Domain()
        #: form name -> {slot: raw 2.0 mappings} waiting for slots to be known
        self._form_mappings: list[tuple[str, str, str, list, Any]] = []
        self._auto_fill: dict[str, bool] = {}
        self._versions: set[int] = set()
        #: the project being read: 0 the project itself, then 1, 2, ... for the projects
        #: it imports, in the order they are read (see :meth:`begin_imported_project`)
        self.layer = 0
        self._layer_of: dict[tuple[str, str], int] = {}

    def begin_imported_project(self) -> None:
        """What is read from now on comes from the next imported project: where it
        declares a name a project read earlier declares too, the earlier declaration
        is kept, as Rasa's domain merge keeps the importing project's."""
        self.layer += 1

    # ---------------------------------------------------------------- entry point

    def read(self, file: Path, data: Any, sections: tuple[str, ...] = formats.DOMAIN_KEYS) -> None:
        """Read the domain sections of one parsed YAML file."""
        if data is None:
            return
        if not self.log.expect(file, data, None, data, dict, "a domain file"):
            return
        version = data.get("version")
        major = formats.major_version(version) or formats.major_version(formats.LATEST_VERSION)
        self._versions.add(major)
        # Data files lend only their `responses:`; their version says nothing of the domain.
        is_domain_file = "version" in sections
        if is_domain_file and "version" in data and self._claim("version", ""):
            self.domain.version = str(version)
        if is_domain_file and self.domain.position is None:
            self.domain.position = position(file, data)
        readers = {
            "intents": self._intents,
            "entities": self._entities,
            "slots": self._slots,
            "responses": self._responses,
            "actions": self._actions,
            "forms": self._forms,
            "session_config": self._session_config,
            "config": self._config,
        }
        for key, value in data.items():
            reader = readers.get(key)
            # An empty section (`responses:` with nothing under it) declares nothing.
            if reader is not None and key in sections and value is not None:
                reader(file, data, key, value, major)

    def finish(self) -> Domain:
        """Apply what needs the whole domain (2.0 auto-fill, 2.0 form mappings)."""
        domain = self.domain
        for form, slot, _key, mappings, where in self._form_mappings:
            if slot not in domain.slots:
                self.log.error(
                    where,
                    f"form '{form}' requires slot '{slot}' that the domain lacks",
                    "declare it under slots:",
                )
                continue
            for mapping in mappings:
                if mapping.type in (FROM_ENTITY, FROM_TRIGGER_INTENT):
                    # 2.0 forms fill any of their slots from entities while active, and
                    # from the trigger intent as they start (no slot is asked then)
                    mapping.conditions = [MappingCondition(form, None)]
                else:
                    mapping.conditions = [MappingCondition(form, slot)]
                domain.slots[slot].mappings.append(mapping)
        for name, slot in domain.slots.items():
            auto_fill = (
                self._auto_fill.get(name)
                and name in domain.entities
                and domain.store_entities_as_slots
            )
            # A form's mapping of the entity (it has conditions) fills the slot only
            # while the form runs; 2.0 auto-fill fills it everywhere, as in Rasa.
            if auto_fill and not any(_fills_everywhere(m, name) for m in slot.mappings):
                slot.mappings.append(SlotMapping(FROM_ENTITY, entity=name))
        if domain.forms and REQUESTED_SLOT not in domain.slots:
            domain.slots[REQUESTED_SLOT] = SlotDef(
                REQUESTED_SLOT, "text", influence_conversation=False, declared=False
            )
        if ACTION_QUERY_KNOWLEDGE_BASE in domain.custom_actions:
            # Rasa SDK's knowledge-base action sets these, so Rasa's domain has them
            # (text slots that do not influence the conversation) unless declared
            for name in KNOWLEDGE_BASE_SLOTS:
                if name not in domain.slots:
                    domain.slots[name] = SlotDef(
                        name, "text", influence_conversation=False, declared=False)
        return domain

    # ---------------------------------------------------------------- sections

    def _intents(self, file: Path, parent: Any, key: str, value: Any, major: int) -> None:
        if not self.log.expect(file, parent, key, value, list, "'intents'"):
            return
        for index, item in enumerate(value):
            where = position(file, value, index)
            if isinstance(item, str):
                for name in self._list_items(where, item, "intent"):
                    self._add_intent(IntentDef(name, position=where))
            elif isinstance(item, dict) and len(item) == 1:
                name, props = next(iter(item.items()))
                props = props or {}
                if not self.log.expect(file, item, name, props, dict, f"intent '{name}'"):
                    continue
                self.log.check_keys(file, props, formats.INTENT_KEYS, f"intent '{name}'")
                use = props.get("use_entities", True)
                if use is None:
                    # `use_entities:` left empty means none, as in Rasa (False, None, [])
                    use = []
                elif isinstance(use, list):
                    use = [str(e) for e in use]
                elif not isinstance(use, bool):
                    self.log.error(
                        position(file, props, "use_entities"),
                        f"use_entities of intent '{name}' must be true, false or a list of "
                        f"entity names, not {to_plain(use)!r}",
                        f"write `use_entities: [{to_plain(use)}]`" if isinstance(use, str)
                        else "write `use_entities: [entity, ...]`")
                    use = True
                self._add_intent(
                    IntentDef(
                        str(name),
                        use_entities=use,
                        ignore_entities=[str(e) for e in _as_list(props.get("ignore_entities"))],
                        position=where,
                    )
                )
            else:
                self.log.error(
                    where,
                    f"intent entry {to_plain(item)!r} is neither a name nor "
                    "a single `name: {properties}` mapping",
                    "write `- greet` or `- greet: {use_entities: []}`",
                )

    def _add_intent(self, intent: IntentDef) -> None:
        self._declare("intent", intent.name, intent.position, self.domain.intents, intent)

    def _claim(self, kind: str, name: str) -> bool:
        """Whether the project being read may set ``kind`` ``name``: no project read
        earlier (an importing one) has set it. Records that this one does."""
        key = (kind, name)
        if self._layer_of.get(key, self.layer) < self.layer:
            return False
        self._layer_of[key] = self.layer
        return True

    def _declare(self, kind: str, name: str, where: Position | None,
                 table: dict[str, Any], value: Any) -> bool:
        """Put ``value`` in ``table`` under ``name``, and say whether it was.

        Within one project the declaration read last replaces an earlier one, with a
        warning: the earlier content would otherwise be lost without a word. An
        imported project's declaration does not replace the one of a project read
        before it (Rasa's domain merge keeps the first); a warning says so when the
        two differ.
        """
        earlier = table.get(name)
        at = getattr(earlier, "position", None)
        if earlier is not None and not self._claim(kind, name):
            if _content(earlier) != _content(value):
                self.log.warning(
                    where or self.domain.position,
                    f"{kind} '{name}' is declared differently"
                    + (f" at {at}" if at is not None else "")
                    + " (by the importing project, or one imported before this one), "
                      "whose declaration is used; this one is left out",
                    f"rename one of them, or make them the same {kind}")
            return False
        self._layer_of[(kind, name)] = self.layer
        if earlier is not None:
            also = f" (also at {at})" if at is not None and at != where else ""
            self.log.warning(where or self.domain.position,
                             f"{kind} '{name}' is declared twice{also}; this declaration "
                             "replaces the earlier one", "keep one of them")
        table[name] = value
        return True

    def _list_items(self, where: Position, item: str, kind: str) -> list[str]:
        """The names of one list entry: itself, or, where YAML ran two entries together
        (`- faq` with `    - ask_takeaway` indented deeper under it reads as the one name
        `faq - ask_takeaway`), each of them, with an error at the line. Without it
        every use of either name elsewhere was reported as missing, and the hint
        named the joined one."""
        parts = [part.strip() for part in _RUN_TOGETHER.split(item)]
        if self.stored or len(parts) == 1 or not all(parts) or \
                _on_one_line(where, item):
            return [item]
        self.log.error(where, f"{kind} '{item}' looks like {len(parts)} list items run "
                              f"together: `- {parts[1]}` is indented deeper than the "
                              f"`- {parts[0]}` above it, so YAML reads one name",
                       "indent every `- ` of the list the same")
        return parts

    def _entities(self, file: Path, parent: Any, key: str, value: Any, major: int) -> None:
        if not self.log.expect(file, parent, key, value, list, "'entities'"):
            return
        for index, item in enumerate(value):
            where = position(file, value, index)
            if isinstance(item, str):
                for name in self._list_items(where, item, "entity"):
                    self._declare("entity", name, where, self.domain.entities,
                                  EntityDef(name, position=where))
            elif isinstance(item, dict) and len(item) == 1:
                name, props = next(iter(item.items()))
                props = props or {}
                if not self.log.expect(file, item, name, props, dict, f"entity '{name}'"):
                    continue
                self.log.check_keys(file, props, formats.ENTITY_KEYS, f"entity '{name}'")
                self._declare("entity", str(name), where, self.domain.entities, EntityDef(
                    str(name),
                    roles=[str(r) for r in _as_list(props.get("roles"))],
                    groups=[str(g) for g in _as_list(props.get("groups"))],
                    influence_conversation=self.log.flag(file, props, "influence_conversation",
                                                      True, f"entity '{name}'"),
                    position=where,
                ))
            else:
                self.log.error(
                    where,
                    f"entity entry {to_plain(item)!r} is not a name",
                    "write `- city` or `- city: {roles: [from, to]}`",
                )

    def _slots(self, file: Path, parent: Any, key: str, value: Any, major: int) -> None:
        if not self.log.expect(file, parent, key, value, dict, "'slots'"):
            return
        for name, props in value.items():
            where = position(file, value, name)
            props = props if props is not None else {}
            if not self.log.expect(file, value, name, props, dict, f"slot '{name}'"):
                continue
            self.log.check_keys(file, props, formats.SLOT_KEYS, f"slot '{name}'")
            raw_type = str(props.get("type", "text" if major >= 3 else "unfeaturized"))
            slot_type = formats.SLOT_TYPE_ALIASES.get(raw_type, raw_type)
            if slot_type not in SLOT_TYPES:
                hint = (formats.did_you_mean(raw_type, SLOT_TYPES)
                        or f"use one of {', '.join(SLOT_TYPES)}")
                if "." in raw_type:
                    # a Rasa custom slot class (`addons.MySlot`): the slot still holds
                    # values, only its own featurization is lost
                    self.log.warning(
                        position(file, props, "type"),
                        f"slot '{name}' has the custom type '{raw_type}', a Python class "
                        "that is not run here; it is treated as 'any'", hint)
                else:
                    # a misspelt type would silently change what the policies see: Rasa
                    # refuses it too (InvalidSlotTypeException)
                    self.log.error(position(file, props, "type"),
                                   f"slot '{name}' has unknown type '{raw_type}'", hint)
                slot_type = "any"
            influence = self.log.flag(file, props, "influence_conversation", slot_type != "any",
                                   f"slot '{name}'")
            if slot_type == "any" and influence:
                self.log.error(
                    position(file, props, "influence_conversation"),
                    f"slot '{name}' of type 'any' cannot influence the conversation",
                    "set influence_conversation: false or choose another type",
                )
                influence = False
            given_values = props.get("values")
            if isinstance(given_values, dict):
                self.log.error(position(file, props, "values"),
                               f"values of slot '{name}' must be a list, not a mapping",
                               "write `values: [first, second]`")
                given_values = None
            values = [to_plain(v) for v in _as_list(given_values)]
            if slot_type == "categorical" and not values:
                self.log.warning(
                    where, f"categorical slot '{name}' lists no values", "add `values: [...]`"
                )
            initial = self._initial_value(file, props, str(name), slot_type, values)
            low, high = self._range(file, props, str(name), slot_type, initial)
            slot = SlotDef(
                str(name),
                slot_type,
                initial_value=initial,
                influence_conversation=bool(influence),
                values=values,
                min_value=low,
                max_value=high,
                position=where,
            )
            mappings = props.get("mappings")
            if mappings is not None:
                slot.mappings = self._mappings(file, props, "mappings", mappings, f"slot '{name}'")
            elif major >= 3:
                self.log.warning(
                    where,
                    f"slot '{name}' has no mappings, so only custom actions can set it",
                    "add `mappings:` (e.g. `- type: from_entity`)",
                )
            auto_fill = (self.log.flag(file, props, "auto_fill", True, f"slot '{name}'")
                         if major < 3 else None)
            if major < 3 and mappings is not None and "auto_fill" not in props:
                # `mappings:` are written for 3.x: 2.0's auto-fill beside them would fill
                # the slot everywhere, past the conditions they set
                self.log.warning(
                    position(file, props, "mappings"),
                    f"slot '{name}' has `mappings:`, which are 3.x, in a domain of version "
                    "2.x: they are read as written, without 2.0's auto-fill from the entity "
                    "of the same name",
                    'write `version: "3.1"` at the top of the file')
                auto_fill = False
            if self._declare("slot", slot.name, where, self.domain.slots, slot) and major < 3:
                self._auto_fill[slot.name] = auto_fill

    def _initial_value(self, file: Path, props: Any, name: str, slot_type: str,
                       values: list[Any]) -> Any:
        """A slot's ``initial_value``, checked against its type: a conversation starts
        from it, and the policies would read a value the type cannot hold (a float
        slot's ``abc``) as if the slot were empty, without a word."""
        value = to_plain(props.get("initial_value"))
        if value is None:
            return None
        where = value_position(file, props, "initial_value")
        what = f"slot '{name}'"
        if slot_type == "bool":
            return self._bool_initial_value(where, value, what)
        if slot_type == "float":
            if isinstance(value, str):
                try:
                    return float(value)
                except ValueError:
                    pass
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                self.log.error(where, f"initial_value of float {what} must be a number, not "
                                      f"{value!r}", "write a number, or leave it out")
                return None
        elif slot_type == "list" and not isinstance(value, list):
            self.log.warning(where, f"initial_value of list {what} is not a list; read as a "
                                    "list of that one value", f"write `initial_value: [{value}]`")
            return [value]
        elif slot_type == "categorical" and values and str(value).lower() not in {
                str(v).lower() for v in values}:
            self.log.warning(where, f"initial_value {value!r} of categorical {what} is not one "
                                    "of its values",
                             formats.did_you_mean(str(value), [str(v) for v in values])
                             or f"use one of: {', '.join(str(v) for v in values)}")
        return value

    def _bool_initial_value(self, where: Position | None, value: Any, what: str) -> bool | None:
        """A bool slot's ``initial_value`` read as Rasa's bool slots read it (``true``,
        ``"TRUE"``, ``1`` and ``"1"`` are true; a number other than 1 is false). A word
        such as ``no``, which YAML 1.2 reads as text and Rasa as no truth value at all,
        is read by its meaning with a warning; anything else leaves the slot empty,
        which is how Rasa's policies see it."""
        reading = bool_slot_reading(value)
        if reading is not None:
            if not isinstance(value, bool) and not reading and float(value) != 0:
                self.log.warning(where, f"initial_value {value!r} of bool {what} is read as "
                                        "false, as only 1 is true", "write true or false")
            return reading
        meaning = formats.flag_meaning(value) if isinstance(value, str) else None
        if meaning is not None:
            self.log.warning(where, f"initial_value of {what} is the text {value!r}, read as "
                                    f"{str(meaning).lower()}",
                             f"write `initial_value: {str(meaning).lower()}` (no quotes)")
            return meaning
        self.log.warning(where, f"initial_value of bool {what} must be true or false, not "
                                f"{value!r}; the slot starts empty",
                         "write `initial_value: true` or `initial_value: false`")
        return None

    def _has_template_problem(self, file: Path, variations: list, index: int,
                              variation: dict, response: str) -> bool:
        """Whether the variation's ``metadata.template`` names no known engine or its
        jinja template does not parse: an error at its line (the bot would refuse to
        start with the trained model), and the variation is left out."""
        metadata = variation.get("metadata")
        if not isinstance(metadata, dict) or "template" not in metadata:
            return False
        from dialogflowlite.components.generation.templates import template_problem

        problem = template_problem(to_plain(variation))
        if problem is None:
            return False
        self.log.error(position(file, variations, index),
                       f"variation {index + 1} of response '{response}': {problem[0]}",
                       problem[1])
        return True

    def _check_button(self, file: Path, buttons: Any, index: int, button: Any,
                      response: str) -> None:
        """A button needs a title to show and a payload to send back when clicked."""
        missing = [key for key in ("title", "payload") if button.get(key) in (None, "")]
        if missing:
            where = position(file, buttons, index) if isinstance(buttons, list) else None
            shown = button.get("title") or button.get("payload")
            self.log.warning(
                where or self.domain.position,
                f"button {str(shown)!r} of response '{response}' has no {missing[0]}"
                if shown else f"a button of response '{response}' has no title or payload",
                "give every button a `title` (what is shown) and a `payload` (what a click "
                "sends, e.g. /intent)")

    def _range(self, file: Path, props: Any, name: str, slot_type: str,
               initial: Any) -> tuple[float, float]:
        """A slot's ``min_value`` and ``max_value``. A float slot's value is featurised as
        its place between them, so with ``min_value >= max_value`` every value would read
        as the same number: an error, as Rasa's InvalidSlotConfigError (the defaults 0 and
        1 are used instead). An ``initial_value`` outside them is a warning, as in Rasa."""
        what = f"slot '{name}'"
        low = self._number(file, props, "min_value", 0.0, what)
        high = self._number(file, props, "max_value", 1.0, what)
        if slot_type != "float":
            return low, high
        if not low < high:
            key = "min_value" if "min_value" in props else "max_value"
            self.log.error(value_position(file, props, key),
                           f"float {what} has min_value {low:g} and max_value {high:g}; "
                           "min_value must be below max_value",
                           "make min_value smaller than max_value (by default they are 0 "
                           "and 1)")
            return 0.0, 1.0
        if (isinstance(initial, (int, float)) and not isinstance(initial, bool)
                and not low <= initial <= high):
            self.log.warning(value_position(file, props, "initial_value"),
                             f"initial_value {initial:g} of float {what} is outside its range "
                             f"{low:g} to {high:g}; the policies read it as "
                             f"{max(low, min(high, initial)):g}",
                             "use an initial_value between min_value and max_value, or widen "
                             "the range")
        return low, high

    def _number(self, file: Path, props: Any, key: str, default: float, what: str) -> float:
        value = props.get(key)
        if value is None:
            return default
        try:
            return float(value)
        except (TypeError, ValueError):
            self.log.error(
                value_position(file, props, key),
                f"{key} of {what} must be a number, not {to_plain(value)!r}",
            )
            return default

    def _mappings(
        self, file: Path, parent: Any, key: Any, value: Any, what: str
    ) -> list[SlotMapping]:
        if not self.log.expect(file, parent, key, value, list, f"mappings of {what}"):
            return []
        found: list[SlotMapping] = []
        for index, item in enumerate(value):
            where = position(file, value, index)
            if not self.log.expect(file, value, index, item, dict, f"a mapping of {what}"):
                continue
            self.log.check_keys(file, item, formats.MAPPING_KEYS, f"a mapping of {what}")
            mapping_type = str(item.get("type", FROM_ENTITY if "entity" in item else ""))
            if mapping_type not in MAPPING_TYPES:
                self.log.error(
                    position(file, item, "type") if "type" in item else where,
                    f"unknown slot mapping type '{mapping_type}' in {what}",
                    formats.did_you_mean(mapping_type, MAPPING_TYPES)
                    or f"use one of {', '.join(MAPPING_TYPES)}",
                )
                continue
            if mapping_type == FROM_ENTITY and not item.get("entity"):
                self.log.error(
                    where, f"from_entity mapping of {what} names no entity", "add `entity: <name>`"
                )
                continue
            if mapping_type in (FROM_INTENT, FROM_TRIGGER_INTENT) and "value" not in item:
                self.log.error(
                    where, f"{mapping_type} mapping of {what} has no value", "add `value: ...`"
                )
                continue
            if mapping_type in (FROM_INTENT, FROM_TRIGGER_INTENT) and item["value"] is None:
                self._warn_null_value(file, item, mapping_type, what)
            conditions = []
            for condition in _as_list(item.get("conditions")):
                if isinstance(condition, dict):
                    self.log.check_keys(
                        file, condition, formats.CONDITION_KEYS, f"a mapping condition of {what}"
                    )
                    loop = condition.get("active_loop")
                    requested = condition.get("requested_slot")
                    conditions.append(
                        MappingCondition(
                            None if loop is None else str(loop),
                            None if requested is None else str(requested),
                        )
                    )
            found.append(
                SlotMapping(
                    type=mapping_type,
                    entity=None if item.get("entity") is None else str(item["entity"]),
                    role=None if item.get("role") is None else str(item["role"]),
                    group=None if item.get("group") is None else str(item["group"]),
                    intent=[str(i) for i in _as_list(item.get("intent"))],
                    not_intent=[str(i) for i in _as_list(item.get("not_intent"))],
                    value=to_plain(item.get("value")),
                    action=None if item.get("action") is None else str(item["action"]),
                    conditions=conditions,
                    position=where,
                )
            )
        return found

    def _warn_null_value(self, file: Path, item: Any, mapping_type: str, what: str) -> None:
        """A ``from_intent`` / ``from_trigger_intent`` mapping with ``value: null`` is
        kept (it empties the slot) with a warning: Rasa refuses such a domain."""
        self.log.warning(
            position(file, item, "value"),
            f"{mapping_type} mapping of {what} has value null: it empties the slot; Rasa "
            "refuses a domain with this mapping",
            "give the value to set, or keep `value: null` only where Rasa need not read "
            "the domain",
        )

    def _responses(self, file: Path, parent: Any, key: str, value: Any, major: int) -> None:
        if not self.log.expect(file, parent, key, value, dict, "'responses'"):
            return
        for name, variations in value.items():
            where = position(file, value, name)
            if not self.log.expect(file, value, name, variations, list, f"response '{name}'"):
                continue
            kept = []
            for index, variation in enumerate(variations):
                if isinstance(variation, str):
                    variation = {"text": variation}
                if not self.log.expect(
                    file, variations, index, variation, dict, f"a variation of response '{name}'"
                ):
                    continue
                self.log.check_keys(
                    file, variation, formats.RESPONSE_KEYS, f"a variation of response '{name}'"
                )
                what = f"variation {index + 1} of response '{name}'"
                if not self._texts_are_text(file, variation, _TEXT_KEYS, what):
                    continue
                custom = variation.get("custom")
                if custom is not None and not self.log.expect(
                        file, variation, "custom", custom, dict, f"`custom` of {what}"):
                    continue  # a channel sends it as a JSON object (Rasa's schema: a map)
                for buttons_key in ("buttons", "quick_replies"):
                    given = variation.get(buttons_key)
                    # a channel reads them as a list of mappings: text or one mapping would
                    # be sent letter by letter, or stop the console (as Rasa's schema)
                    if given is None or not self.log.expect(
                            file, variation, buttons_key, given, list,
                            f"`{buttons_key}` of response '{name}'"):
                        continue
                    for button_index, button in enumerate(given):
                        if not self.log.expect(file, given, button_index, button, dict,
                                               f"a button of response '{name}'"):
                            continue
                        self.log.check_keys(
                            file, button, formats.BUTTON_KEYS, f"a button of response '{name}'"
                        )
                        self._texts_are_text(file, button, ("title", "payload"),
                                             f"button {button_index + 1} of response '{name}'")
                        self._check_button(file, given, button_index, button, str(name))
                if self._has_template_problem(file, variations, index, variation, str(name)):
                    continue
                if self._has_message(file, variations, index, variation, str(name)):
                    kept.append(to_plain(variation))
            if not variations:
                self.log.warning(where, f"response '{name}' has no variations, so it sends "
                                        "nothing", "add one: `- text: ...`")
            if not str(name).startswith("utter_"):
                self.log.warning(
                    where,
                    f"response '{name}' does not start with 'utter_', so no action can send it",
                    f"rename it to 'utter_{name}'",
                )
            self._declare("response", str(name), where, self.domain.responses,
                          ResponseDef(str(name), kept, where))

    def _texts_are_text(self, file: Path, mapping: dict, keys: tuple[str, ...],
                        what: str) -> bool:
        """Whether each of ``keys`` that ``mapping`` gives is text (or null). YAML reads
        `text: 42`, `title: 2024-01-01` or `payload: true` as a number, a date, a
        boolean: sent as such, stored events with them no longer read, and a date
        stopped training; Rasa's schema refuses them too."""
        fine = True
        for key in keys:
            value = mapping.get(key)
            if value is None or isinstance(value, str):
                continue
            if self.stored and not isinstance(value, (dict, list)):
                mapping[key] = str(value)  # as it was sent, as text
                continue
            kind = "a date" if isinstance(value, (dt.date, dt.datetime)) else (
                "a boolean" if isinstance(value, bool) else
                "a number" if isinstance(value, (int, float)) else f"a {type(value).__name__}")
            self.log.error(value_position(file, mapping, key),
                           f"`{key}` of {what} must be text, not {kind} ({value!s})",
                           f'put it in quotes (`{key}: "..."`): YAML reads unquoted numbers, '
                           "dates, true and false as such" if not isinstance(value, (dict, list))
                           else f"write the {key} as text", "DFL103")
            fine = False
        return fine

    def _has_message(self, file: Path, variations: Any, index: int, variation: Any,
                     response: str) -> bool:
        """Whether a response variation says something. Rasa refuses one without
        ``text`` or ``custom`` (its ``require_response_keys``), also one that shows only
        an image or buttons: an error, and the variation is left out. Without it the bot
        would answer with silence (``- text:`` is an empty text, ``- channel: rest`` a
        channel and nothing to send). An empty ``text`` alone is allowed, as in Rasa,
        and a warning."""
        where = position(file, variations, index)
        text, custom = variation.get("text"), variation.get("custom")
        shown = [what for key, what in _OTHER_CONTENT.items() if variation.get(key)]
        if text is None and not custom:
            self.log.error(
                where,
                f"variation {index + 1} of response '{response}' has "
                + (f"{shown[0]} but " if shown else "")
                + "no text and no custom payload (Rasa: \"Missing 'text' or 'custom' key in "
                "response\")",
                "give it a `text:` (it may be `text: \"\"` next to an image or buttons), or "
                "put a channel's own payload under `custom:`" if shown else
                "write `text: ...`, or put a channel's own payload under `custom:`")
            return False
        if not custom and not shown and not str(text).strip():
            self.log.warning(where, f"variation {index + 1} of response '{response}' has an "
                                    "empty text and nothing else, so the bot sends an empty "
                                    "message", "write what the bot should say")
        return True

    def _actions(self, file: Path, parent: Any, key: str, value: Any, major: int) -> None:
        if not self.log.expect(file, parent, key, value, list, "'actions'"):
            return
        for index, item in enumerate(value):
            # 3.x allows `- action_name: {send_domain: true}`
            name = next(iter(item)) if isinstance(item, dict) and len(item) == 1 else item
            if (isinstance(item, dict) and len(item) == 1
                    and not isinstance(item[name], (dict, type(None)))):
                # `- {name: action_y}` would declare an action called `name`
                self.log.error(
                    position(file, value, index),
                    f"action entry {to_plain(item)!r} is neither a name nor "
                    "`action_name: {send_domain: true}`",
                    f"write `- {to_plain(item[name])}`" if isinstance(item.get(name), str)
                    else "write `- action_name`")
                continue
            if not isinstance(name, str):
                self.log.error(
                    position(file, value, index),
                    f"action entry {to_plain(item)!r} is not a name",
                    "write `- action_name`",
                )
                continue
            for each in (self._list_items(position(file, value, index), name, "action")
                         if isinstance(item, str) else [name]):
                if each not in self.domain.custom_actions:
                    self.domain.custom_actions.append(each)
            props = item[name] if isinstance(item, dict) else None
            if isinstance(props, dict):
                self.log.check_keys(file, props, formats.ACTION_KEYS, f"action '{name}'")
                if self.log.flag(file, props, "send_domain", False, f"action '{name}'"):
                    self.domain.send_domain_actions.add(name)

    def _forms(self, file: Path, parent: Any, key: str, value: Any, major: int) -> None:
        if value is None:
            return
        if not self.log.expect(file, parent, key, value, dict, "'forms'"):
            return
        for name, props in value.items():
            where = position(file, value, name)
            props = props if props is not None else {}
            if not self.log.expect(file, value, name, props, dict, f"form '{name}'"):
                continue
            form = FormDef(str(name), position=where)
            form_mappings = []
            form.ignored_intents = [str(i) for i in _as_list(props.get("ignored_intents"))]
            ignored = props.get("ignored_intents")
            if isinstance(ignored, list):
                for index, intent in enumerate(ignored):
                    form.entry_positions.setdefault(
                        f"ignored_intents:{intent}", position(file, ignored, index))
            required = props.get("required_slots")
            unknown = [k for k in props if k not in formats.FORM_KEYS]
            # only a near miss: a file without `version:` reads as 3.x, and may be one
            # part of a 2.0 domain with a form's slots right under its name
            misspelt = unknown and formats.did_you_mean(str(unknown[0]), formats.FORM_KEYS)
            if required is None and "required_slots" not in props and major >= 3 and misspelt:
                # slot mappings directly under the form name are 2.0's: in a 3.x domain
                # such a key is a misspelt `required_slots`, not a slot
                self.log.error(
                    position(file, props, unknown[0]),
                    f"form '{name}' has no required_slots, and '{unknown[0]}' is no key of "
                    "a 3.x form", misspelt)
                required, holder = [], props
            elif required is None and "required_slots" not in props:
                # 2.0 also allows slot mappings directly under the form name.
                required = {k: v for k, v in props.items() if k != "ignored_intents"}
                holder = props
            else:
                self.log.check_keys(file, props, formats.FORM_KEYS, f"form '{name}'")
                holder = required
            if isinstance(required, list):
                for index, slot in enumerate(required):
                    if isinstance(slot, str):
                        form.required_slots.append(slot)
                        form.entry_positions.setdefault(f"required_slots:{slot}",
                                                        position(file, required, index))
                    else:
                        self.log.error(
                            position(file, required, index),
                            f"required slot {to_plain(slot)!r} of form '{name}' is not a slot name",
                            "list slot names under required_slots",
                        )
            elif isinstance(required, dict):
                for slot, mappings in required.items():
                    form.required_slots.append(str(slot))
                    slot_where = position(file, holder, slot)
                    parsed = self._mappings(
                        file, required, slot, mappings or [], f"slot '{slot}' of form '{name}'"
                    )
                    form_mappings.append((form.name, str(slot), key, parsed, slot_where))
            else:
                self.log.error(
                    value_position(file, props, "required_slots"),
                    f"required_slots of form '{name}' must be a list of slot names",
                    "write `required_slots: [slot_a, slot_b]`",
                )
            if self._declare("form", form.name, form.position, self.domain.forms, form):
                self._form_mappings.extend(form_mappings)

    def _session_config(self, file: Path, parent: Any, key: str, value: Any, major: int) -> None:
        if not self.log.expect(file, parent, key, value, dict, "'session_config'"):
            return
        self.log.check_keys(file, value, formats.SESSION_CONFIG_KEYS, "session_config")
        expiry = value.get("session_expiration_time")
        if expiry is None:
            # left out or `null`: Rasa's default of 60 minutes
            expiry = 60
        try:
            expiry = float(expiry)
        except (TypeError, ValueError):
            self.log.error(
                value_position(file, value, "session_expiration_time"),
                f"session_expiration_time must be a number of minutes, not {expiry!r}",
            )
            expiry = 60.0
        if not expiry >= 0:
            # Rasa's schema requires >= 0 (0: sessions never expire); a negative number
            # would otherwise silently mean "never" too
            self.log.error(
                value_position(file, value, "session_expiration_time"),
                f"session_expiration_time must be 0 or more minutes, not {expiry:g}",
                "write a number of minutes, or 0 for sessions that never expire",
            )
            expiry = 60.0
        config = SessionConfig(
            expiry, self.log.flag(file, value, "carry_over_slots_to_new_session", True,
                               "session_config")
        )
        if self._claim("session_config", ""):
            self.domain.session_config = config

    def _config(self, file: Path, parent: Any, key: str, value: Any, major: int) -> None:
        if not self.log.expect(file, parent, key, value, dict, "'config'"):
            return
        self.log.check_keys(file, value, formats.DOMAIN_CONFIG_KEYS, "the domain's config")
        store = self.log.flag(file, value, "store_entities_as_slots", True,
                              "the domain's config")
        if "store_entities_as_slots" in value and self._claim("store_entities_as_slots", ""):
            self.domain.store_entities_as_slots = store


def _content(declaration: Any) -> Any:
    """A declaration without its positions, to compare two of them."""
    if dataclasses.is_dataclass(declaration) and not isinstance(declaration, type):
        return {f.name: _content(getattr(declaration, f.name))
                for f in dataclasses.fields(declaration) if f.name not in POSITION_FIELDS}
    if isinstance(declaration, (list, tuple)):
        return [_content(item) for item in declaration]
    if isinstance(declaration, dict):
        return {key: _content(item) for key, item in declaration.items()}
    return declaration
