from __future__ import annotations

from pathlib import Path

import pytest

from dialogflowlite.artifact import ComponentStorage
from dialogflowlite.components.base import NluContext
from dialogflowlite.components.nlu.regex_entity_extractor import RegexEntityExtractor
from dialogflowlite.components.nlu.regex_featurizer import RegexFeaturizer
from dialogflowlite.components.tokenizers.whitespace import WhitespaceTokenizer
from dialogflowlite.errors import Position, ProjectError
from dialogflowlite.shared.message import Message
from dialogflowlite.shared.training_data import (
    LookupTable,
    RegexPattern,
    TrainingData,
    parse_annotated_text,
)


def data() -> TrainingData:
    examples = []
    for text in ["my zip is [12345](zipcode)", "I live in [Berlin](city)", "hi"]:
        plain, entities = parse_annotated_text(text)
        examples.append(Message(plain, intent="inform", entities=entities))
    return TrainingData(
        examples,
        regexes=[RegexPattern("zipcode", r"\b\d{5}\b"), RegexPattern("greet", r"\bh(i|ello)\b")],
        lookups=[LookupTable("city", ["Berlin", "New York", "Sankt Pölten", "北京"])],
    )


def featurize(featurizer: RegexFeaturizer, text: str) -> dict:
    message = Message(text)
    WhitespaceTokenizer().process([message])
    featurizer.process([message])
    return message.features["regex"]


def test_token_and_sentence_features() -> None:
    featurizer = RegexFeaturizer()
    featurizer.train(data(), NluContext())
    assert featurizer.names == ["zipcode", "greet", "city"]
    features = featurize(featurizer, "hello, zip 12345 in New York")
    assert features["names"] == ["zipcode", "greet", "city"]
    assert features["sentence"] == [1, 1, 1]
    # tokens: hello , zip 12345 in New York
    assert features["token"] == [
        [0, 1, 0],
        [0, 0, 0],
        [0, 0, 0],
        [1, 0, 0],
        [0, 0, 0],
        [0, 0, 1],
        [0, 0, 1],
    ]
    assert featurize(featurizer, "nothing here") == {
        "names": ["zipcode", "greet", "city"],
        "token": [[0, 0, 0], [0, 0, 0]],
        "sentence": [0, 0, 0],
    }


def test_case_sensitivity_and_word_boundaries() -> None:
    sensitive = RegexFeaturizer()
    sensitive.train(data(), NluContext())
    assert featurize(sensitive, "new york")["sentence"] == [0, 0, 0]
    insensitive = RegexFeaturizer({"case_sensitive": False})
    insensitive.train(data(), NluContext())
    assert featurize(insensitive, "new york")["sentence"] == [0, 0, 1]
    # a lookup element inside a longer word is no match, unless boundaries are off
    assert featurize(insensitive, "Berlinale")["sentence"] == [0, 0, 0]
    loose = RegexFeaturizer({"use_word_boundaries": False})
    loose.train(data(), NluContext())
    assert featurize(loose, "Berlinale")["sentence"] == [0, 0, 1]
    # text without spaces still matches lookup elements in that script
    features = featurize(sensitive, "我想去北京玩")
    assert features["sentence"] == [0, 0, 1]
    assert [row[2] for row in features["token"]] == [0, 0, 0, 1, 1, 0]


def test_sources_can_be_switched_off() -> None:
    featurizer = RegexFeaturizer({"use_lookup_tables": False})
    featurizer.train(data(), NluContext())
    assert featurizer.names == ["zipcode", "greet"]
    featurizer = RegexFeaturizer({"use_regexes": False})
    featurizer.train(data(), NluContext())
    assert featurizer.names == ["city"]


def test_training_examples_get_features_and_persist_round_trip(tmp_path: Path) -> None:
    training = data()
    WhitespaceTokenizer().process_training_data(training)
    featurizer = RegexFeaturizer()
    featurizer.train(training, NluContext())
    featurizer.process_training_data(training)
    assert training.examples[0].features["regex"]["sentence"] == [1, 0, 0]
    storage = ComponentStorage(tmp_path / "regex")
    featurizer.persist(storage)
    loaded = RegexFeaturizer.load(featurizer.config, storage)
    text = "hi from Sankt Pölten 12345"
    assert featurize(loaded, text) == featurize(featurizer, text)


def test_bad_regex_names_its_line() -> None:
    broken = TrainingData(regexes=[RegexPattern("x", "(", Position("data/nlu.yml", 7, 9))])
    with pytest.raises(ProjectError) as info:
        RegexFeaturizer().train(broken, NluContext())
    assert str(info.value.position) == "data/nlu.yml:7:9"


def test_regex_entity_extractor(tmp_path: Path) -> None:
    extractor = RegexEntityExtractor()
    extractor.train(data(), NluContext())
    message = Message("zip 12345 and 54321, from new york or Berlinale")
    extractor.process([message])
    found = [(e.entity, e.start, e.end, e.value, e.extractor) for e in message.entities]
    # "greet" names no entity, so it extracts nothing; case is ignored by default
    assert found == [
        ("zipcode", 4, 9, "12345", "RegexEntityExtractor"),
        ("zipcode", 14, 19, "54321", "RegexEntityExtractor"),
        ("city", 26, 34, "new york", "RegexEntityExtractor"),
    ]
    # as Rasa's RegexEntityExtractor: a match has no confidence, so no confidence_entity
    assert message.parse_result()["entities"][0] == {
        "entity": "zipcode", "start": 4, "end": 9, "value": "12345",
        "extractor": "RegexEntityExtractor",
    }
    storage = ComponentStorage(tmp_path / "rx")
    extractor.persist(storage)
    again = Message(message.text)
    RegexEntityExtractor.load(extractor.config, storage).process([again])
    assert [(e.entity, e.start, e.end) for e in again.entities] == [f[:3] for f in found]


def test_regex_entity_extractor_keeps_the_longest_overlapping_match() -> None:
    training = TrainingData(
        [
            Message(
                "in New York City",
                intent="x",
                entities=parse_annotated_text("in [New York City](city)")[1],
            )
        ],
        lookups=[LookupTable("city", ["New York", "York City", "New York City"])],
    )
    extractor = RegexEntityExtractor()
    extractor.train(training, NluContext())
    message = Message("from New York City to York City")
    extractor.process([message])
    assert [e.value for e in message.entities] == ["New York City", "York City"]


def test_regex_entity_extractor_warns_without_matching_names(caplog) -> None:
    extractor = RegexEntityExtractor()
    with caplog.at_level("WARNING"):
        extractor.train(TrainingData(regexes=[RegexPattern("zip", r"\d+")]), NluContext())
    assert "extract nothing" in caplog.text


def test_a_lookup_element_does_not_match_before_a_combining_mark() -> None:
    plain, entities = parse_annotated_text("I am [Jose](name)")
    names = TrainingData(
        [Message(plain, intent="inform", entities=entities)],
        lookups=[LookupTable("name", ["Jose", "राम", "lan"])],
    )
    extractor = RegexEntityExtractor()
    extractor.train(names, NluContext())
    # decomposed "José" (e + U+0301), Hindi "रामा" (a vowel sign after राम), "élan"
    for text in ["Jose\u0301 called", "रामा आया", "e\u0301lan"]:
        assert extractor.extract(text) == [], text
    found = extractor.extract("Jose and राम, lan")
    assert [(e.value, e.start, e.end) for e in found] == [
        ("Jose", 0, 4), ("राम", 9, 12), ("lan", 14, 17)
    ]
    # a zero-width non-joiner is part of a (Persian) word too
    persian = TrainingData(names.examples, lookups=[LookupTable("name", ["می"])])
    extractor.train(persian, NluContext())
    assert extractor.extract("می\u200cخواهم") == []
    assert [e.value for e in extractor.extract("می خواهم")] == ["می"]


def test_a_lookup_element_is_found_beside_text_written_without_spaces() -> None:
    # Chinese and Japanese write a product name against the words around it; it was no
    # match (a Han character counted as part of its word), while jieba found it
    plain, entities = parse_annotated_text("我想买[iPhone](product)")
    products = TrainingData(
        [Message(plain, intent="buy", entities=entities)],
        lookups=[LookupTable("product", ["iPhone", "Mate 60", "华为"])],
    )
    extractor = RegexEntityExtractor()
    extractor.train(products, NluContext())
    for text, found in [("我想买iPhone手机", "iPhone"), ("买Mate 60吧", "Mate 60"),
                        ("iPhoneを買う", "iPhone"), ("买华为手机", "华为")]:
        assert [(e.value, e.start) for e in extractor.extract(text)] == [
            (found, text.index(found))], text
    # beside letters and digits of a spaced script it is still part of a longer word
    for text in ["iPhones", "买iPhone15", "Mate 600"]:
        assert extractor.extract(text) == [], text


def test_lookup_tables_are_matched_as_a_trie_longest_element_first() -> None:
    import re

    from dialogflowlite.components.nlu.patterns import lookup_pattern

    # elements sharing a beginning share one branch: a large table is matched by
    # trying only the elements that begin like the text
    assert lookup_pattern(["new", "new york", "newark"], False) == "(?:new(?:\\ york|ark)?)"

    def spans(elements: list[str], text: str, case_sensitive: bool = True) -> list[str]:
        pattern = lookup_pattern(elements, True, case_sensitive)
        flags = 0 if case_sensitive else re.IGNORECASE
        return [m.group() for m in re.finditer(pattern, text, flags)]

    assert spans(["Paris", "paris hilton"], "PARIS HILTON", case_sensitive=False) == [
        "PARIS HILTON"
    ]
    assert spans(["Paris", "paris hilton"], "PARIS HILTON") == []
    # a longer element that fails its boundary gives way to a shorter one
    assert spans(["San", "San Jose"], "San Jose\u0301") == ["San"]
    assert spans(["Peking", "Peking 北京"], "Peking 北京烤鸭 or Peking") == [
        "Peking 北京", "Peking"
    ]
    cities = [f"city{i} town" for i in range(5000)] + ["Sankt Pölten"]
    assert spans(cities, "from city4999 town to Sankt Pölten") == ["city4999 town", "Sankt Pölten"]


def test_a_long_message_with_many_matches_is_featurized_in_one_pass_over_its_tokens() -> None:
    from dialogflowlite.shared.message import Token

    class CountedTokens(list):
        passes = 0

        def __iter__(self):
            CountedTokens.passes += 1
            return super().__iter__()

    featurizer = RegexFeaturizer({"case_sensitive": False})
    featurizer.train(data(), NluContext())
    text = "Berlin new york " * 1000
    message = Message(text)
    WhitespaceTokenizer().process([message])
    plain = featurizer.features(message)
    message.tokens = CountedTokens(Token(t.text, t.start, t.end) for t in message.tokens)
    CountedTokens.passes = 0
    # 2000 matches over 3000 tokens: looking at every token for every match took
    # seconds for a message of a few pages
    assert featurizer.features(message) == plain
    assert CountedTokens.passes <= 2
    assert plain["token"][:3] == [[0, 0, 1], [0, 0, 1], [0, 0, 1]]


def test_overlap_with_kept_spans_is_found_among_the_neighbours_only() -> None:
    from dialogflowlite.components.nlu.regex_entity_extractor import _overlaps

    kept = [(0, 4), (10, 14), (20, 24)]
    assert _overlaps(kept, 3, 5) and _overlaps(kept, 12, 13) and _overlaps(kept, 8, 21)
    assert not _overlaps(kept, 4, 10) and not _overlaps(kept, 24, 30)
    assert not _overlaps([], 0, 1)
    # thousands of matches of one type in one message: every one is kept, once
    training = TrainingData(
        [Message("in Rome", intent="x", entities=parse_annotated_text("in [Rome](city)")[1])],
        lookups=[LookupTable("city", ["Rome", "New York", "York"])],
    )
    extractor = RegexEntityExtractor()
    extractor.train(training, NluContext())
    found = extractor.extract("Rome New York " * 2000)
    assert [e.value for e in found[:2]] == ["Rome", "New York"]
    assert len(found) == 4000


def test_lookups_and_regexes_match_accents_however_they_are_encoded() -> None:
    composed, decomposed = "caf\u00e9", "cafe\u0301"
    for element, typed in [(composed, decomposed), (decomposed, composed)]:
        plain, entities = parse_annotated_text(f"to the [{element}](place)")
        training = TrainingData(
            [Message(plain, intent="inform", entities=entities)],
            lookups=[LookupTable("place", [element])],
            regexes=[RegexPattern("drink", "cr\u00e8me br\u00fbl\u00e9e|the\u0301")],
        )
        extractor = RegexEntityExtractor()
        extractor.train(training, NluContext())
        text = f"a {typed} near me"
        [found] = extractor.extract(text)
        # offsets into the message as typed, and the value as typed
        assert (found.entity, found.start, found.end) == ("place", 2, 2 + len(typed))
        assert found.value == typed == text[found.start:found.end]

        featurizer = RegexFeaturizer()
        featurizer.train(training, NluContext())
        features = featurize(featurizer, f"{text} and a the\u0301")
        assert features["names"] == ["drink", "place"]
        # tokens: a café near me and a thé
        assert [row[1] for row in features["token"]] == [0, 1, 0, 0, 0, 0, 0]
        assert [row[0] for row in features["token"]] == [0, 0, 0, 0, 0, 0, 1]

    # the regex written composed matches the text typed decomposed, and the span
    # after it is still the typed text's
    regex = TrainingData(
        [Message("x", intent="x", entities=parse_annotated_text("[x](dessert)")[1])],
        regexes=[RegexPattern("dessert", "cr\u00e8me br\u00fbl\u00e9e")],
    )
    extractor = RegexEntityExtractor()
    extractor.train(regex, NluContext())
    text = "une cre\u0300me bru\u0302le\u0301e et un cafe\u0301"
    [found] = extractor.extract(text)
    assert (found.start, found.end, found.value) == (4, 19, text[4:19])


def test_composed_text_maps_matches_back_to_the_typed_offsets() -> None:
    import unicodedata

    from dialogflowlite.components.nlu.patterns import ComposedText

    typed = "x\u1100\u1161\u11a8 e\u0323\u0301 \u00c5\u212b ok"
    composed = ComposedText.of(typed)
    assert composed.text == unicodedata.normalize("NFC", typed)
    assert composed.text == "x\uac01 \u1eb9\u0301 \u00c5\u00c5 ok"
    # Hangul jamo composed into one syllable: the span of all three jamo
    assert composed.span(1, 2) == (1, 4)
    # a letter with two marks is two characters composed; both belong to the whole piece
    assert composed.span(3, 4) == (5, 8) and composed.span(3, 5) == (5, 8)
    # the Angstrom sign composes to Å alone
    assert composed.span(7, 8) == (10, 11)
    assert composed.span(9, 11) == (12, 14)
    # a composed text maps to itself without tables
    assert ComposedText.of("caf\u00e9") == ("caf\u00e9", None, None)
