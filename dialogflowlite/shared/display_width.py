"""How wide text shows in a terminal, for tables whose rows hold names in any script.

A Chinese or Japanese character takes two columns, a combining mark none;
``str.ljust`` counts characters, so a column of such names went out of line.
"""

from __future__ import annotations

import unicodedata


def display_width(text: str) -> int:
    """The columns ``text`` takes in a terminal: wide and full-width characters two,
    combining marks and zero-width characters none, the rest one."""
    width = 0
    for char in text:
        if unicodedata.combining(char) or unicodedata.category(char) in ("Mn", "Me", "Cf"):
            continue
        width += 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1
    return width


def pad(text: str, width: int) -> str:
    """``text`` followed by spaces up to ``width`` display columns."""
    return text + " " * max(0, width - display_width(text))
