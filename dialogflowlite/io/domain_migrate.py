"""Rewriting a format 2.0 domain in the 3.x format (``dialogflowlite data migrate``).

Format 2.0 fills slots in two ways that 3.x spells out as slot mappings:

* ``auto_fill`` (on by default): a slot takes the value of the entity of the
  same name. Migrated, the slot gets a ``from_entity`` mapping of that entity;
  the ``auto_fill`` key goes.
* mappings written inside a form (``forms: <form>: required_slots: <slot>:
  [mappings]``, or the same without ``required_slots:``). Migrated, they move
  to the slot with the condition ``active_loop: <form>`` (and, except for
  ``from_entity``, ``requested_slot: <slot>``), and the form lists its slot
  names under ``required_slots:``.

A 2.0 slot without ``type`` was ``unfeaturized``; migrated, it says
``type: any``, which 3.x reads the same way. A 2.0 slot left with no mapping
at all gets ``mappings: []``: custom actions fill it, as before.

What the domain means is :mod:`dialogflowlite.io.domain_reader`'s: the
migrated domain loads to the same intents, entities, slots, mappings, forms and
responses as the original, and :func:`migrate_domain` checks that before it
returns. Only the ``slots:``, ``forms:`` and ``version:`` parts of a file are
rewritten; every other line, comments included, stays exactly as it was.
:func:`write_migration` then writes the result, in place (keeping the
original as ``original_domain.yml`` or ``original_domain/``, as Rasa's
``rasa data migrate`` does) or to another path.
"""

from __future__ import annotations

import dataclasses
import io
import itertools
import re
import shutil
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedBase, CommentedMap, CommentedSeq
from ruamel.yaml.error import CommentMark
from ruamel.yaml.representer import RoundTripRepresenter
from ruamel.yaml.scalarstring import DoubleQuotedScalarString
from ruamel.yaml.tokens import CommentToken

from dialogflowlite.errors import (
    Position,
    ProjectError,
    ProjectNotFoundError,
    ProjectValidationError,
    YamlSyntaxError,
)
from dialogflowlite.io import formats
from dialogflowlite.io.domain_reader import DomainReader
from dialogflowlite.io.loader import existing_domain, yaml_files
from dialogflowlite.io.problems import ProblemLog
from dialogflowlite.io.yaml import position, read_yaml, read_yaml_file, to_plain
from dialogflowlite.shared.domain import (
    FROM_ENTITY,
    FROM_TRIGGER_INTENT,
    POSITION_FIELDS,
    REQUESTED_SLOT,
    Domain,
)

#: the format version a migrated file declares
MIGRATED_VERSION = formats.LATEST_VERSION
#: where an in-place migration keeps the original (``.yml`` added for a single file)
BACKUP_NAME = "original_domain"

#: 2.0's slot type for slots that do not influence the conversation, which 3.x calls `any`
_UNFEATURIZED = ("unfeaturized", "rasa.shared.core.slots.UnfeaturizedSlot")
_VERSION_VALUE = re.compile(r"\"[^\"]*\"|'[^']*'|[^\s#]+")
_NULL_VALUE = re.compile(r":\s+(null|~)\s*(#.*)?$")


@dataclass
class MigratedFile:
    """One file of the domain: its text before and after the migration."""

    source: Path
    #: where the file sits in the domain folder (its name for a one-file domain)
    relative: Path
    original: str
    text: str

    @property
    def changed(self) -> bool:
        return self.text != self.original


@dataclass
class DomainMigration:
    """What :func:`migrate_domain` made of a domain; nothing is written yet.

    ``notes`` name, at ``file:line``, what the migration decided for the user
    to check (a mapping added for 2.0's auto-fill, a slot left without
    mappings, a type written out).
    """

    source: Path
    files: list[MigratedFile]
    notes: list[str] = field(default_factory=list)

    @property
    def changed_files(self) -> list[MigratedFile]:
        return [f for f in self.files if f.changed]


@dataclass
class WrittenMigration:
    """Where :func:`write_migration` put the migrated domain (and the original)."""

    target: Path
    written: list[Path]
    backup: Path | None = None


# ---------------------------------------------------------------- finding and reading


def project_domain_path(root: str | Path) -> Path:
    """The domain of the project in ``root``: ``domain.yml``, ``domain.yaml`` or ``domain/``."""
    root = Path(root)
    found = existing_domain(root)
    if found is not None:
        return found
    raise ProjectNotFoundError(f"{root} has no domain.yml or domain/ folder",
                               hint="pass the domain file or folder with --domain")


def domain_files(path: str | Path) -> list[Path]:
    """The YAML files of a domain file or folder, in the order the loader reads them."""
    path = Path(path)
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise ProjectNotFoundError(f"{path} does not exist",
                                   hint="pass the domain file or folder with --domain")
    # The loader's own listing, so that the migration sees exactly the files it reads.
    files = yaml_files(path)
    if not files:
        raise ProjectError(f"{path} holds no YAML domain files", position=Position(str(path)),
                           hint="pass the domain file or folder with --domain")
    return files


def load_domain_documents(documents: Iterable[tuple[Path, Any]]) -> tuple[Domain, ProblemLog]:
    """Read parsed domain files as the project loader does; returns the domain and its problems."""
    log = ProblemLog()
    reader = DomainReader(log)
    for file, data in documents:
        if isinstance(data, dict):
            log.check_keys(file, data, formats.DOMAIN_KEYS, "the domain")
            if "version" in data and not formats.is_supported_version(data["version"]):
                log.error(position(file, data, "version"),
                          f"unsupported format version {to_plain(data['version'])!r}",
                          'use version "3.1" (or "2.0" for older projects)')
        reader.read(file, data)
    return reader.finish(), log


def domain_meaning(domain: Domain) -> dict[str, Any]:
    """Everything a loaded domain says, without where it was written and its version line.

    Two domains with equal meanings behave the same: the migration promises this.
    """

    def strip(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: strip(v) for k, v in value.items() if k not in POSITION_FIELDS}
        if isinstance(value, list):
            return [strip(v) for v in value]
        return value

    meaning = strip(dataclasses.asdict(domain))
    meaning.pop("version", None)
    return meaning


# ---------------------------------------------------------------- migrating


def migrate_domain(path: str | Path) -> DomainMigration:
    """Rewrite the 2.0 domain at ``path`` (a file or a folder) in the 3.x format, in memory.

    Raises :class:`ProjectValidationError` when the domain has errors,
    :class:`ProjectError` when it is already in the 3.x format or holds a
    mapping that cannot be converted; both name the file and line.
    """
    source = Path(path)
    files = domain_files(source)
    before, before_log = load_domain_documents((f, read_yaml_file(f)) for f in files)
    if before_log.errors:
        raise ProjectValidationError(
            before_log.problems, hint="fix them, then migrate again: nothing was written")

    texts = {file: file.read_text(encoding="utf-8") for file in files}
    documents = [(file, read_yaml(texts[file], file)) for file in files]
    rewriter = _DomainRewriter(documents, before)
    rewriter.rewrite()
    new_texts = {
        file: _render(texts[file], data, rewriter.changed[file]) for file, data in documents
    }

    _check_same_meaning(before, files, new_texts)
    migrated = [
        MigratedFile(file, file.relative_to(source) if source.is_dir() else Path(file.name),
                     texts[file], new_texts[file])
        for file in files
    ]
    return DomainMigration(source, migrated, rewriter.notes)


def _check_same_meaning(before: Domain, files: list[Path], new_texts: dict[Path, str]) -> None:
    """Refuse a result that would load differently: that would be a bug here, not the user's."""
    hint = "this is a bug in `data migrate`; please report it with the domain"
    try:
        after, after_log = load_domain_documents((f, read_yaml(new_texts[f], f)) for f in files)
    except YamlSyntaxError as e:
        raise ProjectError(f"the migrated domain would not be valid YAML ({e.message}): "
                           "nothing was written", hint=hint) from e
    old, new = domain_meaning(before), domain_meaning(after)
    if old == new and not after_log.errors:
        return
    differing = [key for key in old if old[key] != new.get(key)]
    if "slots" in differing:
        differing = [f"slot '{name}'" for name in old["slots"]
                     if old["slots"][name] != new["slots"].get(name)] or differing
    what = ", ".join(str(d) for d in differing) or "; ".join(str(p) for p in after_log.errors)
    raise ProjectError(
        f"the migrated domain would not load as the original does ({what}): nothing was written",
        hint=hint)


def _is_old_form(props: Any) -> bool:
    """Whether a form is written the 2.0 way: its slots with their mappings, not a list of names."""
    if not isinstance(props, dict):
        return False
    if "required_slots" in props:
        return isinstance(props["required_slots"], dict)
    return any(key != "ignored_intents" for key in props)


def _lists_slot_names(props: Any) -> bool:
    return isinstance(props, dict) and isinstance(props.get("required_slots"), list)


class _DomainRewriter:
    """Rewrites the slots and forms of parsed domain files in place (ruamel round-trip nodes).

    It follows :class:`DomainReader` step by step, so the result loads the same:
    form mappings are applied in the order the reader applies them, and the
    auto-fill mapping goes last, only where the reader would add one.
    """

    def __init__(self, documents: list[tuple[Path, Any]], meaning: Domain) -> None:
        self.all_documents = documents
        self.documents = [(f, d) for f, d in documents if isinstance(d, CommentedMap)]
        self.meaning = meaning
        self.changed: dict[Path, set[str]] = {file: set() for file, _ in documents}
        self.notes: list[str] = []
        #: slot name -> mappings moved out of 2.0 forms, in the reader's order
        self.form_mappings: dict[str, list[CommentedMap]] = {}

    def _major(self, data: CommentedMap) -> int:
        return (formats.major_version(data.get("version"))
                or formats.major_version(formats.LATEST_VERSION))

    def rewrite(self) -> None:
        old_files = [f for f, d in self.documents if self._major(d) < 3]
        old_forms = [
            (f, forms, name) for f, d in self.documents
            if isinstance(forms := d.get("forms"), dict)
            for name in forms if _is_old_form(forms[name])
        ]
        if not old_files and not old_forms:
            file, data = (self.documents or self.all_documents)[0]
            where = (position(file, data, "version") if isinstance(data, dict) and "version" in data
                     else Position(str(file)))
            raise ProjectError(
                "the domain is already in the 3.x format: nothing to migrate",
                position=where,
                hint="`data migrate` rewrites 2.0 domains (version: \"2.0\", slot mappings "
                "inside forms); this one loads as it is")
        for file, data in self.documents:
            forms = data.get("forms")
            if isinstance(forms, CommentedMap):
                for name in list(forms):
                    # empty forms too: 3.x wants their (empty) list of slots spelled out
                    if not _lists_slot_names(forms[name]):
                        self._rewrite_form(file, forms, name)
                        self.changed[file].add("forms")
        self._rewrite_slots()
        for file, data in self.documents:
            if "version" in data and str(data["version"]) != MIGRATED_VERSION:
                self.changed[file].add("version")

    # ------------------------------------------------------------ forms

    def _rewrite_form(self, file: Path, forms: CommentedMap, name: Any) -> None:
        props = forms[name]
        if props is None:
            tail = _take_trailing(forms, name)
            forms[name] = CommentedMap([("required_slots", _flow(CommentedSeq()))])
            _put_trailing(forms, name, tail)
            return
        direct = "required_slots" not in props
        holder = props if direct else props["required_slots"]
        slots = [key for key in holder if not (direct and key == "ignored_intents")]
        names = CommentedSeq()
        tails: list[str | None] = []
        for slot in slots:
            before = _comment_text(holder.ca.items.get(slot, [None] * 4)[3])
            tails.append(_take_trailing(holder, slot))
            names.append(str(slot))
            if before:
                names.yaml_set_comment_before_after_key(
                    len(names) - 1, before=before, indent=_comment_column(holder, slot))
            for index, mapping in enumerate(holder[slot] or []):
                self._move_form_mapping(file, holder[slot], index, mapping, str(name), str(slot))
        for index, tail in enumerate(tails):
            _put_trailing(names, index, tail)
        if not names or _is_flow(holder):
            _flow(names)
        if not direct:
            props["required_slots"] = names
            return
        rebuilt = CommentedMap()
        for key in props:
            if key in slots:
                if "required_slots" not in rebuilt:
                    rebuilt["required_slots"] = names
                continue
            rebuilt[key] = props[key]
            if key in props.ca.items:
                rebuilt.ca.items[key] = props.ca.items[key]
        if "required_slots" not in rebuilt:
            rebuilt["required_slots"] = names
        rebuilt.ca.comment = props.ca.comment
        if _is_flow(props):
            _flow(rebuilt)
        forms[name] = rebuilt

    def _move_form_mapping(
        self, file: Path, mappings: Any, index: int, mapping: CommentedMap, form: str, slot: str
    ) -> None:
        if "conditions" in mapping:
            raise ProjectError(
                f"a mapping of slot '{slot}' in 2.0 form '{form}' has its own conditions, "
                "which 2.0 ignores (the form's condition applies): it cannot be converted "
                "without changing what it means",
                position=position(file, mappings, index),
                hint="remove its `conditions:` and migrate again; the migrated mapping gets "
                f"`active_loop: {form}`")
        if "type" not in mapping:
            # The reader takes a mapping with an entity but no type as from_entity; say so.
            mapping.insert(0, "type", FROM_ENTITY)
        condition = CommentedMap([("active_loop", form)])
        if mapping["type"] not in (FROM_ENTITY, FROM_TRIGGER_INTENT):
            # 2.0 forms fill any of their slots from entities, and from their trigger
            # intent when they start (no slot is asked then); other mappings only when
            # asked. Rasa's migrate writes the same conditions.
            condition["requested_slot"] = slot
        conditions = CommentedSeq([condition])
        if _is_flow(mapping):
            _flow(conditions)
            _flow(condition)
        tail = _take_trailing_of_node(mapping)
        mapping["conditions"] = conditions
        _put_trailing_of_node(mapping, tail)
        self.form_mappings.setdefault(slot, []).append(mapping)

    # ------------------------------------------------------------ slots

    def _rewrite_slots(self) -> None:
        declarations = [
            (file, data, slots, name) for file, data in self.documents
            if isinstance(slots := data.get("slots"), CommentedMap)
            for name in slots
        ]
        # The reader lets a later declaration replace an earlier one, but keeps the
        # auto_fill of the last 2.0 declaration whatever file the winner is in.
        winners = {str(name): index for index, (*_, name) in enumerate(declarations)}
        auto_fill: dict[str, bool] = {}
        for _file, data, slots, name in declarations:
            if self._major(data) < 3:
                props = slots[name] or {}
                if "auto_fill" in props:
                    # an unreadable value reads as on, as the reader reads it
                    meaning = formats.flag_meaning(props["auto_fill"])
                    auto_fill[str(name)] = True if meaning is None else meaning
                else:
                    # beside 3.x `mappings:`, none (as the reader)
                    auto_fill[str(name)] = props.get("mappings") is None
        for index, (file, data, slots, name) in enumerate(declarations):
            if self._rewrite_slot(file, data, slots, name, winners[str(name)] == index,
                                  auto_fill.get(str(name), False)):
                self.changed[file].add("slots")

    def _rewrite_slot(self, file: Path, data: CommentedMap, slots: CommentedMap, name: Any,
                      winner: bool, auto_fill: bool) -> bool:
        old = self._major(data) < 3
        props = slots[name]
        where = position(file, slots, name)
        if props is None:
            props = CommentedMap()
        # Mappings moved out of a form read badly squeezed into one flow line: such a
        # slot is written in block style.
        to_block = winner and _is_flow(props) and bool(self.form_mappings.get(str(name)))
        flow = _is_flow(props) and not to_block
        new_type = None
        if old and "type" not in props:
            new_type = "any"
            self.notes.append(f"{where}: slot '{name}' has no type, which 2.0 read as "
                              "'unfeaturized': written as `type: any`")
        elif str(props.get("type")) in _UNFEATURIZED:
            new_type = "any"
        added = list(self.form_mappings.get(str(name), [])) if winner else []
        own = props.get("mappings")
        existing = [*(own if isinstance(own, list) else []), *added]
        if (winner and auto_fill and str(name) in self.meaning.entities
                and self.meaning.store_entities_as_slots
                and not any(_fills_everywhere(m, str(name)) for m in existing)):
            auto = CommentedMap([("type", FROM_ENTITY), ("entity", str(name))])
            added.append(_flow(auto) if flow else auto)
            self.notes.append(f"{where}: slot '{name}' was filled from the entity of the same "
                              "name (2.0's auto_fill): it gets "
                              f"`type: from_entity, entity: {name}`")
        empty = old and own is None and not added
        if empty and str(name) != REQUESTED_SLOT:
            self.notes.append(f"{where}: slot '{name}' has no mappings, so only custom actions "
                              "set it: written as `mappings: []`")
        if new_type is None and "auto_fill" not in props and not added and not empty:
            return False

        tail = _take_trailing(slots, name)
        if slots[name] is None:
            slots[name] = props
        if to_block:
            props.fa.set_block_style()
        if new_type is not None:
            if "type" in props:
                props["type"] = new_type
            else:
                props.insert(0, "type", new_type)
        if "auto_fill" in props:
            del props["auto_fill"]
        if isinstance(own, CommentedSeq):
            if _is_flow(own) and any(not _is_flow(m) for m in added):
                own.fa.set_block_style()
            own.extend(added)
        elif added or empty:
            props["mappings"] = CommentedSeq(added)
            if flow or empty:
                _flow(props["mappings"])
        _put_trailing(slots, name, tail)
        return True


def _fills_everywhere(mapping: Any, entity: str) -> bool:
    """Whether a raw mapping is 2.0 auto-fill's own: ``from_entity`` of ``entity`` with no
    filter or condition (as the reader reads it; a form's mapping has conditions)."""
    if not isinstance(mapping, dict):
        return False
    kind = mapping.get("type", FROM_ENTITY if "entity" in mapping else "")
    limited = any(mapping.get(key) for key in ("role", "group", "intent", "not_intent",
                                                "conditions"))
    return kind == FROM_ENTITY and str(mapping.get("entity")) == entity and not limited


# ---------------------------------------------------------------- comments
#
# ruamel keeps the full-line comments and blank lines that follow an entry on
# the deepest last entry above them. Nodes that move or grow would carry those
# lines along (a section heading would land inside a slot), so they are
# detached first and put back after the entry's new last line.


def _is_flow(node: Any) -> bool:
    return isinstance(node, CommentedBase) and bool(node.fa.flow_style())


def _flow(node: Any) -> Any:
    node.fa.set_flow_style()
    return node


def _last_entry(container: Any, key: Any) -> tuple[Any, Any]:
    """The container and key of the last line written for ``container[key]``."""
    while True:
        value = container[key]
        if _is_flow(value) or not isinstance(value, (CommentedMap, CommentedSeq)) or not value:
            return container, key
        container, key = value, (list(value)[-1] if isinstance(value, CommentedMap)
                                 else len(value) - 1)


def _token_slot(container: Any) -> int:
    # a mapping entry's trailing comment is the third item, a list item's the first
    return 2 if isinstance(container, CommentedMap) else 0


def _take_trailing(container: Any, key: Any) -> str | None:
    """Detach the lines after entry ``key`` (its end-of-line comment stays)."""
    holder, leaf = _last_entry(container, key)
    entry = holder.ca.items.get(leaf)
    slot = _token_slot(holder)
    token = entry[slot] if entry else None
    if token is None or "\n" not in token.value:
        return None
    head, rest = token.value.split("\n", 1)
    if not rest:
        return None
    if head.strip():
        token.value = head + "\n"
    else:
        entry[slot] = None
    return rest


def _put_trailing(container: Any, key: Any, text: str | None) -> None:
    """Write ``text`` (whole lines) after the last line of entry ``key``."""
    if not text:
        return
    holder, leaf = _last_entry(container, key)
    entry = holder.ca.items.setdefault(leaf, [None, None, None, None])
    slot = _token_slot(holder)
    token = entry[slot]
    if token is None:
        entry[slot] = CommentToken("\n" + text, CommentMark(0), None)
    else:
        token.value = token.value.rstrip("\n") + "\n" + text


def _take_trailing_of_node(node: CommentedMap) -> str | None:
    if _is_flow(node) or not node:
        return None
    return _take_trailing(node, list(node)[-1])


def _put_trailing_of_node(node: CommentedMap, text: str | None) -> None:
    if text and not _is_flow(node):
        _put_trailing(node, list(node)[-1], text)


def _comment_text(tokens: Any) -> str:
    """The comment lines of a token list, without their ``#`` and indentation."""
    lines = []
    for token in tokens or []:
        for line in str(token.value).splitlines():
            stripped = line.strip()
            if stripped.startswith("#"):
                lines.append(stripped[1:].lstrip() if stripped[1:2] == " " else stripped[1:])
    return "\n".join(lines)


def _comment_column(container: Any, key: Any) -> int:
    tokens = container.ca.items.get(key, [None] * 4)[3] or []
    return min((t.start_mark.column for t in tokens if t.start_mark), default=0)


# ---------------------------------------------------------------- writing the text back


def _render(text: str, data: Any, changed: set[str]) -> str:
    """``text`` with the ``changed`` top-level sections written anew; other lines as they were."""
    if not changed or not isinstance(data, CommentedMap):
        return text
    lines = text.splitlines(keepends=True)
    if _is_flow(data):
        # One flow mapping for the whole file: no lines to keep apart, so write it all.
        if "version" in changed:
            data["version"] = DoubleQuotedScalarString(MIGRATED_VERSION)
        return _dump(data, lines, lines)
    starts = {key: data.lc.key(key)[0] for key in data}
    spans = []
    for key in ("slots", "forms"):
        if key in changed:
            start = starts[key]
            spans.append((start, _section_end(data, key, starts, len(lines)), key))
    spans.sort()
    style_lines = [line for start, end, _ in spans for line in lines[start:end]]
    replaced = list(lines)
    for start, end, key in reversed(spans):
        wrapper = CommentedMap([(key, data[key])])
        new = _dump(wrapper, style_lines, lines)
        replaced[start:end] = new.splitlines(keepends=True)
    if "version" in changed:
        line, col = data.lc.value("version")
        old = replaced[line]
        match = _VERSION_VALUE.match(old, col)
        if match:
            replaced[line] = f'{old[:match.start()]}"{MIGRATED_VERSION}"{old[match.end():]}'
    return "".join(replaced)


def _section_end(data: CommentedMap, key: Any, starts: dict, length: int) -> int:
    """The line after top-level section ``key``: where the next key (or its comments) starts."""
    start = starts[key]
    later = sorted(line for line in starts.values() if line > start)
    end = later[0] if later else length
    following = [k for k, line in starts.items() if line == end]
    # Comments right before the next key belong to that key; they must stay.
    tokens = (data.ca.items.get(following[0], [None] * 4)[1] or []) if following else []
    if not later:
        tokens = data.ca.end or []
    lines = [t.start_mark.line for t in tokens if getattr(t, "start_mark", None)]
    return max(start + 1, min([end, *lines]))


class _NullRepresenter(RoundTripRepresenter):
    """Writes an empty value as ``null``, for files that spell it that way."""


_NullRepresenter.add_representer(
    type(None), lambda rep, _data: rep.represent_scalar("tag:yaml.org,2002:null", "null"))


def _dump(data: Any, style_lines: list[str], all_lines: list[str]) -> str:
    """Serialise ``data`` in the indentation and null style of the lines it replaces."""
    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    yaml.width = 4096  # never fold a long line that was one line
    mapping, offset = _indentation(style_lines) or _indentation(all_lines) or (2, 0)
    yaml.indent(mapping=mapping, sequence=offset + 2, offset=offset)
    if any(_NULL_VALUE.search(line.rstrip("\n")) for line in style_lines):
        yaml.Representer = _NullRepresenter
    stream = io.StringIO()
    yaml.dump(data, stream)
    return stream.getvalue()


def _indentation(lines: list[str]) -> tuple[int, int] | None:
    """The mapping indent and the list offset the lines use most, or None if they show none."""
    content = [
        line.rstrip("\n") for line in lines
        if line.strip() and not line.lstrip().startswith("#")
    ]
    nested: Counter[int] = Counter()
    offsets: Counter[int] = Counter()
    for line, following in itertools.pairwise(content):
        if not re.search(r":\s*(#.*)?$", line) or line.lstrip().startswith("- "):
            continue
        depth = len(following) - len(following.lstrip())
        step = depth - (len(line) - len(line.lstrip()))
        if following.lstrip().startswith("-"):
            if step >= 0:
                offsets[step] += 1
        elif step > 0:
            nested[step] += 1
    if not nested and not offsets:
        return None
    mapping = nested.most_common(1)[0][0] if nested else 2
    offset = offsets.most_common(1)[0][0] if offsets else 0
    return mapping, offset


# ---------------------------------------------------------------- writing files


def backup_path(source: str | Path) -> Path:
    """Where an in-place migration keeps the original (``original_domain.yml`` or ``/``)."""
    source = Path(source)
    name = BACKUP_NAME if source.is_dir() else f"{BACKUP_NAME}.yml"
    return source.parent / name


def write_migration(migration: DomainMigration, out: str | Path | None = None) -> WrittenMigration:
    """Write a migrated domain: to ``out``, or in place after keeping the original.

    In place, the original file or folder is copied to :func:`backup_path`
    first, and an existing backup refuses the migration. ``out`` is a file for
    a one-file domain and a folder for a domain folder; it must not exist
    (an empty folder is accepted), and the original is left untouched.
    """
    source = migration.source
    if out is None:
        backup = backup_path(source)
        if backup.exists():
            raise ProjectError(
                f"{backup} exists already: it would hold the original domain, "
                "so nothing was migrated",
                position=Position(str(backup)),
                hint="move or delete it, or write the migrated domain elsewhere with --out")
        if source.is_dir():
            shutil.copytree(source, backup)
        else:
            shutil.copy2(source, backup)
        written = []
        for file in migration.changed_files:
            file.source.write_text(file.text, encoding="utf-8")
            written.append(file.source)
        return WrittenMigration(source, written, backup)

    target = Path(out)
    if source.is_dir():
        if target.is_file() or (target.is_dir() and any(target.iterdir())):
            raise ProjectError(f"{target} exists already and is not an empty folder: "
                               "nothing was migrated",
                               hint="choose another --out; nothing is ever overwritten")
        if target.resolve().is_relative_to(source.resolve()):
            raise ProjectError(f"{target} lies inside the domain folder {source}, whose files "
                               "are all read as the domain", hint="choose --out outside it")
        written = []
        for file in migration.files:
            path = target / file.relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(file.text, encoding="utf-8")
            written.append(path)
        return WrittenMigration(target, written)
    if target.exists():
        raise ProjectError(f"{target} exists already: nothing was migrated",
                           hint="choose another --out; nothing is ever overwritten")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(migration.files[0].text, encoding="utf-8")
    return WrittenMigration(target, [target])
