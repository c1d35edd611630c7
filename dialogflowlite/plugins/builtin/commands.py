"""Built-in plugin: the command-line commands."""

from __future__ import annotations

from dialogflowlite import hookimpl


@hookimpl
def dfl_register_commands() -> list:
    from dialogflowlite.cli import data, init, plugins

    return [plugins.COMMAND, init.COMMAND, data.COMMAND]
