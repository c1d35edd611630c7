"""FastBertEncoder gives the same hidden states as the transformers model it mirrors."""

from __future__ import annotations

import pytest
import torch

from dialogflowlite.models.fast_bert import FastBertEncoder, lean_copy, supports_fast_path


def tiny_bert(**changes):
    from transformers import BertConfig, BertModel

    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=60,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=64,
        max_position_embeddings=32,
        **changes,
    )
    return BertModel(config, add_pooling_layer=False).eval()


def test_same_states_with_and_without_padding() -> None:
    model = tiny_bert()
    fast = FastBertEncoder(model)
    ids = torch.randint(5, 60, (3, 9))
    mask = torch.ones_like(ids)
    mask[1, 5:] = 0
    mask[2, 2:] = 0
    with torch.no_grad():
        expected = model(input_ids=ids, attention_mask=mask).last_hidden_state
        single = model(input_ids=ids[:1]).last_hidden_state
    got = fast(ids, mask).last_hidden_state
    real = mask.bool()
    assert torch.allclose(got[real], expected[real], atol=1e-5)
    assert torch.allclose(fast(ids[:1]).last_hidden_state, single, atol=1e-5)
    # the matrix products ran on the 9 + 5 + 2 real pieces only; padding stays zero
    assert torch.equal(got[~real], torch.zeros_like(got[~real]))


def test_a_padded_batch_computes_only_the_real_pieces() -> None:
    model = tiny_bert()
    # hooks see the plain loop's calls (a traced call runs no Python per layer)
    fast = FastBertEncoder(model, trace=False)
    rows_seen = []
    fast.layers[0].qkv.register_forward_hook(lambda _m, args, _o: rows_seen.append(args[0].shape))
    ids = torch.randint(5, 60, (2, 8))
    mask = torch.ones_like(ids)
    mask[1, 3:] = 0
    fast(ids, mask)
    fast(ids)
    # padded: 8 + 3 real rows; unpadded: all 2 * 8 rows
    assert rows_seen == [torch.Size([11, 32]), torch.Size([16, 32])]


def test_quantized_fast_encoder_stays_close() -> None:
    from dialogflowlite.models.quantization import quantize_linear_layers

    model = tiny_bert()
    ids = torch.randint(5, 60, (1, 7))
    reference = FastBertEncoder(model)(ids).last_hidden_state
    quantized = quantize_linear_layers(FastBertEncoder(model))
    assert not any(type(m) is torch.nn.Linear for m in quantized.modules())
    got = quantized(ids).last_hidden_state
    cosine = torch.nn.functional.cosine_similarity(got, reference, dim=-1)
    assert float(cosine.min()) > 0.98


def test_traced_layers_match_the_plain_loop_on_other_shapes() -> None:
    model = tiny_bert()
    traced, plain = FastBertEncoder(model), FastBertEncoder(model, trace=False)
    generator = torch.Generator().manual_seed(1)
    for batch, length in ((2, 5), (4, 11), (1, 3), (3, 7)):
        ids = torch.randint(5, 60, (batch, length), generator=generator)
        mask = torch.ones_like(ids)
        mask[0, length // 2:] = 0
        for attention in (mask, None):
            got = traced(ids, attention).last_hidden_state
            assert torch.allclose(got, plain(ids, attention).last_hidden_state, atol=1e-6)
    # one trace per input kind (padded, unpadded), made once and reused
    assert traced._traces.traced_kinds() == {True, False}
    assert plain._traces.traced_kinds() == set()


def test_a_copy_made_after_tracing_runs_its_own_weights() -> None:
    from dialogflowlite.models.quantization import quantize_linear_layers

    fast = FastBertEncoder(tiny_bert())
    ids = torch.randint(5, 60, (2, 6))
    fast(ids)  # traced with the float weights
    quantized = quantize_linear_layers(fast)
    assert quantized._traces.traced_kinds() == set()
    reference = quantize_linear_layers(FastBertEncoder(tiny_bert(), trace=False))
    assert torch.equal(quantized(ids).last_hidden_state, reference(ids).last_hidden_state)


def test_a_failed_trace_keeps_the_plain_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_args, **_kwargs):
        raise RuntimeError("no TorchScript here")

    monkeypatch.setattr(torch.jit, "trace", refuse)
    model = tiny_bert()
    fast = FastBertEncoder(model)
    ids = torch.randint(5, 60, (1, 6))
    with torch.no_grad():
        expected = model(input_ids=ids).last_hidden_state
    assert torch.allclose(fast(ids).last_hidden_state, expected, atol=1e-5)
    assert fast._traces.failed_kinds() == {False}


def test_only_bert_style_models_qualify() -> None:
    assert supports_fast_path(tiny_bert())
    assert not supports_fast_path(tiny_bert(hidden_act="silu"))
    assert not supports_fast_path(tiny_bert(position_embedding_type="relative_key"))
    assert not supports_fast_path(torch.nn.Linear(2, 2))
    with pytest.raises(ValueError):
        FastBertEncoder(torch.nn.Linear(2, 2))



def test_lean_bert_matches_the_model_and_its_gradients() -> None:
    model = tiny_bert()
    lean = lean_copy(model)
    assert lean is not None
    lean.eval()
    ids = torch.randint(5, 60, (3, 9))
    mask = torch.ones_like(ids)
    mask[1, 6:] = 0
    mask[2, 3:] = 0
    real = mask.bool()
    got = lean(ids, mask).last_hidden_state
    expected = model(input_ids=ids, attention_mask=mask).last_hidden_state
    assert torch.allclose(got[real], expected[real], atol=1e-5)
    assert torch.equal(got[~real], torch.zeros_like(got[~real]))
    got[real].pow(2).sum().backward()
    expected[real].pow(2).sum().backward()
    # one matrix product for the three projections, each with its own gradient
    theirs = dict(model.named_parameters())
    for name, parameter in lean.named_parameters():
        assert parameter.grad is not None
        assert torch.allclose(parameter.grad, theirs[name].grad, atol=1e-4), name
    # the same names and shapes as the transformers model: it saves in that layout
    assert {k for k in lean.state_dict()} == {
        k for k in model.state_dict() if not k.endswith("_ids")}


def test_lean_bert_applies_dropout_in_training_mode_only() -> None:
    lean = lean_copy(tiny_bert(hidden_dropout_prob=0.3))
    ids = torch.randint(5, 60, (2, 7))
    lean.train()
    assert not torch.allclose(lean(ids).last_hidden_state, lean(ids).last_hidden_state)
    lean.eval()
    with torch.no_grad():
        assert torch.equal(lean(ids).last_hidden_state, lean(ids).last_hidden_state)


def test_lean_copy_declines_other_shapes() -> None:
    assert lean_copy(tiny_bert(position_embedding_type="relative_key")) is None
    assert lean_copy(torch.nn.Linear(2, 2)) is None
