"""A model saved with a setting this version no longer has still loads (with a notice)."""

from __future__ import annotations

import pytest

from dialogflowlite.artifact import ComponentStorage
from dialogflowlite.components.base import load_component
from dialogflowlite.components.policies.memoization import MemoizationPolicy
from dialogflowlite.components.tokenizers.whitespace import WhitespaceTokenizer
from dialogflowlite.errors import ComponentConfigError


def test_a_removed_setting_is_ignored_when_loading_and_named_once(caplog) -> None:
    saved = {"name": "WhitespaceTokenizer", "intent_tokenization_flag": True,
             "a_removed_setting": 3}
    with caplog.at_level("WARNING"):
        tokenizer = load_component(WhitespaceTokenizer, saved, storage=None)
    assert tokenizer.config["intent_tokenization_flag"] is True
    assert "a_removed_setting" not in tokenizer.config
    assert "WhitespaceTokenizer: the model was saved with setting(s) a_removed_setting" \
        in caplog.text


def test_training_still_refuses_an_unknown_setting() -> None:
    with pytest.raises(ComponentConfigError, match="has no setting 'a_removed_setting'"):
        WhitespaceTokenizer({"a_removed_setting": 3})


def test_policies_load_through_the_same_path(tmp_path, caplog) -> None:
    storage = ComponentStorage(tmp_path)
    storage.write_json("lookup.json", {"lookup": []})
    with caplog.at_level("WARNING"):
        policy = load_component(MemoizationPolicy, {"max_history": 3, "old_option": 1},
                                storage)
    assert policy.config["max_history"] == 3 and "old_option" in caplog.text


def test_a_true_false_setting_written_as_a_word_is_read_by_its_meaning(caplog) -> None:
    # YAML 1.2 reads `no`, `off` and quoted words as text, which Python calls true
    with caplog.at_level("WARNING"):
        tokenizer = WhitespaceTokenizer({"intent_tokenization_flag": "no"})
    assert tokenizer.config["intent_tokenization_flag"] is False
    assert "setting 'intent_tokenization_flag' is the text 'no', read as false" in caplog.text
    assert WhitespaceTokenizer({"intent_tokenization_flag": "On"}).config[
        "intent_tokenization_flag"] is True
    with pytest.raises(ComponentConfigError, match="must be true or false, not 'maybe'"):
        WhitespaceTokenizer({"intent_tokenization_flag": "maybe"})
    # settings whose default is not true or false are taken as given
    assert WhitespaceTokenizer({"intent_split_symbol": "no"}).config[
        "intent_split_symbol"] == "no"
