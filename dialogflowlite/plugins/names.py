"""How plugins are named: built-in ones by the last part of their module.

A leaf module (it imports nothing of dialogflowlite), so that the exception tree
can name a plugin as ``dialogflowlite plugins`` lists it without depending on
the plugin manager.
"""

from __future__ import annotations

#: the package of the built-in plugin modules
BUILTIN_PREFIX = "dialogflowlite.plugins.builtin."


def short_name(plugin_name: str) -> str:
    """``masking`` for the built-in ``dialogflowlite.plugins.builtin.masking``."""
    if plugin_name.startswith(BUILTIN_PREFIX):
        return plugin_name[len(BUILTIN_PREFIX) :]
    return plugin_name
