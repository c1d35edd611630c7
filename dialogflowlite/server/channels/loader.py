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
    from dialogflowlite.plugins.manager import get_plugin_manager

    pm = get_plugin_manager()
    found: dict[str, type] = {}
    for impl in pm.hook.dfl_register_channels.get_hookimpls():
        for cls in impl.function() or []:
            name = getattr(cls, "name", None)
            if not callable(name) or not hasattr(cls, "blueprint"):
                raise PluginError(f"returned {cls!r}, which has no name() and blueprint()",
                                  plugin=impl.plugin_name, hook="dfl_register_channels")
            found.setdefault(name(), cls)
    return found


def enabled_channels(credentials: dict[str, Any]) -> list[InputChannel]:
    """Instances of the channels credentials.yml enables, configured from it."""
    classes = channel_classes()
    named = [key for key in credentials if key in classes]
    for key in credentials:
        if key not in classes:
            logger.warning("credentials.yml names the channel %r, which no installed plugin "
                           "provides (known: %s)", key, ", ".join(sorted(classes)))
    if not named:
        named = [name for name in DEFAULT_CHANNELS if name in classes]
    channels = []
    for name in named:
        settings = credentials.get(name) or {}
        if not isinstance(settings, dict):
            raise ConfigError(f"credentials.yml: the settings of channel {name!r} must be a "
                              "mapping", hint=f"write `{name}:` followed by indented keys")
        channels.append(classes[name](settings))
    return channels


def mount_channels(app: Sanic, credentials: dict[str, Any]) -> list[InputChannel]:
    """Mount every enabled HTTP channel's blueprint under ``/webhooks/<name>``."""
    channels = enabled_channels(credentials)
    for channel in channels:
        if not getattr(channel, "serves_http", True):
            continue
        blueprint = channel.blueprint(app.ctx.handler.handle)
        if blueprint is not None:
            app.blueprint(blueprint)
    app.ctx.channels = channels
    return channels
