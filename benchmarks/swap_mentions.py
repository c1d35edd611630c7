"""Write a copy of a BIO corpus whose train split adds mention-swapped copies.

Mention replacement is a common augmentation for slot filling: in a copy of
each training message, every slot value is replaced by another value that
the training split annotates with the same slot (``play [westbam](artist)``
-> ``play [neil finn](artist)``), and the tags follow the new words. The
intent stays. Dev and test are linked, not changed, so ``benchmarks/nlu.py
--data OUT`` scores on the original splits.

    python benchmarks/swap_mentions.py ../shared/data/nlu/snips /tmp/snips-swapped --copies 1
    python benchmarks/nlu.py --data /tmp/snips-swapped --models default ...
"""

from __future__ import annotations

import argparse
import random
from collections import defaultdict
from pathlib import Path

from dialogflowlite.components.tokenizers.alignment import bio_spans

Sentence = tuple[list[str], list[str], str]


def read_split(folder: Path) -> list[Sentence]:
    """(words, tags, intent) of every line of a split folder."""
    words = (folder / "seq.in").read_text(encoding="utf-8").splitlines()
    tags = (folder / "seq.out").read_text(encoding="utf-8").splitlines()
    labels = (folder / "label").read_text(encoding="utf-8").splitlines()
    return [(w.split(), t.split(), label) for w, t, label in zip(words, tags, labels, strict=True)]


def swapped(sentence: Sentence, values: dict[str, list[tuple[str, ...]]],
            rng: random.Random) -> Sentence | None:
    """The sentence with each mention replaced by a random value of its slot (None: no mention)."""
    words, tags, intent = sentence
    spans = bio_spans(tags)
    if not spans:
        return None
    new_words: list[str] = []
    new_tags: list[str] = []
    position = 0
    for slot, start, end in spans:
        new_words += words[position:start]
        new_tags += tags[position:start]
        choices = values[slot]
        value = list(rng.choice(choices)) if len(choices) > 1 else words[start:end]
        new_words += value
        new_tags += [f"B-{slot}"] + [f"I-{slot}"] * (len(value) - 1)
        position = end
    return new_words + words[position:], new_tags + tags[position:], intent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("source", type=Path, help="corpus folder with train/, dev/, test/")
    parser.add_argument("target", type=Path, help="folder to write (must not exist)")
    parser.add_argument("--copies", type=int, default=1, help="swapped copies per message")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    source = args.source.resolve()
    train = read_split(source / "train")
    values: dict[str, set[tuple[str, ...]]] = defaultdict(set)
    for words, tags, _ in train:
        for slot, start, end in bio_spans(tags):
            values[slot].add(tuple(words[start:end]))
    ordered = {slot: sorted(found) for slot, found in values.items()}
    rng = random.Random(args.seed)
    out = list(train)
    for _ in range(args.copies):
        out += [s for s in (swapped(sentence, ordered, rng) for sentence in train) if s]
    folder = args.target / "train"
    folder.mkdir(parents=True)
    (folder / "seq.in").write_text("".join(" ".join(w) + "\n" for w, _, _ in out), "utf-8")
    (folder / "seq.out").write_text("".join(" ".join(t) + "\n" for _, t, _ in out), "utf-8")
    (folder / "label").write_text("".join(label + "\n" for _, _, label in out), "utf-8")
    for name in ("dev", "test", "intent_label.txt", "slot_label.txt"):
        if (source / name).exists():
            (args.target / name).symlink_to(source / name)
    print(f"{len(train)} training messages -> {len(out)} in {args.target}")


if __name__ == "__main__":
    main()
