"""NLU data written back as YAML, and the per-intent training/test split."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from story_data import CITY_LOOKUP, NEW_YORK_SYNONYM, ZIPCODE_REGEX
from story_data import nlu_yaml as nlu_file

from dialogflowlite.evaluation.nlu import load_nlu_data
from dialogflowlite.io.nlu_writer import json_synonyms, nlu_yaml, write_nlu
from dialogflowlite.shared.message import Entity, Message
from dialogflowlite.shared.training_data import Synonym, TrainingData

RICH_NLU = nlu_file("""\
- intent: book_flight
  metadata: {sentiment: neutral}
  examples: |
    - from [Berlin]{"entity": "city", "role": "from"} to [NYC]{"entity": "city", "value": "NY"}
    - two tickets for [2]{"entity": "count", "group": "1"} adults, #1 priority
    - a "quoted" [bag][{"entity": "item"}, {"entity": "luggage"}] please
    - the [cheap](price:low) one, [not] annotated brackets
- intent: faq/ask_price
  examples:
  - text: how much is it?
    metadata: {source: web}
  - text: what does it cost
- intent: "yes"
  examples: |
    - yes
""", NEW_YORK_SYNONYM, ZIPCODE_REGEX, CITY_LOOKUP)


def _key(message: Message) -> tuple:
    return (message.text, message.intent, message.metadata,
            tuple((e.entity, e.start, e.end, e.value, e.role, e.group)
                  for e in message.entities))


def _load(tmp_path: Path, text: str, name: str = "nlu.yml") -> TrainingData:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return load_nlu_data(path)


def test_written_yaml_reads_back_to_the_same_data(tmp_path: Path) -> None:
    original = _load(tmp_path, RICH_NLU)
    assert len(original.examples) == 7  # the reader took every example
    again = load_nlu_data(write_nlu(original, tmp_path / "out" / "again.yml"))
    assert [_key(m) for m in again.examples] == [_key(m) for m in original.examples]
    assert [(s.value, s.variants) for s in again.synonyms] == [("New York", ["NYC",
                                                                            "the big apple"])]
    assert [(r.name, r.pattern) for r in again.regexes] == [("zipcode", r"\d{5}")]
    assert [(lk.name, lk.elements) for lk in again.lookups] == [("city", ["Berlin", "Oslo"])]
    text = nlu_yaml(original)
    assert text.startswith('version: "3.1"')
    # a retrieval intent and an intent YAML would read as a boolean are quoted
    assert '- intent: "faq/ask_price"' in text and '- intent: "yes"' in text


def test_written_yaml_keeps_the_short_form_when_it_can(tmp_path: Path) -> None:
    text = nlu_yaml(_load(tmp_path, RICH_NLU))
    assert "    - from [Berlin]{" in text
    assert "- the [cheap]{\"entity\": \"price\", \"value\": \"low\"} one" in text
    # per-example metadata needs the long form
    assert '  - text: "how much is it?"\n    metadata: {"source": "web"}' in text


def _many(tmp_path: Path) -> TrainingData:
    blocks = []
    for intent, count in (("greet", 10), ("bye", 5), ("thanks", 2), ("lonely", 1)):
        lines = "\n".join(f"    - {intent} example {i}" for i in range(count))
        blocks.append(f"- intent: {intent}\n  examples: |\n{lines}")
    blocks.append("- synonym: hi\n  examples: |\n    - hey")
    return _load(tmp_path, "version: \"3.1\"\nnlu:\n" + "\n".join(blocks) + "\n")


def test_json_synonyms_list_each_variant_under_the_value_training_gives_it() -> None:
    data = TrainingData(
        [Message("to nyc", "inform", [Entity("city", 3, 6, "New York City")])],
        [Synonym("NY", ["nyc", "NYC"]), Synonym("Nice", ["nice"]), Synonym("NY", ["ny"])],
    )
    # the annotation overrides the item (training reads items first); `NYC` is the
    # same variant as `nyc` to training, so listed under NY it would contradict it;
    # a value is no synonym of itself
    assert data.synonym_map() == {"nyc": "New York City", "nice": "Nice", "ny": "NY"}
    assert json_synonyms(data) == [{"value": "New York City", "synonyms": ["nyc"]},
                                   {"value": "Nice", "synonyms": ["nice"]},
                                   {"value": "NY", "synonyms": ["ny"]}]


def test_json_synonyms_order_values_by_their_first_listed_variant() -> None:
    # `x` is trained under B (the later item wins), so B's entry comes first: the
    # values stand in the order of the items' variants, not of the last values read
    data = TrainingData([], [Synonym("A", ["x"]), Synonym("B", ["y"]), Synonym("A", ["z"]),
                             Synonym("B", ["x"])])
    assert json_synonyms(data) == [{"value": "B", "synonyms": ["x", "y"]},
                                   {"value": "A", "synonyms": ["z"]}]


def test_json_synonyms_read_the_annotations_once(monkeypatch) -> None:
    import dialogflowlite.shared.training_data as training_data

    calls = []
    original = training_data.annotated_synonyms

    def counted(examples):
        calls.append(1)
        return original(examples)

    monkeypatch.setattr(training_data, "annotated_synonyms", counted)
    data = TrainingData([Message("to nyc", "inform", [Entity("city", 3, 6, "NY")])],
                        [Synonym("NY", ["nyc"])])
    assert json_synonyms(data) == [{"value": "NY", "synonyms": ["nyc"]}]
    assert len(calls) == 1


def test_split_is_per_intent_as_rasa_s_and_loses_nothing(tmp_path: Path) -> None:
    data = _many(tmp_path)
    train, test = data.train_test_split(0.8, seed=1)
    # Rasa's counts: classes from the fewest examples up, the running training count kept at
    # int(examples so far * 0.8), at least one example in each part; a lone example is tested
    assert Counter(m.intent for m in train.examples) == {"greet": 9, "bye": 4, "thanks": 1}
    assert Counter(m.intent for m in test.examples) == {"greet": 1, "bye": 1, "thanks": 1,
                                                        "lonely": 1}
    assert sorted(m.text for m in train.examples + test.examples) == sorted(
        m.text for m in data.examples)
    # synonyms, regexes and lookup tables go to both parts, as Rasa's split copies them
    assert [s.value for s in train.synonyms] == [s.value for s in test.synonyms] == ["hi"]


def test_split_follows_the_seed(tmp_path: Path) -> None:
    data = _many(tmp_path)
    first = [m.text for m in data.train_test_split(0.5, seed=3)[1].examples]
    assert first == [m.text for m in data.train_test_split(0.5, seed=3)[1].examples]
    others = {tuple(m.text for m in data.train_test_split(0.5, seed=s)[1].examples)
              for s in range(4, 10)}
    assert others - {tuple(first)}


@pytest.mark.parametrize("fraction", [0.0, 1.0, 1.5])
def test_split_refuses_a_fraction_outside_zero_and_one(tmp_path: Path, fraction: float) -> None:
    with pytest.raises(ValueError, match="between 0 and 1"):
        _many(tmp_path).train_test_split(fraction)


def test_test_data_may_be_in_rasas_older_formats(tmp_path) -> None:
    """`test nlu --nlu`, `train --nlu` and `data split nlu` read Markdown and JSON NLU too."""
    import json

    folder = tmp_path / "test_data"
    folder.mkdir()
    (folder / "nlu.md").write_text("## intent:greet\n- hello\n- hi there\n", encoding="utf-8")
    (folder / "more.json").write_text(json.dumps({"rasa_nlu_data": {"common_examples": [
        {"text": "fly to Rome", "intent": "book",
         "entities": [{"start": 7, "end": 11, "value": "Rome", "entity": "city"}]}]}}),
        encoding="utf-8")
    (folder / "rest.yml").write_text(
        'version: "3.1"\nnlu:\n- intent: bye\n  examples: |\n    - goodbye\n', encoding="utf-8")
    (folder / "notes.md").write_text("# not training data\n", encoding="utf-8")
    data = load_nlu_data(folder)
    assert sorted((m.intent, m.text) for m in data.examples) == [
        ("book", "fly to Rome"), ("bye", "goodbye"), ("greet", "hello"), ("greet", "hi there")]
    [booking] = [m for m in data.examples if m.intent == "book"]
    assert [(e.entity, e.value) for e in booking.entities] == [("city", "Rome")]
    assert [m.text for m in load_nlu_data(folder / "nlu.md").examples] == ["hello", "hi there"]


def test_a_markdown_lookup_file_is_found_from_the_project_folder(tmp_path) -> None:
    """Rasa 1 named a lookup file from the project folder (`data/cities.txt`):
    `data split nlu` found it nowhere, though `train` did."""
    import io

    from dialogflowlite.cli.data import split_nlu

    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "nlu.md").write_text(
        "## intent:inform\n- I live in [Berlin](city)\n- I live in [Paris](city)\n"
        "- [Rome](city) please\n## intent:greet\n- hi\n- hello\n- hey\n"
        "## lookup:city\ndata/cities.txt\n", encoding="utf-8")
    (tmp_path / "data" / "cities.txt").write_text("Berlin\nParis\n", encoding="utf-8")
    data = load_nlu_data(tmp_path / "data", tmp_path)
    assert [(t.name, t.elements) for t in data.lookups] == [("city", ["Berlin", "Paris"])]
    training, test = split_nlu(tmp_path, echo=io.StringIO())
    for part in (training, test):
        assert "Berlin" in part.read_text(encoding="utf-8")


def _examples(*counts: int) -> TrainingData:
    return TrainingData([Message(f"text {i} of {n}", intent=f"intent_{n}_{c}")
                         for c, n in enumerate(counts) for i in range(n)])


@pytest.mark.parametrize(("counts", "fraction", "keeps"), [
    ((5, 5), 0.8, True),            # int(0.2 * 10) + 1 = 3 >= 2 classes
    ((2, 2, 2), 0.8, False),        # int(0.2 * 6) + 1 = 2 < 3 classes
    ((2, 2, 2), 0.5, True),         # int(0.5 * 6) + 1 = 4 >= 3
    ((1, 1, 1, 1), 0.2, False),     # the smaller part is the training part here
])
def test_split_says_when_the_examples_are_too_few_for_the_fraction(
        counts, fraction, keeps) -> None:
    # Rasa's split warns when the smaller part cannot hold an example of every class
    assert _examples(*counts).split_keeps_fraction(fraction) is keeps
