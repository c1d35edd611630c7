"""``${NAME}`` in endpoints.yml and credentials.yml: values from the environment.

As in Rasa, any string value of these files may name environment variables
(``url: http://${ACTION_HOST}:5055/webhook``, ``password: ${DB_PASSWORD}``),
which keeps secrets and per-deployment addresses out of the files. The files
are substituted once, when they are read; a value taken from the environment
is never read for ``${...}`` again. A variable that is not set is an error
naming the file, line and key.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from dialogflowlite.errors import ConfigError, Position

_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def substitute_env(node: Any, file: str | Path = "<config>", *,
                   _where: str = "", _position: Position | None = None) -> Any:
    """``node`` with every ``${NAME}`` in its strings replaced by ``os.environ["NAME"]``.

    ``node`` is read YAML (ruamel's containers keep their line numbers for the
    error) or plain data; mappings and lists are rebuilt, other values kept.
    """
    from dialogflowlite.io.yaml import value_position

    if isinstance(node, str):
        return _substitute(node, file, _where, _position)
    if isinstance(node, Mapping):
        return {key: substitute_env(value, file,
                                    _where=f"{_where}.{key}" if _where else str(key),
                                    _position=value_position(file, node, key))
                for key, value in node.items()}
    if isinstance(node, list):
        return [substitute_env(value, file, _where=f"{_where}[{index}]", _position=_position)
                for index, value in enumerate(node)]
    return node


def _substitute(text: str, file: str | Path, where: str, at: Position | None) -> str:
    def replace(match: re.Match) -> str:
        name = match.group(1)
        if name not in os.environ:
            raise ConfigError(
                f"{where or 'a value'} uses ${{{name}}}, but the environment variable "
                f"{name} is not set",
                position=at or Position(str(file)),
                hint=f"export {name}=... before starting")
        return os.environ[name]

    return _VARIABLE.sub(replace, text)
