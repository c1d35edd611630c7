"""Fingerprints: a stable hash of everything a component's training depends on.

If a component's fingerprint equals the one stored in the previous model, its
trained resources are copied instead of retrained.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from enum import Enum
from pathlib import Path
from typing import Any

from dialogflowlite import __version__


def _default(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: getattr(value, f.name) for f in dataclasses.fields(value)
                if f.name != "position"}
    if isinstance(value, (set, frozenset)):
        return sorted(value, key=repr)
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Path):
        return str(value)
    return repr(value)


def fingerprint(*parts: Any) -> str:
    """A hex digest of ``parts`` (JSON-able values or dataclasses; positions are left out).

    The package version is part of every fingerprint, so upgrading retrains.
    """
    payload = json.dumps([__version__, *parts], sort_keys=True, default=_default,
                         ensure_ascii=False)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:32]
