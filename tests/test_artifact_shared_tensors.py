"""A model file stores a large tensor that several components hold alike only once."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file
from torch import nn

from dialogflowlite import tensor_files
from dialogflowlite.artifact import ComponentStorage, ModelWriter, open_model
from dialogflowlite.errors import ModelLoadError
from dialogflowlite.tensor_files import read_header, shared_file

WEIGHTS = "model.safetensors"


@pytest.fixture(autouse=True)
def small_threshold(monkeypatch: pytest.MonkeyPatch) -> None:
    # the test tensors are a few KB; the threshold keeps tiny ones (biases) apart
    monkeypatch.setattr(tensor_files, "MIN_SHARED_BYTES", 1024)


def encoder(seed: int) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Embedding(1024, 16), nn.Linear(16, 16), nn.Linear(16, 4))


def shares_embeddings(frozen: nn.Module, seed: int) -> nn.Module:
    """A model of its own with ``frozen``'s embedding table (as a frozen encoder would)."""
    model = encoder(seed)
    model[0].weight.data.copy_(frozen[0].weight.data)
    return model


def write_model(tmp_path: Path, name: str, models: dict[str, nn.Module],
                previous: Path | None = None, reuse: tuple[str, ...] = ()) -> Path:
    writer = ModelWriter()
    try:
        if previous is not None:
            with open_model(previous) as archive:
                for key in reuse:
                    writer.storage(key).copy_from(archive.storage(key))
        for key, model in models.items():
            writer.storage(key).write_tensors(WEIGHTS, model.state_dict())
        return writer.save(tmp_path / name)
    finally:
        writer.close()


def test_a_tensor_two_components_hold_alike_is_stored_once(tmp_path: Path) -> None:
    first = encoder(1)
    second = shares_embeddings(first, 2)
    separate = write_model(tmp_path, "separate.tar", {"a": encoder(3), "b": encoder(4)})
    shared = write_model(tmp_path, "shared.tar", {"a": first, "b": second})

    table = first[0].weight.numel() * 4
    with open_model(separate) as archive:
        whole = archive.storage("b").path(WEIGHTS).stat().st_size
    with open_model(shared) as archive:
        assert archive.storage("b").path(WEIGHTS).stat().st_size <= whole - table
        stored = read_header(archive.storage("b").path(WEIGHTS)).entries
        assert "0.weight" not in stored and "1.weight" in stored  # only the equal one left out
        companion = json.loads(shared_file(archive.storage("b").path(WEIGHTS)).read_text())
        assert companion["tensors"]["0.weight"] == {"file": "a/model.safetensors",
                                                     "tensor": "0.weight"}
        for key, model in (("a", first), ("b", second)):
            tensors = archive.storage(key).read_tensors(WEIGHTS)
            assert tensors.keys() == model.state_dict().keys()
            for name, value in model.state_dict().items():
                assert torch.equal(tensors[name], value), (key, name)
            loaded = encoder(9)
            assert archive.storage(key).read_tensors_into(WEIGHTS, loaded) == ([], [])
            for name, value in model.state_dict().items():
                assert torch.equal(loaded.state_dict()[name], value), (key, name)


def test_small_tensors_and_files_written_by_libraries_stay_whole(tmp_path: Path) -> None:
    first = encoder(1)
    writer = ModelWriter()
    try:
        writer.storage("a").write_tensors(WEIGHTS, first.state_dict())
        # a file saved by a library (no dialogflowlite mark), holding the same table
        save_file({"table": first[0].weight.detach().clone()},
                  str(writer.storage("lib").path("model.safetensors")))
        small = {"bias": first[1].bias.detach().clone()}  # 64 bytes, under the threshold
        writer.storage("c").write_tensors(WEIGHTS, small)
        writer.storage("d").write_tensors(WEIGHTS, small)
        target = writer.save(tmp_path / "model.tar")
    finally:
        writer.close()
    with open_model(target) as archive:
        for key in ("lib", "c", "d"):
            assert not shared_file(archive.storage(key).path(WEIGHTS)).exists(), key
        assert "table" in read_header(archive.storage("lib").path(WEIGHTS)).entries


def test_a_reused_component_keeps_its_tensors_when_the_other_is_retrained(
        tmp_path: Path) -> None:
    first = encoder(1)
    second = shares_embeddings(first, 2)
    old = write_model(tmp_path, "old.tar", {"a": first, "b": second})
    # "a" retrained (another embedding table), "b" copied from the old model
    new = write_model(tmp_path, "new.tar", {"a": encoder(5)}, previous=old, reuse=("b",))
    with open_model(new) as archive:
        assert not shared_file(archive.storage("b").path(WEIGHTS)).exists()
        tensors = archive.storage("b").read_tensors(WEIGHTS)
        for name, value in second.state_dict().items():
            assert torch.equal(tensors[name], value), name


def test_a_component_reused_beside_an_equal_one_is_shared_again(tmp_path: Path) -> None:
    first = encoder(1)
    second = shares_embeddings(first, 2)
    old = write_model(tmp_path, "old.tar", {"a": first, "b": second})
    again = write_model(tmp_path, "again.tar", {"a": first}, previous=old, reuse=("b",))
    assert again.stat().st_size == old.stat().st_size
    with open_model(again) as archive:
        loaded = encoder(9)
        archive.storage("b").read_tensors_into(WEIGHTS, loaded)
        assert torch.equal(loaded[0].weight, first[0].weight)


def test_a_reference_that_cannot_be_followed_is_an_error_naming_the_resource(
        tmp_path: Path) -> None:
    first = encoder(1)
    model = write_model(tmp_path, "model.tar", {"a": first, "b": shares_embeddings(first, 2)})
    with open_model(model) as archive:
        folder = archive.storage("b").root
        # a folder outside its model cannot follow references
        with pytest.raises(ModelLoadError, match=r"b/model\.safetensors shares tensors"):
            ComponentStorage(folder).read_tensors(WEIGHTS)
        companion = shared_file(archive.storage("b").path(WEIGHTS))
        data = json.loads(companion.read_text())
        data["tensors"]["0.weight"]["file"] = "../../elsewhere/model.safetensors"
        companion.write_text(json.dumps(data))
        with pytest.raises(ModelLoadError, match="outside the model"):
            archive.storage("b").read_tensors_into(WEIGHTS, encoder(9))
        data["tensors"]["0.weight"] = {"file": "a/model.safetensors", "tensor": "gone"}
        companion.write_text(json.dumps(data))
        # the same error from every reader: whole dict, in place, copied into another model
        with pytest.raises(ModelLoadError, match=r"shared tensor 0\.weight is not in"):
            archive.storage("b").read_tensors_into(WEIGHTS, encoder(9))
        with pytest.raises(ModelLoadError, match=r"shared tensor 0\.weight is not in"):
            archive.storage("b").read_tensors(WEIGHTS)
        with pytest.raises(ModelLoadError, match=r"shared tensor 0\.weight is not in"):
            tensor_files.materialise(archive.storage("b").path(WEIGHTS), archive.root, "b")
        assert companion.exists()  # nothing was rewritten


def _set_format(model: Path, tmp_path: Path, number: int) -> Path:
    """A copy of an unpacked ``model`` whose manifest says ``format: number``."""
    import shutil

    with open_model(model) as archive:
        folder = tmp_path / f"format-{number}"
        shutil.copytree(archive.root, folder)
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["format"] = number
    (folder / "manifest.json").write_text(json.dumps(manifest))
    return folder


def test_models_of_the_format_before_still_load_and_later_ones_are_refused(
        tmp_path: Path) -> None:
    model = write_model(tmp_path, "model.tar", {"a": encoder(1)})
    with open_model(model) as archive:
        assert archive.manifest.format == 2  # files may share tensors since format 2
    with open_model(_set_format(model, tmp_path, 1)) as archive:
        assert torch.equal(archive.storage("a").read_tensors(WEIGHTS)["0.weight"],
                           encoder(1)[0].weight)
    with pytest.raises(ModelLoadError, match="has format 3, this version reads 1 and 2"):
        open_model(_set_format(model, tmp_path, 3))


def test_a_file_that_left_a_tensor_out_can_still_lend_its_others(tmp_path: Path) -> None:
    # "b" leaves out the table it shares with "a", and keeps a layer that "c" has too
    first = encoder(1)
    second = shares_embeddings(first, 2)
    second[1] = nn.Linear(16, 1024)  # a layer large enough to share, after the table
    third = encoder(3)
    third[1] = nn.Linear(16, 1024)
    third[1].load_state_dict(second[1].state_dict())
    model = write_model(tmp_path, "model.tar", {"a": first, "b": second, "c": third})
    with open_model(model) as archive:
        shared = json.loads(shared_file(archive.storage("c").path(WEIGHTS)).read_text())
        assert shared["tensors"]["1.weight"] == {"file": "b/model.safetensors",
                                                  "tensor": "1.weight"}
        for key, module in (("a", first), ("b", second), ("c", third)):
            tensors = archive.storage(key).read_tensors(WEIGHTS)
            for name, value in module.state_dict().items():
                assert torch.equal(tensors[name], value), (key, name)
