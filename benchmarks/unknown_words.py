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


def score_split(folder: Path, model: str) -> tuple[int, list[str]]:
    train = (folder / "train" / "seq.in").read_text(encoding="utf-8").splitlines()
    test = (folder / "test" / "seq.in").read_text(encoding="utf-8").splitlines()
    knowledge = WordKnowledge(training_words(message(t) for t in train), single_piece(model))
    return len(test), [t for t in test if knows_none(knowledge, t)]


def score_project(root: Path, model: str) -> tuple[int, list[str]]:
    from dialogflowlite.io.loader import load_project

    texts = [m.text for m in load_project(root).nlu.intent_examples]
    pieces = single_piece(model)
    # leave one out: the words of every other example (a word an example shares
    # with no other one is unknown when that example is left out)
    counts = Counter(w for t in texts for w in training_words([message(t)]))
    all_words = frozenset(counts)
    caught = []
    for text in texts:
        own = training_words([message(text)])
        alone = frozenset(w for w in own if counts[w] == 1)
        if knows_none(WordKnowledge(all_words - alone, pieces), text):
            caught.append(text)
    return len(texts), caught


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

    if args.data:
        name, (total, caught) = args.data.name, score_split(args.data, args.model)
        vocabulary = frozenset(training_words(
            message(t) for t in (args.data / "train" / "seq.in").read_text(
                encoding="utf-8").splitlines()))
    else:
        from dialogflowlite.io.loader import load_project

        name, (total, caught) = args.project.name, score_project(args.project, args.model)
        vocabulary = training_words(load_project(args.project).nlu.intent_examples)
    mash = (args.mash.read_text(encoding="utf-8").splitlines() if args.mash
            else KEYBOARD_MASH)
    knowledge = WordKnowledge(vocabulary, single_piece(args.model))
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
