"""A Rasa model left under models/ is found and named as one, without ``--model`` too."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from plain_data import packed

from dialogflowlite.artifact import latest_model
from dialogflowlite.cli.main import main

RASA_3 = {"metadata.json": "{}", "components/train_DIETClassifier0/model.pkl": "x"}


def test_a_folder_with_only_rasa_models_gives_the_newest(tmp_path: Path) -> None:
    older = packed(tmp_path / "models" / "20240101-100000.tar.gz", RASA_3)
    newer = packed(tmp_path / "models" / "20240102-100000.tar.gz", RASA_3)
    os.utime(older, (1_700_000_000, 1_700_000_000))
    os.utime(newer, (1_700_000_100, 1_700_000_100))
    assert latest_model(tmp_path / "models") == newer


def test_a_model_of_this_framework_wins_over_a_newer_rasa_model(tmp_path: Path) -> None:
    models = tmp_path / "models"
    ours = packed(models / "20240101-100000.tar", {"manifest.json": "{}"})
    rasa = packed(models / "20240102-100000.tar.gz", RASA_3)
    os.utime(ours, (1_700_000_000, 1_700_000_000))
    os.utime(rasa, (1_700_000_100, 1_700_000_100))
    assert latest_model(models) == ours


def test_an_empty_folder_has_no_model(tmp_path: Path) -> None:
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "notes.gz").write_text("x", encoding="utf-8")
    assert latest_model(tmp_path / "models") is None


@pytest.mark.parametrize("command", ["run", "shell"])
def test_run_and_shell_name_a_rasa_model_under_models(tmp_path: Path, capsys,
                                                      command: str) -> None:
    packed(tmp_path / "models" / "20240101-100000.tar.gz", RASA_3)
    assert main([command, "--project", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "is a Rasa model (it holds metadata.json)" in err
    assert "dialogflowlite train" in err
    assert "no model under" not in err


def test_rasa_models_can_be_left_out(tmp_path: Path) -> None:
    packed(tmp_path / "models" / "20240101-100000.tar.gz", RASA_3)
    assert latest_model(tmp_path / "models", include_rasa=False) is None


def test_training_next_to_a_rasa_model_reuses_nothing_and_warns_nothing(tmp_path: Path,
                                                                         caplog) -> None:
    from dialogflowlite.training.trainer import TrainOptions, _previous_model

    packed(tmp_path / "models" / "20240101-100000.tar.gz", RASA_3)
    with caplog.at_level("WARNING"):
        assert _previous_model(tmp_path / "models", TrainOptions()) is None
    assert not [r for r in caplog.records if r.levelname == "WARNING"]


def test_serving_pulls_a_model_when_models_holds_only_a_rasa_model(tmp_path: Path,
                                                                   monkeypatch) -> None:
    from dialogflowlite.errors import ConfigError
    from dialogflowlite.server import model_server, serve
    from dialogflowlite.server.app import ServerConfig

    packed(tmp_path / "models" / "20240101-100000.tar.gz", RASA_3)
    pulls: list[str] = []

    class Unreachable:
        folder = tmp_path / "models"
        url = "http://models.example/model.tar"
        no_model_reason = "it cannot be reached (ClientConnectorError)"
        wait_time_between_pulls = None  # pulled once: no model is an error

        async def pull(self):
            pulls.append(self.url)
            return None

    monkeypatch.setattr(model_server.ModelServer, "from_config",
                        staticmethod(lambda *args: Unreachable()))
    with pytest.raises(ConfigError, match="none could be pulled"):
        serve._first_model_from_server(ServerConfig(project=str(tmp_path)),
                                       {"models": {"url": Unreachable.url}})
    assert pulls == [Unreachable.url]
