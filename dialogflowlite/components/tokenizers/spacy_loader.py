"""Loading spaCy pipelines once per process, shared by every component that needs one.

A named pipeline (``en_core_web_md``, or a folder holding one) must be
installed; without a name, ``spacy.blank(language)`` gives spaCy's rule-based
tokenizer for that language, which needs no download.
"""

from __future__ import annotations

import importlib.util
import json
from functools import lru_cache
from pathlib import Path
from typing import Any

from dialogflowlite.errors import ComponentConfigError, Position


def _meta_path(name: str) -> Path | None:
    folder = Path(name).expanduser()
    if (folder / "meta.json").is_file():
        return folder / "meta.json"
    if not name.isidentifier():
        return None
    # An installed pipeline is a Python package with meta.json inside; finding it
    # this way avoids importing spaCy just to learn that a pipeline is missing.
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return None
    for location in (spec.submodule_search_locations or []) if spec else []:
        if (Path(location) / "meta.json").is_file():
            return Path(location) / "meta.json"
    return None


def spacy_pipeline_installed(name: str) -> bool:
    """Whether the spaCy pipeline ``name`` (a package or a folder) can be loaded offline."""
    return _meta_path(name) is not None


def spacy_pipeline_components(name: str) -> list[str]:
    """The components of an installed pipeline, read from its meta.json without loading it."""
    path = _meta_path(name)
    if path is None:
        return []
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return []
    return list(meta.get("pipeline") or [])


def missing_pipeline_error(
    name: str, owner: str, position: Position | None = None
) -> ComponentConfigError:
    """The error for a named spaCy pipeline that is not installed."""
    return ComponentConfigError(
        f"{owner}: the spaCy pipeline '{name}' is not installed",
        position=position,
        hint=f"install it (`python -m spacy download {name}`), or remove `model:` to use "
        "spaCy's rule-based tokenizer for the project's language",
    )


@lru_cache(maxsize=8)
def load_spacy(model: str | None, language: str) -> Any:
    """The spaCy ``Language`` for ``model`` (installed pipeline) or a blank ``language`` one."""
    import spacy

    if model:
        if not spacy_pipeline_installed(model):
            raise missing_pipeline_error(model, "spaCy")
        return spacy.load(model)
    try:
        return spacy.blank(language)
    except (ImportError, KeyError, ValueError) as e:
        raise ComponentConfigError(
            f"spaCy cannot build a tokenizer for language '{language}': {e}",
            hint="install what spaCy asks for, set `model:` to an installed pipeline, or use "
            "WhitespaceTokenizer",
        ) from e
