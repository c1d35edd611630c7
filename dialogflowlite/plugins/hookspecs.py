"""Every hook a plugin can implement.

A plugin is a module (or object) with functions marked ``@dialogflowlite.hookimpl``
whose names match the specs below. Built-in features are plugins registered
exactly the same way (see :mod:`dialogflowlite.plugins.manager`). Every hook has
a heading in ``docs/plugins.md``; a test fails when one is missing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pluggy

from dialogflowlite import PROJECT_NAME

if TYPE_CHECKING:
    from pathlib import Path

    from sanic import Sanic

    from dialogflowlite.cli.command import Command

hookspec = pluggy.HookspecMarker(PROJECT_NAME)


# ============================================================================
# Components
# ============================================================================


@hookspec
def dfl_register_components() -> list[type]:
    """Return component classes this plugin contributes.

    Each class derives from :class:`dialogflowlite.components.base.Component`
    and declares ``name`` (what config.yml writes), ``kind`` (``tokenizer``,
    ``featurizer``, ``intent_classifier``, ``entity_extractor``,
    ``response_selector``, ``policy`` or ``generator``), ``defaults`` (every
    config key with its default), and what it ``requires`` and ``provides``.
    Called once when the registry is built.
    """


@hookspec
def dfl_component_aliases() -> dict[str, str]:
    """Return other names for registered components: ``{alias: registered_name}``.

    Used to accept names from other frameworks (Rasa's ``DIETClassifier``,
    ``TEDPolicy``, ...). Using an alias prints a one-line notice naming the
    component that stands in for it.
    """


# ============================================================================
# Model sources
# ============================================================================


@hookspec(firstresult=True)
def dfl_resolve_model_source(name: str) -> str | Path | None:
    """Map a ``model:`` value from config.yml to a local folder of pretrained weights.

    Return a folder that ``transformers`` can load offline, or ``None`` to let
    the next source try. The first non-``None`` answer wins; when no plugin
    answers, the name is used as it is (a local folder or a hub name).
    """


# ============================================================================
# Actions
# ============================================================================


@hookspec
def dfl_register_actions() -> list[Any]:
    """Return custom actions that run in the bot's own process.

    Each item is a class or an instance with ``name() -> str`` and
    ``run(dispatcher, tracker, domain) -> list[dict]`` (rasa-sdk's interface;
    ``run`` may be a coroutine). In-process actions take precedence over the
    remote action server for the same name.
    """


# ============================================================================
# Channels and stores
# ============================================================================


@hookspec
def dfl_register_channels() -> list[type]:
    """Return input channel classes (REST, WebSocket, ...).

    Each class has ``name()`` and ``blueprint(on_message)`` returning a Sanic
    blueprint mounted under ``/webhooks/<name>/``; credentials.yml keys by
    ``name()`` configure and enable them.
    """


@hookspec
def dfl_register_tracker_stores() -> dict[str, type]:
    """Return tracker store classes by the ``type`` that endpoints.yml names.

    A store saves and loads conversations (``retrieve``, ``save``, ``keys``).
    """


@hookspec
def dfl_register_lock_stores() -> dict[str, type]:
    """Return conversation lock store classes by their endpoints.yml ``type``."""


@hookspec
def dfl_register_event_brokers() -> dict[str, type]:
    """Return event broker classes by the ``type`` that endpoints.yml ``event_broker`` names.

    A broker subclasses :class:`dialogflowlite.brokers.base.EventBroker`: its
    async ``publish_many(events)`` gets every stored event once, as Rasa's
    event JSON with ``sender_id`` added; ``from_endpoint_config(config,
    project)`` builds it from the section's other keys.
    """


# ============================================================================
# Command line and server
# ============================================================================


@hookspec
def dfl_register_commands() -> list[Command]:
    """Return :class:`dialogflowlite.cli.command.Command` objects to add to the CLI.

    Each command names itself, adds its arguments to an argparse parser and
    runs with the parsed arguments. Called when the CLI starts.
    """


@hookspec
def dfl_server_setup(app: Sanic) -> None:
    """Extend the Sanic app after the built-in routes are registered.

    Add blueprints, routes, middleware or listeners. The loaded agent is
    available as ``app.ctx.agent`` once the server has started.
    """


# ============================================================================
# Message lifecycle
# ============================================================================


@hookspec
def dfl_message_received(message: Any) -> None:
    """Called when a user message arrives, before NLU sees it.

    ``message`` is a :class:`dialogflowlite.dialogue.messages.IncomingMessage`
    (``text``, ``sender_id``, ``channel``, ``metadata``); a plugin may change
    its metadata or set ``text_for_storage`` to keep the original text out of
    the tracker store while NLU still reads ``text``.
    """


@hookspec
def dfl_before_events_stored(sender_id: str, events: list[dict[str, Any]]) -> None:
    """Called with the JSON of new events right before they reach the tracker store.

    Plugins may change the dicts in place (for example to mask personal data).
    """


@hookspec
def dfl_replies_outgoing(sender_id: str, replies: list[dict[str, Any]]) -> None:
    """Called with the bot's replies right before they are sent.

    ``replies`` is one JSON object per part of each bot message, in Rasa's REST
    shape (``recipient_id``, ``text``, ``buttons``, ``image``, ``custom``, ...)
    with two differences, so that channels which show them can: a text's quick
    replies stay ``quick_replies`` (not turned into ``buttons``), and the cards
    of ``elements`` stay together in one ``{"recipient_id": ..., "elements":
    [...]}`` reply (not one ``title : subtitle`` text each). Where replies
    leave in Rasa's REST shape they are flattened after this hook. Plugins may
    change, add or remove replies in place.

    An error raised here after the turn is stored is logged with the
    conversation id and the message's replies are dropped; the turn stays
    stored and the channel answers as for any stored turn.
    """
