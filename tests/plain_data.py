"""Helpers for tests that compare what two readers (or a reader and a writer) produce,
write project files, and train a project once to copy its model into fresh copies."""

from __future__ import annotations

import dataclasses
import shutil
import textwrap
from pathlib import Path
from typing import Any


def plain(value: Any) -> Any:
    """Dataclasses as dicts without positions, to compare what two readers produce."""
    if dataclasses.is_dataclass(value):
        return {
            f.name: plain(getattr(value, f.name))
            for f in dataclasses.fields(value)
            if f.name != "position"
        }
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    return value


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


def train_model(root: Path) -> Path:
    """Train the project at ``root`` quietly; the model file's path."""
    from dialogflowlite.training.trainer import TrainOptions, train

    return train(root, options=TrainOptions(progress=False)).model_path


def with_model(root: Path, model: Path) -> Path:
    """Copy ``model`` (trained once for many tests) under ``root/models``; ``root``."""
    (root / "models").mkdir()
    shutil.copy(model, root / "models" / model.name)
    return root
