"""dialogflowlite: task-oriented chatbots in the Rasa style, on PyTorch.

The public API is small on purpose:

* :func:`load_project` reads a project folder;
* :func:`train` trains it into one model file;
* :class:`Agent` loads a trained model and answers messages;
* :data:`hookimpl` marks a plugin's hook implementations.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pluggy

__version__ = "0.1.0"

#: project name of the pluggy hooks; entry-point group of outside plugins
PROJECT_NAME = "dialogflowlite"

hookimpl = pluggy.HookimplMarker(PROJECT_NAME)

if TYPE_CHECKING:
    from dialogflowlite.agent import Agent
    from dialogflowlite.io.loader import load_project
    from dialogflowlite.training.trainer import train

__all__ = ["Agent", "__version__", "hookimpl", "load_project", "train"]


def __getattr__(name: str) -> Any:
    # Heavy parts (torch, transformers) load only when asked for.
    if name == "load_project":
        from dialogflowlite.io.loader import load_project

        return load_project
    if name == "train":
        from dialogflowlite.training.trainer import train

        return train
    if name == "Agent":
        from dialogflowlite.agent import Agent

        return Agent
    raise AttributeError(f"module 'dialogflowlite' has no attribute {name!r}")
