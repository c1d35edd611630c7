"""``data convert nlu -f json``: an example's metadata and the synonyms given inline,
written as Rasa's JSON NLU data has them."""

from __future__ import annotations

import json
from pathlib import Path

from plain_data import write

from dialogflowlite.cli.main import main
from dialogflowlite.io.json_nlu_reader import read_json_nlu
from dialogflowlite.io.problems import ProblemLog

YAML_NLU = """\
version: "3.1"
nlu:
- intent: book
  metadata: {sentiment: neutral}
  examples:
  - text: 'fly to [NYC]{"entity": "city", "value": "New York"}'
    metadata: {source: web, sentiment: happy}
  - text: a [cheap](price:low) one
- intent: greet
  examples: |
    - hi
- synonym: savings
  examples: |
    - pink pig
"""


def _converted(tmp_path: Path, monkeypatch, name: str, text: str) -> dict:
    write(tmp_path, f"data/{name}", text)
    monkeypatch.chdir(tmp_path)
    assert main(["data", "convert", "nlu", "-f", "json", "--data", f"data/{name}",
                 "--out", "out.json"]) == 0
    return json.loads((tmp_path / "out.json").read_text(encoding="utf-8"))["rasa_nlu_data"]


def test_yaml_metadata_is_written_under_intent_and_example(tmp_path: Path,
                                                            monkeypatch) -> None:
    body = _converted(tmp_path, monkeypatch, "nlu.yml", YAML_NLU)
    first, second, greet = body["common_examples"]
    assert first["metadata"] == {"intent": {"sentiment": "neutral"},
                                 "example": {"source": "web", "sentiment": "happy"}}
    assert second["metadata"] == {"intent": {"sentiment": "neutral"}}
    assert "metadata" not in greet
    # read back, the example's own metadata wins over its intent's, as it did in the YAML
    again = read_json_nlu(tmp_path / "out.json", ProblemLog())
    assert again.examples[0].metadata == {"sentiment": "happy", "source": "web"}
    assert again.examples[1].metadata == {"sentiment": "neutral"}


def test_synonyms_given_inline_are_listed_with_the_others(tmp_path: Path,
                                                          monkeypatch) -> None:
    body = _converted(tmp_path, monkeypatch, "nlu.yml", YAML_NLU)
    # in file order, as Rasa lists them (where a variant sits does not change its value)
    assert body["entity_synonyms"] == [{"value": "New York", "synonyms": ["NYC"]},
                                       {"value": "low", "synonyms": ["cheap"]},
                                       {"value": "savings", "synonyms": ["pink pig"]}]


def test_markdown_synonyms_given_inline_are_listed_once(tmp_path: Path, monkeypatch) -> None:
    body = _converted(tmp_path, monkeypatch, "nlu.md", """\
        ## intent:inform
        - to [NYC](city:New York)
        - from [nyc](city:New York) to [NYC](city:New York)
        - [New York](city)
        ## synonym:New York
        - NYC
        - New York
        """)
    # each variant once; a value is no synonym of itself
    assert body["entity_synonyms"] == [{"value": "New York", "synonyms": ["NYC", "nyc"]}]


def test_json_data_keeps_its_own_synonyms_and_metadata(tmp_path: Path, monkeypatch) -> None:
    # as Rasa's JSON reader, which lists no synonyms from the examples
    source = {"rasa_nlu_data": {"common_examples": [
        {"text": "to NYC", "intent": "inform",
         "entities": [{"start": 3, "end": 6, "value": "New York", "entity": "city"}],
         "metadata": {"intent": {"sentiment": "neutral"}, "example": {"source": "app"}}},
        {"text": "hi", "intent": "greet", "metadata": {"source": "web"}},
    ], "entity_synonyms": [{"value": "savings", "synonyms": ["pink pig"]}]}}
    body = _converted(tmp_path, monkeypatch, "nlu.json", json.dumps(source))
    assert body["entity_synonyms"] == [{"value": "savings", "synonyms": ["pink pig"]}]
    nested, flat = body["common_examples"]
    assert nested["metadata"] == {"intent": {"sentiment": "neutral"},
                                  "example": {"source": "app"}}
    assert flat["metadata"] == {"source": "web"}


CONFLICTING_SYNONYMS = """\
version: "3.1"
nlu:
- intent: greet
  examples: |
    - hi from [LA]{"entity": "city", "value": "Los Angeles"}
- intent: bye
  examples: |
    - bye [nyc]{"entity": "city", "value": "New York City"}
    - see you in [LA]{"entity": "city", "value": "Los Angeles"}
- synonym: NY
  examples: |
    - nyc
"""


def test_a_conflicting_synonym_keeps_the_value_training_gives_it(tmp_path: Path,
                                                                  monkeypatch) -> None:
    from dialogflowlite.evaluation.nlu import load_nlu_data

    body = _converted(tmp_path, monkeypatch, "nlu.yml", CONFLICTING_SYNONYMS)
    written = {variant.lower(): entry["value"] for entry in body["entity_synonyms"]
               for variant in entry["synonyms"]}
    # the annotation wins over the synonym: item, even one later in the file, as
    # training takes it here and in Rasa (whose converter would list nyc under NY)
    trained = load_nlu_data(tmp_path / "data/nlu.yml").synonym_map()
    assert written == trained == {"nyc": "New York City", "la": "Los Angeles"}
    assert read_json_nlu(tmp_path / "out.json", ProblemLog()).synonym_map() == trained


def test_the_summary_counts_the_synonyms_written(tmp_path: Path, monkeypatch,
                                                 capsys) -> None:
    body = _converted(tmp_path, monkeypatch, "nlu.yml", CONFLICTING_SYNONYMS)
    assert len(body["entity_synonyms"]) == 2
    assert "3 examples, 2 synonyms," in capsys.readouterr().out


def test_intent_metadata_goes_back_to_the_intent_through_json(tmp_path: Path,
                                                               monkeypatch) -> None:
    _converted(tmp_path, monkeypatch, "nlu.yml", YAML_NLU)
    assert main(["data", "convert", "nlu", "--data", "out.json", "--out", "back.yml"]) == 0
    back = (tmp_path / "back.yml").read_text(encoding="utf-8")
    assert back.split("- intent: greet")[0].splitlines()[3:] == [
        "- intent: book",
        '  metadata: {"sentiment": "neutral"}',
        "  examples:",
        '  - text: "fly to [NYC]{\\"entity\\": \\"city\\", \\"value\\": \\"New York\\"}"',
        '    metadata: {"source": "web", "sentiment": "happy"}',
        '  - text: "a [cheap]{\\"entity\\": \\"price\\", \\"value\\": \\"low\\"} one"',
    ]


def test_an_empty_metadata_level_is_written_back_as_given(tmp_path: Path,
                                                          monkeypatch) -> None:
    source = {"rasa_nlu_data": {"common_examples": [
        {"text": "hi", "intent": "greet", "metadata": {"intent": {}}},
        {"text": "yo", "intent": "greet", "metadata": {"intent": {}, "example": {"a": 1}}},
    ]}}
    body = _converted(tmp_path, monkeypatch, "nlu.json", json.dumps(source))
    assert [e["metadata"] for e in body["common_examples"]] == [
        {"intent": {}}, {"intent": {}, "example": {"a": 1}}]


def test_variants_differing_in_case_are_listed_as_training_reads_them(
        tmp_path: Path, monkeypatch) -> None:
    from dialogflowlite.evaluation.nlu import load_nlu_data

    body = _converted(tmp_path, monkeypatch, "nlu.yml", """\
version: "3.1"
nlu:
- synonym: New York
  examples: |
    - big apple
- synonym: Newark
  examples: |
    - NWK
- synonym: New York
  examples: |
    - nwk
""")
    # training ignores case, so `nwk` overrides `NWK`; listed under two values, the
    # JSON would be read back with Newark winning (its entry comes after New York's)
    trained = load_nlu_data(tmp_path / "data/nlu.yml").synonym_map()
    assert trained == {"big apple": "New York", "nwk": "New York"}
    assert body["entity_synonyms"] == [{"value": "New York", "synonyms": ["big apple", "nwk"]}]
    assert read_json_nlu(tmp_path / "out.json", ProblemLog()).synonym_map() == trained


def test_a_value_listed_as_its_own_variant_keeps_the_earlier_synonym(
        tmp_path: Path, monkeypatch) -> None:
    from dialogflowlite.evaluation.nlu import load_nlu_data

    body = _converted(tmp_path, monkeypatch, "nlu.yml", """\
version: "3.1"
nlu:
- intent: fly
  examples: |
    - fly to [nyc](city)
- synonym: New York
  examples: |
    - nyc
- synonym: NYC
  examples: |
    - NYC
""")
    # `NYC` under itself is no synonym (Rasa's mapper skips it before it ignores
    # case), so `nyc` stays New York's in training and in the JSON
    trained = load_nlu_data(tmp_path / "data/nlu.yml").synonym_map()
    assert trained == {"nyc": "New York"}
    assert body["entity_synonyms"] == [{"value": "New York", "synonyms": ["nyc"]}]
    assert read_json_nlu(tmp_path / "out.json", ProblemLog()).synonym_map() == trained


def test_a_span_annotated_with_alternating_values_keeps_the_last(tmp_path: Path,
                                                                 monkeypatch) -> None:
    body = _converted(tmp_path, monkeypatch, "nlu.yml", """\
version: "3.1"
nlu:
- intent: inform
  examples: |
    - to [NYC](city:New York)
    - from [NYC](city:NY)
    - via [NYC](city:New York)
""")
    # the last annotation is the one training keeps, as Rasa's EntitySynonymMapper
    assert body["entity_synonyms"] == [{"value": "New York", "synonyms": ["NYC"]}]


def test_an_empty_metadata_object_is_kept_from_json_to_json(tmp_path: Path,
                                                            monkeypatch) -> None:
    source = {"rasa_nlu_data": {"common_examples": [
        {"text": "hi", "intent": "greet", "metadata": {}},
        {"text": "yo", "intent": "greet"},
    ]}}
    body = _converted(tmp_path, monkeypatch, "nlu.json", json.dumps(source))
    # as Rasa's JSON writer, which keeps every key an example was read with
    assert [e.get("metadata") for e in body["common_examples"]] == [{}, None]
    assert "metadata" not in body["common_examples"][1]
    # through YAML, which has nothing to write for it, the key goes, as in Rasa
    assert main(["data", "convert", "nlu", "--data", "out.json", "--out", "back.yml"]) == 0
    assert main(["data", "convert", "nlu", "-f", "json", "--data", "back.yml",
                 "--out", "again.json"]) == 0
    again = json.loads((tmp_path / "again.json").read_text(encoding="utf-8"))
    assert [sorted(e) for e in again["rasa_nlu_data"]["common_examples"]] == [
        ["intent", "text"], ["intent", "text"]]
