"""Intent + slot corpora in the ``label`` / ``seq.in`` / ``seq.out`` layout (SNIPS, ATIS).

A split folder holds three line-aligned files: ``label`` (one intent per
line), ``seq.in`` (space-separated words) and, when the corpus has slots,
``seq.out`` (one BIO tag per word). :func:`read_bio_split` turns a split into
:class:`TrainingData` whose entities are character spans of the text (the
words joined by single spaces) and whose ``tokens`` are the corpus words;
:func:`word_tags` goes back from entity spans to one BIO tag per word, for
scoring predictions the way the corpus is scored.
"""

from __future__ import annotations

from pathlib import Path

from dialogflowlite.components.tokenizers.alignment import bio_spans, bio_tags
from dialogflowlite.errors import Position, ProjectError, ProjectNotFoundError
from dialogflowlite.shared.message import Entity, Message, Token
from dialogflowlite.shared.training_data import TrainingData

LABELS = "label"
WORDS = "seq.in"
TAGS = "seq.out"


def _lines(path: Path) -> list[str]:
    try:
        return path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError as e:
        raise ProjectNotFoundError(
            f"{path} does not exist",
            hint=f"a split folder needs {LABELS}, {WORDS} and, with slots, {TAGS}",
        ) from e


def read_bio_split(folder: str | Path) -> TrainingData:
    """Read one split folder (``train``, ``dev`` or ``test``) into training data."""
    folder = Path(folder)
    labels = _lines(folder / LABELS)
    sentences = _lines(folder / WORDS)
    tag_lines = _lines(folder / TAGS) if (folder / TAGS).exists() else None
    if len(labels) != len(sentences) or (
        tag_lines is not None and len(tag_lines) != len(sentences)
    ):
        counts = f"{len(labels)} labels, {len(sentences)} sentences"
        if tag_lines is not None:
            counts += f", {len(tag_lines)} tag lines"
        raise ProjectError(
            f"{folder}: the files differ in length ({counts})",
            hint="each line of label, seq.in and seq.out is one example",
        )
    examples = []
    for i, (label, sentence) in enumerate(zip(labels, sentences, strict=True)):
        words = sentence.split()
        tags = tag_lines[i].split() if tag_lines is not None else ["O"] * len(words)
        if len(tags) != len(words):
            raise ProjectError(
                f"{len(words)} words but {len(tags)} tags",
                position=Position(str(folder / TAGS), i + 1),
                hint=f"line {i + 1} of {WORDS} and {TAGS} must have one tag per word",
            )
        tokens, position = [], 0
        for word in words:
            tokens.append(Token(word, position, position + len(word)))
            position += len(word) + 1
        text = " ".join(words)
        entities = [
            Entity(
                entity=kind,
                start=tokens[first].start,
                end=tokens[last - 1].end,
                value=text[tokens[first].start : tokens[last - 1].end],
            )
            for kind, first, last in bio_spans(tags)
        ]
        examples.append(
            Message(
                text=text,
                intent=label.strip() or None,
                entities=entities,
                tokens=tokens,
                position=Position(str(folder / WORDS), i + 1),
            )
        )
    return TrainingData(examples=examples)


def read_bio_corpus(root: str | Path) -> dict[str, TrainingData]:
    """Every split folder (``train``, ``dev``, ``test``) found under ``root``."""
    root = Path(root)
    splits = {
        name: read_bio_split(root / name)
        for name in ("train", "dev", "test")
        if (root / name / LABELS).exists()
    }
    if "train" not in splits:
        raise ProjectNotFoundError(
            f"{root} has no train/{LABELS}", hint="give a folder with train/, dev/ and test/ splits"
        )
    return splits


def word_tags(words: list[Token], entities: list[Entity]) -> list[str]:
    """One BIO tag per corpus word for (predicted) entity spans."""
    return bio_tags(words, entities)
