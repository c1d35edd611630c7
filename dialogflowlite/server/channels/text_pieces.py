"""Long texts cut into the pieces a messaging platform accepts.

Platforms count a message's length in UTF-16 code units (Telegram, Messenger,
Twilio), where an emoji may count two, or in UTF-8 bytes (Webex); a reply
longer than the limit is cut at line breaks or spaces rather than refused or
truncated.
"""

from __future__ import annotations

from collections.abc import Callable


def utf16_length(text: str) -> int:
    """The length in UTF-16 code units (an emoji may count two)."""
    return len(text.encode("utf-16-le")) // 2


def utf16_units(char: str) -> int:
    """UTF-16 code units of one character."""
    return 2 if ord(char) > 0xFFFF else 1


def utf8_bytes(char: str) -> int:
    """UTF-8 bytes of one character (Webex counts a message's bytes)."""
    return len(char.encode("utf-8"))


def split_text(text: str, limit: int, size: Callable[[str], int] = utf16_units) -> list[str]:
    """``text`` in pieces of at most ``limit`` units, cut at line breaks or spaces.

    ``size`` gives one character's units: UTF-16 code units by default, or
    :func:`utf8_bytes` for a platform that counts bytes. A piece ends at the
    last line break that fits, else the last space, else exactly at the
    limit; the break itself is dropped. Nothing else is lost.
    """
    pieces: list[str] = []
    rest = text
    while sum(map(size, rest)) > limit:
        fits, units = 0, 0
        for char in rest:
            units += size(char)
            if units > limit:
                break
            fits += 1
        head = rest[:fits]
        cut = head.rfind("\n")
        if cut < fits // 2:
            cut = head.rfind(" ")
        if cut < fits // 2:
            # no break in the second half: a hard cut beats a run of tiny pieces
            pieces.append(head)
            rest = rest[fits:]
        else:
            pieces.append(head[:cut])
            rest = rest[cut + 1:]
    pieces.append(rest)
    return [piece for piece in pieces if piece.strip()]
