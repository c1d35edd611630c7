"""Model files: what is written when packing stops, and what a wrong file given as a model says."""

from __future__ import annotations

import tarfile
from pathlib import Path

import pytest

from dialogflowlite.artifact import ModelWriter, open_model
from dialogflowlite.errors import ModelLoadError


def _writer() -> ModelWriter:
    writer = ModelWriter()
    writer.storage("nlu").write_text("settings.json", "{}")
    return writer


def test_a_model_written_in_full_opens(tmp_path: Path) -> None:
    writer = _writer()
    try:
        target = writer.save(tmp_path / "models" / "m.tar")
    finally:
        writer.close()
    with open_model(target) as model:
        assert model.storage("nlu").read_text("settings.json") == "{}"
    assert sorted(p.name for p in target.parent.iterdir()) == ["m.tar"]


def test_packing_stopped_half_way_leaves_no_file(tmp_path: Path, monkeypatch) -> None:
    def interrupted(self, *args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(tarfile.TarFile, "add", interrupted)
    writer = _writer()
    try:
        with pytest.raises(KeyboardInterrupt):
            writer.save(tmp_path / "models" / "m.tar")
    finally:
        writer.close()
    assert list((tmp_path / "models").iterdir()) == []


def test_a_file_that_is_no_archive_is_named_as_not_a_model(tmp_path: Path) -> None:
    domain = tmp_path / "domain.yml"
    domain.write_text('version: "3.1"\nintents: [greet]\n' * 40)
    with pytest.raises(ModelLoadError, match="is not a model file") as raised:
        open_model(domain)
    assert "damaged" not in raised.value.render()


def test_a_cut_off_model_is_named_as_damaged(tmp_path: Path) -> None:
    writer = _writer()
    try:
        whole = writer.save(tmp_path / "m.tar")
    finally:
        writer.close()
    cut = tmp_path / "cut.tar"
    cut.write_bytes(whole.read_bytes()[:700])
    with pytest.raises(ModelLoadError, match="is damaged"):
        open_model(cut)
