"""Entity spans <-> word BIO tags <-> sub-word pieces."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from dialogflowlite.components.tokenizers.alignment import (
    CommaSplitting,
    bilou_from_bio,
    bio_spans,
    bio_tags,
    entities_from_bio,
    first_subtoken_indices,
    is_aligned,
    simple_tokens,
    split_label,
)
from dialogflowlite.shared.message import Entity, Token
from dialogflowlite.shared.training_data import parse_annotated_text


def words(text: str) -> list[Token]:
    return simple_tokens(text)


def test_multi_token_entity_gets_b_then_i() -> None:
    text, entities = parse_annotated_text("fly from [new york city](city) to [rome](city) now")
    tags = bio_tags(words(text), entities)
    assert tags == ["O", "O", "B-city", "I-city", "I-city", "O", "B-city", "O"]


def test_roles_and_groups_are_part_of_the_label_and_come_back() -> None:
    text, entities = parse_annotated_text(
        'from [Berlin]{"entity": "city", "role": "departure", "group": "1"} to '
        '[Rome]{"entity": "city", "role": "destination"}'
    )
    tokens = words(text)
    tags = bio_tags(tokens, entities)
    assert tags[1] == "B-city#role=departure#group=1"
    assert tags[3] == "B-city#role=destination"
    decoded = entities_from_bio(text, tokens, tags)
    assert [(e.entity, e.role, e.group, e.value) for e in decoded] == [
        ("city", "departure", "1", "Berlin"),
        ("city", "destination", None, "Rome"),
    ]
    assert split_label("size") == ("size", None, None)
    assert split_label("city#group=2") == ("city", None, "2")


def test_overlapping_spans_keep_the_first_and_longest() -> None:
    text = "new york pizza"
    tokens = words(text)
    entities = [Entity("food", 4, 14, "york pizza"), Entity("city", 0, 8, "new york")]
    assert bio_tags(tokens, entities) == ["B-city", "I-city", "O"]


def test_entity_boundary_inside_a_word_tags_the_whole_word() -> None:
    # "10" is annotated inside the single word "10kg": the word is tagged rather
    # than the entity disappearing, and the misalignment can be detected
    text = "send 10kg now"
    tokens = words(text)
    entity = Entity("amount", 5, 7, "10")
    assert not is_aligned(tokens, entity)
    assert bio_tags(tokens, [entity]) == ["O", "B-amount", "O"]
    assert is_aligned(tokens, Entity("amount", 5, 9, "10kg"))


def test_bio_spans_follow_conlleval() -> None:
    assert bio_spans(["B-a", "I-a", "O", "I-a", "I-a"]) == [("a", 0, 2), ("a", 3, 5)]
    # a tag of another type ends the chunk, I- of a new type starts one
    assert bio_spans(["B-a", "I-b", "B-b", "I-b"]) == [("a", 0, 1), ("b", 1, 2), ("b", 2, 4)]
    assert bio_spans(["B-a", "B-a"]) == [("a", 0, 1), ("a", 1, 2)]
    assert bio_spans(["O", "O"]) == []
    assert bio_spans([]) == []


def test_bilou_marks_last_words_and_one_word_spans() -> None:
    bio = ["B-a", "I-a", "I-a", "O", "B-b", "B-a", "I-b", "O", "I-c", "I-c"]
    assert bilou_from_bio(bio) == ["B-a", "I-a", "L-a", "O", "U-b", "U-a", "U-b", "O",
                                   "B-c", "L-c"]
    # both schemes read as the same chunks
    assert bio_spans(bilou_from_bio(bio)) == bio_spans(bio)


def test_bilou_spans_end_after_last_and_unit_tags() -> None:
    # L- closes its chunk, so the I- after it opens a new one; U- is a chunk alone
    assert bio_spans(["B-a", "L-a", "I-a", "L-a"]) == [("a", 0, 2), ("a", 2, 4)]
    assert bio_spans(["U-a", "I-a", "U-a", "U-a"]) == [("a", 0, 1), ("a", 1, 2), ("a", 2, 3),
                                                      ("a", 3, 4)]
    # a lone L- is a one-word chunk; a span left open at the end still counts
    assert bio_spans(["O", "L-b", "B-a", "I-a"]) == [("b", 1, 2), ("a", 2, 4)]


def test_entities_from_bio_uses_character_offsets_and_lowest_confidence() -> None:
    text = "  book  Hotel Adlon, please"
    tokens = words(text)
    tags = ["O", "B-hotel", "I-hotel", "O", "O"]
    [entity] = entities_from_bio(text, tokens, tags, [0.2, 0.9, 0.7, 0.5, 0.5], extractor="X")
    assert (entity.start, entity.end) == (8, 19)
    assert entity.value == "Hotel Adlon" == text[entity.start : entity.end]
    assert entity.confidence == pytest.approx(0.7)
    assert entity.extractor == "X"


@pytest.mark.parametrize("tags", [
    ["O", "B-hotel", "I-hotel", "I-hotel", "O"],
    ["O", "B-hotel", "I-hotel", "L-hotel", "O"],
])
def test_words_more_than_one_character_apart_are_two_entities(tags: list[str]) -> None:
    # as Rasa's extractors decode tags: same-tag words more than one character apart
    # (two spaces, a tab) are separate entities, each with its own lowest confidence
    text = "book Hotel Adlon  Berlin now"
    tokens = words(text)
    decoded = entities_from_bio(text, tokens, tags, [0.2, 0.9, 0.7, 0.4, 0.5],
                                role_confidences=[0.1, 0.8, 0.6, 0.3, 0.1])
    assert [(e.entity, e.value, e.start, e.end) for e in decoded] == [
        ("hotel", "Hotel Adlon", 5, 16), ("hotel", "Berlin", 18, 24),
    ]
    assert [e.confidence for e in decoded] == [pytest.approx(0.7), pytest.approx(0.4)]


def test_single_spaced_words_and_punctuation_stay_one_entity() -> None:
    # what corpora such as SNIPS and ATIS hold: words one space apart, punctuation
    # tokens next to a word; the spans are those of the tags (by default a comma cuts
    # the entity, as Rasa's split_entities_by_comma)
    text = "fly to st. louis, mo tomorrow"
    tokens = words(text)
    tags = ["O", "O", "B-city", "I-city", "I-city", "I-city", "I-city", "O"]
    [entity] = entities_from_bio(text, tokens, tags, comma_splitting=CommaSplitting(False))
    assert entity.value == "st. louis, mo"
    assert [e.value for e in entities_from_bio(text, tokens, tags)] == ["st. louis", "mo"]
    # one tab is one character too
    tab = "a\tb"
    assert [e.value for e in entities_from_bio(tab, words(tab), ["B-x", "I-x"])] == [tab]


@pytest.mark.parametrize("tags", [
    ["B-address", "I-address", "I-address", "O"],
    ["B-address", "I-address", "L-address", "O"],
])
def test_an_entity_tagged_across_a_comma_is_cut_there_by_default(tags: list[str]) -> None:
    # Rasa's split_entities_by_comma (default true): two entities, the comma in neither,
    # each with its own lowest confidence
    text = "Berlin, Germany please"
    decoded = entities_from_bio(text, words(text), tags, [0.9, 0.2, 0.8, 0.5])
    assert [(e.value, e.start, e.end) for e in decoded] == [("Berlin", 0, 6),
                                                           ("Germany", 8, 15)]
    assert [e.confidence for e in decoded] == [pytest.approx(0.9), pytest.approx(0.8)]
    [whole] = entities_from_bio(text, words(text), tags, comma_splitting=CommaSplitting(False))
    assert (whole.value, whole.start, whole.end) == ("Berlin, Germany", 0, 15)


def test_comma_splitting_per_entity_type_splits_the_types_not_named() -> None:
    # Rasa's {address: false, ingredients: true}: an address keeps its commas, the
    # ingredients are a list, and a type not named is split (Rasa's default)
    text = "eggs, milk to Main St 5, Berlin or rice, beans"
    tags = ["B-ingredients", "I-ingredients", "I-ingredients", "O",
            "B-address", "I-address", "I-address", "I-address", "I-address", "O",
            "B-food", "I-food", "I-food"]
    splitting = CommaSplitting.from_setting({"address": False, "ingredients": True})
    decoded = entities_from_bio(text, words(text), tags, comma_splitting=splitting)
    assert [(e.entity, e.value) for e in decoded] == [
        ("ingredients", "eggs"), ("ingredients", "milk"), ("address", "Main St 5, Berlin"),
        ("food", "rice"), ("food", "beans"),
    ]
    assert CommaSplitting.from_setting(False).splits("address") is False
    assert CommaSplitting.from_setting(True).splits("address") is True


def test_a_comma_inside_a_word_cuts_nothing_and_one_at_an_entity_s_end_is_dropped() -> None:
    # Rasa's tokenizers keep `1,000` one word and drop the comma after `euros`
    text = "pay 1,000 euros, now"
    tags = ["O", "B-amount", "I-amount", "I-amount", "I-amount", "I-amount", "O"]
    [entity] = entities_from_bio(text, words(text), tags, [0.9, 0.8, 0.7, 0.6, 0.5, 0.1, 0.9])
    assert (entity.value, entity.start, entity.end) == ("1,000 euros", 4, 15)
    assert entity.confidence == pytest.approx(0.5)  # the dropped comma's 0.1 is not counted
    listing = "a, , b"
    assert [e.value for e in entities_from_bio(listing, words(listing),
                                               ["B-x", "I-x", "I-x", "I-x"])] == ["a", "b"]


@pytest.mark.parametrize(("text", "tags", "expected"), [
    ("Berlin, and", ["B-city", "I-city", "O"], [("Berlin", 0, 6)]),
    ("Berlin, Germany", ["B-city", "I-city", "B-city"], [("Berlin", 0, 6), ("Germany", 8, 15)]),
    ("milk,, eggs", ["B-food", "I-food", "I-food", "I-food"], [("milk", 0, 4), ("eggs", 7, 11)]),
    ("to , Rome;", ["O", "B-city", "I-city", "I-city"], [("Rome", 5, 9)]),
    ("so , ; ok", ["O", "B-x", "I-x", "O"], []),
])
def test_a_comma_at_either_end_of_a_split_entity_is_dropped(
    text: str, tags: list[str], expected: list[tuple[str, int, int]]
) -> None:
    # Rasa's tokenizers drop a comma beside a space, so it is never part of an entity
    # cut at commas; one tagged alone makes no entity
    decoded = entities_from_bio(text, words(text), tags)
    assert [(e.value, e.start, e.end) for e in decoded] == expected
    # an entity not split by comma keeps the commas between its words, not those at
    # its ends
    [kept] = entities_from_bio("Berlin, Germany,", words("Berlin, Germany,"),
                               ["B-city", "I-city", "I-city", "I-city"],
                               comma_splitting=CommaSplitting(False))
    assert (kept.value, kept.start, kept.end) == ("Berlin, Germany", 0, 15)
    assert entities_from_bio("so , ; ok", words("so , ; ok"), ["O", "B-x", "I-x", "O"],
                             comma_splitting=CommaSplitting(False)) == []


@pytest.mark.parametrize("text", ["北京，上海", "北京、上海", "北京；上海", "北京 ， 上海",
                                  "北京,上海"])
def test_chinese_list_separators_cut_an_entity_without_spaces(text: str) -> None:
    # Chinese is written without spaces: a full-width comma or semicolon, an
    # ideographic comma, and a comma between Chinese characters, separate list items
    tags = ["B-city"] + ["I-city"] * (len(words(text)) - 1)
    decoded = entities_from_bio(text, words(text), tags)
    assert [(e.value, text[e.start : e.end]) for e in decoded] == [("北京", "北京"),
                                                                   ("上海", "上海")]
    [whole] = entities_from_bio(text, words(text), tags, comma_splitting=CommaSplitting(False))
    assert whole.value == text


def test_chinese_split_into_characters_by_the_whitespace_tokenizer_gives_whole_items() -> None:
    from dialogflowlite.components.tokenizers.whitespace import WhitespaceTokenizer

    text = "我想去北京，上海、广州"
    tokens = WhitespaceTokenizer().tokenize(text)
    assert len(tokens) == len(text)  # one token per character, the separators included
    tags = ["O", "O", "O"] + ["B-city"] + ["I-city"] * 7
    assert [(e.value, e.start, e.end) for e in entities_from_bio(text, tokens, tags)] == [
        ("北京", 3, 5), ("上海", 6, 8), ("广州", 9, 11)]


@pytest.mark.parametrize(("text", "expected"), [
    ("\u603b\u4ef710\uff0c000\u5143", ["10\uff0c000\u5143"]),  # thousands: one amount
    ("\u603b\u4ef71\uff0c000\uff0c000\u5143", ["1\uff0c000\uff0c000\u5143"]),
    ("1\u30012\u30013", ["1", "2", "3"]),  # an ideographic comma always lists
    ("\u90091\uff0c2\uff0c3", ["1", "2", "3"]),  # single digits: a list, not thousands
    ("\u753513800138000\uff0c13900139000", ["13800138000", "13900139000"]),  # two numbers
])
def test_a_full_width_comma_between_digits_groups_thousands(text: str,
                                                            expected: list[str]) -> None:
    from dialogflowlite.components.tokenizers.whitespace import WhitespaceTokenizer

    tokens = WhitespaceTokenizer().tokenize(text)
    first = next(i for i, t in enumerate(tokens) if t.text[0].isdigit())
    tags = ["O"] * first + ["B-amount"] + ["I-amount"] * (len(tokens) - first - 1)
    assert [e.value for e in entities_from_bio(text, tokens, tags)] == expected


def test_a_chinese_list_separator_at_an_entity_s_edge_is_dropped() -> None:
    text = "去，北京、"
    decoded = entities_from_bio(text, words(text), ["O", "B-city", "I-city", "I-city", "I-city"])
    assert [(e.value, e.start, e.end) for e in decoded] == [("北京", 2, 4)]


@pytest.mark.parametrize("text", ["New York - Boston", "Mo / Tue", "10 \u2013 20",
                                  "Evil or Divine - Live in New York City"])
def test_a_dash_or_slash_between_spaces_does_not_cut_a_split_entity(text: str) -> None:
    # Rasa cuts there (its tokenizer drops the mark); titles and names hold such
    # marks far more often than lists do, so they stay whole here (docs/from-rasa.md)
    tokens = words(text)
    tags = ["B-x"] + ["I-x"] * (len(tokens) - 1)
    assert [e.value for e in entities_from_bio(text, tokens, tags)] == [text]


def word_tokens(text: str) -> list[Token]:
    """Words without punctuation, as a `token_pattern: (?u)\\b\\w+\\b` tokenizer gives."""
    return [Token(m.group(), m.start(), m.end()) for m in re.finditer(r"\w+", text)]


@pytest.mark.parametrize("text", ["Schönhauser Allee 175, 10119 Berlin",
                                  "22 Powderhall Rd., EH7 4GB", "Main St 5; Berlin"])
def test_an_entity_not_split_by_comma_joins_words_across_dropped_punctuation(text: str) -> None:
    # Rasa's extractors join such words up to three characters apart when spaces,
    # commas, full stops or semicolons stand between them
    tokens = word_tokens(text)
    tags = ["B-address"] + ["I-address"] * (len(tokens) - 1)
    kept = CommaSplitting.from_setting({"address": False})
    [entity] = entities_from_bio(text, tokens, tags, comma_splitting=kept)
    assert (entity.value, entity.start, entity.end) == (text, 0, len(text))
    assert len(entities_from_bio(text, tokens, tags)) == 2  # split: cut there


def test_an_entity_not_split_by_comma_is_cut_where_other_characters_stand_between() -> None:
    text = "Main St -- 5 / Berlin"
    tokens = word_tokens(text)
    tags = ["B-address"] + ["I-address"] * (len(tokens) - 1)
    decoded = entities_from_bio(text, tokens, tags, comma_splitting=CommaSplitting(False))
    assert [e.value for e in decoded] == ["Main St", "5", "Berlin"]


def test_an_entity_not_split_by_comma_keeps_words_up_to_three_spaces_apart() -> None:
    # as Rasa's extractors join the words of such an entity: `Rd.,  EH7` and the like
    text = "at Main  St   5    Berlin"
    tags = ["O", "B-address", "I-address", "I-address", "I-address"]
    kept = CommaSplitting(False)
    assert [e.value for e in entities_from_bio(text, words(text), tags,
                                               comma_splitting=kept)] == [
        "Main  St   5", "Berlin"]
    assert [e.value for e in entities_from_bio(text, words(text), tags)] == [
        "Main", "St", "5", "Berlin"]


def test_simple_tokens_split_cjk_into_characters() -> None:
    tokens = simple_tokens("我想去北京 ok!")
    assert [t.text for t in tokens] == ["我", "想", "去", "北", "京", "ok", "!"]
    assert all("我想去北京 ok!"[t.start : t.end] == t.text for t in tokens)


@pytest.fixture(scope="module")
def tokenizer(tmp_path_factory: pytest.TempPathFactory):
    from tiny_encoder import build_tiny_encoder
    from transformers import AutoTokenizer

    folder = build_tiny_encoder(tmp_path_factory.mktemp("tiny") / "model")
    return AutoTokenizer.from_pretrained(str(Path(folder)))


def pieces(tokenizer, text: str) -> tuple[list[str], list[tuple[int, int]]]:
    encoded = tokenizer(text, return_offsets_mapping=True)
    return tokenizer.convert_ids_to_tokens(encoded["input_ids"]), encoded["offset_mapping"]


def test_first_piece_of_words_split_into_several_pieces(tokenizer) -> None:
    text, entities = parse_annotated_text("fly to [hamburg](city) tomorrow")
    tokens = words(text)
    names, offsets = pieces(tokenizer, text)
    index = first_subtoken_indices(offsets, tokens)
    # "hamburg" is not in the vocabulary: one piece per letter, the first is "h"
    assert names[index[2]] == "h" and names[index[2] + 1] == "##a"
    assert [names[i] for i in index] == ["fly", "to", "h", "tomorrow"]
    assert bio_tags(tokens, entities) == ["O", "O", "B-city", "O"]


def test_first_piece_of_cjk_and_punctuation(tokenizer) -> None:
    text = "我想去北京, ok?"
    tokens = simple_tokens(text)
    names, offsets = pieces(tokenizer, text)
    index = first_subtoken_indices(offsets, tokens)
    assert [names[i] for i in index] == ["我", "想", "去", "北", "京", ",", "o", "?"]


def test_words_cut_off_by_max_length_have_no_piece(tokenizer) -> None:
    text = "book a flight to paris please"
    encoded = tokenizer(text, return_offsets_mapping=True, truncation=True, max_length=5)
    index = first_subtoken_indices(encoded["offset_mapping"], words(text))
    assert index[:3] == [1, 2, 3]
    assert index[3:] == [-1, -1, -1]


def test_a_piece_spanning_two_words_serves_both() -> None:
    # a tokenizer that reads "newyork" as one piece while the word tokenizer split it
    tokens = [Token("new", 0, 3), Token("york", 3, 7), Token("now", 8, 11)]
    offsets = [(0, 0), (0, 7), (8, 11), (0, 0)]
    assert first_subtoken_indices(offsets, tokens) == [1, 1, 2]


def test_pieces_that_start_inside_a_word() -> None:
    # the word "kg" starts in the middle of the piece "10kg"'s span of the sub-word model
    tokens = [Token("10", 0, 2), Token("kg", 2, 4)]
    offsets = [(0, 0), (0, 1), (1, 3), (3, 4), (0, 0)]
    assert first_subtoken_indices(offsets, tokens) == [1, 2]
