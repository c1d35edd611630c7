"""Reading Rasa's Markdown training data: NLU files and stories.

Rasa 1.x wrote its training data in Markdown and Rasa 2.x still read it (as
a deprecated format). The readers here turn it into the objects the YAML
readers produce, so the rest of the project cannot tell the difference:

* NLU (:func:`read_markdown_nlu`): ``## intent:greet`` followed by ``- hello``
  items (``*`` and ``+`` work too) with inline entity annotation,
  ``## synonym:value``, ``## regex:name`` and ``## lookup:name`` with listed
  elements or the path of a text file with one element per line;
* stories (:func:`read_markdown_stories`): ``## story name``, user steps
  ``* intent{"entity": "value"}`` (``* a OR b`` for alternatives,
  ``* intent: text`` for end-to-end steps), ``- action`` steps,
  ``- slot{"name": "value"}``, ``- form{"name": "x"}`` and
  ``- active_loop{"name": "x"}`` (``null`` deactivates), ``> checkpoint``
  lines (with ``{"slot": "value"}`` conditions at a story's start), and
  Rasa 2.0's ``>> rule name`` blocks with ``- ...`` markers.

``<!-- comments -->`` may span lines. Every mistake becomes one problem on the
given :class:`ProblemLog`, at the file, line and column where it is.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ruamel.yaml.comments import CommentedMap, CommentedSeq

from dialogflowlite.errors import AnnotationError, Position
from dialogflowlite.io.formats import did_you_mean
from dialogflowlite.io.problems import ProblemLog
from dialogflowlite.io.yaml import not_utf8
from dialogflowlite.shared.message import Entity, Message
from dialogflowlite.shared.stories import (
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
from dialogflowlite.shared.training_data import (
    LookupTable,
    RegexPattern,
    Synonym,
    TrainingData,
    parse_annotated_text,
)

NLU_SECTIONS = ("intent", "synonym", "regex", "lookup")
#: a line that opens an NLU section; what makes a Markdown file NLU data rather than stories
NLU_SECTION_LINE = re.compile(r"^\s*##\s*(intent|synonym|regex|lookup)\s*:", re.M)
#: Rasa's Markdown list items: ``-``, ``*`` or ``+`` (the space after it is optional)
_ITEM = re.compile(r"^[-*+]\s*")
_COMMENT = re.compile(r"<!--.*?-->", re.S)
#: Rasa 1.x marked steps a form handled itself with this prefix; Rasa 2 skipped them
FORM_PREFIX = "form: "
#: the marker of Rasa 2.0's Markdown rules: a rule that may start mid-conversation or
#: that does not wait for the user afterwards
RULE_SNIPPET = "..."
#: events of Rasa's Markdown stories that have no step in YAML stories
_EVENTS_WITHOUT_STEP = frozenset(
    [
        "restart",
        "reset_slots",
        "pause",
        "resume",
        "rewind",
        "undo",
        "export",
        "followup",
        "reminder",
        "cancel_reminder",
        "action_execution_rejected",
        "form_validation",
        "loop_interrupted",
        "session_started",
        "user_featurization",
        "agent",
        "bot",
        "user",
    ]
)


def is_markdown_nlu(text: str) -> bool:
    """Whether Markdown ``text`` is NLU data (it has an ``## intent:``-style section)."""
    return bool(NLU_SECTION_LINE.search(text))


def _read_text(file: Path, log: ProblemLog) -> str | None:
    try:
        # utf-8-sig: editors on Windows often start files with a byte-order mark
        return file.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as e:
        where, message = not_utf8(file, e)
        log.error(where, message, "save the file as UTF-8", code="DFL102")
    except OSError as e:
        log.error(Position(str(file)), f"cannot read the file: {e.strerror or e}")
    return None


def _lines_without_comments(file: Path, text: str, log: ProblemLog) -> list[str]:
    """The file's lines with ``<!-- -->`` comments blanked out, so columns stay right."""

    def blank(match: re.Match) -> str:
        return re.sub(r"[^\n]", " ", match.group(0))

    text = _COMMENT.sub(blank, text)
    opened = text.find("<!--")
    if opened >= 0:
        line = text.count("\n", 0, opened) + 1
        col = opened - (text.rfind("\n", 0, opened) + 1) + 1
        log.error(
            Position(str(file), line, col),
            "comment '<!--' is never closed",
            "close it with '-->': everything after it would be lost",
        )
        text = text[:opened] + blank(re.match(r".*", text[opened:], re.S))
    return text.splitlines()


def _item(line: str) -> tuple[str, int] | None:
    """A list item's text and its 0-based column, or None when ``line`` is not an item."""
    stripped = line.lstrip()
    match = _ITEM.match(stripped)
    if match is None:
        return None
    text = stripped[match.end() :].rstrip()
    return text, len(line) - len(stripped) + match.end()


# ---------------------------------------------------------------- NLU


@dataclass
class _Section:
    kind: str
    name: str
    position: Position
    entries: list[tuple[str, Position]] = field(default_factory=list)
    files: list[tuple[str, Position]] = field(default_factory=list)


def read_markdown_nlu(
    file: str | Path, log: ProblemLog, root: str | Path | None = None
) -> TrainingData:
    """Read one Markdown NLU file into :class:`TrainingData`.

    A lookup table given as a file path is looked for relative to ``root``
    (the project folder; default: the current folder), then to the Markdown
    file's own folder, and its lines become the table's elements.
    """
    file = Path(file)
    data = TrainingData()
    text = _read_text(file, log)
    if text is None:
        return data
    sections: list[_Section] = []
    current: _Section | None = None
    skipping = False  # inside a section whose header was already reported
    for number, line in enumerate(_lines_without_comments(file, text, log), start=1):
        stripped = line.strip()
        if not stripped:
            continue
        col = len(line) - len(line.lstrip()) + 1
        where = Position(str(file), number, col)
        if stripped.startswith("##") and ":" in stripped:
            kind, _, name = stripped[2:].partition(":")
            kind, name = kind.strip(), name.strip()
            current, skipping = None, True
            if kind not in NLU_SECTIONS:
                log.error(
                    where,
                    f"unknown section '{kind}'",
                    did_you_mean(kind, NLU_SECTIONS)
                    or f"sections are {', '.join(f'## {s}:<name>' for s in NLU_SECTIONS)}",
                )
            elif not name:
                log.error(where, f"'## {kind}:' without a name", f"write `## {kind}:<name>`")
            else:
                current, skipping = _Section(kind, name, where), False
                sections.append(current)
            continue
        if skipping:
            continue
        item = _item(line)
        if current is None:
            # Rasa skipped such lines (a title, say); say so once until the next section
            log.warning(
                where,
                "text outside a section is ignored",
                "start a section with `## intent:<name>` (or synonym, regex, lookup)",
            )
            skipping = True
        elif item is not None:
            entry, offset = item
            current.entries.append((entry, Position(str(file), number, offset + 1)))
        elif current.kind == "lookup":
            current.files.append((stripped, where))
        else:
            log.warning(
                where,
                f"line under {current.kind} '{current.name}' is not a list item and is ignored",
                "start it with '- '",
            )
    for section in sections:
        _add_section(data, section, log, file, Path(root) if root is not None else Path.cwd())
    return data


def _add_section(
    data: TrainingData, section: _Section, log: ProblemLog, file: Path, root: Path
) -> None:
    if section.kind == "intent":
        for text, where in section.entries:
            warnings: list[AnnotationError] = []
            try:
                plain, entities = parse_annotated_text(text, where, warnings)
            except AnnotationError as e:
                log.add(e, file)
                continue
            log.add_warnings(warnings, file)
            if not plain.strip():
                log.warning(where, f"empty example under intent '{section.name}'", "remove it")
                continue
            data.examples.append(
                Message(text=plain, intent=section.name, entities=entities, position=where)
            )
    elif section.kind == "synonym":
        data.synonyms.append(
            Synonym(section.name, [t for t, _ in section.entries if t], section.position)
        )
    elif section.kind == "regex":
        data.regexes.extend(RegexPattern(section.name, t, p) for t, p in section.entries if t)
    else:
        elements = [t for t, _ in section.entries if t]
        for path, where in section.files:
            elements.extend(_lookup_file(path, where, log, file, root))
        data.lookups.append(LookupTable(section.name, elements, section.position))
    if not any(t for t, _ in section.entries) and not section.files:
        log.warning(
            section.position,
            f"{section.kind} '{section.name}' has no entries",
            "list them below the header, one `- entry` per line",
        )


def _lookup_file(path: str, where: Position, log: ProblemLog, file: Path, root: Path) -> list[str]:
    candidates = [Path(path)] if Path(path).is_absolute() else [root / path, file.parent / path]
    found = next((c for c in candidates if c.is_file()), None)
    if found is None:
        log.error(
            where,
            f"lookup table file '{path}' does not exist",
            f"give its path from the project folder ({root}), "
            "or list the elements as `- element` lines",
        )
        return []
    try:
        lines = found.read_text(encoding="utf-8-sig").splitlines()
    except (OSError, UnicodeDecodeError) as e:
        log.error(where, f"cannot read lookup table file '{path}': {e}", "save it as UTF-8 text")
        return []
    return [line.strip() for line in lines if line.strip()]


# ---------------------------------------------------------------- stories


class _Unreadable(Exception):
    """A line that cannot be read; carries the column of the mistake and a hint."""

    def __init__(self, message: str, offset: int, hint: str | None = None) -> None:
        super().__init__(message)
        self.message, self.offset, self.hint = message, offset, hint


_DECODER = json.JSONDecoder()


def _name_and_parameters(text: str, what: str) -> tuple[str, dict[str, Any] | None, int]:
    """Split ``name{"json": "object"}`` into the name, the object and where the object ends.

    The object is always a mapping: decoding starts at its ``{``.

    Raises :class:`_Unreadable` (with an offset into ``text``) on bad JSON.
    """
    brace = text.find("{")
    if brace < 0:
        return text.strip(), None, len(text)
    try:
        parameters, end = _DECODER.raw_decode(text, brace)
    except json.JSONDecodeError as e:
        raise _Unreadable(
            f"bad JSON after {what} ({e.msg})",
            e.pos,
            'write it as {"name": "value"} with double quotes',
        ) from e
    return text[:brace].strip(), parameters, end


def _split_alternatives(text: str) -> list[tuple[str, int]]:
    """``a OR b{"x": "y OR z"}`` -> the alternatives and their offsets (JSON left whole)."""
    parts: list[tuple[str, int]] = []
    depth, start, i = 0, 0, 0
    in_string = False
    while i < len(text):
        char = text[i]
        if in_string:
            if char == "\\":
                i += 1
            elif char == '"':
                in_string = False
        elif char == '"' and depth:
            in_string = True
        elif char in "{[":
            depth += 1
        elif char in "}]":
            depth = max(depth - 1, 0)
        elif not depth and text.startswith(" OR ", i):
            parts.append((text[start:i], start))
            start = i + 4
            i += 3
        i += 1
    parts.append((text[start:], start))
    return parts


@dataclass
class _Block:
    """A story or rule being read, with its steps and Rasa 2.0 rule markers."""

    name: str
    kind: StoryKind
    position: Position
    steps: list[Step | None] = field(default_factory=list)  # None: a `- ...` marker
    marker_positions: list[Position] = field(default_factory=list)


class MarkdownStoryReader:
    """Reads Markdown story files; use :func:`read_markdown_stories`."""

    def __init__(self, log: ProblemLog, kind: StoryKind = "story") -> None:
        self.log = log
        self.kind = kind

    def read(self, file: Path) -> list[Story]:
        """The stories and rules of one Markdown file."""
        text = _read_text(file, self.log)
        if text is None:
            return []
        blocks: list[_Block] = []
        current: _Block | None = None
        skipped_form_steps: list[Position] = []
        outside_reported = False
        for number, line in enumerate(_lines_without_comments(file, text, self.log), start=1):
            stripped = line.strip()
            if not stripped:
                continue
            indent = len(line) - len(line.lstrip())
            where = Position(str(file), number, indent + 1)
            if stripped.startswith(">>") or stripped.startswith("#"):
                is_rule = stripped.startswith(">>")
                name = stripped[2:].strip() if is_rule else stripped.lstrip("#").strip()
                kind: StoryKind = "rule" if is_rule else self.kind
                if not name:
                    self.log.error(
                        where,
                        f"{kind} without a name",
                        f"write `{'>> ' if is_rule else '## '}<name>`",
                    )
                    name = f"<unnamed {kind} at line {number}>"
                current = _Block(name, kind, where)
                blocks.append(current)
                continue
            if current is None:
                if not outside_reported:
                    self.log.error(
                        where,
                        "step outside a story",
                        "start each story with a `## <story name>` line",
                    )
                    outside_reported = True
                continue
            if stripped[0] in "*-" and stripped[1:].lstrip().startswith(FORM_PREFIX):
                skipped_form_steps.append(where)
                continue
            try:
                step = self._step(stripped, where, current)
            except _Unreadable as e:
                column = indent + 1 + e.offset
                self.log.error(Position(str(file), number, column), e.message, e.hint)
                continue
            if step is not None or stripped[1:].strip() == RULE_SNIPPET:
                current.steps.append(step)
                if step is None:
                    current.marker_positions.append(where)
        if skipped_form_steps:
            first = skipped_form_steps[0]
            self.log.warning(
                first,
                f"{len(skipped_form_steps)} step(s) with Rasa 1's "
                f"`{FORM_PREFIX}` prefix are skipped, as Rasa 2 skipped them",
                "remove them: a form handles these turns itself",
            )
        return [story for block in blocks if (story := self._finish(block)) is not None]

    def _step(self, line: str, where: Position, block: _Block) -> Step | None:
        """One ``*``, ``-`` or ``>`` line as a step (None for a ``- ...`` marker or a skip)."""
        marker, body = line[0], line[1:]
        offset = 1 + len(body) - len(body.lstrip())
        body = body.strip()
        if marker == ">":
            return self._checkpoint(body, offset, where)
        if marker == "*":
            return self._user(body, offset, where)
        if marker == "-":
            return self._event(body, offset, where, block)
        self.log.warning(
            where,
            f"line {line!r} is not a story step and is ignored",
            "user steps start with '* ', actions and events with '- ', checkpoints with '> '",
        )
        return None

    def _at(self, where: Position, offset: int) -> Position:
        return Position(where.file, where.line, (where.col or 1) + offset)

    def _checkpoint(self, body: str, offset: int, where: Position) -> Step | None:
        try:
            name, conditions, end = _name_and_parameters(body, "the checkpoint")
        except _Unreadable as e:
            raise _Unreadable(e.message, offset + e.offset, e.hint) from e
        if not name:
            raise _Unreadable("checkpoint without a name", offset, "write `> <checkpoint name>`")
        self._expect_end(body, end, offset)
        return CheckpointStep(name, conditions or {}, where)

    def _expect_end(self, body: str, end: int, offset: int) -> None:
        rest = body[end:]
        if rest.strip():
            raise _Unreadable(
                f"unexpected text {rest.strip()!r} after the JSON object",
                offset + end + len(rest) - len(rest.lstrip()),
                "remove it",
            )

    def _user(self, body: str, offset: int, where: Position) -> Step | None:
        alternatives = [
            self._user_message(text, offset + start + len(text) - len(text.lstrip()), where)
            for text, start in _split_alternatives(body)
        ]
        if len(alternatives) == 1:
            return alternatives[0]
        return OrStep(list(alternatives), where)

    def _user_message(self, text: str, offset: int, where: Position) -> UserStep:
        text = text.strip()
        # the intent name ends at entities (`{`) or at an end-to-end text (`: `)
        match = re.match(r"/?([^{:]*)", text)
        intent = match.group(1).strip() if match else ""
        rest_at = match.end() if match else 0
        if not intent:
            raise _Unreadable(
                "user step without an intent",
                offset,
                'write `* intent` or `* intent{"entity": "value"}`',
            )
        step = UserStep(intent=intent, position=self._at(where, offset))
        if text[rest_at : rest_at + 1] == "{":
            try:
                parameters, end = _DECODER.raw_decode(text, rest_at)
            except json.JSONDecodeError as e:
                raise _Unreadable(
                    f"bad JSON after intent '{intent}' ({e.msg})",
                    offset + e.pos,
                    'write entities as {"entity": "value"} with double quotes',
                ) from e
            if not isinstance(parameters, dict):
                raise _Unreadable(
                    f"entities of intent '{intent}' must be a JSON object",
                    offset + rest_at,
                    'write `* intent{"entity": "value"}`',
                )
            for name, values in parameters.items():
                # a list stands for several entities of one type, as in Rasa
                for value in values if isinstance(values, list) else [values]:
                    step.entities.append(Entity(str(name), 0, 0, value))
            rest_at = end
        rest = text[rest_at:]
        if rest.startswith(":"):
            message = rest[1:].strip()
            column = offset + rest_at + 1 + len(rest[1:]) - len(rest[1:].lstrip())
            warnings: list[AnnotationError] = []
            try:
                plain, entities = parse_annotated_text(message, self._at(where, column), warnings)
            except AnnotationError as e:
                # the line's own error, at the column parse_annotated_text found
                raise _Unreadable(
                    e.message,
                    (e.position.col or 1) - (where.col or 1) if e.position else column,
                    e.hint,
                ) from e
            self.log.add_warnings(warnings, where.file)
            step.text = plain
            step.entities = entities + step.entities
        elif rest.strip():
            raise _Unreadable(
                f"unexpected text {rest.strip()!r} after intent '{intent}'",
                offset + rest_at + len(rest) - len(rest.lstrip()),
                'write `* intent{"entity": "value"}`, or `* intent: user text`',
            )
        return step

    def _event(self, body: str, offset: int, where: Position, block: _Block) -> Step | None:
        if body == RULE_SNIPPET:
            if block.kind != "rule":
                raise _Unreadable(
                    "`- ...` belongs in rules (`>> rule name`), not in stories", offset, "remove it"
                )
            return None
        try:
            name, parameters, end = _name_and_parameters(body, "the event")
        except _Unreadable as e:
            raise _Unreadable(e.message, offset + e.offset, e.hint) from e
        self._expect_end(body, end, offset)
        if not name:
            raise _Unreadable("step without an action name", offset, "write `- action_name`")
        at = self._at(where, offset)
        if name == "slot":
            if not parameters:
                raise _Unreadable(
                    "slot event without a slot", offset, 'write `- slot{"slot_name": "value"}`'
                )
            return SlotStep(dict(parameters), at)
        if name in ("form", "active_loop"):
            if parameters is None or "name" not in parameters:
                raise _Unreadable(
                    f"{name} event without a name",
                    offset,
                    f'write `- {name}{{"name": "form_name"}}` or `- {name}{{"name": null}}`',
                )
            loop = parameters["name"]
            return ActiveLoopStep(None if loop is None else str(loop), at)
        if name in _EVENTS_WITHOUT_STEP:
            self.log.warning(
                at,
                f"event '{name}' has no story step here and is skipped",
                "remove it; stories hold user steps, actions, slots, active loops and checkpoints",
            )
            return None
        if parameters:
            self.log.warning(
                at,
                f"parameters after action '{name}' are ignored",
                "an action step is only its name: remove them",
            )
        return ActionStep(name=name, position=at)

    def _finish(self, block: _Block) -> Story | None:
        steps = block.steps
        story = Story(name=block.name, kind=block.kind, position=block.position)
        if block.kind == "rule":
            markers = [i for i, step in enumerate(steps) if step is None]
            # a trailing marker: the rule ends without waiting for the user
            if markers and markers[-1] == len(steps) - 1 and len(steps) > 1:
                story.wait_for_user_input = False
                steps = steps[:-1]
                markers.pop()
            # a leading marker: what comes before it is the rule's condition, and the
            # rule may apply mid-conversation; without one it applies at the start only
            if markers:
                story.condition = [s for s in steps[: markers[0]] if s is not None]
                steps = steps[markers[0] + 1 :]
                for extra in block.marker_positions[1 : len(markers)]:
                    self.log.error(
                        extra,
                        f"rule '{block.name}' has a `- ...` in the middle",
                        "`- ...` may only open a rule (after its condition) or close it",
                    )
            else:
                story.conversation_start = True
            story.condition = self._without_checkpoints(block.name, story.condition)
            steps = self._without_checkpoints(block.name, steps)
            if not self._condition_fits(block.name, story.condition):
                return None
        story.steps = [s for s in steps if s is not None]
        if not story.steps:
            self.log.warning(
                block.position,
                f"{block.kind} '{block.name}' has no steps and is left out",
                "add steps below it, or remove the header",
            )
            return None
        return story

    def _without_checkpoints(self, rule: str, steps: list[Any]) -> list[Any]:
        """A rule's steps with its checkpoints skipped, each with a warning: no rule has
        one. Rasa 2 read such a rule without a word, so the rest of it is kept, as a YAML
        rule keeps its other steps."""
        for step in steps:
            if isinstance(step, CheckpointStep):
                self.log.warning(
                    step.position,
                    f"rule '{rule}' has a checkpoint, but rules cannot have any; the "
                    "checkpoint is skipped",
                    "checkpoints join stories: write the rule out in full, or make it a "
                    "story (`## name`)",
                )
        return [step for step in steps if not isinstance(step, CheckpointStep)]

    def _condition_fits(self, rule: str, condition: list[Step]) -> bool:
        """Whether a rule's condition holds only what a YAML rule's may; each step that
        does not is reported and the rule is left out. A condition holds only form,
        active loop and slot events (Rasa's rule schema): a user turn or an action there
        would let the rule apply where it must not."""
        fits = True
        for step in condition:
            if isinstance(step, (ActiveLoopStep, SlotStep)):
                continue
            fits = False
            self.log.error(
                step.position,
                f"{_STEP_NAMES[type(step)]} in the condition of rule '{rule}': a condition "
                "holds only `- form{...}`, `- active_loop{...}` and `- slot{...}` events, "
                "so the rule is left out",
                "write one rule per alternative"
                if isinstance(step, OrStep)
                else "move the step below the rule's leading `- ...`",
            )
        return fits


#: how a rule's condition problem names the step it found
_STEP_NAMES: dict[type, str] = {
    UserStep: "a user step (`* intent`)",
    OrStep: "an `OR` of user steps",
    ActionStep: "an action",
}


def read_markdown_stories(
    file: str | Path, log: ProblemLog, kind: StoryKind = "story"
) -> list[Story]:
    """Read one Markdown story file: its stories (of ``kind``) and its ``>>`` rules."""
    return MarkdownStoryReader(log, kind).read(Path(file))


# ---------------------------------------------------------------- responses (NLG)

#: a Rasa 1 response of a retrieval intent: ``* faq/ask_name`` then a ``- text`` item
_NLG_BLOCK = re.compile(r"^\s*\*\s*[^:\s/]+/[^\n]*\n\s*-\s+\S", re.M)
#: a ``*`` item: in stories a user turn, in Markdown responses a retrieval intent
_STAR_ITEM = re.compile(r"^\s*\*\s*(\S[^\n]*)$", re.M)


#: a story's step naming an action a retrieval intent's story has (`- respond_faq`)
_ACTION_ITEM = re.compile(r"^\s*-\s*(utter|respond|action)_[^\s{]+\s*$", re.M)


def is_markdown_responses(text: str) -> bool:
    """Whether Markdown ``text`` holds Rasa 1's responses of retrieval intents
    (``data/responses.md``: ``* faq/ask_name`` items, each followed by its texts)
    rather than stories: every ``*`` item names a retrieval intent, and nothing
    else (a story's turn may hold the user's text: ``* faq/ask_name: hi``), one is
    followed by a text, and no ``-`` item names an action (``- respond_faq``)."""
    bare = _COMMENT.sub("", text)
    items = _STAR_ITEM.findall(bare)
    return bool(items) and all("/" in item and ":" not in item for item in items) \
        and _NLG_BLOCK.search(text) is not None and _ACTION_ITEM.search(bare) is None


def read_markdown_responses(file: str | Path, log: ProblemLog) -> CommentedMap:
    """Read Rasa 1's Markdown responses of retrieval intents into the mapping a YAML
    data file with ``responses:`` holds, with the lines of its entries::

        ## ask name                 (a title; ignored)
        * chitchat/ask_name         -> utter_chitchat/ask_name
          - my name is Sara         -> - text: my name is Sara
          - I am Sara

    A retrieval intent named twice gathers the texts of both places, as Rasa
    read them.
    """
    file = Path(file)
    responses = CommentedMap()
    data = CommentedMap([("responses", responses)])
    data.lc.add_kv_line_col("responses", [0, 0, 0, 0])
    text = _read_text(file, log)
    if text is None:
        return data
    current: CommentedSeq | None = None
    for number, line in enumerate(_lines_without_comments(file, text, log), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        col = len(line) - len(line.lstrip())
        where = Position(str(file), number, col + 1)
        item = _item(line)
        if item is None:
            log.error(where, "a line of Markdown responses that is no `* intent/key` or "
                      "`- text` item", "start it with `- ` (a text) or `* ` (its retrieval "
                      "intent, faq/ask_name)")
            continue
        value, offset = item
        if stripped.startswith("*"):
            intent = value.strip()
            if "/" not in intent or " " in intent:
                log.error(where, f"'{intent}' names no retrieval intent",
                          "write the full retrieval intent: `* faq/ask_name`")
                current = None
                continue
            name = f"utter_{intent}"
            if name not in responses:
                responses[name] = CommentedSeq()
                responses.lc.add_kv_line_col(name, [number - 1, col, number - 1, offset])
            current = responses[name]
        elif current is None:
            log.error(where, "a text before any `* intent/key` line",
                      "put the retrieval intent it answers above it: `* faq/ask_name`")
        elif not value.strip():
            log.warning(where, "an empty text is left out", "remove the line")
        else:
            variation = CommentedMap([("text", value)])
            variation.lc.add_kv_line_col("text", [number - 1, offset, number - 1, offset])
            current.append(variation)
            current.lc.add_kv_line_col(len(current) - 1, [number - 1, offset])
    for name, variations in responses.items():
        if not variations:
            line, col = responses.lc.key(name)
            log.error(Position(str(file), line + 1, col + 1),
                      f"'{name[len('utter_'):]}' has no texts",
                      "list its texts below it, one `- text` per line")
    return data
