"""Reading Rasa's JSON NLU training data.

The format is one object under ``rasa_nlu_data``::

    {"rasa_nlu_data": {
        "common_examples": [{"text": "fly to Berlin", "intent": "book",
                             "entities": [{"start": 7, "end": 13, "value": "Berlin",
                                           "entity": "city"}]}],
        "entity_synonyms": [{"value": "New York", "synonyms": ["NYC"]}],
        "regex_features": [{"name": "zipcode", "pattern": "[0-9]{5}"}],
        "lookup_tables": [{"name": "city", "elements": ["Berlin", "Oslo"]}]}}

Entities are character spans of the text (``end`` exclusive); ``value``
defaults to the spanned text, and a different value makes the text a synonym,
as with ``[NYC](city:New York)``. A lookup table's ``elements`` may be the
path of a text file with one element per line. :func:`read_json_nlu` turns a
file into the :class:`TrainingData` the YAML reader produces, reporting every
mistake at its line and column.
"""

from __future__ import annotations

import bisect
import json
import json.decoder
import json.scanner
from pathlib import Path
from typing import Any

from dialogflowlite.errors import Position
from dialogflowlite.io.formats import did_you_mean
from dialogflowlite.io.problems import UNKNOWN_KEY, ProblemLog
from dialogflowlite.io.yaml import not_utf8
from dialogflowlite.shared.message import Entity, Message
from dialogflowlite.shared.training_data import (
    ANNOTATION_KEYS,
    LookupTable,
    RegexPattern,
    Synonym,
    TrainingData,
)

ROOT_KEY = "rasa_nlu_data"
SECTION_KEYS = ("common_examples", "entity_synonyms", "regex_features", "lookup_tables")
EXAMPLE_KEYS = ("text", "intent", "entities", "metadata")
ENTITY_KEYS = ("start", "end", *ANNOTATION_KEYS)


class _Located(dict):
    """A JSON object that remembers the offset of its ``{`` in the source text."""

    offset: int = 0


class _LocatedList(list):
    """A JSON array that remembers the offset of its ``[`` in the source text."""

    offset: int = 0


def _parse_located(text: str) -> Any:
    """``json.loads`` whose objects and arrays know where they start (for the messages).

    The standard decoder keeps no positions; the pure-Python scanner lets its
    object and array parsers be wrapped to record them.
    """
    decoder = json.JSONDecoder()

    def parse_object(s_and_end, strict, scan_once, object_hook, object_pairs_hook, memo=None):
        pairs, end = json.decoder.JSONObject(
            s_and_end, strict, scan_once, object_hook, object_pairs_hook, memo
        )
        located = _Located(pairs)
        located.offset = s_and_end[1] - 1
        return located, end

    def parse_array(s_and_end, scan_once):
        values, end = json.decoder.JSONArray(s_and_end, scan_once)
        located = _LocatedList(values)
        located.offset = s_and_end[1] - 1
        return located, end

    decoder.parse_object = parse_object
    decoder.parse_array = parse_array
    decoder.scan_once = json.scanner.py_make_scanner(decoder)
    return decoder.decode(text)


class JsonNluReader:
    """Reads one Rasa JSON NLU file; use :func:`read_json_nlu`."""

    def __init__(self, file: Path, log: ProblemLog, root: Path) -> None:
        self.file = file
        self.log = log
        self.root = root
        self.data = TrainingData()
        self._line_starts: list[int] = [0]

    def where(self, node: Any) -> Position:
        """The line and column where JSON object or array ``node`` starts."""
        if not isinstance(node, (_Located, _LocatedList)):
            return Position(str(self.file))
        line = bisect.bisect_right(self._line_starts, node.offset)
        return Position(str(self.file), line, node.offset - self._line_starts[line - 1] + 1)

    def read(self) -> TrainingData:
        """Read the file (problems go to the log) and return what it holds."""
        try:
            text = self.file.read_text(encoding="utf-8-sig")
        except UnicodeDecodeError as e:
            where, message = not_utf8(self.file, e)
            self.log.error(where, message, "save the file as UTF-8", code="DFL102")
            return self.data
        except OSError as e:
            self.log.error(Position(str(self.file)), f"cannot read the file: {e.strerror or e}")
            return self.data
        self._line_starts += [i + 1 for i, char in enumerate(text) if char == "\n"]
        try:
            document = _parse_located(text)
        except json.JSONDecodeError as e:
            self.log.error(
                Position(str(self.file), e.lineno, e.colno),
                f"invalid JSON: {e.msg}",
                "check commas, brackets and double quotes around this point",
                code="DFL102",
            )
            return self.data
        if not isinstance(document, dict) or not isinstance(document.get(ROOT_KEY), dict):
            self.log.error(
                self.where(document),
                f"a JSON NLU file holds one object under '{ROOT_KEY}'",
                f'write {{"{ROOT_KEY}": {{"common_examples": [...]}}}}',
            )
            return self.data
        self._check_keys(document, (ROOT_KEY,), "the file")
        body = document[ROOT_KEY]
        self._check_keys(body, SECTION_KEYS, f"'{ROOT_KEY}'")
        for example in self._items(body, "common_examples"):
            self._example(example)
        for synonym in self._items(body, "entity_synonyms"):
            self._synonym(synonym)
        for regex in self._items(body, "regex_features"):
            self._check_keys(regex, ("name", "pattern"), "a regex")
            name = self._text(regex, "name", "a regex")
            pattern = self._text(regex, "pattern", "a regex")
            if name is not None and pattern is not None:
                self.data.regexes.append(RegexPattern(name, pattern, self.where(regex)))
        for lookup in self._items(body, "lookup_tables"):
            self._lookup(lookup)
        return self.data

    def _check_keys(self, node: dict, known: tuple[str, ...], what: str) -> None:
        for key in node:
            if key not in known:
                self.log.warning(
                    self.where(node),
                    f"unknown key '{key}' in {what}",
                    did_you_mean(key, known) or f"known keys: {', '.join(known)}",
                    UNKNOWN_KEY,
                )

    def _items(self, body: dict, key: str) -> list[dict]:
        """The objects listed under ``key``; anything else there is reported."""
        value = body.get(key, [])
        if not isinstance(value, list):
            self.log.error(self.where(body), f"'{key}' must be a list")
            return []
        found = []
        for item in value:
            if isinstance(item, dict):
                found.append(item)
            else:
                self.log.error(
                    self.where(value),
                    f"an entry of '{key}' is not an object: "
                    f"{json.dumps(item, ensure_ascii=False)[:60]}",
                )
        return found

    def _text(self, node: dict, key: str, what: str) -> str | None:
        """The non-empty text under ``key``, or None after reporting why not."""
        value = node.get(key)
        if isinstance(value, str) and value.strip():
            return value
        problem = (
            "has no"
            if value is None
            else "has an empty"
            if isinstance(value, str)
            else "has a non-text"
        )
        self.log.error(self.where(node), f"{what} {problem} '{key}'", f'add "{key}": "..."')
        return None

    def _example(self, node: dict) -> None:
        self._check_keys(node, EXAMPLE_KEYS, "an example")
        where = self.where(node)
        text = self._text(node, "text", "an example")
        if text is None:
            return
        intent = node.get("intent")
        if intent is None or intent == "":
            # Rasa trains entities on such examples; every example here needs an intent
            self.log.warning(
                where, f"example {text!r} has no intent and is not read", 'add "intent": "..."'
            )
            return
        if not isinstance(intent, str):
            self.log.error(where, f"the intent of example {text!r} is not text")
            return
        metadata = node.get("metadata") or {}
        if not isinstance(metadata, dict):
            self.log.error(where, f"the metadata of example {text!r} must be an object")
            return
        entities = []
        for raw in node.get("entities") or []:
            entity = self._entity(raw, text, where)
            if entity is None:
                return  # an example with a wrong span would teach wrong labels
            entities.append(entity)
        # examples are stripped, as the YAML reader strips them; spans move along
        lead = len(text) - len(text.lstrip())
        plain = text.strip()
        for entity in entities:
            entity.start = min(max(entity.start - lead, 0), len(plain))
            entity.end = min(max(entity.end - lead, 0), len(plain))
        # an empty object is kept apart from no metadata: Rasa's JSON writer writes it back
        levels = {} if node.get("metadata") == {} else _metadata_levels(metadata)
        self.data.examples.append(
            Message(
                text=plain,
                intent=intent.strip(),
                entities=entities,
                metadata={**levels.get("intent", {}), **levels.get("example", {})}
                if levels else metadata,
                position=where,
                metadata_levels=levels,
            )
        )

    def _entity(self, raw: Any, text: str, example: Position) -> Entity | None:
        if not isinstance(raw, dict):
            self.log.error(example, f"an entity of example {text!r} is not an object")
            return None
        where = self.where(raw)
        self._check_keys(raw, ENTITY_KEYS, "an entity")
        name = raw.get("entity")
        start, end = raw.get("start"), raw.get("end")
        if not isinstance(name, str) or not name.strip():
            self.log.error(
                where, f"an entity of example {text!r} has no 'entity'", 'add "entity": "name"'
            )
            return None
        if not (
            isinstance(start, int)
            and isinstance(end, int)
            and not isinstance(start, bool)
            and 0 <= start < end <= len(text)
        ):
            self.log.error(
                where,
                f"entity '{name}' of example {text!r} has no valid span "
                f"(start {start!r}, end {end!r})",
                f"start and end are character offsets, 0 <= start < end <= {len(text)}",
            )
            return None
        role, group = raw.get("role"), raw.get("group")
        return Entity(
            entity=name.strip(),
            start=start,
            end=end,
            value=raw.get("value", text[start:end]),
            role=None if role is None else str(role),
            group=None if group is None else str(group),
        )

    def _synonym(self, node: dict) -> None:
        self._check_keys(node, ("value", "synonyms"), "a synonym")
        value = self._text(node, "value", "a synonym")
        variants = node.get("synonyms")
        if not isinstance(variants, list) or not all(isinstance(v, str) for v in variants):
            self.log.error(
                self.where(node),
                "'synonyms' must be a list of texts",
                '"synonyms": ["NYC", "the big apple"]',
            )
            return
        if value is not None:
            self.data.synonyms.append(Synonym(value, list(variants), self.where(node)))

    def _lookup(self, node: dict) -> None:
        self._check_keys(node, ("name", "elements"), "a lookup table")
        name = self._text(node, "name", "a lookup table")
        elements = node.get("elements")
        if isinstance(elements, str) and elements.strip():
            elements = self._lookup_file(elements.strip(), node)
        if not isinstance(elements, list) or not all(isinstance(e, str) for e in elements):
            self.log.error(
                self.where(node),
                "'elements' must be a list of texts or a file path",
                '"elements": ["Berlin", "Oslo"]',
            )
            return
        if name is not None:
            self.data.lookups.append(LookupTable(name, elements, self.where(node)))

    def _lookup_file(self, path: str, node: dict) -> list[str]:
        candidate = Path(path)
        options = (
            [candidate] if candidate.is_absolute() else [self.root / path, self.file.parent / path]
        )
        found = next((option for option in options if option.is_file()), None)
        if found is None:
            self.log.error(
                self.where(node),
                f"lookup table file '{path}' does not exist",
                f"give its path from the project folder ({self.root}), or list the elements",
            )
            return []
        try:
            lines = found.read_text(encoding="utf-8-sig").splitlines()
        except (OSError, UnicodeDecodeError) as e:
            self.log.error(
                self.where(node),
                f"cannot read lookup table file '{path}': {e}",
                "save it as UTF-8 text",
            )
            return []
        return [line.strip() for line in lines if line.strip()]


def read_json_nlu(
    file: str | Path, log: ProblemLog, root: str | Path | None = None
) -> TrainingData:
    """Read one Rasa JSON NLU file into :class:`TrainingData`.

    A lookup table whose ``elements`` is a file path is looked for relative to
    ``root`` (the project folder; default: the current folder), then to the
    JSON file's own folder.
    """
    return JsonNluReader(Path(file), log, Path(root) if root is not None else Path.cwd()).read()


#: the keys of metadata written as Rasa writes a YAML example's: the intent's and the example's
METADATA_LEVELS = ("intent", "example")


def _metadata_levels(metadata: dict) -> dict | None:
    """``metadata`` when it is in the shape Rasa gives a YAML example's metadata (the
    intent's under ``intent``, the example's own under ``example``, each an object), else
    None: other metadata is the example's as it stands."""
    if not metadata or not set(metadata) <= set(METADATA_LEVELS):
        return None
    if not all(isinstance(value, dict) for value in metadata.values()):
        return None
    return metadata
