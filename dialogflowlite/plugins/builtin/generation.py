"""Built-in plugin: response generators."""

from __future__ import annotations

from dialogflowlite import hookimpl


@hookimpl
def dfl_register_components() -> list[type]:
    from dialogflowlite.components.generation.neural import NeuralResponseGenerator

    return [NeuralResponseGenerator]
