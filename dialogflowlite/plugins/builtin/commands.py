"""Built-in plugin: the command-line commands."""

from __future__ import annotations

from dialogflowlite import hookimpl


@hookimpl
def dfl_register_commands() -> list:
    from dialogflowlite.cli import data, init, plugin_new, plugins
    from dialogflowlite.cli import evaluate as evaluate_command
    from dialogflowlite.cli import export as export_command
    from dialogflowlite.cli import interactive as interactive_command
    from dialogflowlite.cli import run as run_command
    from dialogflowlite.cli import shell as shell_command
    from dialogflowlite.cli import test as test_command
    from dialogflowlite.cli import train as train_command
    from dialogflowlite.cli import visualize as visualize_command

    return [plugins.COMMAND, init.COMMAND, data.COMMAND, data.SPLIT_NLU_COMMAND,
            data.SPLIT_STORIES_COMMAND, data.CONVERT_NLU_COMMAND, data.CONVERT_CORE_COMMAND,
            data.CONVERT_NLG_COMMAND,
            data.MIGRATE_COMMAND,
            run_command.COMMAND,
            shell_command.COMMAND,
            train_command.COMMAND, test_command.COMMAND, plugin_new.COMMAND,
            export_command.COMMAND, visualize_command.COMMAND, interactive_command.COMMAND,
            evaluate_command.COMMAND]
