from __future__ import annotations

import pytest
import torch

from dialogflowlite.models.transformer_policy import DialogueTransformer, DialogueTransformerConfig


def tiny(**overrides) -> DialogueTransformer:
    torch.manual_seed(0)
    config = DialogueTransformerConfig(num_features=12, num_actions=7, max_history=4,
                                       hidden_size=32, num_layers=2, num_heads=4,
                                       intermediate_size=64, **overrides)
    return DialogueTransformer(config).eval()


def test_scores_every_action_for_each_window() -> None:
    model = tiny()
    features = torch.rand(3, 4, 12)
    mask = torch.ones(3, 4, dtype=torch.bool)
    logits = model(features, mask)
    assert logits.shape == (3, 7)
    assert torch.isfinite(logits).all()


def test_padding_is_ignored() -> None:
    model = tiny()
    states = torch.rand(1, 2, 12)
    short = model(states, torch.ones(1, 2, dtype=torch.bool))
    padded = torch.cat([torch.rand(1, 2, 12), states], dim=1)  # padding rows hold noise
    mask = torch.tensor([[False, False, True, True]])
    assert torch.allclose(model(padded, mask), short, atol=1e-5)


def test_the_latest_state_matters_and_earlier_ones_too() -> None:
    model = tiny()
    mask = torch.ones(1, 3, dtype=torch.bool)
    states = torch.rand(1, 3, 12)
    base = model(states, mask)
    changed_first = states.clone()
    changed_first[0, 0] += 1.0
    assert not torch.allclose(model(changed_first, mask), base)
    changed_last = states.clone()
    changed_last[0, -1] += 1.0
    assert not torch.allclose(model(changed_last, mask), base)


def test_windows_longer_than_max_history_are_refused() -> None:
    model = tiny()
    with pytest.raises(ValueError, match="at most 4"):
        model(torch.rand(1, 5, 12), torch.ones(1, 5, dtype=torch.bool))


def test_it_learns_a_toy_task_quickly() -> None:
    # the action is the feature set in the oldest real state of the window
    torch.manual_seed(1)
    model = tiny(dropout=0.0).train()
    features = torch.zeros(28, 4, 12)
    labels = torch.arange(28) % 7
    for n, label in enumerate(labels):
        features[n, 1, int(label)] = 1.0
        features[n, 3, 7 + n % 5] = 1.0
    mask = torch.tensor([[False, True, True, True]]).repeat(28, 1)
    optimizer = torch.optim.AdamW(model.parameters(), lr=0.01)
    for _ in range(200):
        loss = torch.nn.functional.cross_entropy(model(features, mask), labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if (model(features, mask).argmax(-1) == labels).all():
            break
    model.eval()
    assert (model(features, mask).argmax(-1) == labels).all()
