"""Reading vendor JSON defensively: a field of the wrong type counts as absent.

Webhook bodies come from outside; a value that is not the expected type is
treated as missing rather than raising in the middle of a turn.
"""

from __future__ import annotations

from typing import Any


def as_dict(value: Any) -> dict[str, Any]:
    """``value`` when it is a JSON object, else an empty one."""
    return value if isinstance(value, dict) else {}


def as_list(value: Any) -> list[Any]:
    """``value`` when it is a JSON array, else an empty one."""
    return value if isinstance(value, list) else []


def text_id(value: Any) -> str | None:
    """An id given as a string or a whole number, as text; None for anything else."""
    if isinstance(value, bool) or not isinstance(value, (int, str)) or value == "":
        return None
    return str(value)
