"""FuzzyLookupEntityExtractor and its matching: distances, the index, extraction, persistence."""

from __future__ import annotations

import itertools
import random

import pytest
from dialogflowlite_lookup.extractor import TABLES_FILE, FuzzyLookupEntityExtractor
from dialogflowlite_lookup.matching import FuzzyIndex, bounded_distance, max_edits, similarity

from dialogflowlite.artifact import ComponentStorage
from dialogflowlite.components.base import NluContext
from dialogflowlite.components.tokenizers.whitespace import WhitespaceTokenizer
from dialogflowlite.errors import ComponentConfigError, Position
from dialogflowlite.shared.domain import Domain, EntityDef
from dialogflowlite.shared.message import Entity, Message
from dialogflowlite.shared.training_data import (
    LookupTable,
    Synonym,
    TrainingData,
    parse_annotated_text,
)

CITIES = ["Berlin", "Munich", "New York", "San Francisco", "Rome", "Hamburg"]


def _osa(a: str, b: str) -> int:
    """Optimal string alignment distance, the textbook full-table way (for checking)."""
    d = [[0] * (len(b) + 1) for _ in range(len(a) + 1)]
    for i in range(len(a) + 1):
        d[i][0] = i
    for j in range(len(b) + 1):
        d[0][j] = j
    for i, j in itertools.product(range(1, len(a) + 1), range(1, len(b) + 1)):
        cost = 0 if a[i - 1] == b[j - 1] else 1
        d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost)
        if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
            d[i][j] = min(d[i][j], d[i - 2][j - 2] + 1)
    return d[len(a)][len(b)]


def test_bounded_distance_agrees_with_the_full_table() -> None:
    rng = random.Random(7)
    for _ in range(400):
        a = "".join(rng.choice("abc") for _ in range(rng.randint(0, 7)))
        b = "".join(rng.choice("abc") for _ in range(rng.randint(0, 7)))
        full = _osa(a, b)
        for limit in range(0, 5):
            assert bounded_distance(a, b, limit) == min(full, limit + 1), (a, b, limit)


def test_similarity_counts_a_swap_as_one_edit() -> None:
    assert similarity("munich", "mnuich") == pytest.approx(1 - 1 / 6)
    assert similarity("berlin", "berlin") == 1.0
    assert similarity("", "") == 1.0
    assert similarity("abc", "xyz") == 0.0
    assert max_edits(5, 0.8) == 1 and max_edits(4, 0.8) == 0 and max_edits(10, 0.8) == 2


def test_the_index_finds_what_a_brute_force_search_finds() -> None:
    rng = random.Random(3)
    words = sorted(
        {"".join(rng.choice("abcde") for _ in range(rng.randint(3, 9))) for _ in range(300)}
    )
    index = FuzzyIndex(words, threshold=0.75, min_length=4)
    for _ in range(200):
        text = "".join(rng.choice("abcde") for _ in range(rng.randint(2, 10)))
        expected = {
            w
            for w in words
            if (w == text)
            or (len(w) >= 4 and max_edits(len(w), 0.75) > 0 and similarity(text, w) >= 0.75)
        }
        assert {m.key for m in index.search(text)} == expected, text


def _trained(*tables: LookupTable, entities=("city",), **config) -> FuzzyLookupEntityExtractor:
    examples = [Message("x", intent="inform", entities=[Entity(e, 0, 1, "x") for e in entities])]
    component = FuzzyLookupEntityExtractor(config)
    component.train(TrainingData(examples, [], [], list(tables)), NluContext())
    return component


def _found(component: FuzzyLookupEntityExtractor, text: str, entities=()) -> list[tuple]:
    message = Message(text, entities=list(entities))
    WhitespaceTokenizer().process([message])
    component.process([message])
    return [
        (e.entity, text[e.start : e.end], e.value, e.confidence)
        for e in message.entities
        if e.extractor == component.name
    ]


def test_misspelt_elements_are_found_with_the_tables_spelling() -> None:
    component = _trained(LookupTable("city", CITIES))
    assert _found(component, "a flight to Mnuich please") == [
        ("city", "Mnuich", "Munich", pytest.approx(0.8333, abs=1e-4))
    ]
    assert _found(component, "from berlin to new yrok") == [
        ("city", "berlin", "Berlin", 1.0),
        ("city", "new yrok", "New York", pytest.approx(0.875)),
    ]
    assert _found(component, "San  Fransisco!")[0][1:3] == ("San  Fransisco", "San Francisco")


def test_short_elements_only_match_exactly_and_never_inside_a_word() -> None:
    component = _trained(LookupTable("city", CITIES))
    assert _found(component, "rome or roma") == [("city", "rome", "Rome", 1.0)]
    assert _found(component, "Hamburger and Berliner") == []
    assert _found(component, "nothing here") == []


def test_the_threshold_and_case_settings() -> None:
    strict = _trained(LookupTable("city", CITIES), threshold=0.9)
    assert _found(strict, "to Mnuich") == []
    assert _found(strict, "to Munich")[0][2] == "Munich"
    cased = _trained(LookupTable("city", CITIES), case_sensitive=True)
    assert _found(cased, "to Hamburg")[0][3] == 1.0
    assert _found(cased, "to hamburg")[0][3] == pytest.approx(1 - 1 / 7, abs=1e-4)


def test_the_best_of_overlapping_matches_wins() -> None:
    component = _trained(LookupTable("city", ["York", "New York"]))
    assert [f[2] for f in _found(component, "in new york")] == ["New York"]


def test_an_entity_found_earlier_is_not_found_twice() -> None:
    component = _trained(LookupTable("city", CITIES), entities=("city", "person"))
    earlier = Entity("city", 3, 9, "Berlin", extractor="ScratchTransformerClassifier")
    assert _found(component, "to Berlin and Munich", [earlier]) == [
        ("city", "Munich", "Munich", 1.0)
    ]
    # An entity of another type does not block the table.
    person = Entity("person", 3, 9, "Berlin")
    assert [f[2] for f in _found(component, "to Berlin", [person])] == ["Berlin"]


def test_tables_named_like_entities_are_used_by_default() -> None:
    tables = (LookupTable("city", CITIES), LookupTable("food", ["pizza", "pasta"]))
    component = _trained(*tables)
    assert list(component.tables) == ["city"]
    domain = Domain(entities={"food": EntityDef("food")})
    with_domain = FuzzyLookupEntityExtractor()
    with_domain.train(TrainingData([], [], [], list(tables)), NluContext(domain=domain))
    assert list(with_domain.tables) == ["food"]
    chosen = _trained(*tables, lookup_tables=["food"])
    assert _found(chosen, "a pizza please") == [("food", "pizza", "pizza", 1.0)]


def test_an_unknown_table_names_the_config_line() -> None:
    component = FuzzyLookupEntityExtractor(
        {"lookup_tables": ["cities"]}, position=Position("config.yml", 7, 5)
    )
    with pytest.raises(ComponentConfigError, match="no lookup table 'cities'") as info:
        component.train(TrainingData([], [], [], [LookupTable("city", CITIES)]), NluContext())
    assert "city" in info.value.hint
    assert str(info.value.position) == "config.yml:7:5"


@pytest.mark.parametrize(
    "config",
    [
        {"threshold": 0},
        {"threshold": 1.5},
        {"min_length": 0},
        {"lookup_tables": "city"},
        {"treshold": 0.8},
    ],
)
def test_bad_settings_are_refused(config) -> None:
    with pytest.raises(ComponentConfigError):
        FuzzyLookupEntityExtractor(config)


def test_chinese_elements_match_on_characters() -> None:
    component = _trained(
        LookupTable("city", ["北京", "上海", "乌鲁木齐"]), min_length=4, threshold=0.75
    )
    text = "我想去乌鲁木齊和上海"
    message = Message(text)
    WhitespaceTokenizer().process([message])  # one token per Chinese character
    component.process([message])
    assert [(e.value, text[e.start : e.end]) for e in message.entities] == [
        ("乌鲁木齐", "乌鲁木齊"),
        ("上海", "上海"),
    ]


def test_persist_and_load_round_trip(tmp_path) -> None:
    component = _trained(LookupTable("city", CITIES), threshold=0.75)
    storage = ComponentStorage(tmp_path / "lookup")
    component.persist(storage)
    assert storage.read_json(TABLES_FILE) == {"tables": {"city": CITIES}}
    loaded = FuzzyLookupEntityExtractor.load(component.config, storage)
    text = "from Berlim to San Franciso"
    assert _found(loaded, text) == _found(component, text)
    assert [f[2] for f in _found(loaded, text)] == ["Berlin", "San Francisco"]


def test_in_a_pipeline_after_a_tokenizer() -> None:
    from dialogflowlite.components.nlu.pipeline import NluPipeline
    from dialogflowlite.components.nlu.synonyms import EntitySynonymMapper

    text, entities = parse_annotated_text("fly to [Berlin](city)")
    data = TrainingData(
        [Message(text, intent="fly", entities=entities)],
        [Synonym("New York", ["NYC"])],
        [],
        [LookupTable("city", ["Berlin", "NYC"])],
    )
    pipeline = NluPipeline(
        [WhitespaceTokenizer(), FuzzyLookupEntityExtractor(), EntitySynonymMapper()], language="en"
    )
    pipeline.train(data, NluContext())
    parsed = pipeline.parse("fly to nyc or Berlni")
    # Berlin is an annotated value, which the mapper knows (as Rasa 3.6+'s does)
    assert [(e.value, e.processors) for e in parsed.entities] == [
        ("New York", ["EntitySynonymMapper"]),
        ("Berlin", ["EntitySynonymMapper"]),
    ]
