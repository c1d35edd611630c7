"""dialogflowlite-keywords: a keyword intent classifier plugin for dialogflowlite."""

from __future__ import annotations

__version__ = "0.1.0"
