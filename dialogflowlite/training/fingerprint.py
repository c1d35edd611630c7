"""Fingerprints: a stable hash of everything a component's training depends on.

If a component's fingerprint equals the one stored in the previous model, its
trained resources are copied instead of retrained. A component's code is part
of its fingerprint through :func:`component_identity`: its class, its
``revision`` and the version of the package it comes from.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
from enum import Enum
from importlib import metadata
from pathlib import Path
from typing import Any

from dialogflowlite import __version__


def _default(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        from dialogflowlite.shared.domain import POSITION_FIELDS

        # where a thing is written is no part of what it means (a line moved must
        # not retrain anything)
        return {f.name: getattr(value, f.name) for f in dataclasses.fields(value)
                if f.name not in POSITION_FIELDS}
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


def component_identity(cls: type) -> dict[str, Any]:
    """What stands for a component's code in its fingerprint.

    Its class, its ``revision`` (bumped by its author when a saved component
    should not be reused) and the version of the installed package that
    defines it, so upgrading a plugin retrains the plugin's components as
    upgrading dialogflowlite retrains all of them.
    """
    return {
        "class": f"{cls.__module__}.{cls.__qualname__}",
        "revision": getattr(cls, "revision", 1),
        "package": _package_version(cls.__module__.partition(".")[0]),
    }


def _package_version(top_level: str) -> str | None:
    """``name==version`` of the distributions that install module ``top_level``
    (None for dialogflowlite itself, already in every fingerprint, and for
    modules no distribution installs)."""
    if top_level == "dialogflowlite":
        return None
    names = sorted(set(_distributions().get(top_level, ())))
    versions = []
    for name in names:
        try:
            versions.append(f"{name}=={metadata.version(name)}")
        except metadata.PackageNotFoundError:
            continue
    return ", ".join(versions) or None


@functools.cache
def _distributions() -> dict[str, list[str]]:
    # reading every installed distribution takes about 0.1 s: once per process
    return dict(metadata.packages_distributions())
