"""dialogflowlite-jieba: Chinese word segmentation with jieba for dialogflowlite."""

from __future__ import annotations

__version__ = "0.1.0"
