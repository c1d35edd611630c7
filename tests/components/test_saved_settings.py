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


@pytest.mark.parametrize(("given", "error"), [
    ("five", "must be a whole number, not 'five'"),
    (2.5, "must be a whole number, not 2.5"),
    ([3], r"must be a whole number, not \[3\]"),
    (True, "must be a whole number, not True"),
    ("inf", "must be a whole number, not 'inf'"),
])
def test_a_number_setting_that_is_no_number_is_a_config_error(given, error) -> None:
    # it used to fail in the middle of training with Python's ValueError
    with pytest.raises(ComponentConfigError, match=error) as raised:
        MemoizationPolicy({"max_history": given})
    assert raised.value.hint == "write `max_history: 5` or another whole number"


def test_number_settings_written_as_numbers_or_quoted_numbers_are_taken() -> None:
    assert MemoizationPolicy({"max_history": "3"}).config["max_history"] == 3
    assert MemoizationPolicy({"max_history": 4.0}).config["max_history"] == 4
    # null keeps its meaning (here: the whole history)
    assert MemoizationPolicy({"max_history": None}).config["max_history"] is None
