"""Which plugin registered each name of one kind: components, actions, channels, ...

Two plugins registering the same name would otherwise leave one of the two
unused without a word (a webhook answering 404, an action that runs another
plugin's code), so the second claim is a :class:`PluginError` naming both
plugins.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from dialogflowlite.errors import PluginError
from dialogflowlite.plugins.names import short_name

#: finds the claimed name that a new name cannot sit beside, or None
Clash = Callable[[str, Iterable[str]], "str | None"]


def same_name(name: str, taken: Iterable[str]) -> str | None:
    """``name`` itself, when it is taken."""
    return name if name in taken else None


def same_name_ignoring_case(name: str, taken: Iterable[str]) -> str | None:
    """The taken name that equals ``name`` ignoring case (``Files`` and ``files``)."""
    return next((other for other in taken if other.lower() == name.lower()), None)


class NameClaims:
    """The names of one kind registered so far, each with its plugin and object.

    ``kind`` names the thing in the error (``"channel name"``); ``hook`` and
    ``hint`` go into it as they are. ``clash`` decides which taken name a new one
    collides with (by default the same name). The same object registered twice
    under one name is no clash unless ``allow_same`` is False.
    """

    def __init__(self, kind: str, hook: str, hint: str, *, clash: Clash = same_name,
                 allow_same: bool = True) -> None:
        self.kind = kind
        self.hook = hook
        self.hint = hint
        self.clash = clash
        self.allow_same = allow_same
        self.owners: dict[str, str] = {}
        self._objects: dict[str, object] = {}

    def claim(self, name: str, plugin: str, obj: object = None) -> None:
        """Record that ``plugin`` registers ``obj`` as ``name``; a :class:`PluginError`
        when another registration holds a clashing name."""
        taken = self.clash(name, self.owners)
        if taken is not None and not (self.allow_same and self._objects[taken] is obj):
            owner = short_name(self.owners[taken])
            if taken.lower() == name.lower():
                message = f"{self.kind} {name!r} is already registered by plugin {owner!r}"
            else:
                message = (f"{self.kind} {name!r} clashes with the {self.kind} {taken!r} "
                           f"of plugin {owner!r}")
            raise PluginError(message, plugin=plugin, hook=self.hook, hint=self.hint)
        self.owners[name] = plugin
        self._objects[name] = obj
