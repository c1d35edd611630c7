"""Fine-tuning a trained model on changed data (``dialogflowlite train --finetune``).

A component that can be fine-tuned starts from the weights it has in the
given model instead of from its initial ones, and trains for a share of its
configured epochs (``--epoch-fraction``). The weights only fit a network of
the same shape that predicts the same labels, so that is what is checked:
the labels (intents, entity tags, responses), the features, and the shape of
the network. Settings that do not change the shape (epochs, learning rate,
dropout, ...) may differ. Anything else is one error saying what changed.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dialogflowlite.artifact import ComponentStorage
from dialogflowlite.errors import TrainingError

_RETRAIN_HINT = "train without --finetune to learn the change from scratch"


@dataclass(frozen=True)
class FinetuneSource:
    """One component of the model being fine-tuned."""

    #: the model file it is in (for messages)
    model: Path
    #: its stored files
    storage: ComponentStorage
    #: its settings when it was trained (the manifest's record)
    config: dict[str, Any]
    #: its fingerprint in that model
    fingerprint: str


def finetune_epochs(epochs: int, fraction: float) -> int:
    """The epochs of a fine-tuning run: ``fraction`` of ``epochs``, at least one."""
    return max(1, math.ceil(epochs * fraction - 1e-9))


def _listing(items: Iterable[Any]) -> str:
    names = [str(item) for item in items]
    shown = ", ".join(names[:8])
    return shown + (f" and {len(names) - 8} more" if len(names) > 8 else "") if names else "-"


def check_same_labels(owner: str, source: FinetuneSource, what: str,
                      stored: Iterable[Any], current: Iterable[Any]) -> None:
    """Raise naming the labels added and removed when ``current`` differs from ``stored``."""
    stored, current = list(stored), list(current)
    if stored == current:
        return
    added = [label for label in current if label not in stored]
    removed = [label for label in stored if label not in current]
    detail = (f"new: {_listing(added)}; gone: {_listing(removed)}" if added or removed
              else "the same ones in another order")
    raise TrainingError(f"{owner} cannot be fine-tuned from {source.model.name}: its {what} "
                        f"changed ({detail})", hint=_RETRAIN_HINT)


def check_same_shape(owner: str, source: FinetuneSource, stored: Mapping[str, Any],
                     current: Mapping[str, Any], *, ignore: Iterable[str] = ()) -> None:
    """Raise naming the first network setting that differs between the model and now."""
    skipped = set(ignore)
    for key in sorted(set(stored) | set(current)):
        if key in skipped:
            continue
        if stored.get(key) != current.get(key):
            raise TrainingError(
                f"{owner} cannot be fine-tuned from {source.model.name}: its setting "
                f"{key!r} changed ({stored.get(key)!r} in the model, {current.get(key)!r} now)",
                hint=f"set it back to {stored.get(key)!r}, or {_RETRAIN_HINT}")
