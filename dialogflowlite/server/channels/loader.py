"""Which channels a server mounts: those credentials.yml names, from the channel plugins."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from dialogflowlite.errors import ConfigError, PluginError

if TYPE_CHECKING:
    from sanic import Sanic

    from dialogflowlite.server.channels.base import InputChannel

logger = logging.getLogger(__name__)

#: channels a server gets when credentials.yml names none it knows
DEFAULT_CHANNELS = ("rest", "websocket")


def channel_classes() -> dict[str, type]:
    """Every registered channel class by name (``dfl_register_channels``)."""
    from dialogflowlite.plugins.claims import NameClaims
    from dialogflowlite.plugins.manager import get_plugin_manager

    hook = "dfl_register_channels"
    found: dict[str, type] = {}
    # one of the two webhooks would answer 404 without a word
    claims = NameClaims("channel name", hook,
                        "give the channel another name, or disable one plugin")
    for plugin, classes in get_plugin_manager().call_each_expecting(
            hook, (list, tuple), "a list of channel classes"):
        for cls in classes:
            name = getattr(cls, "name", None)
            if not callable(name) or not hasattr(cls, "blueprint"):
                raise PluginError(f"returned {cls!r}, which has no name() and blueprint()",
                                  plugin=plugin, hook=hook)
            key = name()
            claims.claim(key, plugin, cls)
            found[key] = cls
    return found


def enabled_channels(credentials: dict[str, Any],
                     connector: str | None = None) -> list[InputChannel]:
    """Instances of the channels credentials.yml enables, configured from it.

    With ``connector`` (``run --connector NAME``) only that channel, as in
    Rasa: with its credentials.yml section when there is one, else with no
    settings (a channel that needs some then says which are missing).
    """
    classes = channel_classes()
    if connector:
        return [classes[connector_name(connector, classes)](_settings(credentials, connector))]
    from dialogflowlite.io.formats import did_you_mean

    named = [key for key in credentials if key in classes]
    for key in credentials:
        if key not in classes:
            # a warning, not an error: Rasa projects name channels served elsewhere
            # (`rasa:` for Rasa X, module paths of custom channels)
            suggestion = did_you_mean(str(key), classes)
            logger.warning("credentials.yml names the channel %r, which no installed plugin "
                           "provides; the server runs without it (%s)", key,
                           suggestion or f"known: {', '.join(sorted(classes))}")
    if not named:
        named = [name for name in DEFAULT_CHANNELS if name in classes]
    return [classes[name](_settings(credentials, name)) for name in named]


def connector_name(name: str, classes: dict[str, type] | None = None) -> str:
    """``name`` when it is a channel the server can mount; else a ConfigError listing them."""
    from dialogflowlite.io.formats import did_you_mean

    classes = channel_classes() if classes is None else classes
    # the terminal channel answers no HTTP requests, so a server cannot offer it
    served = sorted(key for key, cls in classes.items() if getattr(cls, "serves_http", True))
    if name in served:
        return name
    hint = did_you_mean(name, served) or ("a custom channel is a plugin here "
                                          "(dfl_register_channels), not a module path")
    if name in classes:
        hint = "it does not serve HTTP; chat in the terminal with `dialogflowlite shell`"
    raise ConfigError(f"--connector {name!r} is not a channel the server has (known: "
                      f"{', '.join(served)})", hint=hint)


def _settings(credentials: dict[str, Any], name: str) -> dict[str, Any]:
    settings = credentials.get(name) or {}
    if not isinstance(settings, dict):
        raise ConfigError(f"credentials.yml: the settings of channel {name!r} must be a "
                          "mapping", hint=f"write `{name}:` followed by indented keys")
    return settings


def mount_channels(app: Sanic, credentials: dict[str, Any],
                   connector: str | None = None) -> list[InputChannel]:
    """Mount every enabled HTTP channel's blueprint under ``/webhooks/<name>``.

    ``connector`` limits them to that one channel (see :func:`enabled_channels`).
    Each gets the replies in the shape it takes (see
    :func:`~dialogflowlite.server.channels.base.replies_for`).
    """
    from dialogflowlite.server.channels.base import replies_for

    channels = enabled_channels(credentials, connector)
    for channel in channels:
        if not getattr(channel, "serves_http", True):
            continue
        blueprint = channel.blueprint(replies_for(channel, app.ctx.handler.handle))
        if blueprint is not None:
            app.blueprint(blueprint)
    app.ctx.channels = channels
    return channels
