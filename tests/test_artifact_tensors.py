"""ComponentStorage.read_tensors_into: stored weights read straight into a module."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

from dialogflowlite.artifact import ComponentStorage
from dialogflowlite.errors import ModelLoadError


def module(seed: int) -> nn.Module:
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Embedding(20, 8), nn.Linear(8, 3), nn.LayerNorm(3))
    model.register_buffer("steps", torch.tensor([seed], dtype=torch.int64))
    model[1].half()  # a second dtype in the same file
    return model


def test_every_stored_tensor_lands_in_the_module(tmp_path: Path) -> None:
    storage = ComponentStorage(tmp_path)
    saved = module(1)
    storage.write_tensors("model.safetensors", saved.state_dict())
    target = module(2)
    assert storage.read_tensors_into("model.safetensors", target) == ([], [])
    for (name, expected), got in zip(saved.state_dict().items(),
                                     target.state_dict().values(), strict=True):
        assert got.dtype == expected.dtype and torch.equal(got, expected), name


def test_names_on_one_side_only_are_returned(tmp_path: Path) -> None:
    storage = ComponentStorage(tmp_path)
    state = module(1).state_dict()
    state["extra.weight"] = torch.zeros(2)
    del state["2.bias"]
    storage.write_tensors("model.safetensors", state)
    missing, unexpected = storage.read_tensors_into("model.safetensors", module(2))
    assert missing == ["2.bias"] and unexpected == ["extra.weight"]


def test_a_shape_that_does_not_fit_is_an_error_naming_the_tensor(tmp_path: Path) -> None:
    storage = ComponentStorage(tmp_path)
    state = module(1).state_dict()
    state["0.weight"] = torch.zeros(21, 8)
    storage.write_tensors("model.safetensors", state)
    with pytest.raises(ModelLoadError, match=r"0\.weight is F32 \[21, 8\]"):
        storage.read_tensors_into("model.safetensors", module(2))


def test_a_cut_or_missing_file_is_an_error(tmp_path: Path) -> None:
    storage = ComponentStorage(tmp_path)
    with pytest.raises(ModelLoadError, match="is missing"):
        storage.read_tensors_into("model.safetensors", module(2))
    storage.write_tensors("model.safetensors", module(1).state_dict())
    data = storage.path("model.safetensors").read_bytes()
    storage.path("model.safetensors").write_bytes(data[:-10])
    with pytest.raises(ModelLoadError, match="cut short"):
        storage.read_tensors_into("model.safetensors", module(2))
    storage.path("model.safetensors").write_bytes(b"\x05\x00\x00\x00\x00\x00\x00\x00{oops")
    with pytest.raises(ModelLoadError, match="cannot be read"):
        storage.read_tensors_into("model.safetensors", module(2))


def test_a_damaged_json_text_or_tensor_file_is_an_error_naming_it(tmp_path: Path) -> None:
    # read_json, read_text and read_tensors let a file cut short or with other bytes in
    # it through as a traceback (a 500 for PUT /model); only a missing one was an error
    storage = ComponentStorage(tmp_path / "1_Classifier")
    storage.write_json("labels.json", {"labels": ["greet", "bye"]})
    whole = storage.path("labels.json").read_bytes()
    storage.path("labels.json").write_bytes(whole[: len(whole) // 2])
    with pytest.raises(ModelLoadError, match=r"1_Classifier/labels\.json is damaged") as error:
        storage.read_json("labels.json")
    assert "retrain" in error.value.hint
    storage.path("labels.json").write_bytes(whole[:5] + b"\xff\x00garbage")
    with pytest.raises(ModelLoadError, match=r"1_Classifier/labels\.json is damaged"):
        storage.read_text("labels.json")
    storage.write_tensors("model.safetensors", module(1).state_dict())
    data = storage.path("model.safetensors").read_bytes()
    storage.path("model.safetensors").write_bytes(data[:-10])
    with pytest.raises(ModelLoadError, match=r"model\.safetensors is damaged"):
        storage.read_tensors("model.safetensors")
