"""The server's HTTP routes, one blueprint per topic.

Always mounted: ``/``, ``/version``, ``/health``, ``/metrics``,
``/openapi.yml``, the channels' webhooks and (with the REST channel) the web
chat page at ``/chat``. With ``--enable-api`` also ``/status``, ``/model/*``
(``/model/train`` included), ``/domain`` and ``/conversations/*``. Routes
declared with ``ctx_auth=True`` need the token or a JWT when one is configured.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sanic import Sanic

    from dialogflowlite.server.app import ServerConfig
    from dialogflowlite.server.channels.base import InputChannel


def register_routes(app: Sanic, config: ServerConfig, channels: Sequence[InputChannel]) -> None:
    """Mount the built-in blueprints on ``app``."""
    from dialogflowlite.server.routes import info, metrics, openapi, webchat

    metrics.install_request_metrics(app)
    app.blueprint(info.blueprint())
    app.blueprint(metrics.blueprint())
    app.blueprint(openapi.blueprint())
    if config.webchat and any(channel.name() == "rest" for channel in channels):
        app.blueprint(webchat.blueprint())
    if config.enable_api:
        from dialogflowlite.server.routes import conversations, model, testing, training

        app.blueprint(model.blueprint())
        app.blueprint(training.blueprint())
        app.blueprint(testing.blueprint())
        app.blueprint(conversations.blueprint())
