"""JointIntentSlotModel on a tiny BERT built from a config (no files, no download)."""

from __future__ import annotations

import pytest
import torch

from dialogflowlite.models.crf import bio_transition_mask
from dialogflowlite.models.joint_intent_slot import (
    IGNORE_INDEX,
    JointIntentSlotConfig,
    JointIntentSlotModel,
)


def tiny_bert():
    from transformers import BertConfig, BertModel

    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=50,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=32,
    )
    return BertModel(config, add_pooling_layer=False)


def batch():
    input_ids = torch.tensor([[2, 10, 11, 12, 13, 3], [2, 14, 15, 3, 0, 0]])
    attention = (input_ids != 0).long()
    word_index = torch.tensor([[1, 2, 4], [1, 2, 0]])
    word_mask = torch.tensor([[True, True, True], [True, True, False]])
    return input_ids, attention, word_index, word_mask


@pytest.mark.parametrize("pooling", ["cls", "mean"])
def test_shapes_with_features(pooling: str) -> None:
    config = JointIntentSlotConfig(
        hidden_size=32,
        num_intents=4,
        num_tags=5,
        num_token_features=3,
        num_sentence_features=2,
        pooling=pooling,
    )
    model = JointIntentSlotModel(tiny_bert(), config).eval()
    input_ids, attention, word_index, _ = batch()
    output = model(input_ids, attention, word_index, torch.ones(2, 3, 3), torch.ones(2, 2))
    assert output.intent_logits.shape == (2, 4)
    assert output.tag_logits.shape == (2, 3, 5)
    # missing features count as zeros
    zeros = model(input_ids, attention, word_index)
    explicit = model(input_ids, attention, word_index, torch.zeros(2, 3, 3), torch.zeros(2, 2))
    assert torch.allclose(zeros.tag_logits, explicit.tag_logits)


def test_word_states_come_from_the_first_piece() -> None:
    config = JointIntentSlotConfig(hidden_size=32, num_intents=2, num_tags=3, dropout=0.0)
    model = JointIntentSlotModel(tiny_bert(), config).eval()
    input_ids, attention, word_index, _ = batch()
    hidden = model.encode(input_ids, attention)
    output = model(input_ids, attention, word_index)
    expected = model.heads.slot_head(hidden[0, 4])
    assert torch.allclose(output.tag_logits[0, 2], expected, atol=1e-6)


@pytest.mark.parametrize("use_crf", [False, True])
def test_loss_decreases_and_decoding_respects_the_mask(use_crf: bool) -> None:
    tags_names = ["O", "B-x", "I-x"]
    config = JointIntentSlotConfig(hidden_size=32, num_intents=2, num_tags=3, use_crf=use_crf)
    model = JointIntentSlotModel(tiny_bert(), config, bio_transition_mask(tags_names))
    input_ids, attention, word_index, word_mask = batch()
    intents = torch.tensor([0, 1])
    tags = torch.tensor([[1, 2, 0], [0, 1, IGNORE_INDEX]])
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(30):
        output = model(input_ids, attention, word_index)
        loss = model.loss(output, intents, tags, word_mask)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(float(loss.detach()))
    assert losses[-1] < losses[0] / 2
    model.eval()
    output = model(input_ids, attention, word_index)
    paths, confidences = model.decode_tags(output, word_mask)
    assert paths == [[1, 2, 0], [0, 1]]
    assert [len(c) for c in confidences] == [3, 2]
    assert all(0.0 < c <= 1.0 for row in confidences for c in row)
    assert output.intent_logits.argmax(-1).tolist() == [0, 1]


def test_intent_only_and_slot_only_losses() -> None:
    config = JointIntentSlotConfig(hidden_size=32, num_intents=2, num_tags=3)
    model = JointIntentSlotModel(tiny_bert(), config)
    input_ids, attention, word_index, word_mask = batch()
    output = model(input_ids, attention, word_index)
    both = model.loss(output, torch.tensor([0, 1]), torch.zeros(2, 3, dtype=torch.long), word_mask)
    intent = model.loss(output, torch.tensor([0, 1]), None, word_mask)
    slots = model.loss(output, None, torch.zeros(2, 3, dtype=torch.long), word_mask)
    assert torch.isclose(both, intent + slots)


def test_unknown_pooling_is_rejected() -> None:
    with pytest.raises(ValueError, match="pooling"):
        JointIntentSlotModel(tiny_bert(), JointIntentSlotConfig(32, 2, 3, pooling="max"))


def test_mean_of_spans_averages_each_words_pieces() -> None:
    from dialogflowlite.models.joint_intent_slot import mean_of_spans

    hidden = torch.arange(12.0).view(1, 6, 2)  # piece p holds (2p, 2p + 1)
    start = torch.tensor([[1, 2, 4, 4]])
    end = torch.tensor([[2, 4, 5, 4]])  # the last span is empty: it reads piece 4
    words = mean_of_spans(hidden, start, end)
    assert words.tolist() == [[[2.0, 3.0], [5.0, 6.0], [8.0, 9.0], [8.0, 9.0]]]


def test_word_pooling_mean_reads_every_piece_of_a_word() -> None:
    torch.manual_seed(0)
    config = JointIntentSlotConfig(hidden_size=32, num_intents=3, num_tags=5,
                                   word_pooling="mean")
    model = JointIntentSlotModel(tiny_bert(), config).eval()
    ids = torch.randint(5, 50, (1, 6))
    first, end = torch.tensor([[1, 2]]), torch.tensor([[2, 5]])  # pieces 1 and 2-4
    tags = model(ids, None, first, word_end=end).tag_logits
    hidden = model.encode(ids, None)
    words = torch.stack([hidden[:, 1], hidden[:, 2:5].mean(1)], 1)
    expected = model.heads(hidden[:, 0], words).tag_logits
    assert torch.allclose(tags, expected, atol=1e-5)
    with pytest.raises(ValueError, match="word_end"):
        model(ids, None, first)
    with pytest.raises(ValueError, match="word_pooling"):
        JointIntentSlotModel(tiny_bert(), JointIntentSlotConfig(
            hidden_size=32, num_intents=3, num_tags=5, word_pooling="last"))
