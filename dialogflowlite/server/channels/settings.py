"""Reading a channel's credentials.yml section: known keys, defaults, typed values.

Every error is a :class:`~dialogflowlite.errors.ConfigError` that starts with
``credentials.yml <channel>`` and names the key, with a hint.
"""

from __future__ import annotations

import contextlib
import math
from pathlib import Path
from typing import Any

from dialogflowlite.errors import ConfigError

#: how every channel setting error starts, before the channel's name
ERROR_PREFIX = "credentials.yml "


class ChannelSettings:
    """A channel's settings: ``defaults`` overlaid with the section's values that are set.

    A key the channel does not have is refused at once, with the closest one
    it does have.
    """

    def __init__(self, channel: str, given: dict[str, Any], defaults: dict[str, Any]) -> None:
        from dialogflowlite.io.formats import did_you_mean

        self.channel = channel
        self.defaults = defaults
        unknown = [key for key in given if key not in defaults]
        if unknown:
            key = unknown[0]
            raise self.error(f"no setting {key!r}",
                             did_you_mean(key, list(defaults))
                             or f"its settings are: {', '.join(defaults)}")
        self.values = {**defaults, **{k: v for k, v in given.items() if v is not None}}

    def __getitem__(self, key: str) -> Any:
        return self.values[key]

    def error(self, message: str, hint: str | None = None) -> ConfigError:
        """A ConfigError about this channel's section."""
        return ConfigError(f"credentials.yml {self.channel}: {message}", hint=hint)

    def flag(self, key: str) -> bool:
        """A true/false setting. Text such as ``"false"`` (what ``${ENV_VAR}`` gives)
        or YAML 1.2's ``no`` is read by its meaning, where Python would call it true;
        anything else is an error."""
        from dialogflowlite.io.formats import flag_meaning

        value = self.values.get(key)
        meaning = flag_meaning(value)
        if meaning is None:
            raise self.error(f"`{key}` must be true or false, not {value!r}",
                             f"write `{key}: true` or `{key}: false`")
        return meaning

    def required_text(self, key: str, what: str) -> str:
        """A setting that must be set: text (a number is taken as its digits), stripped."""
        value = self.values.get(key)
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(value, str) or not value.strip():
            raise self.error(f"`{key}` is missing; it is {what}",
                             f'write `{self.channel}:` then `  {key}: "..."` (or `${{ENV_VAR}}`)')
        return value.strip()

    def http_url(self, key: str, hint: str | None = None, *, exact: bool = False) -> str | None:
        """An http(s) address, or None when it is not set.

        A trailing ``/`` is dropped (the address is a base for paths) unless
        ``exact``: a URL that a signature covers must stay as it was given.
        """
        value = self.values.get(key)
        if value is None:
            return None
        if not isinstance(value, str) or not value.startswith(("http://", "https://")):
            default = self.defaults.get(key)
            raise self.error(f"`{key}` must be an http(s) address",
                             hint or (f"leave it out to use {default}" if default else None))
        return value if exact else value.rstrip("/")

    def positive_seconds(self, key: str) -> float:
        """A number of seconds above zero."""
        value = self.values[key]
        try:
            # `timeout: true` is a slip, not one second
            seconds = 0.0 if isinstance(value, bool) else float(value)
        except (TypeError, ValueError):
            seconds = 0.0
        if not 0 < seconds < math.inf:  # also refuses NaN, which `timeout: .nan` gives
            default = self.defaults.get(key)
            raise self.error(f"`{key}` must be a positive number of seconds",
                             f"leave it out for {default:g}" if default else None)
        return seconds


def located_in(path: Path | None) -> contextlib.AbstractContextManager[None]:
    """Channel setting errors raised inside, given the file the settings came from (the
    ``--credentials`` file, not always credentials.yml) and the line of the setting they
    name, or of the channel's section."""
    from dialogflowlite.io.settings_errors import errors_located_in

    return errors_located_in(path, ERROR_PREFIX.strip())
