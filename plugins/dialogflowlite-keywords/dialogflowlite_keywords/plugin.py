"""The plugin module named by the ``dialogflowlite`` entry point of this package."""

from __future__ import annotations

from dialogflowlite import hookimpl


@hookimpl
def dfl_register_components() -> list:
    """Contribute the keyword intent classifier."""
    from dialogflowlite_keywords.classifier import KeywordIntentClassifier

    return [KeywordIntentClassifier]
