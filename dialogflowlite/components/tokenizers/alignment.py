"""Entity spans, word tokens and sub-word pieces: lining them up.

Entities live as character offsets in the message text. Sequence taggers work
on words (``message.tokens``, from the tokenizer) with BIO tags, and
pretrained encoders work on sub-word pieces. The helpers here convert between
the three without dropping or shifting a span:

* :func:`bio_tags` — entity spans -> one BIO tag per word;
* :func:`bilou_from_bio` — BIO tags -> BILOU tags (``L-`` marks a span's last
  word, ``U-`` a one-word span), the other scheme a tagger may learn;
* :func:`bio_spans` — BIO or BILOU tags -> chunks, with the CoNLL
  ``conlleval`` rules (shared by decoding and by scoring, so both read tags
  the same way);
* :func:`entities_from_bio` — predicted tags -> :class:`Entity` spans;
* :func:`first_subtoken_indices` — for each word, the first sub-word piece of
  a fast tokenizer's output (from its character offsets).

Tag labels are :attr:`Entity.label`: the entity type, plus ``#role=`` and
``#group=`` parts when the annotation has them; :func:`split_label` reads them
back.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from dialogflowlite.components.tokenizers.unicode_text import MARK, SPACE, char_class
from dialogflowlite.shared.message import Entity, Token

OUTSIDE = "O"
#: the most characters between two words that one predicted entity spans, as in
#: Rasa's extractors: words further apart (two spaces between them) are two entities
MAX_GAP_IN_ENTITY = 1
#: the most characters between two words of one entity whose type is not split by
#: comma, when they are all :data:`JOINABLE_GAP_CHARACTERS` (as Rasa's extractors join
#: ``175, 10119`` and ``Rd., EH7`` where its tokenizer dropped the punctuation)
MAX_GAP_IN_JOINED_ENTITY = 3
#: what may stand between two words of such an entity more than one character apart
JOINABLE_GAP_CHARACTERS = frozenset(" ,.;")
#: the marks at which an entity whose type is split by comma is cut where a space
#: stands beside them (``Berlin, Germany``). Rasa also cuts at a dash or slash between
#: spaces, which its tokenizer drops; here those stay inside the entity, as titles
#: and names hold them (``Evil or Divine - Live in New York City``)
LIST_SEPARATORS = frozenset({",", ";"})
#: the list separators of Chinese and Japanese (full-width comma and semicolon,
#: ideographic comma): never part of a word, so they cut with or without spaces
FULL_WIDTH_COMMA = "\uff0c"
FULL_WIDTH_SEPARATORS = frozenset({FULL_WIDTH_COMMA, "\u3001", "\uff1b"})
_ROLE = "#role="
_GROUP = "#group="


@dataclass(frozen=True)
class CommaSplitting:
    """Rasa's ``split_entities_by_comma``: whether a predicted entity of a type is cut
    into two at a list separator between its words (a comma or semicolon with a space
    beside it, or a full-width ``，`` ``、`` ``；``).

    ``default`` holds for the types ``by_type`` does not name. Rasa's setting is a
    bool for every type, or a mapping of types to bools with every other type split
    (:meth:`from_setting`).
    """

    default: bool = True
    by_type: Mapping[str, bool] = field(default_factory=dict)

    @classmethod
    def from_setting(cls, setting: bool | Mapping[str, bool]) -> CommaSplitting:
        """The splitting a component's ``split_entities_by_comma`` asks for."""
        if isinstance(setting, Mapping):
            return cls(True, {str(kind): bool(split) for kind, split in setting.items()})
        return cls(bool(setting))

    def splits(self, entity_type: str) -> bool:
        """Whether an entity of ``entity_type`` is cut at its list separators."""
        return self.by_type.get(entity_type, self.default)


def split_label(label: str) -> tuple[str, str | None, str | None]:
    """``city#role=from#group=1`` -> ``("city", "from", "1")``."""
    entity, role, group = label, None, None
    if _GROUP in entity:
        entity, group = entity.split(_GROUP, 1)
    if _ROLE in entity:
        entity, role = entity.split(_ROLE, 1)
    return entity, role, group


def covered_tokens(tokens: Sequence[Token], start: int, end: int) -> list[int]:
    """Indices of the tokens that overlap the character span ``[start, end)``."""
    return [i for i, t in enumerate(tokens) if t.start < end and t.end > start]


def is_aligned(tokens: Sequence[Token], entity: Entity) -> bool:
    """Whether the entity starts at a token's start and ends at a token's end."""
    covered = covered_tokens(tokens, entity.start, entity.end)
    return bool(covered) and (
        tokens[covered[0]].start == entity.start and tokens[covered[-1]].end == entity.end
    )


def bio_tags(tokens: Sequence[Token], entities: Sequence[Entity]) -> list[str]:
    """One BIO tag per token for the given entity spans.

    A token belongs to an entity when their character spans overlap, so an
    entity whose boundary falls inside a token (see :func:`is_aligned`) still
    tags that whole token rather than vanishing. Where spans overlap each
    other, the one that starts first (the longer one on ties) wins.
    """
    tags = [OUTSIDE] * len(tokens)
    for entity in sorted(entities, key=lambda e: (e.start, -e.end)):
        covered = covered_tokens(tokens, entity.start, entity.end)
        if not covered or any(tags[i] != OUTSIDE for i in covered):
            continue
        tags[covered[0]] = "B-" + entity.label
        for i in covered[1:]:
            tags[i] = "I-" + entity.label
    return tags


def bilou_from_bio(tags: Sequence[str]) -> list[str]:
    """The BILOU tags of a BIO sequence: a span's last word ``L-``, a one-word span ``U-``.

    Chunks are read as :func:`bio_spans` reads them, so ``I-X`` after ``O``
    starts a span here too.
    """
    out = [OUTSIDE] * len(tags)
    for label, first, last in bio_spans(tags):
        if last - first == 1:
            out[first] = "U-" + label
            continue
        out[first] = "B-" + label
        for i in range(first + 1, last - 1):
            out[i] = "I-" + label
        out[last - 1] = "L-" + label
    return out


def bio_spans(tags: Sequence[str]) -> list[tuple[str, int, int]]:
    """Chunks ``(label, first, last + 1)`` of a BIO or BILOU sequence, read as ``conlleval`` does.

    A chunk starts at ``B-X`` or ``U-X``, or at ``I-X`` or ``L-X`` after
    ``O`` or after a chunk of another type; it ends before ``O``, ``B-*``,
    ``U-*`` or a tag of another type, and right after ``L-X`` or ``U-X``.
    """
    spans: list[tuple[str, int, int]] = []
    label: str | None = None
    begin = 0
    for i, tag in enumerate(tags):
        prefix, _, kind = tag.partition("-")
        if tag == OUTSIDE or not kind:
            prefix, kind = OUTSIDE, ""
        starts = prefix in ("B", "U") or (prefix in ("I", "L") and kind != label)
        if label is not None and (prefix == OUTSIDE or starts):
            spans.append((label, begin, i))
            label = None
        if starts:
            label, begin = kind, i
        if label is not None and prefix in ("L", "U"):
            spans.append((label, begin, i + 1))
            label = None
    if label is not None:
        spans.append((label, begin, len(tags)))
    return spans


def entities_from_bio(
    text: str,
    tokens: Sequence[Token],
    tags: Sequence[str],
    confidences: Sequence[float] | None = None,
    extractor: str | None = None,
    role_confidences: Sequence[float] | None = None,
    group_confidences: Sequence[float] | None = None,
    comma_splitting: CommaSplitting | None = None,
) -> list[Entity]:
    """Entity spans from one predicted tag per token.

    The span runs from its first token's start to its last token's end; the
    value is that slice of ``text``; the confidence is the lowest of its tokens'
    tag confidences, as Rasa's extractors give it (a span is only as sure as
    its least sure word). ``role_confidences`` and ``group_confidences`` (one
    per token) give the span's role and group confidences the same way, for a
    span that has a role or group.

    As in Rasa, a chunk of tags is cut where two of its tokens are more than
    :data:`MAX_GAP_IN_ENTITY` characters apart (``New  York`` with two spaces is
    two entities); words one space apart, and punctuation tokens next to a word,
    stay together. ``comma_splitting`` (Rasa's ``split_entities_by_comma``; by
    default every type is split) cuts a chunk of a type it splits at each list
    separator token (a comma or semicolon with a space beside it, or a full-width
    ``，`` ``、`` ``；``: see :func:`_cuts_at`), which belongs to neither part
    (``Berlin, Germany`` and ``北京，上海`` are two entities each), and which is
    dropped at either end of an entity (``Berlin,`` gives ``Berlin``); a chunk of a
    type it does not split keeps them, and its words
    up to :data:`MAX_GAP_IN_JOINED_ENTITY` characters apart stay together when only
    spaces, commas, full stops or semicolons stand between them, as in Rasa.
    """
    splitting = comma_splitting or CommaSplitting()
    entities = []
    chunks = [
        (label, first, last)
        for label, chunk_first, chunk_last in bio_spans(tags)
        for first, last in _entity_runs(text, tokens, chunk_first, chunk_last,
                                        splitting.splits(split_label(label)[0]))
    ]
    for label, first, last in chunks:
        start, end = tokens[first].start, tokens[last - 1].end
        entity, role, group = split_label(label)
        entities.append(
            Entity(
                entity=entity,
                start=start,
                end=end,
                value=text[start:end],
                role=role,
                group=group,
                confidence=_span_lowest(confidences, first, last),
                extractor=extractor,
                role_confidence=_span_lowest(role_confidences, first, last) if role else None,
                group_confidence=_span_lowest(group_confidences, first, last) if group else None,
            )
        )
    return entities


def _entity_runs(text: str, tokens: Sequence[Token], first: int, last: int,
                 split_by_comma: bool) -> list[tuple[int, int]]:
    """The entities ``(first, last + 1)`` that the chunk ``tokens[first:last]`` of one
    type makes: without the list separators at its ends, cut at the others when
    ``split_by_comma``, then where two neighbouring tokens are too far apart
    (:func:`_close_runs`)."""
    # a separator at either end is left out whether or not the type is split: Rasa's
    # tokenizers drop a comma beside a space, so no entity of theirs ends in one
    pieces = ([_without_edge_separators(text, tokens, first, last)] if not split_by_comma
              else _pieces_between_separators(text, tokens, first, last))
    return [run for begin, end in pieces if begin < end
            for run in _close_runs(text, tokens, begin, end, joined=not split_by_comma)]


def _pieces_between_separators(text: str, tokens: Sequence[Token], first: int,
                               last: int) -> list[tuple[int, int]]:
    """``tokens[first:last]`` cut at each separator between two of its tokens that
    :func:`_cuts_at` says stands between two list items; the separator is left out, as
    are separators at either end of a piece (:func:`_without_edge_separators`)."""
    pieces = []
    begin = first
    for i in range(first + 1, last - 1):
        if _cuts_at(text, tokens[i - 1], tokens[i], tokens[i + 1]):
            pieces.append((begin, i))
            begin = i + 1
    pieces.append((begin, last))
    trimmed = [_without_edge_separators(text, tokens, begin, end) for begin, end in pieces]
    return [(begin, end) for begin, end in trimmed if begin < end]


def _cuts_at(text: str, before: Token, mark: Token, after: Token) -> bool:
    """Whether ``mark``, a token between ``before`` and ``after``, cuts an entity there.

    A full-width separator does, but for a full-width comma that groups a number's
    thousands (``10，000``, as ``1,000``). One of :data:`LIST_SEPARATORS` does where a
    space stands beside it, as Rasa's tokenizer drops it there and its extractors cut
    where two words are more than one character apart; inside a word (``1,000``) it
    cuts nothing. Between Chinese or Japanese characters, which no space separates,
    it cuts too (``北京,上海``).
    """
    kind = text[mark.start : mark.end]
    touching = after.start - before.end <= MAX_GAP_IN_ENTITY
    if kind in FULL_WIDTH_SEPARATORS:
        # but a full-width comma that groups a number's thousands (10，000) does not
        return not (kind == FULL_WIDTH_COMMA and touching
                    and _groups_thousands(text, before.end, after.start))
    if kind not in LIST_SEPARATORS:
        return False
    if touching:
        return _is_cjk(text[before.end - 1]) or _is_cjk(text[after.start])
    return True


_DIGITS_BEFORE_GROUP = re.compile(r"(?<![0-9])[0-9]{1,3}$")
_GROUP_OF_THREE = re.compile(r"[0-9]{3}(?![0-9])")


def _groups_thousands(text: str, before_end: int, after_start: int) -> bool:
    """Whether a comma between ``before_end`` and ``after_start`` groups thousands: one
    to three digits before it, exactly three after (``10，000``, ``1，000，000``; not
    ``1，2，3`` or two phone numbers)."""
    return (_DIGITS_BEFORE_GROUP.search(text, 0, before_end) is not None
            and _GROUP_OF_THREE.match(text, after_start) is not None)


def _is_separator(text: str, token: Token) -> bool:
    """Whether the token is a list separator (:data:`LIST_SEPARATORS`,
    :data:`FULL_WIDTH_SEPARATORS`)."""
    kind = text[token.start : token.end]
    return kind in LIST_SEPARATORS or kind in FULL_WIDTH_SEPARATORS


def _without_edge_separators(text: str, tokens: Sequence[Token], first: int,
                             last: int) -> tuple[int, int]:
    """``(first, last)`` less the separator tokens at its start and end (``Berlin,``
    -> ``Berlin``); an empty range when it holds only separators."""
    while first < last and _is_separator(text, tokens[first]):
        first += 1
    while last > first and _is_separator(text, tokens[last - 1]):
        last -= 1
    return first, last


def _close_runs(text: str, tokens: Sequence[Token], first: int, last: int,
                joined: bool = False) -> list[tuple[int, int]]:
    """``tokens[first:last]`` cut into runs ``(first, last + 1)`` whose neighbouring
    tokens are at most :data:`MAX_GAP_IN_ENTITY` characters apart; with ``joined``
    also up to :data:`MAX_GAP_IN_JOINED_ENTITY` apart (see :func:`_close`)."""
    runs = []
    begin = first
    for i in range(first + 1, last):
        if not _close(text, tokens[i - 1], tokens[i], joined):
            runs.append((begin, i))
            begin = i
    runs.append((begin, last))
    return runs


def _close(text: str, before: Token, after: Token, joined: bool) -> bool:
    """Whether two neighbouring tokens of a chunk belong to one entity: any one
    character between them, or, for an entity not split by comma (``joined``), up to
    :data:`MAX_GAP_IN_JOINED_ENTITY` of :data:`JOINABLE_GAP_CHARACTERS` (``175, 10119``
    when the tokenizer dropped the comma)."""
    gap = text[before.end : after.start]
    if len(gap) <= MAX_GAP_IN_ENTITY:
        return True
    return (joined and len(gap) <= MAX_GAP_IN_JOINED_ENTITY
            and all(char in JOINABLE_GAP_CHARACTERS for char in gap))


def _span_lowest(values: Sequence[float] | None, first: int, last: int) -> float | None:
    """The lowest of ``values[first:last]`` (None without values)."""
    if values is None:
        return None
    return float(min(values[first:last]))


def first_subtoken_indices(
    offsets: Sequence[tuple[int, int]], tokens: Sequence[Token]
) -> list[int]:
    """For each word token, the index of the first sub-word piece overlapping it.

    ``offsets`` are a fast tokenizer's character offsets of every piece of the
    same text (``return_offsets_mapping=True``); special tokens have empty
    spans and never match. A word without any piece (cut off by
    ``max_length``, or made only of characters the tokenizer drops) gets -1.
    Two words may share a piece when a piece crosses a word boundary.
    """
    result = [-1] * len(tokens)
    pieces = [(i, s, e) for i, (s, e) in enumerate(offsets) if e > s]
    p = 0
    for w, token in enumerate(tokens):
        # pieces before this word can be skipped for good: words come in order
        while p < len(pieces) and pieces[p][2] <= token.start:
            p += 1
        if p < len(pieces) and pieces[p][1] < token.end:
            result[w] = pieces[p][0]
    return result


_WORD = re.compile(r"\w+|[^\w\s]", re.UNICODE)


def _is_cjk(char: str) -> bool:
    return unicodedata.east_asian_width(char) in ("W", "F") and char.isalpha()


def simple_tokens(text: str) -> list[Token]:
    """Words, punctuation marks and single CJK characters, with offsets.

    Used only when no tokenizer ran before a component that needs words.
    """
    tokens = []
    for match in _WORD.finditer(text):
        word, start = match.group(), match.start()
        if any(_is_cjk(c) for c in word):
            run_start = start
            for i, char in enumerate(word):
                if _is_cjk(char):
                    if run_start < start + i:
                        tokens.append(Token(text[run_start : start + i], run_start, start + i))
                    tokens.append(Token(char, start + i, start + i + 1))
                    run_start = start + i + 1
            if run_start < match.end():
                tokens.append(Token(text[run_start : match.end()], run_start, match.end()))
        else:
            tokens.append(Token(word, start, match.end()))
    # no token of only invisible characters (a zero-width space is no white space to
    # `\s`), as the whitespace tokenizer makes none: a message of nothing else has no word
    return [token for token in tokens if any(char_class(c) not in (SPACE, MARK)
                                             for c in token.text)]
