"""Errors about a settings file (endpoints.yml, credentials.yml), at the file actually read.

The code that checks a section's settings knows the section, not the file it
came from: its errors start with the default file name (``endpoints.yml
tracker_store: ...``). Wrapped in :func:`errors_located_in`, such an error
names the file read (``--endpoints staging.yml``) and the line of the setting
it names, or of its section.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from pathlib import Path

from dialogflowlite.errors import ConfigError, Position


@contextlib.contextmanager
def errors_located_in(path: Path | None, default_name: str) -> Iterator[None]:
    """:class:`ConfigError`\\ s raised inside that start with ``default_name`` (such as
    ``endpoints.yml``), raised again at ``path`` and the line of the setting they name;
    those that name it elsewhere, naming ``path`` instead; others, and all when no file
    was read, as they are."""
    prefix = f"{default_name} "
    try:
        yield
    except ConfigError as error:
        if path is None or error.position is not None:
            raise
        if not error.message.startswith(prefix):
            if path.name == default_name or default_name not in \
                    f"{error.message} {error.hint or ''}":
                raise
            # named elsewhere in the message or its hint: the file read, without a line
            raise ConfigError(error.message.replace(default_name, str(path)),
                              hint=(error.hint or "").replace(default_name, str(path)) or None
                              ) from error
        rest = error.message[len(prefix):]
        section = re.split(r"[\s:]", rest, maxsplit=1)[0]
        hint = (error.hint or "").replace(default_name, str(path)) or None
        raise ConfigError(rest, hint=hint,
                          position=Position(str(path), setting_line(path, section, rest))
                          ) from error


def setting_line(path: Path, section: str, message: str) -> int | None:
    """The line of the setting ``message`` names (in backquotes or quotes, or the first
    word after its colon) in the top-level ``section:`` of ``path``; else the
    section's line; None when neither is found."""
    try:
        lines = path.read_text(encoding="utf-8-sig").splitlines()
    except (OSError, UnicodeDecodeError):
        return None
    start = next((i for i, line in enumerate(lines)
                  if re.match(rf"{re.escape(section)}\s*:", line)), None)
    if start is None:
        return None
    # `jwt_method 'none' is not ...` names jwt_method, not none
    after = message.partition(":")[2]
    candidates = [a or b for a, b in re.findall(r"`(\w+)`|'(\w+)'", message)]
    candidates += re.findall(r"^\s*(\w+)", after)
    for key in candidates:
        for i in range(start + 1, len(lines)):
            if lines[i].strip() and not lines[i][0].isspace() and not lines[i].startswith("#"):
                break  # the next section
            if re.match(rf"\s+{re.escape(key)}\s*:", lines[i]):
                return i + 1
    return start + 1
