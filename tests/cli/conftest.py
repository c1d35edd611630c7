"""Fixtures of the command-line tests: the tiny bot of the server tests, trained once.

``tests/server/serving_helpers.py`` is loaded here as the module
``serving_helpers``, so the test files of this folder can ``import
serving_helpers`` (its folder is not on the import path).
"""

from __future__ import annotations

import importlib.util
import shutil
import sys
from pathlib import Path

import pytest


def _load_serving_helpers() -> None:
    if "serving_helpers" in sys.modules:
        return
    path = Path(__file__).resolve().parents[1] / "server" / "serving_helpers.py"
    spec = importlib.util.spec_from_file_location("serving_helpers", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["serving_helpers"] = module
    spec.loader.exec_module(module)


_load_serving_helpers()


@pytest.fixture(scope="session")
def tiny_bot_model(tmp_path_factory) -> Path:
    """The tiny bot's model, trained once for the session."""
    import serving_helpers

    from dialogflowlite.training.trainer import TrainOptions, train

    root = serving_helpers.write_tiny_project(tmp_path_factory.mktemp("cli-tinybot"))
    return train(root, options=TrainOptions(progress=False)).model_path


@pytest.fixture
def tiny_bot(tmp_path: Path, tiny_bot_model: Path) -> Path:
    """A fresh copy of the tiny bot's project, with its trained model under models/."""
    import serving_helpers

    root = serving_helpers.write_tiny_project(tmp_path / "bot")
    (root / "models").mkdir()
    shutil.copy(tiny_bot_model, root / "models" / tiny_bot_model.name)
    return root
