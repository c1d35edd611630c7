"""``run`` and ``shell`` name a model path without a model in full, and say whether the
folder holds no model or the file or folder is not there (as ``test`` and ``Agent.load``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from dialogflowlite.errors import ModelLoadError
from dialogflowlite.server.app import ServerConfig
from dialogflowlite.server.models import resolve_model_path


@pytest.fixture
def elsewhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working folder that is not the project's."""
    folder = tmp_path / "elsewhere"
    folder.mkdir()
    monkeypatch.chdir(folder)
    return folder


def _message(config: ServerConfig) -> str:
    with pytest.raises(ModelLoadError) as error:
        resolve_model_path(config)
    return error.value.message


def test_an_empty_model_folder_is_named_in_full(tmp_path: Path, elsewhere: Path) -> None:
    (tmp_path / "empty").mkdir()
    config = ServerConfig(project=str(tmp_path), model_path="empty")
    # before: "no model file in empty/"
    assert _message(config) == f"no model in {tmp_path / 'empty'}: the folder holds no model file"


def test_a_missing_model_file_is_named_in_full(tmp_path: Path, elsewhere: Path) -> None:
    config = ServerConfig(project=str(tmp_path), model_path="missing.tar")
    # before: "no model at missing.tar"; not in the project, so looked for here
    assert _message(config) == (f"no model at {elsewhere / 'missing.tar'}: the file does "
                                "not exist")
    config = ServerConfig(project=str(tmp_path), model_path="gone")
    assert _message(config) == f"no model at {elsewhere / 'gone'}: the folder does not exist"


def test_the_projects_models_folder_is_named_in_full(tmp_path: Path, elsewhere: Path) -> None:
    config = ServerConfig(project=str(tmp_path))
    # before: "no model under <project name>/models/"
    assert _message(config) == (f"no model under {tmp_path / 'models'}: the folder does not "
                                "exist")
    (tmp_path / "models").mkdir()
    assert _message(config) == (f"no model under {tmp_path / 'models'}: the folder holds no "
                                "model file")
