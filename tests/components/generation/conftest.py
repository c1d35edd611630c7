"""Fixtures of the generation tests."""

from __future__ import annotations

from pathlib import Path

import pytest
from generation_project import write_generation_project


@pytest.fixture
def generation_project(tmp_path: Path) -> Path:
    """The small restaurant project of :mod:`generation_project`."""
    return write_generation_project(tmp_path / "project")
