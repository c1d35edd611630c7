from __future__ import annotations

from pathlib import Path

import pytest
from tiny_nlu import TinyPlugin


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny BERT folder (tests/tiny_encoder.py), written once; tests only read it."""
    from tiny_encoder import build_tiny_encoder

    return build_tiny_encoder(tmp_path_factory.mktemp("encoder") / "tiny-bert")


@pytest.fixture
def tiny_classifier(register_plugin) -> None:
    """Make ``TinyClassifier`` available to config.yml pipelines in this test."""
    register_plugin(TinyPlugin(), "tiny-nlu")
