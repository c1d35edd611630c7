"""Fine-tuning a pretrained model given by ``model:`` (tiny local T5 and GPT-2, no download)."""

from __future__ import annotations

from pathlib import Path

import pytest

from dialogflowlite.artifact import ComponentStorage
from dialogflowlite.components.generation.data import ACT2TEXT, ActItem, GenerationExample
from dialogflowlite.components.generation.neural import NeuralResponseGenerator
from dialogflowlite.errors import ModelSourceError

CITIES = ["Paris", "Rome", "Oslo", "Lima", "Cairo", "Quito"]


def pairs() -> list[GenerationExample]:
    return [GenerationExample(ACT2TEXT, f"The weather in {city} is fine.",
                              acts=[ActItem("INFORM", "city", city)]) for city in CITIES]


def tiny_tokenizer(folder: Path):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=300, special_tokens=["<pad>", "</s>", "<unk>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  show_progress=False)
    tokenizer.train_from_iterator([e.target for e in pairs()] * 3 + ["INFORM city="], trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tokenizer, pad_token="<pad>",
                                   eos_token="</s>", unk_token="<unk>")
    fast.save_pretrained(folder)
    return fast


@pytest.fixture(scope="module")
def tiny_t5(tmp_path_factory) -> Path:
    from transformers import T5Config, T5ForConditionalGeneration

    folder = tmp_path_factory.mktemp("tiny-t5")
    tokenizer = tiny_tokenizer(folder)
    config = T5Config(vocab_size=len(tokenizer), d_model=32, d_kv=16, d_ff=64, num_layers=1,
                      num_decoder_layers=1, num_heads=2, dropout_rate=0.0,
                      pad_token_id=tokenizer.pad_token_id,
                      eos_token_id=tokenizer.eos_token_id,
                      decoder_start_token_id=tokenizer.pad_token_id)
    T5ForConditionalGeneration(config).save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def tiny_gpt2(tmp_path_factory) -> Path:
    from transformers import GPT2Config, GPT2LMHeadModel

    folder = tmp_path_factory.mktemp("tiny-gpt2")
    tokenizer = tiny_tokenizer(folder)
    config = GPT2Config(vocab_size=len(tokenizer), n_embd=32, n_layer=1, n_head=2,
                        n_positions=128, resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0,
                        bos_token_id=tokenizer.eos_token_id,
                        eos_token_id=tokenizer.eos_token_id)
    GPT2LMHeadModel(config).save_pretrained(folder)
    return folder


def settings(folder: Path, **extra) -> dict:
    return {"model": str(folder), "mode": "act2text", "epochs": 40, "batch_size": 6,
            "learning_rate": 1e-2, "warmup_steps": 5, "label_smoothing": 0.0,
            "threshold": -5.0, "decoding": {"beam_size": 2, "max_length": 16}, **extra}


@pytest.mark.parametrize("which, learning_rate", [("tiny_t5", 2e-2), ("tiny_gpt2", 1e-2)])
def test_fine_tuned_model_learns_and_round_trips(which, learning_rate, request, tmp_path) -> None:
    folder = request.getfixturevalue(which)
    generator = NeuralResponseGenerator(settings(folder, epochs=50, learning_rate=learning_rate))
    result = generator.train(pairs())
    assert result.losses[-1] < result.losses[0] / 2
    reply = generator.generate(GenerationExample(ACT2TEXT, acts=[ActItem("INFORM", "city",
                                                                         "Berlin")]))
    assert reply.accepted, reply.reason
    assert reply.text == "The weather in Berlin is fine."
    # the placeholders decoding may ban are the added tokens; an unknown one is no token
    backend, placeholders = generator.backend, generator.delexicaliser.placeholders()
    ids = backend.token_ids([*placeholders, "[no_such_placeholder]"])
    assert backend.tokenizer.convert_ids_to_tokens(ids) == placeholders
    assert backend.eos_id not in ids
    storage = ComponentStorage(tmp_path / "stored")
    generator.persist(storage)
    stored = {p.suffix for p in storage.root.rglob("*") if p.is_file()}
    assert stored <= {".json", ".safetensors", ".txt", ".model"}
    loaded = NeuralResponseGenerator.load(generator.config, storage)
    again = loaded.generate(GenerationExample(ACT2TEXT, acts=[ActItem("INFORM", "city",
                                                                      "Berlin")]))
    assert again.text == reply.text
    assert again.score == pytest.approx(reply.score, abs=1e-4)


def test_missing_model_folder_is_a_clear_error(tmp_path) -> None:
    generator = NeuralResponseGenerator(settings(tmp_path / "nowhere"))
    with pytest.raises(ModelSourceError, match="does not exist"):
        generator.train(pairs())


def long_act(values: int = 30) -> GenerationExample:
    """An act whose input is longer than the tiny models' positions."""
    return GenerationExample(ACT2TEXT, acts=[ActItem("INFORM", "city", "Berlin"),
                                             *(ActItem("INFORM", f"extra_{i}", f"x{i}")
                                               for i in range(values))])


def reply_lengths(monkeypatch) -> list[int]:
    """The token counts of every hypothesis decoded from now on."""
    from dialogflowlite.components.generation import decoding

    lengths: list[int] = []
    original = decoding.decode

    def measured(*args, **kwargs):
        hypotheses = original(*args, **kwargs)
        lengths.extend(len(h.tokens) for h in hypotheses)
        return hypotheses

    monkeypatch.setattr(decoding, "decode", measured)
    return lengths


@pytest.fixture(scope="module")
def short_gpt2(tmp_path_factory) -> Path:
    """A causal model with only 32 positions."""
    from transformers import GPT2Config, GPT2LMHeadModel

    folder = tmp_path_factory.mktemp("short-gpt2")
    tokenizer = tiny_tokenizer(folder)
    config = GPT2Config(vocab_size=len(tokenizer), n_embd=32, n_layer=1, n_head=2,
                        n_positions=32, bos_token_id=tokenizer.eos_token_id,
                        eos_token_id=tokenizer.eos_token_id)
    GPT2LMHeadModel(config).save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def short_bart(tmp_path_factory) -> Path:
    """An encoder-decoder with learnt positions, only 20 of them."""
    from transformers import BartConfig, BartForConditionalGeneration

    folder = tmp_path_factory.mktemp("short-bart")
    tokenizer = tiny_tokenizer(folder)
    config = BartConfig(vocab_size=len(tokenizer), d_model=32, encoder_layers=1,
                        decoder_layers=1, encoder_attention_heads=2, decoder_attention_heads=2,
                        encoder_ffn_dim=32, decoder_ffn_dim=32, max_position_embeddings=20,
                        pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id,
                        bos_token_id=tokenizer.eos_token_id, forced_eos_token_id=None,
                        decoder_start_token_id=tokenizer.eos_token_id)
    BartForConditionalGeneration(config).save_pretrained(folder)
    return folder


@pytest.mark.parametrize("strategy", ["beam", "greedy"])
def test_a_causal_model_keeps_the_latest_input_within_its_positions(short_gpt2, strategy,
                                                                    monkeypatch) -> None:
    # training on an input longer than the model's positions does not fail either
    long_pair = GenerationExample(ACT2TEXT, "The weather in Berlin is fine.",
                                  acts=long_act().acts)
    generator = NeuralResponseGenerator(settings(short_gpt2, epochs=1, decoding={
        "strategy": strategy, "beam_size": 2, "max_length": 12}))
    generator.train([*pairs(), long_pair])
    backend = generator.backend
    lengths = reply_lengths(monkeypatch)
    reply = generator.generate(long_act())
    assert reply.text and lengths and max(lengths) <= 12
    # the input is cut from the left: the latest turns stay, 32 - 12 positions of them
    source = generator.delexicaliser.prepare(long_act()).source
    every = backend.tokenizer(source, add_special_tokens=False)["input_ids"]
    assert backend.encode_source(source, reply_length=12) == every[-20:]
    assert backend.longest_reply == 16


def test_an_encoder_decoder_keeps_input_and_reply_within_its_positions(short_bart, monkeypatch,
                                                                        caplog) -> None:
    generator = NeuralResponseGenerator(settings(short_bart, epochs=1, decoding={
        "beam_size": 2, "max_length": 40}))
    generator.train(pairs())
    lengths = reply_lengths(monkeypatch)
    with caplog.at_level("WARNING"):
        generator.generate(long_act())
    # 40 reply tokens do not fit the decoder's 20 positions: replies stop there
    assert lengths and max(lengths) <= 20
    assert "max_length 40" in caplog.text
    backend = generator.backend
    source = generator.delexicaliser.prepare(long_act()).source
    every = backend.tokenizer(source, add_special_tokens=False)["input_ids"]
    assert backend.encode_source(source) == [*every[-19:], backend.eos_id]


@pytest.mark.parametrize("which", ["tiny_t5", "tiny_gpt2"])
def test_max_length_bounds_the_reply_of_a_pretrained_model(which, request,
                                                           monkeypatch) -> None:
    folder = request.getfixturevalue(which)
    generator = NeuralResponseGenerator(settings(folder, epochs=1, decoding={
        "strategy": "greedy", "max_length": 5}))
    generator.train(pairs())
    lengths = reply_lengths(monkeypatch)
    reply = generator.generate(GenerationExample(ACT2TEXT, acts=[ActItem("INFORM", "city",
                                                                         "Berlin")]))
    assert reply.text and lengths and max(lengths) <= 5


@pytest.mark.parametrize("which", ["tiny_t5", "tiny_gpt2"])
def test_a_reply_never_holds_the_unknown_token(which, request) -> None:
    import torch

    generator = NeuralResponseGenerator(settings(request.getfixturevalue(which), epochs=1))
    generator.train(pairs())
    backend = generator.backend
    unknown = backend.tokenizer.unk_token_id
    assert unknown is not None and unknown != backend.eos_id
    stepper = backend.stepper()
    state = stepper.start(backend.encode_source("INFORM city=[v1]", reply_length=16), 1)
    logits, _ = stepper.step(state, torch.tensor([stepper.bos_id]))
    # "<unk>" would be sent as it is; the end of the reply stays possible
    assert logits[0, unknown] == float("-inf")
    assert logits[0, backend.eos_id] > float("-inf")
