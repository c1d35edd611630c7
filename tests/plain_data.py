"""Helpers for tests that compare what two readers (or a reader and a writer) produce,
check what a writer added to a file, write project files (and model archives), and train
a project once to copy its model into fresh copies."""

from __future__ import annotations

import dataclasses
import difflib
import shutil
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest


def plain(value: Any) -> Any:
    """Dataclasses as dicts without positions (nor fields left out of comparing, such
    as where a message's metadata was written), to compare what two readers produce."""
    if dataclasses.is_dataclass(value):
        return {
            f.name: plain(getattr(value, f.name))
            for f in dataclasses.fields(value)
            if f.name != "position" and f.compare
        }
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    return value


def added_lines(before: str, after: str) -> list[str]:
    """The non-blank lines ``after`` adds to ``before``, failing if any of ``before``'s
    lines changed, moved or went (a writer that adds to an author's file keeps every
    line of it)."""
    old, new = before.splitlines(), after.splitlines()
    added = []
    for tag, _, _, start, end in difflib.SequenceMatcher(None, old, new,
                                                         autojunk=False).get_opcodes():
        assert tag in ("equal", "insert"), f"lines of the author's file changed:\n{after}"
        if tag == "insert":
            added += new[start:end]
    return [line for line in added if line.strip()]


def write(folder: Path, name: str, text: str) -> Path:
    """Write dedented ``text`` to ``folder/name`` (folders made); the file's path."""
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def write_files(folder: Path, files: dict[str, str]) -> Path:
    """:func:`write` each of ``files`` (relative path to text) under ``folder``; the folder."""
    for name, text in files.items():
        write(folder, name, text)
    return folder


def files_under(root: Path) -> set[str]:
    """Every file below ``root``, as paths relative to it with forward slashes."""
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}


def packed(target: Path, files: dict[str, str]) -> Path:
    """A gzipped tar at ``target`` holding ``files`` (member name -> text, written as
    is), as Rasa packs its models; ``target``."""
    import tarfile

    target.parent.mkdir(parents=True, exist_ok=True)
    source = target.parent / f"{target.name}.files"
    with tarfile.open(target, "w:gz") as tar:
        for name, text in files.items():
            path = source / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            tar.add(path, arcname=name)
    return target


def train_model(root: Path) -> Path:
    """Train the project at ``root`` quietly; the model file's path."""
    from dialogflowlite.training.trainer import TrainOptions, train

    return train(root, options=TrainOptions(progress=False)).model_path


def with_model(root: Path, model: Path) -> Path:
    """Copy ``model`` (trained once for many tests) under ``root/models``; ``root``."""
    (root / "models").mkdir()
    shutil.copy(model, root / "models" / model.name)
    return root


def trained_copies(write_project: Callable[[Path], Path], name: str) -> tuple[Any, Any]:
    """The fixtures ``(trained, project)`` of a module whose tests each chat with a fresh
    copy of one project: ``trained`` trains it once for the module (under a temporary
    folder called ``name``), ``project`` writes it again under the test's own folder,
    with that model. ``write_project(folder)`` writes the project's files; ``folder``.

    Assign both to the names the tests ask for: ``trained, project = trained_copies(...)``.
    """

    @pytest.fixture(scope="module")
    def trained(tmp_path_factory) -> Path:
        return train_model(write_project(tmp_path_factory.mktemp(name)))

    @pytest.fixture
    def project(tmp_path: Path, trained: Path) -> Path:
        return with_model(write_project(tmp_path / "bot"), trained)

    return trained, project
