"""Conversations of interactive learning written back into the project as training data.

Three kinds of files take what a session taught:

* the conversations as Rasa 3 stories (``data/stories.yml``, as in Rasa),
  one story per conversation (a restart inside one starts another story);
* every user message with its corrected intent and entities as an NLU example
  (``data/nlu.yml``), unless the training data holds it already;
* the intents, entities, actions and responses the conversations use that
  the project's domain lacks, added to the domain file training reads (for a
  domain folder, to its ``interactive_domain.yml``; see :func:`default_domain_file`).

The session asks for each of the three paths before it writes, offering
these defaults; :func:`export_path_answer` reads an answer as a path,
:func:`export_path_problem` says why it cannot be one, and
:func:`domain_path_problem` why the project would not read it as its domain.

A file that exists keeps every line it had: the new entries are inserted
after the last line of their section (or a new section is added at the
end), indented as the section's entries are, and the new examples of an
intent the NLU file has go at the end of its ``examples: |`` block, so an
author's comments, blank lines and indentation (often mixed in one Rasa
domain) stay as they were. Where that cannot be done line by line (a
flow-style ``[a, b]`` list, examples as a list of ``- text:`` entries), or
the lines do not read back as the merged content, the file goes through
ruamel.yaml's round trip, which keeps its content and comments but lays it
out with one indentation. A file that cannot be read
(broken YAML, a list where a mapping belongs) is left alone: the new content
goes to a sibling file named with the time, and the report says so.
"""

from __future__ import annotations

import io
import os
import re
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.scalarstring import LiteralScalarString
from ruamel.yaml.util import load_yaml_guess_indent

from dialogflowlite.dialogue.story_export import (
    WrittenStory,
    events_to_steps,
    stories_yaml,
    story_intent,
)
from dialogflowlite.errors import DialogflowLiteError, Position, ProjectError
from dialogflowlite.io.importers import CONFIG_NAMES
from dialogflowlite.io.loader import (
    DOMAIN_PLACES,
    TEST_STORIES_PREFIX,
    YAML_SUFFIXES,
    Project,
    ProjectSources,
    existing_domain,
    load_project,
    resolve_in_project,
)
from dialogflowlite.io.nlu_writer import nlu_yaml
from dialogflowlite.io.yaml import read_yaml, read_yaml_file
from dialogflowlite.shared.domain import Domain
from dialogflowlite.shared.events import (
    ActionExecuted,
    Event,
    Restarted,
    SessionStarted,
    UserUttered,
)
from dialogflowlite.shared.message import RETRIEVAL_SEPARATOR, Entity, Message
from dialogflowlite.shared.tracker import applied_events
from dialogflowlite.shared.training_data import TrainingData, annotate

#: where the stories and NLU examples go unless the user says otherwise: the defaults that
#: Rasa's interactive learning offers when it asks (an existing file is added to, line by line)
DEFAULT_STORIES_FILE = "data/stories.yml"
DEFAULT_NLU_FILE = "data/nlu.yml"
#: what an export path may end with: every file the export writes is YAML
EXPORT_SUFFIXES = (".yml", ".yaml")
#: whether a backslash separates folders in a path (Windows), rather than being a
#: character of a file name
_BACKSLASH_SEPARATES = "\\" in (os.sep, os.altsep)
#: the file of a ``domain/`` folder that takes the new domain entries
DOMAIN_FOLDER_FILE = "interactive_domain.yml"
STORY_NAME_PREFIX = "interactive_story_"
#: texts that stand for an intent (``/greet``) are not NLU examples
INTENT_MESSAGE_PREFIX = "/"


@dataclass
class DomainAdditions:
    """What the conversations use that the project's domain did not declare."""

    intents: list[str] = field(default_factory=list)
    entities: list[str] = field(default_factory=list)
    #: custom actions (and ``utter_`` actions whose text is unknown)
    actions: list[str] = field(default_factory=list)
    #: new responses: name -> their variations (``[{"text": ...}]``)
    responses: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.intents or self.entities or self.actions or self.responses)

    def describe(self) -> str:
        """``intents greet, bye; response utter_x`` for the report."""
        parts = []
        for label, names in (("intent", self.intents), ("entity", self.entities),
                             ("action", self.actions), ("response", list(self.responses))):
            if names:
                plural = {"entity": "entities"}.get(label, f"{label}s")
                parts.append(f"{label if len(names) == 1 else plural} {', '.join(names)}")
        return "; ".join(parts)


@dataclass
class ExportReport:
    """What an export wrote where (``None`` for a file that had nothing to take)."""

    stories_file: Path | None = None
    stories: int = 0
    nlu_file: Path | None = None
    examples: int = 0
    #: examples left out because the training data holds them already
    known_examples: int = 0
    domain_file: Path | None = None
    additions: DomainAdditions = field(default_factory=DomainAdditions)
    #: warnings for the user (a file that could not be merged, a duplicate example, ...)
    notes: list[str] = field(default_factory=list)

    def lines(self, root: Path | None = None) -> list[str]:
        """The report as lines for the terminal (paths relative to ``root`` when inside it)."""
        def shown(path: Path) -> str:
            return _display(path, root)

        lines = []
        if self.stories_file is not None:
            lines.append(f"{_count(self.stories, 'story', 'stories')} written to "
                         f"{shown(self.stories_file)}")
        if self.nlu_file is not None:
            known = (f" ({_count(self.known_examples, 'example')} already in the training "
                     "data left out)" if self.known_examples else "")
            lines.append(f"{_count(self.examples, 'NLU example')} written to "
                         f"{shown(self.nlu_file)}{known}")
        elif self.known_examples:
            lines.append(f"no new NLU examples ({_count(self.known_examples, 'message')} "
                         "already in the training data)")
        if self.domain_file is not None:
            lines.append(f"added to {shown(self.domain_file)}: {self.additions.describe()}")
        return lines + [f"note: {note}" for note in self.notes]


def _count(number: int, singular: str, plural: str | None = None) -> str:
    return f"{number} {singular if number == 1 else plural or singular + 's'}"


def _display(path: Path, root: Path | None) -> str:
    if root is not None:
        try:
            return path.resolve().relative_to(root.resolve()).as_posix()
        except ValueError:
            pass
    return str(path)


# ---------------------------------------------------------------- conversations


def story_segments(events: Iterable[Event]) -> list[list[Event]]:
    """The parts of a conversation that each make a story: split at restarts and new
    sessions, undone turns left out, parts without a user message dropped."""
    segments: list[list[Event]] = [[]]
    for event in events:
        if isinstance(event, (Restarted, SessionStarted)):
            segments.append([])
        else:
            segments[-1].append(event)
    kept = [applied_events(segment, keep_loop_turns=True) for segment in segments]
    return [segment for segment in kept if any(isinstance(e, UserUttered) for e in segment)]


def _story_events(segment: Sequence[Event], keep_text: bool = False) -> list[Event]:
    """The segment as a story's events: user texts dropped, since a training story
    holds intents and entities (Rasa's own interactive stories do the same) and
    the texts become NLU examples; with ``keep_text`` (Rasa's ``--e2e``) each
    text stays next to its intent."""
    if keep_text:
        return list(segment)
    events: list[Event] = []
    for event in segment:
        if isinstance(event, UserUttered):
            event = UserUttered(text=None, parse_data=dict(event.parse_data),
                                timestamp=event.timestamp)
        events.append(event)
    return events


def user_examples(segments: Iterable[Sequence[Event]]) -> list[Message]:
    """Every user message of ``segments`` as an NLU example (intent messages excluded)."""
    examples = []
    for segment in segments:
        for event in segment:
            if not isinstance(event, UserUttered) or not event.text or not event.intent_name:
                continue
            if event.text.startswith(INTENT_MESSAGE_PREFIX):
                continue
            entities = [Entity(e["entity"], e["start"], e["end"], e.get("value"),
                               role=e.get("role"), group=e.get("group"))
                        for e in event.entities
                        if isinstance(e.get("start"), int) and isinstance(e.get("end"), int)
                        and 0 <= e["start"] < e["end"] <= len(event.text) and e.get("entity")]
            # a retrieval intent in full (faq/ask_hours): the session showed it so and the
            # user confirmed or chose it, and only the full name teaches the selector
            examples.append(Message(text=event.text, intent=story_intent(event),
                                    entities=entities))
    return examples


# ---------------------------------------------------------------- round trip


def _round_trip_yaml() -> YAML:
    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    yaml.allow_duplicate_keys = False
    # never re-wrap the long lines of a user's file
    yaml.width = 4096
    return yaml


def _read_for_update(path: Path) -> tuple[Any, YAML]:
    """``path`` loaded for a round trip, with a dumper that keeps its indentation."""
    read_yaml_file(path)  # a syntax error is reported at file:line:col
    yaml = _round_trip_yaml()
    data, indent, block_sequence_indent = load_yaml_guess_indent(
        path.read_text(encoding="utf-8"), yaml=yaml)
    offset = block_sequence_indent or 0
    sequence = indent if indent and indent > offset else offset + 2
    yaml.indent(mapping=max(sequence - offset, 2), sequence=sequence, offset=offset)
    return data, yaml


def _dump(data: Any, yaml: YAML) -> str:
    stream = io.StringIO()
    yaml.dump(data, stream)
    return stream.getvalue()


def _expect_mapping(data: Any, path: Path, key: str) -> CommentedMap:
    if data is None:
        return CommentedMap()
    if not isinstance(data, CommentedMap):
        raise ProjectError(f"{path.name} is not a mapping, so `{key}:` cannot be added to it",
                           position=Position(str(path), 1, 1),
                           hint="fix the file, or pass another output file")
    return data


def _expect_list(data: CommentedMap, path: Path, key: str) -> CommentedSeq:
    value = data.get(key)
    if value is None:
        data[key] = value = CommentedSeq()
    if not isinstance(value, CommentedSeq):
        line = data.lc.key(key)[0] + 1 if key in data else None
        raise ProjectError(f"`{key}:` in {path.name} is not a list",
                           position=Position(str(path), line),
                           hint=f"make `{key}:` a list, or pass another output file")
    return value


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def _rescue_file(path: Path) -> Path:
    """A new file next to ``path`` for content that could not be merged into it."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    candidate = path.with_name(f"{path.stem}.{stamp}{path.suffix}")
    number = 2
    while candidate.exists():
        candidate = path.with_name(f"{path.stem}.{stamp}-{number}{path.suffix}")
        number += 1
    return candidate


def _merge_or_rescue(path: Path, fresh_text: str, merge, notes: list[str],
                     blocks: Callable[[Any], dict[str, str]] | None = None,
                     insert: Callable[[str, Any, Any], str | None] | None = None) -> Path:
    """Write ``fresh_text`` to a new ``path``, or ``merge(data, fresh)`` into an existing one.

    With ``blocks`` (``fresh`` -> the new entries of each top-level key as YAML
    text, see :func:`insert_blocks`), or ``insert`` (the file's text, that text
    loaded round trip, ``fresh`` -> the text with the new lines in it, or
    None), the existing file keeps its lines and the new ones are inserted
    among them, when that gives exactly the merged content; otherwise the
    merged content is dumped. When the existing file cannot take it, the
    fresh content goes to a sibling file (so nothing of the session is lost)
    and a note says why.
    """
    if not path.exists():
        return _write(path, fresh_text)
    if blocks is not None:
        def insert(text: str, data: Any, fresh: Any) -> str | None:
            return insert_blocks(text, data, blocks(fresh))
    try:
        data, yaml = _read_for_update(path)
        fresh = read_yaml(fresh_text)
        merged = merge(data, fresh)
        if insert is not None:
            original = path.read_text(encoding="utf-8")
            inserted = insert(original, _round_trip_yaml().load(original), fresh)
            if inserted is not None and _same_content(inserted, merged):
                return _write(path, inserted)
        return _write(path, _dump(merged, yaml))
    except DialogflowLiteError as e:
        rescue = _write(_rescue_file(path), fresh_text)
        notes.append(f"{e.render()}; the new content went to {rescue} instead "
                     "(merge it by hand)")
        return rescue


# ---------------------------------------------------------------- line insertion


def _plain(data: Any) -> Any:
    """``data`` as plain dicts, lists and scalars, mapping order kept (for comparing)."""
    if isinstance(data, Mapping):
        return [[_plain(key), _plain(value)] for key, value in data.items()]
    if isinstance(data, list):
        return [_plain(item) for item in data]
    return data if data is None or isinstance(data, (bool, int, float)) else str(data)


def _same_content(text: str, expected: Any) -> bool:
    try:
        return _plain(_round_trip_yaml().load(text)) == _plain(expected)
    except Exception:  # any text that does not read back as expected is not used
        return False


def _indent_of(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _is_content(line: str) -> bool:
    stripped = line.strip()
    return bool(stripped) and not stripped.startswith("#")


def _section_end(lines: list[str], start: int, stop: int) -> int:
    """The index after the last line of the section whose lines run from ``start`` to
    ``stop``: blank lines and column-0 comments at its end belong to what follows."""
    end = stop
    while end > start and not (_is_content(lines[end - 1])
                               or (lines[end - 1].startswith((" ", "\t"))
                                   and lines[end - 1].strip())):
        end -= 1
    return end


def _entries_spaced(lines: list[str], entry_lines: list[int]) -> bool:
    """Whether the section's entries are separated by blank lines (the new one is too)."""
    return len(entry_lines) > 1 and not lines[entry_lines[1] - 1].strip()


def insert_blocks(text: str, data: Any, blocks: Mapping[str, str]) -> str | None:
    """``text`` with each of ``blocks`` (top-level key -> its new entries as YAML at column
    0) inserted after the last line of the key's section, indented as its entries;
    a key the file lacks becomes a new section at the end. ``data`` is ``text`` loaded
    round trip. None when a section does not allow it (flow style, empty, odd layout)."""
    if not isinstance(data, CommentedMap):
        return None
    lines = text.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    key_lines = sorted(data.lc.key(key)[0] for key in data)
    inserts: dict[int, list[str]] = {}
    appended: list[str] = []
    for key, block in blocks.items():
        block_lines = block.splitlines(keepends=True)
        if key not in data:
            appended += ["\n", f"{key}:\n", *("  " + line if line.strip() else line
                                              for line in block_lines)]
            continue
        value = data[key]
        if not isinstance(value, (CommentedSeq, CommentedMap)) or not value:
            return None
        if value.fa.flow_style():
            return None
        if isinstance(value, CommentedSeq):
            entry_lines = [value.lc.item(index)[0] for index in range(len(value))]
            first = lines[entry_lines[0]]
            column = _indent_of(first)
            if not first[column:].startswith("-"):
                return None
        else:
            entry_lines = [value.lc.key(name)[0] for name in value]
            column = value.lc.key(next(iter(value)))[1]
        if column == 0 and isinstance(value, CommentedMap):
            return None
        key_line = data.lc.key(key)[0]
        if entry_lines[0] <= key_line:
            return None
        later = [line for line in key_lines if line > key_line]
        end = _section_end(lines, key_line + 1, later[0] if later else len(lines))
        new = ["\n"] if _entries_spaced(lines, entry_lines) else []
        new += [" " * column + line if line.strip() else line for line in block_lines]
        inserts.setdefault(end, []).extend(new)
    out: list[str] = []
    for index in range(len(lines) + 1):
        out += inserts.get(index, [])
        if index < len(lines):
            out.append(lines[index])
    return "".join(out + appended)


def _block_text(value: Any, sequence_offset: int = 0) -> str:
    """``value`` (a list, or a mapping) as YAML at column 0; nested lists have their
    dashes ``sequence_offset`` columns in from their key."""
    yaml = _round_trip_yaml()
    offset = max(sequence_offset, 0)
    yaml.indent(mapping=2, sequence=offset + 2, offset=offset)
    return _dump(value, yaml)


def _nested_offset(data: Any, key: str, text: str) -> int:
    """How far the dashes of the lists inside ``data[key]``'s first entry sit in from
    its key (0 in ``utter_x:\n- text: hi``, 2 in ``utter_x:\n  - text: hi``)."""
    section = data.get(key) if isinstance(data, CommentedMap) else None
    if not isinstance(section, CommentedMap) or not section:
        return 2
    first = next(iter(section))
    entry = section[first]
    if not isinstance(entry, CommentedSeq) or not entry:
        return 2
    dash_line = text.splitlines()[entry.lc.item(0)[0]]
    return _indent_of(dash_line) - section.lc.key(first)[1]


def _stories_block(fresh_text: str) -> str:
    """The entries under ``stories:`` of text written by :func:`stories_yaml`, as they are
    (their step comments included)."""
    lines = fresh_text.splitlines(keepends=True)
    start = next(index for index, line in enumerate(lines) if line.startswith("stories:"))
    return "".join(lines[start + 1:])


# ---------------------------------------------------------------- stories


def _story_names(project: Project, path: Path) -> set[str]:
    names = {story.name for story in project.stories}
    if path.exists():
        try:
            data = read_yaml_file(path)
        except DialogflowLiteError:
            data = None
        if isinstance(data, Mapping) and isinstance(data.get("stories"), list):
            names.update(str(item.get("story")) for item in data["stories"]
                         if isinstance(item, Mapping))
    return names


def _next_story_number(names: Iterable[str]) -> int:
    pattern = re.compile(rf"^{re.escape(STORY_NAME_PREFIX)}(\d+)$")
    numbers = [int(m.group(1)) for m in map(pattern.match, names) if m]
    return max(numbers, default=0) + 1


def write_stories(segments: Sequence[Sequence[Event]], path: Path, project: Project,
                  notes: list[str], *, keep_text: bool = False) -> Path:
    """Add one story per segment to the stories file ``path``; returns the file written.
    With ``keep_text`` the user steps hold the messages' texts too."""
    first = _next_story_number(_story_names(project, path))
    stories = [WrittenStory(f"{STORY_NAME_PREFIX}{first + index}",
                            events_to_steps(_story_events(segment, keep_text)))
               for index, segment in enumerate(segments)]

    def merge(data: Any, fresh: Any) -> Any:
        data = _expect_mapping(data, path, "stories")
        _expect_list(data, path, "stories").extend(fresh["stories"])
        return data

    fresh_text = stories_yaml(stories)
    return _merge_or_rescue(path, fresh_text, merge, notes,
                            blocks=lambda fresh: {"stories": _stories_block(fresh_text)})


# ---------------------------------------------------------------- NLU examples


def _example_key(message: Message) -> tuple[str, str, str]:
    return (" ".join(message.text.lower().split()), message.intent or "",
            annotate(message.text, message.entities))


def new_examples(examples: Sequence[Message], known: TrainingData,
                 notes: list[str]) -> tuple[list[Message], int]:
    """``examples`` without the ones ``known`` (or an earlier one) holds; and how many those were.

    An example whose text the training data has under another intent is kept
    (the user just said which intent it is) with a note: `data validate` will
    warn about the pair until one of them goes.
    """
    seen = {_example_key(m) for m in known.examples}
    intents_of: dict[str, Message] = {}
    for message in known.examples:
        intents_of.setdefault(" ".join(message.text.lower().split()), message)
    fresh, skipped = [], 0
    for message in examples:
        key = _example_key(message)
        if key in seen:
            skipped += 1
            continue
        seen.add(key)
        earlier = intents_of.get(key[0])
        if earlier is not None and earlier.intent != message.intent:
            where = f" at {earlier.position}" if earlier.position else ""
            notes.append(f"{message.text!r} is also an example of intent '{earlier.intent}'"
                         f"{where}; keep it under one intent only")
        fresh.append(message)
    return fresh, skipped


def _block_lines(block: str) -> list[str]:
    return [line[2:] if line.startswith("- ") else line.lstrip("-").strip()
            for line in (raw.strip() for raw in block.splitlines()) if line]


def _merge_kind(existing: CommentedMap, item: Mapping[str, Any]) -> str | None:
    """How ``item``'s examples join ``existing`` (same intent): ``"block"`` (a literal
    block each), ``"list"`` (into the entry's list of examples), or None (they cannot)."""
    if existing.get("metadata") != item.get("metadata"):
        return None
    old, new = existing.get("examples"), item.get("examples")
    if isinstance(old, str) and isinstance(new, str):
        return "block"
    return "list" if isinstance(old, CommentedSeq) else None


def _joined_block(old: str, new: str) -> str:
    # a block without a final line break (``|-``) keeps going without one
    end = "\n" if old.endswith("\n") else ""
    return old.rstrip("\n") + "\n" + new.rstrip("\n") + end


def _merge_nlu_item(existing: CommentedMap, item: CommentedMap) -> bool:
    """Add ``item``'s examples to ``existing`` (same intent); False when the shapes differ."""
    kind = _merge_kind(existing, item)
    old, new = existing.get("examples"), item.get("examples")
    if kind == "block":
        existing["examples"] = LiteralScalarString(_joined_block(old, new))
    elif kind == "list":
        texts = (_block_lines(new) if isinstance(new, str)
                 else [e["text"] if isinstance(e, Mapping) else str(e) for e in new or []])
        as_mappings = any(isinstance(entry, Mapping) for entry in old)
        old.extend(CommentedMap(text=t) if as_mappings else t for t in texts)
    return kind is not None


def _same_intent_entry(entries: Any, item: Mapping[str, Any]) -> CommentedMap | None:
    """The first entry of ``entries`` for ``item``'s intent (None for other kinds of item)."""
    if "intent" not in item or not isinstance(entries, list):
        return None
    return next((e for e in entries
                 if isinstance(e, CommentedMap) and e.get("intent") == item["intent"]), None)


#: the header of a literal block whose lines' indentation is read from its first line
_LITERAL_HEADER = re.compile(r"\|[+-]?[ \t]*(#.*)?$")


def _literal_block_span(lines: list[str], entry: CommentedMap,
                        key: str = "examples") -> tuple[int, int] | None:
    """The indentation of the lines of ``entry[key]``'s ``|`` block and the index after its
    last non-blank line; None when the value is no such block."""
    line, column = entry.lc.value(key)
    if not _LITERAL_HEADER.match(lines[line][column:].rstrip("\r\n")):
        return None
    key_column = entry.lc.key(key)[1]
    indent, end = None, None
    for index in range(line + 1, len(lines)):
        if not lines[index].strip():
            continue
        current = _indent_of(lines[index])
        if indent is None:
            if current <= key_column:
                return None
            indent = current
        elif current < indent:
            break
        end = index + 1
    return None if indent is None or end is None else (indent, end)


def _nlu_entry_texts(fresh_text: str) -> list[str]:
    """The entries under ``nlu:`` of text written by :func:`nlu_yaml`, one text each."""
    lines = fresh_text.splitlines(keepends=True)
    start = next(index for index, line in enumerate(lines) if line.startswith("nlu:"))
    entries: list[str] = []
    for line in lines[start + 1:]:
        if line.startswith("- "):
            entries.append(line)
        elif line.startswith(" ") and entries:
            entries[-1] += line
        else:
            break
    return entries


def insert_nlu_lines(text: str, data: Any, fresh: Any, fresh_text: str) -> str | None:
    """``text`` (an NLU file, ``data`` loaded round trip) with ``fresh`` (written by
    :func:`nlu_yaml` as ``fresh_text``) inserted as lines, as ``write_nlu`` merges it.

    The examples of an intent whose entry has an ``examples: |`` block go at the end
    of that block, indented as its lines; every other entry goes after the last
    entry of ``nlu:``, indented as those entries (see :func:`insert_blocks`). None
    when the file's layout does not allow it (examples as a list, a block with an
    indentation indicator, a flow-style ``nlu:``).
    """
    if not isinstance(data, CommentedMap) or not isinstance(fresh, Mapping):
        return None
    entries = data.get("nlu")
    items = list(fresh.get("nlu") or [])
    texts = _nlu_entry_texts(fresh_text)
    if len(texts) != len(items):
        return None
    lines = text.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    inserts: dict[int, list[str]] = {}
    new_entries: list[str] = []
    for item, item_text in zip(items, texts, strict=True):
        existing = _same_intent_entry(entries, item)
        kind = None if existing is None else _merge_kind(existing, item)
        if kind == "list":
            return None
        if kind is None:
            new_entries.append(item_text)
            continue
        span = _literal_block_span(lines, existing)
        if span is None:
            return None
        indent, end = span
        inserts.setdefault(end, []).extend(
            " " * indent + line + "\n" for line in item["examples"].rstrip("\n").split("\n"))
    out: list[str] = []
    for index in range(len(lines) + 1):
        out += inserts.get(index, [])
        if index < len(lines):
            out.append(lines[index])
    result = "".join(out)
    if not new_entries:
        return result
    if isinstance(entries, CommentedSeq) and len(entries) > 1 and _entries_spaced(
            lines, [entries.lc.item(index)[0] for index in range(len(entries))]):
        # insert_blocks puts a blank line before the first; the others get one too
        block = "\n".join(new_entries)
    else:
        block = "".join(new_entries)
    return insert_blocks(result, _round_trip_yaml().load(result), {"nlu": block})


def write_nlu(examples: Sequence[Message], path: Path, notes: list[str]) -> Path:
    """Add ``examples`` to the NLU file ``path`` (into its intents' entries when it can)."""

    def merge(data: Any, fresh: Any) -> Any:
        data = _expect_mapping(data, path, "nlu")
        entries = _expect_list(data, path, "nlu")
        for item in fresh["nlu"]:
            existing = _same_intent_entry(entries, item)
            if not (existing is not None and _merge_nlu_item(existing, item)):
                entries.append(item)
        return data

    fresh_text = nlu_yaml(TrainingData(list(examples)))
    return _merge_or_rescue(
        path, fresh_text, merge, notes,
        insert=lambda text, data, fresh: insert_nlu_lines(text, data, fresh, fresh_text))


# ---------------------------------------------------------------- domain


def domain_additions(segments: Iterable[Sequence[Event]], domain: Domain, *,
                     responses: Mapping[str, str] | None = None,
                     model_domain: Domain | None = None,
                     actions: Iterable[str] = ()) -> DomainAdditions:
    """What ``segments`` use that ``domain`` lacks.

    A new ``utter_`` action gets its response from ``responses`` (typed during
    the session), else from ``model_domain``; without either it is listed as an
    action so the domain at least declares it. ``actions`` are more action
    names to declare although no segment runs them: those of turns taken back,
    and those created during the session (see :func:`export_conversations`).
    """
    responses = responses or {}
    additions = DomainAdditions()
    intents, entities = set(domain.intent_names), set(domain.entities)

    def add_action(name: str) -> None:
        if domain.is_known_action(name) or name in additions.actions \
                or name in additions.responses:
            return
        if name in responses:
            additions.responses[name] = [{"text": responses[name]}]
        elif model_domain is not None and name in model_domain.responses:
            additions.responses[name] = [
                dict(v) for v in model_domain.responses[name].variations]
        else:
            additions.actions.append(name)

    for segment in segments:
        for event in segment:
            if isinstance(event, UserUttered):
                intent = (event.intent_name or "").split(RETRIEVAL_SEPARATOR, 1)[0]
                if intent and intent not in intents:
                    intents.add(intent)
                    additions.intents.append(intent)
                for entity in event.entities:
                    name = entity.get("entity")
                    if name and name not in entities:
                        entities.add(name)
                        additions.entities.append(name)
            elif isinstance(event, ActionExecuted) and event.name:
                add_action(event.name)
    for name in actions:
        add_action(name)
    return additions


def export_project(project_root: str | Path, sources: ProjectSources | None = None) -> Project:
    """The project as the export reads it: with ``sources`` (the session's ``--domain``
    and ``--data``), its problems collected rather than raised. Load it once per export
    and pass it on as ``project=``: each load reads every file of the project."""
    return load_project(Path(project_root), strict=False, sources=sources)


def default_domain_file(project_root: str | Path, sources: ProjectSources | None = None,
                        project: Project | None = None) -> Path:
    """Where the domain additions go unless the user says otherwise: the first domain
    file the project reads (with ``sources``, as training with them does), or for a
    domain folder its ``interactive_domain.yml``; ``domain.yml`` in a project without a
    domain yet. ``project`` is :func:`export_project` (loaded here when None)."""
    root = Path(project_root)
    if project is None:
        project = export_project(root, sources)
    return _domain_target(root, project)


def export_path_problem(answer: str, project_root: str | Path, what: str,
                        example: str) -> str | None:
    """Why ``answer`` cannot be where ``what`` (``"the stories"``) is written, or None.

    As in Rasa, the path must name a YAML file (``example`` shows one); beyond
    Rasa, a folder (an answer ending in ``/`` too), or a path under a file, is
    refused here rather than when writing fails, and so is a backslash where it
    does not separate folders (it would name one odd file, not a file in a
    folder). A missing folder is fine: it is created, as Rasa does.
    """
    if "\\" in answer and not _BACKSLASH_SEPARATES:
        # here a backslash is part of a file name: `data\nlu.yml` would be one file
        # of that name beside data/, which training never reads
        slashed = answer.replace("\\", "/")
        return (f"{answer} separates folders with \\, which this system reads as part of a "
                f"file name: write the folders with /, e.g. {slashed}.")
    path = resolve_in_project(answer, project_root)
    if answer.endswith(("/", os.sep)):
        return (f"{answer} names a folder (it ends in {answer[-1]}): give a file for {what}, "
                f"e.g. {example}.")
    if path.is_dir():
        return f"{answer} is a folder: give a file for {what}, e.g. {example}."
    if path.suffix.lower() not in EXPORT_SUFFIXES:
        return (f"{answer} is not a YAML file: give a path for {what} that ends in .yml or "
                f".yaml, e.g. {example}.")
    blocking = next((parent for parent in path.parents if parent.exists()), None)
    if blocking is not None and not blocking.is_dir():
        return f"{answer} cannot be written: {blocking} is a file, not a folder."
    return None


def export_path_answer(answer: str) -> str:
    """The path an answer to an export question names: one pair of matching quotes
    around it taken off (a terminal's drag and drop adds them) and ``~`` expanded,
    since no shell reads the answer."""
    answer = answer.strip()
    if len(answer) >= 2 and answer[0] == answer[-1] and answer[0] in "'\"":
        answer = answer[1:-1].strip()
    if not answer.startswith("~"):
        return answer
    try:
        return str(Path(answer).expanduser())
    except RuntimeError:  # an unknown user (~nobody/x), or no home folder: kept as typed
        return answer


def domain_path_problem(answer: str, project_root: str | Path, offered: str | Path,
                        project: Project | None = None,
                        sources: ProjectSources | None = None) -> str | None:
    """Why the project would not read ``answer`` as its domain, or None.

    The additions must go where training reads the domain: a domain file the
    project reads, a YAML file in a domain folder it reads (the ``--domain`` of
    ``sources`` and a config's ``importers:`` may name others than its own), or,
    in a project without a domain yet (an empty ``domain/`` folder is none),
    ``domain.yml``, ``domain.yaml`` or a file in ``domain/``. ``offered``, the
    default of the question, is always taken. A new ``domain.yml`` next to a
    ``domain/`` folder is refused: the loader would read it instead of the whole
    folder. ``project`` is :func:`export_project` with ``sources`` (loaded here
    when None).
    """
    root = Path(project_root)
    path = resolve_in_project(answer, root).resolve()
    if path == resolve_in_project(offered, root).resolve():
        return None
    if project is None:
        project = export_project(root, sources)
    read = [file.resolve() for file in project.domain_files]
    if path in read or any(place.is_dir() and _read_from_folder(path, place)
                           for place in project.domain_sources):
        return None
    if not _reads_own_domain(root, project, sources):
        return _not_read(answer, offered, _described(project.domain_sources, root))
    source = existing_domain(root)
    if source is None or (source.is_dir() and not read):
        # no domain yet (an empty folder declares nothing): the answer creates it
        if _domain_place(path, root) is not None or any(
                _read_from_folder(path, folder) for folder in _domain_folders(root)):
            return None
        return _not_read(answer, offered, "domain.yml (or the files of a domain/ folder)")
    place = _domain_place(path, root)
    if place is not None and DOMAIN_PLACES.index(place) < DOMAIN_PLACES.index(source.name):
        return (f"{answer} would replace {_place(source)} as the project's domain (the "
                "first of domain.yml, domain.yaml and domain/ is read), so the rest of "
                f"the domain would be ignored: give a file the project reads, e.g. "
                f"{offered}.")
    return _not_read(answer, offered, _described([source], root))


def _reads_own_domain(root: Path, project: Project, sources: ProjectSources | None) -> bool:
    """Whether the project reads its domain from the first of :data:`DOMAIN_PLACES`
    (or has none yet), rather than from a ``--domain`` or its importers' files."""
    if sources is not None and sources.domain is not None:
        return False
    own = existing_domain(root)
    return all(own is not None and place.resolve() == own.resolve()
               for place in project.domain_sources)


def _not_read(answer: str, offered: str | Path, where: str) -> str:
    return (f"{answer} is not read as the project's domain, so training would not see what "
            f"is added to it: the project reads its domain from {where}. Give a file it "
            f"reads, e.g. {offered}.")


def _described(places: Sequence[Path], root: Path) -> str:
    """``the files of domain/``, ``bot.yml``: the domain's files and folders for a message."""
    shown = [f"the files of {_display(place, root)}/" if place.is_dir() else _display(place, root)
             for place in places[:3]]
    return ", ".join(shown) or "the files that the project names as its domain"


def _domain_place(path: Path, root: Path) -> str | None:
    """The name of the domain place (``domain.yml``) that ``path`` (resolved) is in the
    project's folder, else None."""
    if path.parent == root.resolve() and path.name in DOMAIN_PLACES:
        return path.name
    return None


def _domain_folders(root: Path) -> list[Path]:
    """The places of :data:`DOMAIN_PLACES` that a new domain folder may take (those
    without a YAML suffix)."""
    return [root / name for name in DOMAIN_PLACES if Path(name).suffix not in YAML_SUFFIXES]


def _place(path: Path) -> str:
    return f"{path.name}/" if path.is_dir() else path.name


def _read_from_folder(path: Path, folder: Path) -> bool:
    """Whether the loader reads ``path`` (written) among the YAML files of ``folder``."""
    folder = folder.resolve()
    if folder not in path.parents or path.suffix not in YAML_SUFFIXES:
        return False
    return not any(part.startswith(".") for part in path.relative_to(folder).parts)


def _domain_target(root: Path, project: Project) -> Path:
    """The file that takes the domain additions by default (see
    :func:`default_domain_file`)."""
    if not project.domain_sources:
        return root / DOMAIN_PLACES[0]
    first = project.domain_sources[0]
    return first / DOMAIN_FOLDER_FILE if first.is_dir() else first


def _fresh_domain(additions: DomainAdditions) -> str:
    sections: dict[str, Any] = {}
    for key, names in (("intents", additions.intents), ("entities", additions.entities),
                       ("actions", additions.actions)):
        if names:
            sections[key] = list(names)
    if additions.responses:
        sections["responses"] = additions.responses
    yaml = _round_trip_yaml()
    yaml.indent(mapping=2, sequence=4, offset=2)
    body = _dump(sections, yaml)
    return f'version: "3.1"\n\n{body}'


def write_domain(additions: DomainAdditions, path: Path, notes: list[str]) -> Path:
    """Add ``additions`` to the domain file ``path`` (keeping its comments)."""

    def merge(data: Any, fresh: Any) -> Any:
        data = _expect_mapping(data, path, "intents")
        for key in ("intents", "entities", "actions"):
            if key in fresh:
                _expect_list(data, path, key).extend(fresh[key])
        if "responses" in fresh:
            responses = data.get("responses")
            if responses is None:
                data["responses"] = responses = CommentedMap()
            if not isinstance(responses, CommentedMap):
                raise ProjectError(f"`responses:` in {path.name} is not a mapping",
                                   position=Position(str(path), data.lc.key("responses")[0] + 1),
                                   hint="make `responses:` a mapping of names to variations")
            responses.update(fresh["responses"])
        return data

    def blocks(fresh: Any) -> dict[str, str]:
        found = {key: _block_text(list(fresh[key]))
                 for key in ("intents", "entities", "actions") if key in fresh}
        if "responses" in fresh:
            text = path.read_text(encoding="utf-8")
            offset = _nested_offset(_round_trip_yaml().load(text), "responses", text)
            found["responses"] = _block_text(dict(fresh["responses"]), offset)
        return found

    return _merge_or_rescue(path, _fresh_domain(additions), merge, notes, blocks=blocks)


# ---------------------------------------------------------------- all of it


def export_texts(conversations: Iterable[Sequence[Event]], *, e2e: bool = False) -> str:
    """The stories and NLU examples of ``conversations`` as YAML text, written nowhere:
    what the session prints when the files cannot be written, so nothing is lost."""
    segments = [segment for events in conversations for segment in story_segments(events)]
    stories = [WrittenStory(f"{STORY_NAME_PREFIX}{number}",
                            events_to_steps(_story_events(segment, e2e)))
               for number, segment in enumerate(segments, 1)]
    return (f"# stories\n{stories_yaml(stories)}\n"
            f"# NLU examples\n{nlu_yaml(TrainingData(user_examples(segments)))}")


def export_conversations(
    project_dir: str | Path,
    conversations: Iterable[Sequence[Event]],
    *,
    responses: Mapping[str, str] | None = None,
    model_domain: Domain | None = None,
    stories_file: str | Path | None = None,
    nlu_file: str | Path | None = None,
    domain_file: str | Path | None = None,
    e2e: bool = False,
    new_actions: Iterable[str] = (),
    sources: ProjectSources | None = None,
    project: Project | None = None,
) -> ExportReport:
    """Write ``conversations`` (each a list of tracker events) into the project.

    With ``e2e`` (Rasa's ``interactive --e2e``) the stories' user steps hold
    each message's text (``user:``, entities annotated) next to its intent.

    A turn taken back (by ``action_default_fallback``, ``action_back`` or
    ``/undo``) leaves the stories, and its message the NLU examples and its
    intents and entities the domain, as in Rasa; the actions it ran, like
    ``new_actions`` and ``responses`` (the custom actions and the texts of
    ``utter_`` actions created during the session), are declared in the domain
    all the same, as Rasa declares every action its session ran and every
    response typed in it.

    ``stories_file``, ``nlu_file`` and ``domain_file`` default to
    ``data/stories.yml``, ``data/nlu.yml`` and :func:`default_domain_file`;
    relative paths are read from the working folder when they exist there, else
    from the project (as every ``--out`` option is). ``sources`` (``--domain``,
    ``--data``) are read instead of the project's own files, as the session's
    training read them: what they hold is not written again. ``project`` is
    :func:`export_project` with ``sources``, read before anything is written
    (loaded here when None).
    """
    root = Path(project_dir)
    if project is None:
        project = export_project(root, sources)
    conversations = [list(events) for events in conversations]
    segments = [segment for events in conversations for segment in story_segments(events)]
    report = ExportReport()
    if segments:
        stories_path = resolve_in_project(stories_file or DEFAULT_STORIES_FILE, root)
        nlu_path = resolve_in_project(nlu_file or DEFAULT_NLU_FILE, root)
        report.stories_file = write_stories(segments, stories_path, project, report.notes,
                                            keep_text=e2e)
        report.stories = len(segments)
        examples, report.known_examples = new_examples(user_examples(segments), project.nlu,
                                                       report.notes)
        if examples:
            report.nlu_file = write_nlu(examples, nlu_path, report.notes)
            report.examples = len(examples)
    ran = [event.name for events in conversations for event in events
           if isinstance(event, ActionExecuted) and event.name]
    report.additions = domain_additions(segments, project.domain, responses=responses,
                                        model_domain=model_domain,
                                        actions=[*ran, *new_actions, *(responses or {})])
    if report.additions:
        domain_path = (resolve_in_project(domain_file, root) if domain_file
                       else _domain_target(root, project))
        report.domain_file = write_domain(report.additions, domain_path, report.notes)
    _note_unread(report, root, project)
    return report


def _note_unread(report: ExportReport, root: Path, project: Project) -> None:
    """Note the stories or NLU file written where training does not read it: outside
    the project's training data (``--data``, the ``training_data_paths`` of its
    importers, else ``data/``) and not read as an imported project's."""
    places = [place.resolve() for place in project.data_sources]
    shown = ", ".join(_shown(place, root) if place.is_file() else f"{_shown(place, root)}/"
                      for place in places)
    for written, stories in ((report.stories_file, True), (report.nlu_file, False)):
        if written is None:
            continue
        path = written.resolve()
        if any(path == place or _read_from_folder(path, place) for place in places):
            continue
        if _read_by_imported_project(path, project, stories):
            continue
        report.notes.append(f"{written} is outside {shown or 'the training data'}, so "
                            "training does not read it; move it there to train on it")


def _read_by_imported_project(path: Path, project: Project, stories: bool) -> bool:
    """Whether the loader reads ``path`` (resolved; a stories file when ``stories``, else
    an NLU file) as training data of a project the config imports: any YAML file of
    that folder (the innermost one holding it) but its tests (under ``tests/``, or a
    stories file named ``test_``), its domain and its config files."""
    owners = [imported.folder.resolve() for imported in project.imported]
    folder = max((owner for owner in owners if _read_from_folder(path, owner)),
                 key=lambda owner: len(owner.parts), default=None)
    if folder is None:
        return False
    first = path.relative_to(folder).parts[0]
    if first in ("tests", "domain") or path.name in (*DOMAIN_PLACES, *CONFIG_NAMES):
        return False
    return not (stories and path.name.startswith(TEST_STORIES_PREFIX))


def _shown(place: Path, root: Path) -> str:
    """``place`` relative to the project where it is inside it."""
    try:
        return place.relative_to(root.resolve()).as_posix()
    except ValueError:
        return str(place)
