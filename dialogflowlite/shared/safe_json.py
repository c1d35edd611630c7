"""Reading JSON that comes from outside: a client, a channel, an action server.

:func:`loads` is :func:`json.loads` that also refuses what would be stored and
then break the conversation later:

* ``NaN``, ``Infinity`` and ``-Infinity`` (and numbers like ``1e400`` that only
  fit a float as infinity): Python reads them, but writing them back gives text
  that is not JSON, so every later answer about the conversation is invalid;
* nesting deeper than :data:`MAX_DEPTH` objects and arrays: Python's parser
  fails with a RecursionError around 1,000 levels, and copying a value stored
  a few hundred levels deep (``copy.deepcopy``, as trackers do) fails the same
  way long after it was accepted.

Both are a :class:`~dialogflowlite.errors.JsonContentError`, which is also a
``ValueError`` like the json module's own errors.
"""

from __future__ import annotations

import json
import math
from typing import Any

from dialogflowlite.errors import JsonContentError

#: the most objects and arrays nested inside one another that are accepted
MAX_DEPTH = 64


def loads(text: str | bytes, *, max_depth: int = MAX_DEPTH) -> Any:
    """The value of the JSON ``text``; ValueError when it is not JSON, and
    :class:`JsonContentError` when it holds a non-finite number or nests deeper
    than ``max_depth``."""
    try:
        value = json.loads(text, parse_constant=_refuse_constant, parse_float=_finite_float)
    except RecursionError as e:
        raise _too_deep(max_depth) from e
    if depth_exceeds(value, max_depth):
        raise _too_deep(max_depth)
    return value


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
