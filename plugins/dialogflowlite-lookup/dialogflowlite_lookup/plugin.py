"""The plugin module named by the ``dialogflowlite`` entry point of this package."""

from __future__ import annotations

from dialogflowlite import hookimpl


@hookimpl
def dfl_register_components() -> list[type]:
    """Contribute the fuzzy lookup entity extractor."""
    from dialogflowlite_lookup.extractor import FuzzyLookupEntityExtractor

    return [FuzzyLookupEntityExtractor]
