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
