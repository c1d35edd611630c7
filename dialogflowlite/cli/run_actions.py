"""``dialogflowlite run actions``: rasa-sdk's action server, started as ``rasa run actions`` does.

The action server is rasa-sdk's own program (``python -m rasa_sdk``); this
only checks that rasa-sdk is installed, translates the options and then
becomes that program (the process is replaced, so signals from Docker or
systemd reach the action server itself and its exit code is the command's).
Custom actions can also run inside the bot's process, without an action
server: see "In-process custom actions" in docs/dialogue.md.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from dataclasses import dataclass, replace
from pathlib import Path

from dialogflowlite.dialogue.remote_actions import installed_sdk_version
from dialogflowlite.errors import ConfigError

#: rasa-sdk's port, which endpoints.yml's ``action_endpoint`` usually points at
DEFAULT_ACTIONS_PORT = 5055
#: the module rasa-sdk loads actions from when ``--actions`` is not given (as in Rasa)
DEFAULT_ACTIONS_MODULE = "actions"
#: the first rasa-sdk that takes ``--endpoints`` (the file with its tracing settings)
SDK_WITH_ENDPOINTS = (3, 8)


@dataclass(frozen=True)
class ActionServerOptions:
    """What ``run actions`` passes on to rasa-sdk.

    ``host`` goes to rasa-sdk through ``SANIC_HOST`` (it has no option for it);
    ``log_level`` is ``"debug"``, ``"quiet"`` or None (rasa-sdk's INFO);
    ``log_file`` is rasa-sdk's ``--log-file``; ``endpoints`` is rasa-sdk's
    ``--endpoints`` (its tracing settings; rasa-sdk 3.8 and later), passed only
    when given, so that an older rasa-sdk starts as before.
    """

    actions: str = DEFAULT_ACTIONS_MODULE
    port: int = DEFAULT_ACTIONS_PORT
    cors: tuple[str, ...] = ()
    ssl_certificate: str | None = None
    ssl_keyfile: str | None = None
    ssl_password: str | None = None
    auto_reload: bool = False
    log_level: str | None = None
    log_file: str | None = None
    host: str | None = None
    endpoints: str | None = None


def action_server_arguments(options: ActionServerOptions) -> list[str]:
    """The arguments of ``python -m rasa_sdk`` for ``options`` (rasa-sdk's option names)."""
    argv = ["--actions", options.actions, "--port", str(options.port)]
    if options.cors:
        argv += ["--cors", *options.cors]  # rasa-sdk takes the origins after one --cors
    for option, value in (("--ssl-certificate", options.ssl_certificate),
                          ("--ssl-keyfile", options.ssl_keyfile),
                          ("--ssl-password", options.ssl_password)):
        if value:
            argv += [option, value]
    if options.auto_reload:
        argv.append("--auto-reload")
    if options.log_level:
        argv.append(f"--{options.log_level}")
    if options.log_file:
        argv += ["--log-file", options.log_file]
    if options.endpoints:
        argv += ["--endpoints", options.endpoints]
    return argv


def check_actions_module(name: str) -> None:
    """Refuse a file path where rasa-sdk wants a module name (its own error is terse)."""
    if "/" in name or "\\" in name or name.endswith(".py"):
        module = name.removesuffix(".py").replace("\\", "/").strip("/").replace("/", ".")
        raise ConfigError(f"--actions {name}: rasa-sdk loads actions from a Python module, "
                          "not a file path",
                          hint=f"write it with dots, as for import: --actions {module}")


def check_rasa_sdk() -> None:
    """Fail with a clear error when the ``rasa_sdk`` package cannot be imported."""
    try:
        found = importlib.util.find_spec("rasa_sdk") is not None
    except (ImportError, ValueError):
        found = False
    if not found:
        raise ConfigError(
            "`run actions` starts rasa-sdk's action server, and rasa-sdk is not installed",
            hint="pip install rasa-sdk (each rasa-sdk pins its Sanic: one older than 3.20 "
                 "needs a virtual environment of its own, where `python -m rasa_sdk "
                 "--actions actions` starts it as this command would); or run the actions "
                 "inside the bot's own process through a plugin (docs/dialogue.md, "
                 "\"In-process custom actions\"), which needs no action server")


def endpoints_file(name: str, folder: Path) -> str:
    """The absolute path of the ``--endpoints`` file: relative to the working folder,
    else to the project (as for the bot server), since rasa-sdk runs in the project."""
    path = Path(name).expanduser()
    if not path.is_absolute() and not path.is_file() and (folder / path).is_file():
        path = folder / path
    if not path.is_file():
        raise ConfigError(f"--endpoints {name}: the file does not exist"
                          + (" (it is a folder)" if path.is_dir() else ""),
                          hint="pass the endpoints file that holds rasa-sdk's `tracing:` "
                               "settings, or leave --endpoints out")
    version = installed_sdk_version()
    if version is not None and version < SDK_WITH_ENDPOINTS:
        raise ConfigError(f"--endpoints {name}: rasa-sdk {version[0]}.{version[1]} has no "
                          "--endpoints (rasa-sdk takes it from 3.8 on, for its tracing)",
                          hint="upgrade rasa-sdk, or leave --endpoints out")
    return str(path.resolve())


def start_action_server(options: ActionServerOptions, folder: str | Path = ".") -> int:
    """Become rasa-sdk's action server, run in ``folder`` (where the actions module is).

    Returns only where a process cannot be replaced (Windows): then the
    action server runs as a child and its exit code is returned.
    """
    check_actions_module(options.actions)
    check_rasa_sdk()
    folder = Path(folder)
    if not folder.is_dir():
        raise ConfigError(f"the project folder {folder} does not exist",
                          hint="pass the folder that holds the actions module with --project")
    if options.endpoints:
        # rasa-sdk runs in the project folder: a relative path would change meaning there
        options = replace(options, endpoints=endpoints_file(options.endpoints, folder))
    if options.log_file:
        # likewise: the log goes where the user ran the command, which is also
        # where this process's own log set-up has created the file already
        options = replace(options, log_file=str(Path(options.log_file).expanduser().resolve()))
    env = dict(os.environ)
    if options.host:
        env["SANIC_HOST"] = options.host
    argv = [sys.executable, "-m", "rasa_sdk", *action_server_arguments(options)]
    if os.name == "nt":  # pragma: no cover - no exec there that keeps the console
        return subprocess.call(argv, cwd=folder, env=env)
    # what this process buffered would be lost when exec replaces it
    sys.stdout.flush()
    sys.stderr.flush()
    os.chdir(folder)
    os.execve(sys.executable, argv, env)
