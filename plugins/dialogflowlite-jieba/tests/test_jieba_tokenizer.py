"""JiebaTokenizer on its own: offsets, fixed words, user dictionaries, entity cuts, persistence."""

from __future__ import annotations

import itertools

import pytest
from dialogflowlite_jieba.dictionary import FixedWords, clean_words, read_user_dictionary
from dialogflowlite_jieba.tokenizer import DICTIONARY_FILE, JiebaTokenizer

from dialogflowlite.artifact import ComponentStorage
from dialogflowlite.components.base import NluContext
from dialogflowlite.components.tokenizers.alignment import (
    bio_tags,
    entities_from_bio,
    is_aligned,
)
from dialogflowlite.errors import ComponentConfigError, Position
from dialogflowlite.shared.message import Message
from dialogflowlite.shared.training_data import (
    LookupTable,
    Synonym,
    TrainingData,
    parse_annotated_text,
)

TEXTS = [
    "我想查询订单DD20240115的状态，谢谢！",
    "  你好 ， 请问 iPhone 15 Pro 多少钱？  ",
    "北京大学在哪里",
    "Hello世界😀ok",
    "",
    "   ",
]


def _words(tokenizer: JiebaTokenizer, text: str) -> list[str]:
    return [t.text for t in tokenizer.tokenize(text)]


def _example(annotated: str, intent: str = "inform") -> Message:
    text, entities = parse_annotated_text(annotated)
    return Message(text, intent=intent, entities=entities)


def _trained(*examples: Message, lookups=(), synonyms=(), **config) -> JiebaTokenizer:
    tokenizer = JiebaTokenizer(config)
    tokenizer.train(
        TrainingData(list(examples), list(synonyms), [], list(lookups)), NluContext(language="zh")
    )
    return tokenizer


@pytest.mark.parametrize("text", TEXTS)
def test_offsets_index_the_text_exactly_and_white_space_is_dropped(text: str) -> None:
    tokens = JiebaTokenizer().tokenize(text)
    for token in tokens:
        assert text[token.start : token.end] == token.text
        assert token.text.strip() == token.text != ""
    assert all(a.end <= b.start for a, b in itertools.pairwise(tokens))
    assert "".join(t.text for t in tokens) == "".join(text.split())


@pytest.mark.parametrize(("text", "words"), [
    # a Chinese input method types full-width letters and digits; jieba cut them one by
    # one, so the phone tail ４４２１ was four entities and the order form never filled
    ("手机尾号４４２１", ["手机", "尾号", "４４２１"]),
    ("DD２０４８１７３６", ["DD２０４８１７３６"]),
    ("ｈｅｌｌｏ世界", ["ｈｅｌｌｏ", "世界"]),
    ("abc 123", ["abc", "123"]),
    # invisible marks pasted in or put around words by right-to-left clients are no words
    ("查订单\u200bDD20481736", ["查", "订单", "DD20481736"]),
    ("\u200f尾号3821\u200f", ["尾号", "3821"]),
    ("订\u00ad单查询", ["订", "单", "查询"]),  # a soft hyphen pasted in
    ("查订单\u200dDD2048", ["查", "订单", "DD2048"]),
    ("\u212a9", ["\u212a", "9"]),  # the Kelvin sign is no Latin letter
])
def test_full_width_runs_are_one_word_and_invisible_marks_none(text: str,
                                                              words: list[str]) -> None:
    tokens = JiebaTokenizer().tokenize(text)
    assert [t.text for t in tokens] == words
    assert all(text[t.start:t.end] == t.text for t in tokens)


def test_chinese_is_segmented_into_words_not_characters() -> None:
    assert _words(JiebaTokenizer(), "我想查询订单状态") == ["我", "想", "查询", "订单", "状态"]
    # Latin words and numbers inside Chinese text stay whole.
    assert "DD20240115" in _words(JiebaTokenizer(), "查询订单DD20240115的状态")


def test_words_from_the_data_stay_one_token() -> None:
    plain = JiebaTokenizer()
    assert _words(plain, "我想买华为手机壳")[3:] == ["华为", "手机", "壳"]
    tokenizer = _trained(
        _example("我想买[华为手机](product)壳"),
        lookups=[LookupTable("product", ["小米手环", "iPhone 15 Pro"])],
        synonyms=[Synonym("无线耳机", ["蓝牙耳机"])],
    )
    assert _words(tokenizer, "我想买华为手机壳")[3:] == ["华为手机", "壳"]
    assert "小米手环" in _words(tokenizer, "小米手环有货吗")
    assert "蓝牙耳机" in _words(tokenizer, "有蓝牙耳机吗") and "无线耳机" in _words(
        tokenizer, "无线耳机多少钱"
    )
    # Matching ignores case; a phrase with spaces keeps its pieces apart.
    assert _words(tokenizer, "买IPHONE 15 pro")[1:] == ["IPHONE", "15", "pro"]
    assert tokenizer.fixed_words.words == sorted(
        ["华为手机", "小米手环", "iPhone", "15", "Pro", "无线耳机", "蓝牙耳机"]
    )


def test_a_fixed_word_is_not_cut_out_of_a_longer_latin_word() -> None:
    fixed = FixedWords(["Pro", "手机"])
    assert fixed.spans("Professional手机") == [(12, 14)]
    assert fixed.spans("买Pro手机") == [(1, 4), (4, 6)]
    assert fixed.spans("pro") == [(0, 3)]


def test_the_longest_fixed_word_wins() -> None:
    assert FixedWords(["华为", "华为手机"]).spans("华为手机壳") == [(0, 4)]


def test_single_characters_are_not_fixed() -> None:
    assert clean_words(["红", " 蓝色 ", "a b", "iPhone 15"]) == ["15", "iPhone", "蓝色"]


def test_a_list_annotated_as_one_entity_is_cut_at_its_separators() -> None:
    # a fixed word never holds a full-width list separator, so the entity's items and
    # the separator are tokens of their own, and split_entities_by_comma cuts there
    tokenizer = _trained(_example("我想去[北京，上海](city)和[广州、深圳](city)"))
    assert "北京，上海" not in tokenizer.fixed_words.words
    text = "我想去北京，上海和广州、深圳"
    tokens = tokenizer.tokenize(text)
    assert [t.text for t in tokens] == ["我", "想", "去", "北京", "，", "上海", "和", "广州",
                                        "、", "深圳"]
    tags = ["O", "O", "O", "B-city", "I-city", "I-city", "O", "B-city", "I-city", "I-city"]
    assert [(e.value, e.start, e.end) for e in entities_from_bio(text, tokens, tags)] == [
        ("北京", 3, 5), ("上海", 6, 8), ("广州", 9, 11), ("深圳", 12, 14)]


def test_words_from_data_can_be_switched_off() -> None:
    tokenizer = _trained(_example("我想买[华为手机](product)壳"), words_from_data=False)
    assert tokenizer.fixed_words.words == []
    assert "华为手机" not in _words(tokenizer, "我想买华为手机壳")


def test_training_cuts_tokens_at_entity_boundaries() -> None:
    # jieba keeps 北京大学 as one word; the entity is only 北京.
    examples = [_example("我在[北京](city)大学上学"), _example("[上海](city)市的天气")]
    data = TrainingData(examples)
    tokenizer = JiebaTokenizer({"words_from_data": False})
    tokenizer.train(data, NluContext(language="zh"))
    assert "北京大学" in _words(tokenizer, "我在北京大学上学")
    tokenizer.process_training_data(data)
    for example in data.examples:
        assert all(is_aligned(example.tokens, e) for e in example.entities)
        for token in example.tokens:
            assert example.text[token.start : token.end] == token.text
    first = data.examples[0]
    assert [t.text for t in first.tokens] == ["我", "在", "北京", "大学", "上学"]
    assert bio_tags(first.tokens, first.entities) == ["O", "O", "B-city", "O", "O"]


def test_process_sets_tokens_on_each_message() -> None:
    tokenizer = JiebaTokenizer()
    messages = [Message("你好"), Message("订单状态")]
    tokenizer.process(messages)
    assert [[t.text for t in m.tokens] for m in messages] == [["你好"], ["订单", "状态"]]


def test_user_dictionary_file_relative_to_the_project(tmp_path) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "words.txt").write_text(
        "\ufeff# product names\n云朵杯 100 n\n\n星空灯\n", encoding="utf-8"
    )
    position = Position(str(tmp_path / "config.yml"), 3, 5)
    tokenizer = JiebaTokenizer({"dictionary_path": "data/words.txt"}, position=position)
    assert tokenizer.dictionary_path == tmp_path / "data" / "words.txt"
    before = _words(JiebaTokenizer(), "买云朵杯和星空灯")
    assert "云朵杯" not in before and "星空灯" not in before
    tokenizer.train(TrainingData([]), NluContext(language="zh"))
    assert [(e.word, e.frequency, e.tag) for e in tokenizer.entries] == [
        ("云朵杯", 100, "n"),
        ("星空灯", None, None),
    ]
    assert _words(tokenizer, "买云朵杯和星空灯") == ["买", "云朵杯", "和", "星空灯"]
    # Other tokenizers keep jieba's plain dictionary.
    assert _words(JiebaTokenizer(), "买云朵杯和星空灯") == before


def test_a_folder_of_dictionaries(tmp_path) -> None:
    folder = tmp_path / "dicts"
    folder.mkdir()
    (folder / "a.txt").write_text("云朵杯\n", encoding="utf-8")
    (folder / "b.txt").write_text("星空灯 50\n", encoding="utf-8")
    assert [e.word for e in read_user_dictionary(folder)] == ["云朵杯", "星空灯"]


def test_a_missing_dictionary_names_the_config_line(tmp_path) -> None:
    position = Position(str(tmp_path / "config.yml"), 4, 5)
    with pytest.raises(ComponentConfigError, match="does not exist") as info:
        JiebaTokenizer({"dictionary_path": "nope.txt"}, position=position)
    assert str(info.value.position).endswith("config.yml:4:5")


def test_a_dictionary_that_is_not_utf8_is_an_error(tmp_path) -> None:
    path = tmp_path / "words.txt"
    path.write_bytes("云朵杯\n".encode("gbk"))
    with pytest.raises(ComponentConfigError, match="not UTF-8"):
        read_user_dictionary(path)


def test_unknown_settings_are_refused_and_rasa_keys_accepted() -> None:
    with pytest.raises(ComponentConfigError, match="dictionary_pth"):
        JiebaTokenizer({"dictionary_pth": "x"})
    assert JiebaTokenizer({"case_sensitive": True}).config["hmm"] is True


def test_persist_and_load_give_the_same_tokens_without_the_files(tmp_path) -> None:
    dictionary = tmp_path / "words.txt"
    dictionary.write_text("云朵杯 100\n", encoding="utf-8")
    tokenizer = _trained(_example("我想买[华为手机](product)壳"), dictionary_path=str(dictionary))
    storage = ComponentStorage(tmp_path / "model")
    tokenizer.persist(storage)
    assert storage.read_json(DICTIONARY_FILE) == {
        "user_dictionary": [["云朵杯", 100, None]],
        "fixed_words": ["华为手机"],
    }
    dictionary.unlink()
    loaded = JiebaTokenizer.load(tokenizer.config, storage)
    for text in ["我想买华为手机壳", "买云朵杯", *TEXTS]:
        assert _words(loaded, text) == _words(tokenizer, text)


def test_a_pipeline_with_the_tokenizer_trains_and_parses_chinese() -> None:
    from dialogflowlite.components.nlu.pipeline import NluPipeline
    from dialogflowlite.components.nlu.scratch_transformer import ScratchTransformerClassifier

    rows = [
        ("你好", "greet"),
        ("您好", "greet"),
        ("早上好", "greet"),
        ("你好呀", "greet"),
        ("再见", "goodbye"),
        ("拜拜", "goodbye"),
        ("下次见", "goodbye"),
        ("再见了", "goodbye"),
        ("我想买[华为手机](product)", "buy"),
        ("有没有[小米手环](product)", "buy"),
        ("给我来一个[华为手机](product)", "buy"),
        ("我要买[小米手环](product)", "buy"),
    ]
    data = TrainingData([_example(text, intent) for text, intent in rows])
    classifier = ScratchTransformerClassifier(
        {
            "hidden_size": 32,
            "num_layers": 1,
            "num_heads": 2,
            "ff_size": 64,
            "epochs": 60,
            "random_seed": 1,
            "learning_rate": 0.01,
            "dropout": 0.0,
            "word_dropout": 0.0,
        }
    )
    pipeline = NluPipeline([JiebaTokenizer(), classifier], language="zh")
    pipeline.train(data, NluContext(language="zh", progress=False))
    parsed = pipeline.parse("我想买小米手环")
    assert parsed.intent == "buy"
    assert [(e.entity, e.value, e.start, e.end) for e in parsed.entities] == [
        ("product", "小米手环", 3, 7)
    ]
    assert pipeline.parse("你好").intent == "greet"
