from __future__ import annotations

from pathlib import Path

import pytest

from dialogflowlite.artifact import ComponentStorage
from dialogflowlite.components.base import NluContext
from dialogflowlite.components.tokenizers.spacy_tokenizer import SpacyTokenizer
from dialogflowlite.errors import ComponentConfigError
from dialogflowlite.shared.message import Message
from dialogflowlite.shared.training_data import TrainingData, parse_annotated_text


def spans(tokenizer: SpacyTokenizer, text: str) -> list[tuple[str, int, int]]:
    tokens = tokenizer.tokenize(text)
    for token in tokens:
        assert text[token.start : token.end] == token.text
    return [(t.text, t.start, t.end) for t in tokens]


def test_blank_tokenizer_keeps_exact_offsets_and_drops_spaces() -> None:
    tokenizer = SpacyTokenizer()
    assert spans(tokenizer, "I don't  like New-York 🍕!") == [
        ("I", 0, 1),
        ("do", 2, 4),
        ("n't", 4, 7),
        ("like", 9, 13),
        ("New", 14, 17),
        ("-", 17, 18),
        ("York", 18, 22),
        ("🍕", 23, 24),
        ("!", 24, 25),
    ]


def test_language_comes_from_the_project_and_is_stored(tmp_path: Path) -> None:
    tokenizer = SpacyTokenizer()
    tokenizer.train(TrainingData(), NluContext(language="zh"))
    assert [t.text for t in tokenizer.tokenize("我想去北京")] == ["我", "想", "去", "北", "京"]
    storage = ComponentStorage(tmp_path / "tok")
    tokenizer.persist(storage)
    loaded = SpacyTokenizer.load(tokenizer.config, storage)
    assert loaded.language == "zh"
    assert len(loaded.tokenize("我想去北京")) == 5


def test_configured_language_wins_over_the_project() -> None:
    tokenizer = SpacyTokenizer({"language": "de"})
    tokenizer.train(TrainingData(), NluContext(language="en"))
    assert tokenizer.language == "de"


def test_missing_pipeline_is_a_clear_error() -> None:
    with pytest.raises(ComponentConfigError) as info:
        SpacyTokenizer({"model": "xx_not_installed_pipeline"})
    assert "not installed" in info.value.message
    assert "spacy download xx_not_installed_pipeline" in info.value.hint


def test_unsupported_blank_language_fails_at_training_at_the_components_line() -> None:
    from dialogflowlite.errors import Position

    where = Position("config.yml", 3, 3)
    tokenizer = SpacyTokenizer({"language": "qq"}, position=where)
    with pytest.raises(ComponentConfigError, match="language 'qq'") as info:
        tokenizer.train(TrainingData(), NluContext())
    # it named no file, unlike the component's other setting errors
    assert info.value.position == where


def test_named_pipeline_gives_lemmas(tmp_path: Path) -> None:
    import spacy

    nlp = spacy.blank("en")
    ruler = nlp.add_pipe("attribute_ruler")
    ruler.add([[{"LOWER": "running"}]], {"LEMMA": "run"})
    nlp.to_disk(tmp_path / "pipeline")
    tokenizer = SpacyTokenizer({"model": str(tmp_path / "pipeline")})
    tokens = tokenizer.tokenize("Running  late")
    assert [(t.text, t.start, t.end, t.lemma) for t in tokens] == [
        ("Running", 0, 7, "run"),
        ("late", 9, 13, None),
    ]


def test_training_data_is_cut_at_entity_boundaries() -> None:
    plain, entities = parse_annotated_text("fly to [NYC](city)'s airport")
    data = TrainingData([Message(plain, intent="fly", entities=entities)])
    SpacyTokenizer().process_training_data(data)
    assert "NYC" in [t.text for t in data.examples[0].tokens]
    messages = [Message("a b"), Message("c")]
    SpacyTokenizer().process(messages)
    assert [[t.text for t in m.tokens] for m in messages] == [["a", "b"], ["c"]]


def test_invisible_marks_are_trimmed_from_tokens_and_never_tokens() -> None:
    # clients of right-to-left scripts put direction marks around words; spaCy
    # kept them on the words (and a lone one as a token), so "two" was "\u200ftwo\u200f"
    tokenizer = SpacyTokenizer()
    text = "\u200ftwo\u200f at\u2066 8 \u200b pm"
    assert spans(tokenizer, text) == [("two", 1, 4), ("at", 6, 8), ("8", 10, 11),
                                      ("pm", 14, 16)]
