"""Reading the ``nlu:`` section of data files into :class:`TrainingData`."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

from dialogflowlite.errors import AnnotationError, Position
from dialogflowlite.io import formats
from dialogflowlite.io.problems import ProblemLog
from dialogflowlite.io.yaml import position, to_plain, value_position
from dialogflowlite.shared.message import Message
from dialogflowlite.shared.training_data import (
    LookupTable,
    RegexPattern,
    Synonym,
    TrainingData,
    parse_annotated_text,
)


@lru_cache(maxsize=64)
def _read_lines(file: str, mtime_ns: int, size: int) -> tuple[str, ...]:
    return tuple(Path(file).read_text(encoding="utf-8").splitlines())


def _source_lines(file: str) -> tuple[str, ...]:
    try:
        stat = Path(file).stat()
        return _read_lines(file, stat.st_mtime_ns, stat.st_size)
    except (OSError, UnicodeDecodeError):
        return ()


def split_example_block(block: str, start: Position) -> list[tuple[str, Position, bool]]:
    """Split a ``|`` block of ``- example`` lines into (text, position, listed) triples;
    ``listed`` is False for a line that does not start with ``-``.

    ``start`` is where the block's value starts (the ``|`` indicator); the
    first example sits on the next line. Columns are read off the source file,
    since YAML strips the block's indentation.
    """
    source = _source_lines(start.file)
    # a `|` or `>` block starts on the line after its indicator; a plain string where
    # a block belongs starts where its value does
    after = 1
    if start.line is not None and start.col is not None and 0 < start.line <= len(source):
        indicator = source[start.line - 1][start.col - 1:start.col]
        after = 1 if indicator in ("|", ">") else 0
    examples: list[tuple[str, Position, bool]] = []
    for offset, raw in enumerate(block.splitlines()):
        line = raw.strip()
        if not line:
            continue
        text = line[1:].strip() if line.startswith("-") else line
        line_no = start.line + after + offset if start.line is not None else None
        col = None
        if line_no is not None and 0 < line_no <= len(source) and text:
            found = source[line_no - 1].find(text)
            col = found + 1 if found >= 0 else None
        examples.append((text, Position(start.file, line_no, col), line.startswith("-")))
    return examples


def locate_text(start: Position, text: str, lines: int = 3) -> Position:
    """Where ``text`` (its first line) begins in the source, searching from ``start``.

    ``start`` is where ruamel says a value starts; quotes, block indicators
    (``|``) and ``- text:`` prefixes put the text itself later on that line or
    on the next ones. Annotation errors add their offset to this column.
    """
    first = text.strip().splitlines()[0] if text.strip() else ""
    source = _source_lines(start.file)
    if not first or start.line is None or not source:
        return start
    for line_no in range(start.line, min(start.line + lines, len(source)) + 1):
        line = source[line_no - 1]
        offset = (start.col or 1) - 1 if line_no == start.line else 0
        found = line.find(first, offset)
        if found >= 0:
            return Position(start.file, line_no, found + 1)
    return start


class NluReader:
    """Reads ``nlu:`` items (intents, synonyms, regexes, lookups) from many files."""

    def __init__(self, log: ProblemLog) -> None:
        self.log = log
        self.data = TrainingData()

    def read(self, file: Path, parent: Any, value: Any) -> None:
        """Read the value of one file's ``nlu:`` key."""
        if value is None:
            return
        if not self.log.expect(file, parent, "nlu", value, list, "'nlu'"):
            return
        for index, item in enumerate(value):
            where = position(file, value, index)
            if not self.log.expect(file, value, index, item, dict, "an nlu item"):
                continue
            kind = next((k for k in formats.NLU_ITEM_KEYS if k in item), None)
            if kind is None:
                self.log.error(
                    where,
                    "nlu item has none of intent, synonym, regex or lookup",
                    formats.did_you_mean(str(next(iter(item), "")), formats.NLU_ITEM_KEYS)
                    or "start it with `- intent: <name>`",
                )
                continue
            self.log.check_keys(file, item, formats.NLU_ITEM_KEYS[kind], f"an nlu {kind} item")
            name = item.get(kind)
            if not isinstance(name, (str, int, float)) or str(name).strip() == "":
                self.log.error(
                    position(file, item, kind),
                    f"nlu {kind} item without a name",
                    f"write `- {kind}: <name>`",
                )
                continue
            name = str(name)
            if kind == "intent" and "/" in name and (
                    name.count("/") > 1 or not all(part.strip() for part in name.split("/"))):
                # `faq/`, `/ask_x` or `faq/ask/x` would be a retrieval intent without a base
                # or key, or with two keys: nothing can answer it
                self.log.error(
                    position(file, item, kind),
                    f"intent '{name}' is no retrieval intent name: one base and one key "
                    "around a single `/`", "write it as `faq/ask_hours`")
                continue
            examples = self._examples(file, item, kind, name)
            if not examples and item.get("examples") is not None:
                # an `examples: |` left empty: the intent, synonym or lookup was read as
                # having none, without a word (a missing `examples:` is an error)
                self.log.warning(
                    value_position(file, item, "examples"),
                    f"nlu {kind} '{name}' has an empty `examples:`, so it adds nothing",
                    "write one `- example` per line under `examples: |`, or remove the item")
            if kind == "intent":
                metadata = to_plain(item.get("metadata")) or {}
                self._intent(name, examples, metadata)
            elif kind == "synonym":
                self.data.synonyms.append(Synonym(name, [t for t, _, _ in examples], where))
            elif kind == "regex":
                self.data.regexes.extend(RegexPattern(name, t, p) for t, p, _ in examples)
            elif kind == "lookup":
                self.data.lookups.append(LookupTable(name, [t for t, _, _ in examples], where))

    def _examples(
        self, file: Path, item: Any, kind: str, name: str
    ) -> list[tuple[str, Position, dict]]:
        raw = item.get("examples")
        if raw is None:
            self.log.error(
                position(file, item, kind),
                f"nlu {kind} '{name}' has no examples",
                "add `examples: |` with one `- example` per line",
            )
            return []
        start = value_position(file, item, "examples")
        if isinstance(raw, str):
            found = split_example_block(raw, start)
            unlisted = [(t, p) for t, p, listed in found if not listed]
            if unlisted:
                self._unlisted(kind, name, unlisted)
            return [(t, p, {}) for t, p, _ in found]
        if isinstance(raw, list):
            found = []
            for index, entry in enumerate(raw):
                where = position(file, raw, index)
                if isinstance(entry, dict) and "text" in entry:
                    self.log.check_keys(
                        file, entry, formats.EXAMPLE_KEYS, f"an example of {kind} '{name}'"
                    )
                    text = str(entry["text"]).strip()
                    found.append(
                        (
                            text,
                            locate_text(value_position(file, entry, "text"), text),
                            to_plain(entry.get("metadata")) or {},
                        )
                    )
                elif isinstance(entry, (str, int, float)):
                    found.append((str(entry).strip(), where, {}))
                else:
                    self.log.error(
                        where,
                        f"example of {kind} '{name}' is not text",
                        "write `- text: ...` or a plain string",
                    )
            return found
        self.log.error(start, f"examples of {kind} '{name}' must be a `|` block or a list")
        return []

    def _unlisted(self, kind: str, name: str, lines: list[tuple[str, Position]]) -> None:
        """Warn about lines of an examples block that do not start with ``-``: they are
        read as examples, but may be a mistake (a wrapped line, a file name)."""
        text, where = lines[0]
        more = f" (and {len(lines) - 1} more)" if len(lines) > 1 else ""
        hint = "start each example with `- ` on its own line"
        if kind == "lookup" and len(lines) == 1 and text.endswith((".txt", ".csv")):
            hint = ("a YAML lookup table lists its elements; a file of elements is read "
                    "only from Rasa's Markdown and JSON data")
        self.log.warning(where, f"line {text!r} of {kind} '{name}' does not start with `- `; "
                                f"it is read as one {'element' if kind == 'lookup' else 'example'}"
                                f"{more}", hint)

    def _intent(
        self, intent: str, examples: list[tuple[str, Position, dict]], metadata: dict
    ) -> None:
        for text, where, example_metadata in examples:
            warnings: list[AnnotationError] = []
            try:
                plain, entities = parse_annotated_text(text, where, warnings)
            except AnnotationError as e:
                self.log.add(e, where.file)
                continue
            self.log.add_warnings(warnings, where.file)
            if not plain.strip():
                self.log.warning(where, f"empty example under intent '{intent}'", "remove it")
                continue
            self.data.examples.append(
                Message(
                    text=plain,
                    intent=intent,
                    entities=entities,
                    metadata={**metadata, **example_metadata},
                    position=where,
                    metadata_levels=_metadata_levels(metadata, example_metadata),
                )
            )


def _metadata_levels(intent_metadata: dict, example_metadata: dict) -> dict | None:
    """The metadata of an intent and of one of its examples, each under its own key
    (``intent``, ``example``), as Rasa's training data keeps them; None without any."""
    levels = {"intent": intent_metadata, "example": example_metadata}
    return {key: value for key, value in levels.items() if value} or None
