"""Reading JSON that comes from outside: a client, a channel, an action server.

:func:`loads` is :func:`json.loads` that also refuses what would be stored and
then break the conversation later:

* ``NaN``, ``Infinity`` and ``-Infinity`` (and numbers like ``1e400`` that only
  fit a float as infinity): Python reads them, but writing them back gives text
  that is not JSON, so every later answer about the conversation is invalid;
* nesting deeper than :data:`MAX_DEPTH` objects and arrays: Python's parser
  fails with a RecursionError around 1,000 levels, and copying a value stored
  a few hundred levels deep (``copy.deepcopy``, as trackers do) fails the same
  way long after it was accepted;
* a lone UTF-16 surrogate written as an escape (``"\\ud800"`` without its
  other half): Python reads it into a string, but no store can write that
  string as UTF-8, so the turn it came with would fail after it had run.

Each is a :class:`~dialogflowlite.errors.JsonContentError`, which is also a
``ValueError`` like the json module's own errors.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from dialogflowlite.errors import JsonContentError

#: the most objects and arrays nested inside one another that are accepted
MAX_DEPTH = 64
_SURROGATE = re.compile("[\ud800-\udfff]")


def loads(text: str | bytes, *, max_depth: int = MAX_DEPTH) -> Any:
    """The value of the JSON ``text``; ValueError when it is not JSON, and
    :class:`JsonContentError` when it holds a non-finite number, nests deeper
    than ``max_depth`` or holds a lone surrogate."""
    if isinstance(text, bytes):
        # strictly UTF-8, as JSON between systems is (RFC 8259): json.loads would read
        # UTF-16 and UTF-32 too, and UTF-8 bytes of a lone surrogate (surrogatepass)
        text = text.decode("utf-8")
    try:
        value = json.loads(text, parse_constant=_refuse_constant, parse_float=_finite_float)
    except RecursionError as e:
        raise _too_deep(max_depth) from e
    if depth_exceeds(value, max_depth):
        raise _too_deep(max_depth)
    # a lone surrogate comes from a \\u escape, or stands in the text itself (a str
    # made with surrogateescape): without either, the walk through the value is spared
    if "\\u" in text or _SURROGATE.search(text):
        where = lone_surrogate_path(value)
        if where is not None:
            raise JsonContentError(
                f"the text at '{where}' holds a lone UTF-16 surrogate (a \\ud800-\\udfff "
                "escape without its other half), which is no character and cannot be stored",
                hint="send the character whole: both halves of its surrogate pair",
                field=where)
    return value


def lone_surrogate_path(value: Any) -> str | None:
    """Where in ``value`` a string (or an object's key) holds a lone surrogate, as a
    path like ``events[0].text`` (``body`` for ``value`` itself), or None."""
    # depth first, in the order the value is written: the first one found is named
    stack: list[tuple[Any, str]] = [(value, "")]
    while stack:
        item, path = stack.pop()
        if isinstance(item, str):
            if _has_surrogate(item):
                return path or "body"
        elif isinstance(item, dict):
            children = []
            for key, child in item.items():
                child_path = f"{path}.{key}" if path else str(key)
                if _has_surrogate(str(key)):
                    return child_path.encode("utf-8", "backslashreplace").decode("ascii")
                children.append((child, child_path))
            stack.extend(reversed(children))
        elif isinstance(item, list):
            stack.extend(reversed([(child, f"{path}[{index}]")
                                   for index, child in enumerate(item)]))
    return None


def _has_surrogate(text: str) -> bool:
    return _SURROGATE.search(text) is not None


def depth_exceeds(value: Any, max_depth: int = MAX_DEPTH) -> bool:
    """Whether ``value`` nests more than ``max_depth`` dicts and lists inside one another."""
    # an explicit stack: the values checked may be too deep for recursion
    stack = [(value, 1)] if isinstance(value, (dict, list)) else []
    while stack:
        item, depth = stack.pop()
        if depth > max_depth:
            return True
        children = item.values() if isinstance(item, dict) else item
        stack.extend((child, depth + 1) for child in children
                     if isinstance(child, (dict, list)))
    return False


def _refuse_constant(name: str) -> Any:
    raise JsonContentError(f"{name} is not valid JSON: NaN, Infinity and -Infinity are not "
                           "JSON numbers", hint="send null, or the number as a string")


def _finite_float(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        shown = text if len(text) <= 20 else text[:17] + "..."
        raise JsonContentError(f"the number {shown} is too large (JSON numbers must be "
                               "finite)", hint="send it as a string")
    return number


def _too_deep(max_depth: int) -> JsonContentError:
    return JsonContentError(f"the JSON nests deeper than {max_depth} levels of objects and "
                            "arrays, the most accepted")
