"""A local BERT-style folder loads without transformers, the same as through transformers."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import torch

from dialogflowlite.components.nlu.pretrained import (
    load_encoder,
    load_local_bert,
    load_tokenizer,
)

REPO = Path(__file__).resolve().parents[3]
TEXTS = ["book a flight to paris tomorrow", "Hello, New York!", "weather in 2024?"]


def test_same_pieces_and_states_as_transformers(tiny_model: Path) -> None:
    loaded = load_local_bert(str(tiny_model))
    assert loaded is not None
    encoder, tokenizer = loaded
    reference_tokenizer = load_tokenizer(str(tiny_model), "test")
    reference = load_encoder(str(tiny_model), "test").eval()
    assert tokenizer.pad_token_id == reference_tokenizer.pad_token_id
    for text in TEXTS:
        ours = tokenizer.backend_tokenizer.encode(text)
        theirs = reference_tokenizer(text, return_offsets_mapping=True)
        assert ours.ids == theirs["input_ids"]
        assert [tuple(o) for o in ours.offsets] == [tuple(o) for o in theirs["offset_mapping"]]
        ids = torch.tensor([ours.ids])
        with torch.no_grad():
            got = encoder.eval()(ids).last_hidden_state
            expected = reference(input_ids=ids).last_hidden_state
        assert torch.allclose(got, expected, atol=1e-5)


def test_other_folders_are_left_to_transformers(tiny_model: Path, tmp_path: Path) -> None:
    assert load_local_bert("bert-base-uncased") is None  # a hub name
    other = tmp_path / "other"
    shutil.copytree(tiny_model, other)
    config = json.loads((other / "config.json").read_text())
    (other / "config.json").write_text(json.dumps({**config, "model_type": "roberta"}))
    assert load_local_bert(str(other)) is None
    (other / "config.json").write_text(json.dumps(config))
    (other / "model.safetensors").unlink()  # e.g. only pytorch_model.bin
    assert load_local_bert(str(other)) is None


def test_training_and_saving_do_not_import_transformers(tiny_model: Path, tmp_path: Path) -> None:
    script = textwrap.dedent(
        f"""
        import sys
        from dialogflowlite.artifact import ComponentStorage
        from dialogflowlite.components.base import NluContext
        from dialogflowlite.components.nlu.joint_transformer import JointTransformerClassifier
        from dialogflowlite.components.tokenizers.alignment import simple_tokens
        from dialogflowlite.shared.message import Message
        from dialogflowlite.shared.training_data import TrainingData, parse_annotated_text

        examples = []
        for intent, annotated in [("greet", "hello there"), ("fly", "fly to [paris](city)"),
                                  ("fly", "a flight to [rome](city)")]:
            text, entities = parse_annotated_text(annotated)
            examples.append(Message(text=text, intent=intent, entities=entities,
                                    tokens=simple_tokens(text)))
        component = JointTransformerClassifier(
            {{"model": {str(tiny_model)!r}, "epochs": 2, "device": "cpu"}})
        component.train(TrainingData(examples=examples), NluContext(progress=False, seed=1))
        component.persist(ComponentStorage({str(tmp_path / "saved")!r}))
        print("transformers" in sys.modules)
        """
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            cwd=REPO, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"
    saved = tmp_path / "saved"
    # what was saved loads through transformers too (fast_inference: false)
    assert load_tokenizer(str(next(saved.rglob("tokenizer.json")).parent), "test").is_fast
    config = json.loads(next(saved.rglob("config.json")).read_text())
    assert config["model_type"] == "bert" and config["num_hidden_layers"] == 2
