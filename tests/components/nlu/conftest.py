from __future__ import annotations

import pytest
from tiny_nlu import TinyPlugin


@pytest.fixture
def tiny_classifier(register_plugin) -> None:
    """Make ``TinyClassifier`` available to config.yml pipelines in this test."""
    register_plugin(TinyPlugin(), "tiny-nlu")
