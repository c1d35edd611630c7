"""Long texts cut into the pieces a messaging platform accepts.

Platforms count a message's length in UTF-16 code units (Telegram, Messenger,
Twilio), where an emoji may count two; a reply longer than the limit is cut
at line breaks or spaces rather than refused or truncated.
"""

from __future__ import annotations


def utf16_length(text: str) -> int:
    """The length in UTF-16 code units (an emoji may count two)."""
    return len(text.encode("utf-16-le")) // 2


def split_text(text: str, limit: int) -> list[str]:
    """``text`` in pieces of at most ``limit`` UTF-16 units, cut at line breaks or spaces.

    A piece ends at the last line break that fits, else the last space, else
    exactly at the limit; the break itself is dropped. Nothing else is lost.
    """
    pieces: list[str] = []
    rest = text
    while utf16_length(rest) > limit:
        fits, units = 0, 0
        for char in rest:
            units += 2 if ord(char) > 0xFFFF else 1
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
