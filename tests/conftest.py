"""Shared fixtures: tiny projects written on the fly, plugin registration, shared data."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from plain_data import write_files

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("DFL_SHARED_DATA", REPO_ROOT.parent / "shared" / "data"))
RASA_PROJECTS = SHARED_DATA / "rasa_projects"

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


@pytest.fixture
def shared_data() -> Path:
    """The reference data folder (../shared/data); tests that need it skip without it."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"reference data not found at {SHARED_DATA} (set DFL_SHARED_DATA)")
    return SHARED_DATA


@pytest.fixture
def rasa_projects(shared_data: Path) -> Path:
    return shared_data / "rasa_projects"


ProjectWriter = Callable[..., Path]


@pytest.fixture
def write_project(tmp_path: Path) -> ProjectWriter:
    """Write a small project: ``write_project(domain=..., nlu=..., ...)`` -> its folder.

    Every argument is YAML text (dedented); ``files`` maps extra relative paths
    to their text. Omitted parts are simply not written.
    """

    def write(
        *,
        domain: str | None = None,
        nlu: str | None = None,
        stories: str | None = None,
        rules: str | None = None,
        config: str | None = None,
        tests: str | None = None,
        files: dict[str, str] | None = None,
        name: str = "project",
    ) -> Path:
        root = tmp_path / name
        root.mkdir(parents=True, exist_ok=True)
        parts = {
            "domain.yml": domain,
            "data/nlu.yml": nlu,
            "data/stories.yml": stories,
            "data/rules.yml": rules,
            "config.yml": config,
            "tests/test_stories.yml": tests,
            **(files or {}),
        }
        return write_files(root, {relative: text for relative, text in parts.items()
                                  if text is not None})

    return write


@pytest.fixture
def plugin_manager() -> Iterator:
    """A fresh process-wide plugin manager, forgotten again after the test."""
    from dialogflowlite.plugins.manager import get_plugin_manager, reset_plugin_manager

    reset_plugin_manager()
    try:
        yield get_plugin_manager()
    finally:
        reset_plugin_manager()


@pytest.fixture
def register_plugin(plugin_manager) -> Iterator[Callable[[object, str], None]]:
    """Register plugin objects for one test; they are unregistered in ``finally``."""
    from dialogflowlite.plugins.manager import PluginInfo

    names: list[str] = []

    def register(plugin: object, name: str) -> None:
        plugin_manager.register_plugin(plugin, name, PluginInfo(name, builtin=False))
        names.append(name)

    try:
        yield register
    finally:
        for name in names:
            plugin_manager.unregister_plugin(name)
