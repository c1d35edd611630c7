from __future__ import annotations

import pytest

from dialogflowlite.components.base import NluContext
from dialogflowlite.components.tokenizers.base import split_tokens_at
from dialogflowlite.components.tokenizers.whitespace import WhitespaceTokenizer
from dialogflowlite.errors import ComponentConfigError
from dialogflowlite.shared.message import Message, Token
from dialogflowlite.shared.training_data import TrainingData, parse_annotated_text


def words(text: str, **config) -> list[str]:
    tokens = WhitespaceTokenizer(config).tokenize(text)
    for token in tokens:  # offsets index the text exactly
        assert text[token.start : token.end] == token.text
    return [t.text for t in tokens]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "I don't  want an e-mail, ok?!",
            ["I", "don't", "want", "an", "e-mail", ",", "ok", "?", "!"],
        ),
        ("Berlin's weather", ["Berlin", "'s", "weather"]),
        ("students' books", ["students", "'", "books"]),
        (
            "O'Brien paid $5.99 (50%) at 10:30 for 10,000 24/7",
            [
                "O'Brien",
                "paid",
                "$",
                "5.99",
                "(",
                "50",
                "%",
                ")",
                "at",
                "10:30",
                "for",
                "10,000",
                "24/7",
            ],
        ),
        ("St. Louis, U.S.", ["St", ".", "Louis", ",", "U", ".", "S", "."]),
        ("COVID-19 -5 --", ["COVID-19", "-", "5", "-", "-"]),
        ("user_name rock'n'roll", ["user_name", "rock'n'roll"]),
        (
            "mail john.doe+x@example.co.uk or https://x.org/a?b=1.",
            ["mail", "john.doe+x@example.co.uk", "or", "https://x.org/a?b=1", "."],
        ),
    ],
)
def test_words_and_punctuation(text: str, expected: list[str]) -> None:
    assert words(text) == expected


def test_spaces_of_every_kind_separate_and_never_belong_to_a_token() -> None:
    text = "  a\tb\u00a0c\u3000d\u200be \n f  "
    tokens = WhitespaceTokenizer().tokenize(text)
    assert [(t.text, t.start, t.end) for t in tokens] == [
        ("a", 2, 3),
        ("b", 4, 5),
        ("c", 6, 7),
        ("d", 8, 9),
        ("e", 10, 11),
        ("f", 14, 15),
    ]


def test_marks_of_writing_direction_are_never_tokens() -> None:
    # clients of right-to-left scripts put them around words; a token of its own
    # had no word piece, borrowed its neighbour's and came out as an entity
    text = "\u200f\u0645\u0631\u062d\u0628\u0627\u200f \u202etwo\u202c at\u2066 8pm\u2069"
    tokens = WhitespaceTokenizer().tokenize(text)
    assert [(t.text, t.start, t.end) for t in tokens] == [
        ("\u0645\u0631\u062d\u0628\u0627", 1, 6),
        ("two", 9, 12),
        ("at", 14, 16),
        ("8pm", 18, 21),
    ]


def test_accents_composed_and_decomposed_stay_in_the_word() -> None:
    decomposed = "cafe\u0301"
    assert words(f"café {decomposed} naïve Ångström") == ["café", decomposed, "naïve", "Ångström"]


def test_a_soft_hyphen_stays_in_its_word() -> None:
    # invisible hyphenation points come with text pasted from documents
    assert words("book a ta\u00adble for in\u00adfor\u00adma\u00adtion") == [
        "book", "a", "ta\u00adble", "for", "in\u00adfor\u00adma\u00adtion"
    ]


def test_emoji_sequences_are_single_tokens() -> None:
    thumbs = "\U0001f44d\U0001f3fd"  # thumbs up, skin tone
    family = "\U0001f468\u200d\U0001f469\u200d\U0001f467"
    flag = "\U0001f1e9\U0001f1ea"
    keycap = "1\ufe0f\u20e3"
    assert words(f"{thumbs}great {family} {flag}{keycap}") == [
        thumbs,
        "great",
        family,
        flag,
        keycap,
    ]


def test_text_without_spaces_falls_back_to_characters() -> None:
    assert words("我想去北京 tomorrow") == ["我", "想", "去", "北", "京", "tomorrow"]
    assert words("東京へ行きたい。") == ["東", "京", "へ", "行", "き", "た", "い", "。"]
    assert words("我在Berlin住3年") == ["我", "在", "Berlin", "住", "3", "年"]


def test_words_of_scripts_with_joiners_stay_whole() -> None:
    persian = "\u0633\u0644\u0627\u0645\u200c\u0647\u0627"
    assert words(f"{persian} привет мир") == [persian, "привет", "мир"]


def test_token_pattern_replaces_the_rules() -> None:
    assert words("don't e-mail me!", token_pattern=r"\w+") == ["don", "t", "e", "mail", "me"]
    # a text the pattern finds nothing in is one token, as in Rasa (it had none)
    assert words("  !!! ?", token_pattern=r"\w+") == ["!!! ?"]
    assert words("   ", token_pattern=r"\w+") == []
    with pytest.raises(ComponentConfigError, match="token_pattern"):
        WhitespaceTokenizer({"token_pattern": "("})


def test_unknown_setting_names_the_closest_one() -> None:
    with pytest.raises(ComponentConfigError) as info:
        WhitespaceTokenizer({"intent_split_symbl": "+"})
    assert "intent_split_symbol" in str(info.value)


def test_rasa_only_settings_are_accepted() -> None:
    assert WhitespaceTokenizer({"prefix_separator_symbol": "_"}).config == (
        WhitespaceTokenizer().config
    )


def test_training_examples_are_cut_at_entity_boundaries() -> None:
    annotated = [
        "what's the weather in [Berlin](city)'s center",
        "I  want  [two](amount)tickets to [St. Louis](city)!",
        "call [john.doe@example.com](email) 🙂 now",
        "[北京](city)的天气",
        "[e](letter)-mail",
    ]
    examples = []
    for text in annotated:
        plain, entities = parse_annotated_text(text)
        examples.append(Message(plain, intent="inform", entities=entities))
    data = TrainingData(examples)
    WhitespaceTokenizer().process_training_data(data)
    for example in data.examples:
        starts = {t.start for t in example.tokens}
        ends = {t.end for t in example.tokens}
        for entity in example.entities:
            assert entity.start in starts and entity.end in ends, (example.text, entity)
            covered = "".join(
                example.text[t.start : t.end]
                for t in example.tokens
                if entity.start <= t.start and t.end <= entity.end
            )
            assert covered.replace(" ", "") == str(entity.value).replace(" ", "")
        for token in example.tokens:
            assert example.text[token.start : token.end] == token.text
    second = data.examples[1]
    assert [t.text for t in second.tokens][:4] == ["I", "want", "two", "tickets"]


def test_intent_tokens_follow_the_flag() -> None:
    data = TrainingData([Message("hi and yes", intent="greet+affirm")])
    WhitespaceTokenizer(
        {"intent_tokenization_flag": True, "intent_split_symbol": "+"}
    ).process_training_data(data)
    assert data.examples[0].features["intent_tokens"] == ["greet", "affirm"]
    WhitespaceTokenizer().process_training_data(data)
    assert data.examples[0].features["intent_tokens"] == ["greet+affirm"]


def test_process_tokenizes_a_batch() -> None:
    messages = [Message("hello there"), Message(""), Message("   ")]
    tokenizer = WhitespaceTokenizer()
    tokenizer.train(TrainingData(), NluContext())
    tokenizer.process(messages)
    assert [[t.text for t in m.tokens] for m in messages] == [["hello", "there"], [], []]


def test_split_tokens_at_keeps_exact_offsets() -> None:
    text = "Berlin's"
    tokens = [Token(text, 0, 8, lemma="berlin")]
    pieces = split_tokens_at(text, tokens, [0, 6, 8])
    assert [(t.text, t.start, t.end, t.lemma) for t in pieces] == [
        ("Berlin", 0, 6, None),
        ("'s", 6, 8, None),
    ]
    assert split_tokens_at(text, tokens, []) == tokens
