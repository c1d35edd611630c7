"""Labels, extra features and scores shared by the intent + slot classifiers.

Both :mod:`joint_transformer` (pretrained encoder) and
:mod:`scratch_transformer` (from scratch) train on the same targets: the base
intent of each example (``faq`` for ``faq/ask_price``; the response selector
picks the sub-intent) and one BIO tag per word token. They read regex and
lookup features the same way, hold out data the same way, score held-out data
the same way and write predictions to messages the same way; this module is
that common part.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from dialogflowlite.components.tokenizers.alignment import (
    OUTSIDE,
    CommaSplitting,
    bilou_from_bio,
    bio_spans,
    bio_tags,
    entities_from_bio,
    simple_tokens,
    split_label,
)
from dialogflowlite.errors import TrainingError
from dialogflowlite.shared.message import IntentPrediction, Message, Token

REGEX_FEATURES = "regex"


def example_tokens(message: Message) -> list[Token]:
    """The message's word tokens; a simple split when no tokenizer ran before."""
    return message.tokens or simple_tokens(message.text)


#: the tag schemes a tagger can learn, and the tag prefixes of each
TAG_SCHEMES = {"bio": ("B", "I"), "bilou": ("B", "I", "L", "U")}


@dataclass
class LabelSet:
    """The intents and tags a classifier predicts, in index order.

    ``entities_by_intent`` lists, for each intent, the entity labels its
    training examples carry (None in models saved before it was recorded).
    ``scheme`` is ``bio`` or ``bilou`` (also a span's last word and one-word
    spans get tags of their own, as in Rasa's ``BILOU_flag``).
    """

    intents: list[str]
    tags: list[str]
    entities_by_intent: dict[str, list[str]] | None = None
    scheme: str = "bio"

    @classmethod
    def from_examples(cls, examples: Sequence[Message], component: str,
                      scheme: str = "bio") -> LabelSet:
        intents = sorted({m.base_intent for m in examples if m.base_intent})
        if not intents:
            raise TrainingError(
                f"{component}: the training data has no intent examples",
                hint="add examples under `nlu:` in data/nlu.yml",
            )
        labels = sorted({e.label for m in examples for e in m.entities})
        tags = [OUTSIDE] + [f"{p}-{label}" for label in labels for p in TAG_SCHEMES[scheme]]
        by_intent: dict[str, set[str]] = {intent: set() for intent in intents}
        for message in examples:
            if message.base_intent:
                by_intent[message.base_intent].update(e.label for e in message.entities)
        return cls(intents, tags, {k: sorted(v) for k, v in by_intent.items()}, scheme)

    @property
    def has_entities(self) -> bool:
        return len(self.tags) > 1

    def intent_index(self, message: Message) -> int:
        return (
            self.intents.index(message.base_intent) if message.base_intent in self.intents else -1
        )

    def tag_indices(self, message: Message, tokens: Sequence[Token]) -> list[int]:
        lookup = {tag: i for i, tag in enumerate(self.tags)}
        tags = bio_tags(tokens, message.entities)
        if self.scheme == "bilou":
            tags = bilou_from_bio(tags)
        return [lookup.get(tag, 0) for tag in tags]

    def tags_by_intent(self) -> list[list[bool]] | None:
        """For each intent (rows) and tag (columns): may the intent's messages carry the tag?

        ``O`` is always allowed; None when the entities of each intent were not recorded.
        """
        if self.entities_by_intent is None:
            return None
        rows = []
        for intent in self.intents:
            allowed = set(self.entities_by_intent.get(intent, []))
            rows.append([tag == OUTSIDE or tag[2:] in allowed for tag in self.tags])
        return rows

    def role_and_group_classes(self) -> list[list[int]] | None:
        """For each tag, the index of its role, and (second row) of its group.

        Tags with the same role (whatever their entity and position) share an
        index, and so do tags without one; None when no tag has a role or group.
        """
        parts = [split_label(tag[2:]) if tag != OUTSIDE else (OUTSIDE, None, None)
                 for tag in self.tags]
        if not any(role or group for _, role, group in parts):
            return None
        rows = []
        for position in (1, 2):
            index: dict[str | None, int] = {}
            rows.append([index.setdefault(part[position], len(index)) for part in parts])
        return rows

    def to_json(self) -> dict:
        data: dict[str, Any] = {"intents": self.intents, "tags": self.tags}
        if self.entities_by_intent is not None:
            data["entities_by_intent"] = self.entities_by_intent
        if self.scheme != "bio":
            data["scheme"] = self.scheme
        return data

    @classmethod
    def from_json(cls, data: dict) -> LabelSet:
        by_intent = data.get("entities_by_intent")
        return cls(
            list(data["intents"]),
            list(data["tags"]),
            {k: list(v) for k, v in by_intent.items()} if by_intent is not None else None,
            str(data.get("scheme", "bio")),
        )


# ---------------------------------------------------------------- regex / lookup features


def regex_feature_names(examples: Sequence[Message]) -> list[str]:
    """The regex/lookup feature names RegexFeaturizer put on the training examples."""
    names: list[str] = []
    for message in examples:
        for name in (message.features.get(REGEX_FEATURES) or {}).get("names", []):
            if name not in names:
                names.append(name)
    return names


def regex_features(
    message: Message, names: Sequence[str], num_tokens: int
) -> tuple[list[list[float]], list[float]]:
    """Per-token and sentence features in the order of ``names`` (zeros when absent).

    Matched by name, so a featurizer that lists its patterns in another order
    (or lacks one) at run time still lines up with what the model learnt.
    """
    token = [[0.0] * len(names) for _ in range(num_tokens)]
    sentence = [0.0] * len(names)
    found = message.features.get(REGEX_FEATURES) or {}
    given = list(found.get("names") or [])
    columns = [(j, given.index(name)) for j, name in enumerate(names) if name in given]
    rows = found.get("token") or []
    for j, k in columns:
        if len(rows) == num_tokens:
            for i, row in enumerate(rows):
                token[i][j] = float(row[k])
        if found.get("sentence"):
            sentence[j] = float(found["sentence"][k])
    return token, sentence


# ---------------------------------------------------------------- held-out data


def split_held_out(
    examples: Sequence[Message], fraction: float, minimum: int, seed: int
) -> tuple[list[Message], list[Message]]:
    """Hold out ``fraction`` of the examples when that is at least ``minimum`` examples.

    Small data sets are not split: a handful of held-out examples says little
    and costs the model examples it needs. The split is seeded.
    """
    size = round(len(examples) * fraction)
    if fraction <= 0 or size < max(1, minimum):
        return list(examples), []
    order = list(range(len(examples)))
    random.Random(seed).shuffle(order)
    held = set(order[:size])
    return (
        [m for i, m in enumerate(examples) if i not in held],
        [m for i, m in enumerate(examples) if i in held],
    )


# ---------------------------------------------------------------- scores


@dataclass
class Scores:
    """Intent accuracy, CoNLL span-level micro F1 and sentence accuracy (all 0..1)."""

    intent_accuracy: float
    slot_f1: float
    sentence_accuracy: float
    count: int

    def selection_score(self, with_slots: bool) -> float:
        """What model selection maximises: the mean of the three (intent only without slots)."""
        if not with_slots:
            return self.intent_accuracy
        return (self.intent_accuracy + self.slot_f1 + self.sentence_accuracy) / 3


def span_counts(gold: Sequence[str], predicted: Sequence[str]) -> tuple[int, int, int]:
    """(correct, predicted, gold) chunk counts of one tag sequence pair."""
    gold_spans = set(bio_spans(gold))
    pred_spans = set(bio_spans(predicted))
    return len(gold_spans & pred_spans), len(pred_spans), len(gold_spans)


def f1_from_counts(correct: int, predicted: int, gold: int) -> float:
    if correct == 0:
        return 1.0 if predicted == gold == 0 else 0.0
    precision, recall = correct / predicted, correct / gold
    return 2 * precision * recall / (precision + recall)


def score(
    gold: Sequence[tuple[str | None, Sequence[str]]],
    predicted: Sequence[tuple[str | None, Sequence[str]]],
) -> Scores:
    """Score (intent, tags) predictions against gold pairs."""
    if len(gold) != len(predicted):
        raise ValueError("gold and predicted differ in length")
    intents_right = sentences_right = 0
    correct = n_pred = n_gold = 0
    for (g_intent, g_tags), (p_intent, p_tags) in zip(gold, predicted, strict=True):
        c, p, g = span_counts(g_tags, p_tags)
        correct, n_pred, n_gold = correct + c, n_pred + p, n_gold + g
        intent_ok = g_intent == p_intent
        intents_right += intent_ok
        # the same chunks, not the same tags: BILOU and BIO tags of one span differ
        sentences_right += intent_ok and c == p == g
    n = max(1, len(gold))
    return Scores(
        intents_right / n, f1_from_counts(correct, n_pred, n_gold), sentences_right / n, len(gold)
    )


# ---------------------------------------------------------------- predictions


class TagConfidence(NamedTuple):
    """A word's confidences in its predicted tag: the tag's probability, and the
    probabilities of the tag's role and group summed over all tags that share them
    (None when the model has no roles or groups)."""

    tag: float
    role: float | None = None
    group: float | None = None


def predict_batch(
    model: Any, batch: dict[str, Any], forward: Any, count: int, *,
    intents_wanted: bool, tags_wanted: bool, tags_by_intent: Any = None,
    tag_classes: Any = None,
) -> tuple[list[list[float] | None], list[list[int]], list[list[TagConfidence]]]:
    """Intent probabilities, tag paths and tag confidences of ``count`` collated messages.

    ``forward(model, batch)`` runs a joint intent + slot model. With
    ``tags_by_intent`` (a bool tensor, intents x tags) each message's tags are
    chosen among those its predicted intent allows. With ``tag_classes`` (a
    long tensor, 2 x tags: :meth:`LabelSet.role_and_group_classes`) the role
    and group confidences are filled in. Probabilities come back as plain
    lists, converted in one call: per-message tensor calls would each wait for
    the interpreter lock in a busy server.
    """
    import torch

    from dialogflowlite.models.intent_slot_heads import restrict_tags

    with torch.inference_mode():
        output = forward(model, batch)
        probs = output.intent_logits.float().softmax(-1).cpu()
        if tags_wanted and intents_wanted and tags_by_intent is not None:
            output = restrict_tags(output, tags_by_intent)
        if tags_wanted:
            paths, chosen = model.decode_tags(output, batch["word_mask"])
            confidences = tag_confidences(output.tag_logits, paths, chosen, tag_classes)
        else:
            paths = [[] for _ in range(count)]
            confidences = [[] for _ in range(count)]
    intents = probs.tolist() if intents_wanted else [None] * count
    return intents, paths, confidences


def tag_confidences(tag_logits: Any, paths: list[list[int]], chosen: list[list[float]],
                    tag_classes: Any = None) -> list[list[TagConfidence]]:
    """The :class:`TagConfidence` of each word of ``paths``.

    ``chosen`` holds the probabilities of the tags of ``paths``. A role's
    probability is the sum of the word's probabilities of every tag with that
    role (any entity, any position), as a model with a role classifier of its
    own would give it; a group's likewise. Worked out in a few tensor calls per
    batch, and only when the model has roles or groups (``tag_classes``).
    """
    import torch

    if tag_classes is None:
        return [[TagConfidence(p) for p in row] for row in chosen]
    probs = tag_logits.float().softmax(-1)
    batch, width = probs.shape[:2]
    picked = torch.tensor([path + [0] * (width - len(path)) for path in paths],
                          dtype=torch.long, device=probs.device).reshape(batch, width)
    classes = tag_classes.to(probs.device)
    # (2, batch, width, tags): does the tag share the picked tag's role (group)?
    same = classes[:, None, None, :] == classes[:, picked].unsqueeze(-1)
    roles, groups = (probs.unsqueeze(0) * same).sum(-1).tolist()
    return [
        [TagConfidence(p, r, g) for p, r, g in zip(
            row, roles[i][: len(row)], groups[i][: len(row)], strict=True)]
        for i, row in enumerate(chosen)
    ]


def best_index(probabilities: Sequence[float]) -> int:
    """The position of the highest probability (the first on ties)."""
    return max(range(len(probabilities)), key=probabilities.__getitem__)


def write_prediction(
    message: Message,
    labels: LabelSet,
    intent_probs: Sequence[float] | None,
    tokens: Sequence[Token],
    tags: Sequence[int] | None,
    confidences: Sequence[TagConfidence] | None,
    extractor: str,
    ranking_length: int = 10,
    comma_splitting: CommaSplitting | None = None,
) -> None:
    """Set the intent ranking (its top ``ranking_length``) and append the predicted
    entities (cut at commas as ``comma_splitting`` says: by default every type)."""
    if intent_probs is not None:
        message.set_intent(
            [
                IntentPrediction(name, float(p))
                for name, p in zip(labels.intents, intent_probs, strict=True)
            ],
            top_k=ranking_length,
        )
    if tags:
        names = [labels.tags[t] for t in tags]
        tag, role, group = _confidence_lists(confidences)
        message.entities.extend(
            entities_from_bio(
                message.text, tokens[: len(names)], names, tag, extractor=extractor,
                role_confidences=role, group_confidences=group,
                comma_splitting=comma_splitting,
            )
        )


def _confidence_lists(
    confidences: Sequence[TagConfidence] | None,
) -> tuple[list[float] | None, list[float] | None, list[float] | None]:
    """The tag, role and group confidences as three lists (None where not given)."""
    if confidences is None:
        return None, None, None
    tags = [c.tag for c in confidences]
    roles = [c.role for c in confidences if c.role is not None]
    groups = [c.group for c in confidences if c.group is not None]
    return (tags, roles if len(roles) == len(tags) else None,
            groups if len(groups) == len(tags) else None)
