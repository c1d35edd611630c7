from __future__ import annotations

import math

import pytest
import torch

from dialogflowlite.components.generation.decoding import (
    DecodingConfig,
    apply_repetition_penalty,
    beam_search,
    block_repeated_ngrams,
    decode,
    filter_top_k_top_p,
    greedy_or_sample,
    hold_end,
)
from dialogflowlite.errors import ComponentConfigError

PAD, BOS, EOS, A, B, C, D, E = range(8)
VOCAB = 8


class ToyModel:
    """Next-token probabilities from a table keyed by the tokens so far."""

    bos_id = BOS
    eos_id = EOS

    def __init__(self, table: dict[tuple[int, ...], dict[int, float]],
                 default: dict[int, float] | None = None) -> None:
        self.table = table
        self.default = default or {EOS: 1.0}
        self.steps = 0

    def start(self, source, batch: int):
        return [[] for _ in range(batch)]

    def step(self, state, tokens):
        self.steps += 1
        rows = []
        for prefix, token in zip(state, tokens.tolist(), strict=True):
            if token != BOS:
                prefix.append(token)
            probs = self.table.get(tuple(prefix), self.default)
            row = torch.full((VOCAB,), 1e-9)
            for index, p in probs.items():
                row[index] = p
            rows.append(torch.log(row / row.sum()))
        return torch.stack(rows), state

    def reorder(self, state, index):
        return [list(state[i]) for i in index.tolist()]


#: greedy takes A (0.55) and then has to go on; B (0.45) ends at once and is better overall
TRAP = {
    (): {A: 0.55, B: 0.45},
    (A,): {C: 0.36, D: 0.34, E: 0.3},
    (A, C): {EOS: 1.0},
    (A, D): {EOS: 1.0},
    (A, E): {EOS: 1.0},
    (B,): {EOS: 0.95, C: 0.05},
}


def test_greedy_follows_the_best_next_token() -> None:
    hypothesis = greedy_or_sample(ToyModel(TRAP), None, DecodingConfig(strategy="greedy"))
    assert hypothesis.tokens == [A, C]
    assert hypothesis.finished
    expected = (math.log(0.55) + math.log(0.36) + math.log(1.0)) / 3
    assert hypothesis.score == pytest.approx(expected, abs=1e-4)


def test_beam_finds_a_better_scored_reply_than_greedy() -> None:
    config = DecodingConfig(strategy="beam", beam_size=3)
    greedy = greedy_or_sample(ToyModel(TRAP), None, DecodingConfig(strategy="greedy"))
    best = beam_search(ToyModel(TRAP), None, config)[0]
    assert best.tokens == [B]
    assert best.score >= greedy.score
    assert best.score == pytest.approx((math.log(0.45) + math.log(0.95)) / 2, abs=1e-4)


def test_beam_is_never_worse_than_greedy_on_random_tables() -> None:
    generator = torch.Generator().manual_seed(3)
    for _ in range(20):
        table = {}
        for first in (A, B, C):
            probs = torch.rand(4, generator=generator).tolist()
            table[(first,)] = dict(zip((EOS, C, D, E), probs, strict=True))
        table[()] = dict(zip((A, B, C), torch.rand(3, generator=generator).tolist(), strict=True))
        greedy = decode(ToyModel(table), None, DecodingConfig(strategy="greedy", max_length=4))[0]
        beam = decode(ToyModel(table), None, DecodingConfig(beam_size=4, max_length=4))[0]
        if greedy.finished:
            assert beam.rank_score >= greedy.rank_score - 1e-6


def test_beam_returns_n_best_in_order() -> None:
    found = decode(ToyModel(TRAP), None, DecodingConfig(beam_size=4), n_best=4)
    assert len(found) >= 3
    ranks = [h.rank_score for h in found if h.finished]
    assert ranks == sorted(ranks, reverse=True)
    assert {tuple(h.tokens) for h in found} >= {(B,), (A, C), (A, D)}


def test_sampling_with_a_seed_repeats_and_seeds_differ() -> None:
    table = {(): {A: 0.25, B: 0.25, C: 0.25, D: 0.25}}
    table.update({(t,): {A: 0.2, B: 0.2, C: 0.2, D: 0.2, EOS: 0.2} for t in (A, B, C, D)})

    def sample(seed: int) -> list[int]:
        config = DecodingConfig(strategy="sample", seed=seed, max_length=6)
        return greedy_or_sample(ToyModel(table), None, config).tokens

    assert sample(1) == sample(1)
    assert len({tuple(sample(seed)) for seed in range(8)}) > 1


def test_sampling_with_top_k_one_is_greedy() -> None:
    config = DecodingConfig(strategy="sample", top_k=1, seed=5)
    assert greedy_or_sample(ToyModel(TRAP), None, config).tokens == [A, C]


def test_low_temperature_sampling_is_nearly_greedy() -> None:
    config = DecodingConfig(strategy="sample", temperature=0.01, seed=9)
    assert greedy_or_sample(ToyModel(TRAP), None, config).tokens == [A, C]


def test_max_length_stops_unfinished() -> None:
    endless = ToyModel({}, default={A: 1.0})
    hypothesis = greedy_or_sample(endless, None, DecodingConfig(strategy="greedy", max_length=5))
    assert hypothesis.tokens == [A] * 5
    assert not hypothesis.finished
    [beam] = decode(ToyModel({}, default={A: 1.0}), None, DecodingConfig(beam_size=2,
                                                                         max_length=3))[:1]
    assert len(beam.tokens) == 3


def test_repetition_penalty_discourages_repeats() -> None:
    table = {(): {A: 1.0}, (A,): {A: 0.6, B: 0.4}, (A, B): {EOS: 1.0}, (A, A): {EOS: 1.0}}
    plain = greedy_or_sample(ToyModel(table), None, DecodingConfig(strategy="greedy"))
    penalised = greedy_or_sample(ToyModel(table), None,
                                 DecodingConfig(strategy="greedy", repetition_penalty=3.0))
    assert plain.tokens == [A, A]
    assert penalised.tokens == [A, B]
    # the guardrail score is the model's own, whatever the penalty did
    assert penalised.score == pytest.approx(math.log(0.4) / 3, abs=1e-4)


@pytest.mark.parametrize("strategy", ["greedy", "beam"])
def test_no_repeat_ngram_breaks_a_loop(strategy: str) -> None:
    # after A B the model always wants A B again: a loop until max_length
    looping = ToyModel({}, default={A: 0.5, B: 0.3, EOS: 0.2})
    looping.table = {(): {A: 1.0}, (A,): {B: 1.0}}
    for prefix in ((A, B), (A, B, A)):
        looping.table[prefix] = {(A if len(prefix) % 2 == 0 else B): 0.9, EOS: 0.1}
    settings = {"strategy": strategy, "max_length": 8}
    plain = decode(looping, None, DecodingConfig(**settings))[0]
    assert plain.tokens[:4] == [A, B, A, B]
    blocked = decode(looping, None, DecodingConfig(**settings, no_repeat_ngram_size=2))[0]
    # A B may not come twice: the reply ends instead
    assert blocked.tokens == [A, B, A] and blocked.finished


@pytest.mark.parametrize("strategy", ["greedy", "beam"])
def test_a_reply_that_must_copy_a_value_goes_on_until_it_has(strategy: str) -> None:
    # the model would end after A; E (a value's placeholder) is less likely but required
    model_table = {(): {A: 0.9, E: 0.1}, (A,): {EOS: 0.8, E: 0.2}, (A, E): {EOS: 1.0},
                   (E,): {EOS: 1.0}}
    settings = {"strategy": strategy, "max_length": 5}
    free = decode(ToyModel(model_table), None, DecodingConfig(**settings), required=[E])[0]
    assert free.tokens == [A]  # require_values is off: the setting decides, not the caller
    held = decode(ToyModel(model_table), None, DecodingConfig(**settings, require_values=True),
                  required=[E])[0]
    assert E in held.tokens and held.finished
    assert held.tokens == [A, E]


def test_hold_end_values() -> None:
    logits = torch.zeros(3, VOCAB)
    out = hold_end(logits, [[A, E], [A], []], frozenset({E}), EOS)
    assert out[0, EOS] == 0 and out[1, EOS] == float("-inf") and out[2, EOS] == float("-inf")
    assert hold_end(logits, [[A]], frozenset(), EOS) is logits


def test_block_repeated_ngrams_values() -> None:
    logits = torch.zeros(2, 5)
    out = block_repeated_ngrams(logits, [[1, 2, 3, 1, 2], [1, 2]], 3)
    # row 0 ends with (1, 2), which was followed by 3: 3 is forbidden; row 1 is too short
    assert torch.isinf(out[0, 3]) and int(torch.isinf(out).sum()) == 1
    assert block_repeated_ngrams(logits, [[1, 1, 1]], 0) is logits


def test_apply_repetition_penalty_values() -> None:
    logits = torch.tensor([[2.0, -2.0, 1.0]])
    out = apply_repetition_penalty(logits, [[0, 1]], 2.0)
    assert out.tolist() == [[1.0, -4.0, 1.0]]
    assert apply_repetition_penalty(logits, [[0]], 1.0) is logits


def test_top_k_and_top_p_filters() -> None:
    logits = torch.log(torch.tensor([[0.5, 0.3, 0.15, 0.05]]))
    kept_k = torch.isfinite(filter_top_k_top_p(logits, 2, 1.0))
    assert kept_k.tolist() == [[True, True, False, False]]
    kept_p = torch.isfinite(filter_top_k_top_p(logits, 0, 0.7))
    assert kept_p.tolist() == [[True, True, False, False]]
    kept_small = torch.isfinite(filter_top_k_top_p(logits, 0, 0.1))
    assert kept_small.tolist() == [[True, False, False, False]]


@pytest.mark.parametrize("settings, message", [
    ({"strategy": "nucleus"}, "strategy"),
    ({"temperature": 0}, "temperature"),
    ({"top_p": 1.5}, "top_p"),
    ({"beam_size": 0}, "beam_size"),
    ({"repetition_penalty": 0}, "repetition_penalty"),
    ({"no_repeat_ngram_size": 1}, "no_repeat_ngram_size"),
    ({"beams": 3}, "beams"),
    ({"beam_size": "4"}, "beam_size must be a whole number"),
    ({"beam_size": 2.5}, "beam_size must be a whole number"),
    ({"max_length": True}, "max_length must be a whole number"),
    ({"top_k": 1.5}, "top_k must be a whole number"),
    ({"temperature": "hot"}, "temperature must be a number"),
    ({"temperature": float("nan")}, "temperature must be a number"),
    ({"length_penalty": "x"}, "length_penalty must be a number"),
    ({"require_values": "yes"}, "require_values must be true or false"),
    ({"seed": "abc"}, "seed must be a whole number"),
])
def test_bad_decoding_settings_are_named(settings, message) -> None:
    with pytest.raises(ComponentConfigError, match=message):
        DecodingConfig.from_dict(settings)


@pytest.mark.parametrize("settings", ["beam", ["beam"], 4])
def test_decoding_that_is_not_a_mapping_is_named(settings) -> None:
    with pytest.raises(ComponentConfigError, match="decoding must be a mapping"):
        DecodingConfig.from_dict(settings)


def test_whole_numbers_written_as_floats_are_taken_as_ints() -> None:
    config = DecodingConfig.from_dict({"beam_size": 3.0, "max_length": 20.0, "seed": 7.0})
    assert (config.beam_size, config.max_length, config.seed) == (3, 20, 7)
    assert isinstance(config.beam_size, int) and isinstance(config.seed, int)


def test_sampling_without_a_seed_varies() -> None:
    table = {(): {A: 0.25, B: 0.25, C: 0.25, D: 0.25}}
    table.update({(t,): {A: 0.2, B: 0.2, C: 0.2, D: 0.2, EOS: 0.2} for t in (A, B, C, D)})
    config = DecodingConfig(strategy="sample", max_length=6)
    drawn = {tuple(greedy_or_sample(ToyModel(table), None, config).tokens) for _ in range(12)}
    assert len(drawn) > 1
