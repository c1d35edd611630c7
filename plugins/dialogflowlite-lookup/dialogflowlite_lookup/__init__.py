"""dialogflowlite-lookup: typo-tolerant lookup-table entity extraction for dialogflowlite."""

from __future__ import annotations

__version__ = "0.1.0"
