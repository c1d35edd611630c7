"""TraceCache and the traced inference pass of the scratch encoder."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from dialogflowlite.models.scratch_transformer import ScratchEncoder, ScratchTransformerConfig
from dialogflowlite.models.tracing import TraceCache


class _Scale(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.tensor(2.0))
        self.traces = TraceCache()

    def scaled(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.weight

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.traces.run("plain", self, self.scaled, x)


def test_a_trace_is_made_once_per_kind_and_sees_weights_loaded_in_place() -> None:
    module = _Scale()
    with torch.no_grad():
        assert torch.equal(module(torch.ones(3)), torch.full((3,), 2.0))
        assert module.traces.traced_kinds() == {"plain"}
        module.weight.copy_(torch.tensor(5.0))
        # the same trace, other shape, new weight
        assert torch.equal(module(torch.ones(2, 2)), torch.full((2, 2), 5.0))
    assert module.traces.traced_kinds() == {"plain"}


def test_a_copy_traces_its_own_weights() -> None:
    module = _Scale()
    with torch.no_grad():
        module(torch.ones(1))
        twin = copy.deepcopy(module)
        assert twin.traces.traced_kinds() == set()
        twin.weight.copy_(torch.tensor(3.0))
        assert torch.equal(twin(torch.ones(1)), torch.tensor([3.0]))
        assert torch.equal(module(torch.ones(1)), torch.tensor([2.0]))


def test_a_kind_that_cannot_be_traced_runs_untraced(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []

    def refuse(*args, **kwargs):
        calls.append(1)
        raise RuntimeError("no TorchScript here")

    monkeypatch.setattr(torch.jit, "trace", refuse)
    module = _Scale()
    with torch.no_grad():
        assert torch.equal(module(torch.ones(2)), torch.full((2,), 2.0))
        assert torch.equal(module(torch.ones(2)), torch.full((2,), 2.0))
    assert module.traces.failed_kinds() == {"plain"}
    assert len(calls) == 1  # not retried for every call


def _scratch_encoder(features: int) -> ScratchEncoder:
    torch.manual_seed(0)
    config = ScratchTransformerConfig(word_vocab_size=40, ngram_vocab_size=90, num_intents=3,
                                      num_tags=5, num_token_features=features, hidden_size=32,
                                      num_layers=2, num_heads=4, ff_size=64)
    return ScratchEncoder(config).eval()


def _scratch_inputs(batch: int, words: int, features: int, generator: torch.Generator):
    word_ids = torch.randint(2, 40, (batch, words), generator=generator)
    ngram_ids = torch.randint(1, 90, (batch, words, 4), generator=generator)
    ngram_ids[..., 3] = 0  # n-gram padding
    mask = torch.ones(batch, words, dtype=torch.bool)
    mask[0, words // 2:] = False  # a shorter first message
    word_ids[~mask] = 0
    feats = torch.rand(batch, words, features, generator=generator) if features else None
    return word_ids, ngram_ids, mask, feats


@pytest.mark.parametrize("features", [0, 3])
def test_traced_scratch_encoder_matches_the_eager_pass_on_other_shapes(features: int) -> None:
    encoder = _scratch_encoder(features)
    traced = copy.deepcopy(encoder)
    traced.trace_inference()
    generator = torch.Generator().manual_seed(1)
    with torch.inference_mode():
        for batch, words in ((2, 5), (4, 9), (1, 3), (3, 12)):
            inputs = _scratch_inputs(batch, words, features, generator)
            got = traced(*inputs)
            expected = encoder(*inputs)
            keep = torch.cat([torch.ones(batch, 1, dtype=torch.bool), inputs[2]], 1)
            assert torch.allclose(got[keep], expected[keep], atol=1e-5)
    assert traced._traces.traced_kinds() == {"features" if features else "words"}


def test_training_and_gradient_passes_never_use_a_trace() -> None:
    encoder = _scratch_encoder(0)
    encoder.trace_inference()
    inputs = _scratch_inputs(2, 4, 0, torch.Generator().manual_seed(2))
    encoder(*inputs).sum().backward()  # gradients enabled: eager
    encoder.train()
    with torch.no_grad():
        encoder(*inputs)  # training mode: eager (dropout must stay live)
    assert encoder._traces.traced_kinds() == set()
    assert encoder.words.weight.grad is not None
