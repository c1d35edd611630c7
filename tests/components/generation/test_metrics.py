from __future__ import annotations

import math

import pytest

from dialogflowlite.components.generation.metrics import (
    corpus_bleu,
    perplexity,
    slot_errors,
    tokenize_13a,
    value_present,
)


@pytest.mark.parametrize("text, tokens", [
    ("Hello, world!", "Hello , world !"),
    ("3.5 and 1,000.", "3.5 and 1,000 ."),
    ("It's $100 at 5-6 pm", "It's $ 100 at 5 - 6 pm"),
    ("a-b (c) [d]", "a-b ( c ) [ d ]"),
    ("x &amp; y", "x & y"),
])
def test_13a_tokenisation(text, tokens) -> None:
    assert tokenize_13a(text) == tokens


def test_bleu_by_hand() -> None:
    # 1-grams 5/6, 2-grams 3/5, 3-grams 1/4, 4-grams 0/3 (smoothed to 100 / (2 * 3))
    score = corpus_bleu(["the cat sat on the mat"], ["the cat is on the mat"])
    expected = [500 / 6, 60.0, 25.0, 100 / 6]
    assert score.precisions == pytest.approx(expected)
    assert score.brevity_penalty == 1.0
    assert score.score == pytest.approx(math.exp(sum(math.log(p) for p in expected) / 4))


def test_bleu_brevity_penalty_by_hand() -> None:
    score = corpus_bleu(["the cat"], ["the cat sat on the mat"])
    assert score.system_length == 2 and score.reference_length == 6
    assert score.brevity_penalty == pytest.approx(math.exp(1 - 6 / 2))


def test_bleu_matches_the_sacrebleu_reference_example() -> None:
    hypotheses = ["The dog bit the man.", "It wasn't surprising.", "The man had just bitten him."]
    first = ["The dog bit the man.", "It was not unexpected.", "The man bit him first."]
    second = ["The dog had bit the man.", "No one was surprised.", "The man had bitten the dog."]
    score = corpus_bleu(hypotheses, list(zip(first, second, strict=True)))
    assert round(score.score, 2) == 48.53
    assert [round(p, 1) for p in score.precisions] == [82.4, 50.0, 45.5, 37.5]
    assert (score.system_length, score.reference_length) == (17, 18)


def test_bleu_is_case_sensitive_and_perfect_on_identity() -> None:
    assert corpus_bleu(["Hello there, friend."], ["Hello there, friend."]).score == \
        pytest.approx(100.0)
    assert corpus_bleu(["hello there friend"], ["Hello There Friend"]).score == 0.0


def test_bleu_needs_one_reference_per_hypothesis() -> None:
    with pytest.raises(ValueError):
        corpus_bleu(["a"], ["a", "b"])


def test_perplexity() -> None:
    assert perplexity(4 * math.log(2), 4) == pytest.approx(2.0)
    assert math.isnan(perplexity(1.0, 0))


def test_slot_errors_by_hand() -> None:
    replies = ["Sakoon in Fremont it is.", "How about sakoon?", "Booked."]
    expected = [["Sakoon", "Fremont"], ["Sakoon", "Fremont"], []]
    errors = slot_errors(replies, expected)
    assert (errors.replies, errors.replies_with_error) == (3, 1)
    assert (errors.values, errors.values_missing) == (4, 1)
    assert errors.rate == pytest.approx(1 / 3)
    assert errors.value_rate == pytest.approx(1 / 4)


def test_value_present_wants_whole_words() -> None:
    assert value_present("for 3 people", "3")
    assert not value_present("for 13 people", "3")
    assert value_present("costs $19,176.15 now", "$19,176.15")
