"""How often ``FallbackClassifier(unknown_words: true)`` would send a message to
``nlu_fallback`` because the classifier knows none of its words.

Two numbers matter: the share of in-scope messages it catches (it should be
near zero) and the share of keyboard mash it catches (it should be near all).
In-scope messages are scored against the words of the training examples they
were not part of, as a trained model would know them:

* ``--data DIR`` (the layout of ``benchmarks/nlu.py``): the test split's
  messages against the train split's words;
* ``--project DIR``: each NLU example of the project against the words of
  all its other examples (leave one out).

Keyboard mash is a fixed list below (made up here, not a corpus), or the lines
of ``--mash FILE``. Words count as known as the classifiers count them
(``dialogflowlite/components/nlu/known_words.py``), with the single pieces of
``--model``'s tokenizer (``all-MiniLM-L6-v2`` by default; ``--model none``:
training words only, as for the from-scratch classifier). No model is trained,
so this takes seconds.

    python benchmarks/unknown_words.py --data ../shared/data/nlu/snips
    python benchmarks/unknown_words.py --project projects_template/en
"""

from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path

from dialogflowlite.components.nlu.known_words import (
    WordKnowledge,
    tokenizer_single_piece,
    training_words,
)
from dialogflowlite.components.tokenizers.alignment import simple_tokens
from dialogflowlite.shared.message import Message

#: strings typed without meaning; a check of the other side, not a data set
KEYBOARD_MASH = [
    "asdfgh", "qwerty uiop", "zxcv bnm", "jkl;", "sdfsdf", "ghjk", "aaaaa", "xyz",
    "blorp zing", "hjkl asdf", "lkjhg", "mnbv cxz", "qwe rty", "fghfgh", "poiuy",
    "dfgdfg hjkhjk", "zzzz", "bnmbnm", "uiop", "asdf jkl", "wsx edc", "rfv tgb",
    "yhn ujm", "qazwsx", "plmokn", "ijnuhb", "sdf", "gfd", "kjh", "lll",
]


def message(text: str) -> Message:
    return Message(text=text, tokens=simple_tokens(text))


def knows_none(knowledge: WordKnowledge, text: str) -> bool:
    probe = message(text)
    knowledge.record(probe)
    counts = probe.features["known_words"]
    return counts["words"] > 0 and counts["known"] == 0


def single_piece(model: str):
    if model == "none":
        return None
    from dialogflowlite.components.nlu.pretrained import load_tokenizer, resolve_model_source

    return tokenizer_single_piece(load_tokenizer(resolve_model_source(model, "benchmark"),
                                                 "benchmark"))


def split_texts(folder: Path, split: str) -> list[str]:
    """The messages of one split (``train``, ``test``) of a data folder."""
    return (folder / split / "seq.in").read_text(encoding="utf-8").splitlines()


def project_texts(root: Path) -> list[str]:
    """The texts of a project's NLU examples."""
    from dialogflowlite.io.loader import load_project

    return [m.text for m in load_project(root).nlu.intent_examples]


def score_split(train: list[str], test: list[str], pieces) -> list[str]:
    """The test messages without a word of the training messages."""
    knowledge = WordKnowledge(training_words(message(t) for t in train), pieces)
    return [t for t in test if knows_none(knowledge, t)]


def score_leave_one_out(texts: list[str], pieces) -> list[str]:
    """The examples without a word of the other examples."""
    # a word an example shares with no other one is unknown when that example is left out
    counts = Counter(w for t in texts for w in training_words([message(t)]))
    all_words = frozenset(counts)
    caught = []
    for text in texts:
        own = training_words([message(text)])
        alone = frozenset(w for w in own if counts[w] == 1)
        if knows_none(WordKnowledge(all_words - alone, pieces), text):
            caught.append(text)
    return caught


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--data", type=Path, help="a folder with train/ and test/ splits")
    where.add_argument("--project", type=Path, help="a project folder (leave one out)")
    parser.add_argument("--model", default="all-MiniLM-L6-v2",
                        help="the pretrained tokenizer whose single pieces are known, or none")
    parser.add_argument("--mash", type=Path, help="a file of keyboard mash, one per line")
    parser.add_argument("--show", type=int, default=10, help="in-scope messages caught to list")
    args = parser.parse_args()

    pieces = single_piece(args.model)
    if args.data:
        name, train = args.data.name, split_texts(args.data, "train")
        test = split_texts(args.data, "test")
        total, caught = len(test), score_split(train, test, pieces)
    else:
        name, train = args.project.name, project_texts(args.project)
        total, caught = len(train), score_leave_one_out(train, pieces)
    mash = (args.mash.read_text(encoding="utf-8").splitlines() if args.mash
            else KEYBOARD_MASH)
    knowledge = WordKnowledge(training_words(message(t) for t in train), pieces)
    mash_caught = [t for t in mash if knows_none(knowledge, t)]

    print(f"{'data':<14} {'model':<18} {'messages':>9} {'no known word':>14} {'share':>7}")
    print("-" * 66)
    print(f"{name:<14} {args.model:<18} {total:>9} {len(caught):>14} "
          f"{100 * len(caught) / max(1, total):>6.2f}%")
    print(f"{'mash':<14} {args.model:<18} {len(mash):>9} {len(mash_caught):>14} "
          f"{100 * len(mash_caught) / max(1, len(mash)):>6.2f}%")
    for text in caught[: args.show]:
        print(f"  in scope, caught: {text}")
    for text in sorted(set(mash) - set(mash_caught)):
        print(f"  mash, missed: {text}")


if __name__ == "__main__":
    main()
