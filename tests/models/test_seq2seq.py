from __future__ import annotations

import pytest
import torch

from dialogflowlite.models.seq2seq import Seq2SeqConfig, Seq2SeqTransformer

TINY = Seq2SeqConfig(vocab_size=50, hidden_size=32, encoder_layers=2, decoder_layers=2, heads=4,
                     ff_size=64, dropout=0.0, max_positions=40)


@pytest.fixture
def model() -> Seq2SeqTransformer:
    torch.manual_seed(0)
    return Seq2SeqTransformer(TINY).eval()


def test_forward_shapes(model) -> None:
    source = torch.randint(1, 50, (3, 7))
    target = torch.randint(1, 50, (3, 5))
    logits = model(source, target)
    assert logits.shape == (3, 5, 50)
    memory, mask = model.encode(source)
    assert memory.shape == (3, 7, 32)
    assert mask.shape == (3, 1, 1, 7)


def test_output_projection_is_tied_to_the_embedding(model) -> None:
    assert model.lm_head.weight is model.embed.weight
    untied = Seq2SeqTransformer(Seq2SeqConfig(**{**TINY.to_dict(), "tie_embeddings": False}))
    assert untied.lm_head.weight is not untied.embed.weight


def test_decoder_is_causal(model) -> None:
    source = torch.randint(1, 50, (1, 6))
    target = torch.randint(1, 50, (1, 5))
    changed = target.clone()
    changed[0, 4] = (changed[0, 4] % 49) + 1
    a, b = model(source, target), model(source, changed)
    assert torch.allclose(a[:, :4], b[:, :4], atol=1e-5)
    assert not torch.allclose(a[:, 4], b[:, 4], atol=1e-5)


def test_source_padding_is_ignored(model) -> None:
    source = torch.randint(1, 50, (1, 6))
    padded = torch.cat([source, torch.zeros(1, 3, dtype=torch.long)], dim=1)
    target = torch.randint(1, 50, (1, 4))
    assert torch.allclose(model(source, target), model(padded, target), atol=1e-5)


def test_cached_step_by_step_decoding_matches_the_full_pass(model) -> None:
    source = torch.randint(1, 50, (2, 6))
    target = torch.randint(1, 50, (2, 5))
    full = model(source, target)
    memory, mask = model.encode(source)
    cache = model.new_cache()
    steps = [model.decode(target[:, i:i + 1], memory, mask, cache, start=i)[:, -1]
             for i in range(5)]
    assert torch.allclose(torch.stack(steps, dim=1), full, atol=1e-5)


def test_reorder_cache_selects_rows(model) -> None:
    source = torch.randint(1, 50, (2, 6))
    memory, mask = model.encode(source)
    cache = model.new_cache()
    model.decode(torch.tensor([[3], [4]]), memory, mask, cache, start=0)
    swapped = model.reorder_cache(cache, torch.tensor([1, 1]))
    for before, after in zip(cache, swapped, strict=True):
        for key in before:
            assert torch.equal(after[key][0], before[key][1])
            assert torch.equal(after[key][1], before[key][1])


def test_too_long_input_is_a_clear_error(model) -> None:
    with pytest.raises(ValueError, match="max_positions"):
        model.encode(torch.ones(1, 41, dtype=torch.long))


def test_config_round_trip() -> None:
    data = TINY.to_dict()
    assert Seq2SeqConfig.from_dict({**data, "unknown": 1}) == TINY


def test_heads_must_divide_hidden_size() -> None:
    with pytest.raises(ValueError, match="divisible"):
        Seq2SeqTransformer(Seq2SeqConfig(vocab_size=10, hidden_size=30, heads=4))


def test_one_source_is_shared_by_many_hypotheses(model) -> None:
    source = torch.randint(1, 50, (1, 6))
    memory, mask = model.encode(source)
    tokens = torch.tensor([[3], [4], [5]])
    shared = model.decode(tokens, memory, mask, model.new_cache())
    expanded = model.decode(tokens, memory.expand(3, -1, -1), mask.expand(3, -1, -1, -1))
    assert torch.allclose(shared, expanded, atol=1e-5)
    cache = model.new_cache()
    model.decode(tokens, memory, mask, cache)
    kept = model.reorder_cache(cache, torch.tensor([2, 0]))
    assert kept[0]["cross_keys"].shape[0] == 1  # shared, not copied
    assert kept[0]["self_keys"].shape[0] == 2


COPY = Seq2SeqConfig(**{**TINY.to_dict(), "copy_attention": True})


@pytest.fixture
def copy_model() -> Seq2SeqTransformer:
    torch.manual_seed(0)
    return Seq2SeqTransformer(COPY).eval()


def test_copy_attention_gives_normalised_log_probabilities(copy_model) -> None:
    source = torch.randint(1, 50, (2, 6))
    log_probs = copy_model(source, torch.randint(1, 50, (2, 4)))
    assert log_probs.shape == (2, 4, 50)
    assert torch.allclose(log_probs.exp().sum(-1), torch.ones(2, 4), atol=1e-5)


def test_copy_attention_decodes_step_by_step_and_shared_like_the_full_pass(copy_model) -> None:
    source = torch.randint(1, 50, (1, 6))
    target = torch.randint(1, 50, (1, 5))
    full = copy_model(source, target)
    memory, mask = copy_model.encode(source)
    cache = copy_model.new_cache()
    steps = [copy_model.decode(target[:, i:i + 1], memory, mask, cache, start=i,
                               source_ids=source)[:, -1] for i in range(5)]
    assert torch.allclose(torch.stack(steps, dim=1), full, atol=1e-5)
    # three beams of the one source: memory, mask and ids stay at batch size 1
    beams = copy_model.decode(torch.tensor([[3], [4], [5]]), memory, mask,
                              copy_model.new_cache(), source_ids=source)
    assert beams.shape == (3, 1, 50)


def test_copy_attention_ignores_source_padding(copy_model) -> None:
    source = torch.randint(1, 50, (1, 6))
    padded = torch.cat([source, torch.zeros(1, 3, dtype=torch.long)], dim=1)
    target = torch.randint(1, 50, (1, 4))
    assert torch.allclose(copy_model(source, target), copy_model(padded, target), atol=1e-5)


def test_copy_attention_needs_the_source_ids(copy_model) -> None:
    memory, mask = copy_model.encode(torch.randint(1, 50, (1, 6)))
    with pytest.raises(ValueError, match="source ids"):
        copy_model.decode(torch.tensor([[3]]), memory, mask)
    with pytest.raises(ValueError, match="source states"):
        Seq2SeqTransformer(Seq2SeqConfig(**{**COPY.to_dict(), "source_state_size": 8}))


def _train_to_echo(config: Seq2SeqConfig, tokens: range, steps: int = 150) -> Seq2SeqTransformer:
    """A model taught to answer ``<bos>`` with the one source token that is in ``tokens``."""
    torch.manual_seed(0)
    model = Seq2SeqTransformer(config)
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    generator = torch.Generator().manual_seed(0)
    for _ in range(steps):
        picked = torch.tensor(tokens)[torch.randint(len(tokens), (16,), generator=generator)]
        # the token among two fixed filler tokens, so its position varies too
        source = torch.stack([torch.full_like(picked, 2), picked, torch.full_like(picked, 3)], 1)
        source = torch.stack([row.roll(int(k)) for row, k in
                              zip(source, torch.randint(3, (16,), generator=generator),
                                  strict=True)])
        logits = model(source, torch.ones(16, 1, dtype=torch.long))
        loss = torch.nn.functional.cross_entropy(logits[:, 0], picked)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return model.eval()


def test_copy_attention_writes_a_source_token_never_seen_as_a_target() -> None:
    learnt = range(10, 30)  # 41 and 44 are never an answer in training
    source = torch.tensor([[2, 41, 3], [44, 2, 3]])
    start = torch.ones(2, 1, dtype=torch.long)
    pointer = _train_to_echo(COPY, learnt)
    assert pointer(source, start)[:, 0].argmax(-1).tolist() == [41, 44]
    plain = _train_to_echo(TINY, learnt)
    # without the pointer a token never trained as an output gets (almost) nothing
    assert plain(source, start)[:, 0].softmax(-1)[[0, 1], [41, 44]].max() < 0.05
