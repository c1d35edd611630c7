"""Custom actions: written in Python, run in-process or on a rasa-sdk action server.

In-process actions come from the ``dfl_register_actions`` hook: classes or
objects with ``name()`` and ``run(dispatcher, tracker, domain)`` (sync or
async) returning event dicts, exactly like rasa-sdk actions. They win over the
action server for the same name. Everything else goes to the ``action_endpoint``.
"""

from __future__ import annotations

import inspect
import json
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from dialogflowlite.dialogue.dispatcher import ActionTracker, CollectingDispatcher
from dialogflowlite.dialogue.domain_json import (
    domain_digest,
    domain_to_dict,
    domain_to_rasa2_dict,
    is_rasa2_domain,
)
from dialogflowlite.dialogue.remote_actions import (
    ActionEndpoint,
    ActionRejectedByServer,
    DomainRequested,
    RemoteActionClient,
    protocol_version,
    sdk_major,
)
from dialogflowlite.errors import (
    ActionExecutionError,
    ActionRejectedError,
    DialogflowLiteError,
    PluginError,
)
from dialogflowlite.shared.events import Event, event_from_dict

if TYPE_CHECKING:
    from dialogflowlite.plugins.manager import PluginManager
    from dialogflowlite.shared.domain import Domain
    from dialogflowlite.shared.tracker import DialogueStateTracker

logger = logging.getLogger(__name__)


#: rasa-sdk events that leave the conversation as it is and are not kept in the tracker
UNRECORDED_SDK_EVENTS = ("agent", "export")


class ActionExecutionRejection(ActionRejectedError):
    """Raise it in a custom action to refuse running now; the policies then choose again.

    (rasa-sdk's exception of the same name is recognised as well.)
    """

    def __init__(self, action_name: str, message: str | None = None) -> None:
        self.action_name = action_name
        super().__init__(message or f"custom action {action_name!r} rejected execution")


class CustomActionRejected(ActionRejectedError):
    """A custom action (in-process or remote) rejected itself."""

    def __init__(self, action_name: str, message: str) -> None:
        self.action_name = action_name
        super().__init__(message)


@dataclass
class CustomActionResult:
    """What a custom action produced: events and messages (rasa-sdk's ``responses``)."""

    events: list[Event] = field(default_factory=list)
    responses: list[dict[str, Any]] = field(default_factory=list)


def _is_rejection(error: BaseException) -> bool:
    return isinstance(error, ActionExecutionRejection) or \
        type(error).__name__ == "ActionExecutionRejection"


def _action_name(action: Any, plugin: str) -> str:
    name = getattr(action, "name", None)
    if not callable(name) or not callable(getattr(action, "run", None)):
        raise PluginError(f"returned {action!r}, which has no name() and run() methods",
                          plugin=plugin, hook="dfl_register_actions",
                          hint="give the action `name()` and `run(dispatcher, tracker, domain)`")
    try:
        value = name()
    except TypeError as e:
        raise PluginError(f"cannot call name() of {action!r}: {e}", plugin=plugin,
                          hook="dfl_register_actions") from e
    if not isinstance(value, str) or not value:
        raise PluginError(f"action {action!r} has no usable name ({value!r})", plugin=plugin,
                          hook="dfl_register_actions")
    return value


def registered_action(item: Any, plugin: str) -> Any:
    """The action object for an item of ``dfl_register_actions``: a class is instantiated
    (as rasa-sdk does), an instance is used as is. A class that cannot be made without
    arguments is a :class:`PluginError` naming ``plugin``."""
    if not isinstance(item, type):
        return item
    try:
        return item()
    except Exception as e:
        raise PluginError(f"action class {item.__name__} cannot be made without arguments "
                          f"({type(e).__name__}: {e})", plugin=plugin,
                          hook="dfl_register_actions",
                          hint="give its __init__ defaults for every argument, or register "
                               "an instance instead of the class") from e


def registered_action_name(item: Any, plugin: str) -> str:
    """The name an item of ``dfl_register_actions`` runs under (``action_check_balance``),
    as stories and the domain use it; a :class:`PluginError` names ``plugin`` when the
    item has no usable ``name()``."""
    return _action_name(registered_action(item, plugin), plugin)


def collect_local_actions(pm: PluginManager) -> dict[str, Any]:
    """Action name -> action object from every plugin's ``dfl_register_actions``."""
    from dialogflowlite.plugins.claims import NameClaims

    hook = "dfl_register_actions"
    found: dict[str, Any] = {}
    claims = NameClaims("action", hook, "give the action another name, or disable one plugin",
                        allow_same=False)
    for plugin, items in pm.call_each_expecting(hook, (list, tuple),
                                                "a list of action classes or instances"):
        for item in items:
            action = registered_action(item, plugin)
            name = _action_name(action, plugin)
            claims.claim(name, plugin, action)
            found[name] = action
    return found


class CustomActionExecutor:
    """Runs custom actions: in-process ones first, then the action server."""

    def __init__(self, endpoint: ActionEndpoint | None = None,
                 local_actions: dict[str, Any] | None = None) -> None:
        self.endpoint = endpoint
        self.client = RemoteActionClient(endpoint) if endpoint else None
        self._fixed_local = local_actions
        self._cache: tuple[Any, int, dict[str, Any]] | None = None
        self._domain_json: tuple[int, dict[str, Any], dict[str, Any], str] | None = None

    def local_actions(self) -> dict[str, Any]:
        """The in-process actions (re-read when plugins are registered or removed)."""
        if self._fixed_local is not None:
            return self._fixed_local
        from dialogflowlite.plugins.manager import get_plugin_manager

        pm = get_plugin_manager()
        if self._cache is None or self._cache[0] is not pm or self._cache[1] != pm.generation:
            self._cache = (pm, pm.generation, collect_local_actions(pm))
        return self._cache[2]

    def is_local(self, name: str) -> bool:
        return name in self.local_actions()

    def can_run(self, name: str) -> bool:
        """Whether ``name`` runs in-process or an action server is configured for it."""
        return self.is_local(name) or self.client is not None

    def unreachable(self, domain: Domain) -> list[str]:
        """The domain's custom actions that can run nowhere: none runs in-process under
        that name and no action server is configured (a response of the same name
        answers instead of an action, so it is not counted)."""
        return [name for name in domain.custom_actions
                if name not in domain.responses and not self.can_run(name)]

    def domain_json(self, domain: Domain) -> dict[str, Any]:
        """``domain`` as in-process actions receive it: Rasa 3's shape, which the
        rasa-sdk that installs beside this package reads (made once per domain)."""
        return self._domain_entry(domain)[1]

    def server_domain_json(self, domain: Domain) -> dict[str, Any]:
        """``domain`` as action servers receive it: Rasa 2.8's shape for a rasa-sdk 2.x
        server (see :func:`~dialogflowlite.dialogue.remote_actions.sdk_major`), else
        Rasa 3's (made once per domain)."""
        return self._domain_entry(domain)[2]

    def domain_digest(self, domain: Domain) -> str:
        """The fingerprint of :meth:`server_domain_json` sent as ``domain_digest``."""
        return self._domain_entry(domain)[3]

    def _domain_entry(self, domain: Domain) -> tuple[int, dict[str, Any], dict[str, Any], str]:
        if self._domain_json is None or self._domain_json[0] != id(domain):
            data = domain_to_dict(domain)
            rasa2 = sdk_major(is_rasa2_domain(domain)) == 2
            sent = domain_to_rasa2_dict(domain) if rasa2 else data
            self._domain_json = (id(domain), data, sent, domain_digest(sent))
        return self._domain_json

    async def run(self, name: str, tracker: DialogueStateTracker,
                  domain: Domain) -> CustomActionResult:
        """Run custom action ``name``.

        Raises :class:`CustomActionRejected` when the action rejects itself and
        :class:`ActionExecutionError` for every other failure.
        """
        local = self.local_actions().get(name)
        if local is not None:
            return await self._run_local(name, local, tracker, domain)
        if self.client is None:
            raise ActionExecutionError(
                f"custom action {name!r} is neither registered in-process nor is an action "
                "server configured", hint="register it with the dfl_register_actions hook, or "
                "set action_endpoint in endpoints.yml")
        full, digest = self.server_domain_json(domain), self.domain_digest(domain)
        sent = full if self.client.endpoint.sends_domain_to(name, domain) else None
        version = protocol_version(sdk_major(is_rasa2_domain(domain)))
        try:
            try:
                answer = await self.client.run(name, tracker, sent, digest, version)
            except DomainRequested:
                if sent is not None:
                    raise
                # A newer rasa-sdk has no domain with this digest yet (it keeps the one
                # of the last call that carried it): the call is made again with it.
                answer = await self.client.run(name, tracker, full, digest, version)
        except ActionRejectedByServer as e:
            raise CustomActionRejected(name, e.message) from e
        return CustomActionResult(self._events(name, answer["events"]), answer["responses"])

    async def _run_local(self, name: str, action: Any, tracker: DialogueStateTracker,
                         domain: Domain) -> CustomActionResult:
        dispatcher = CollectingDispatcher()
        view = ActionTracker.from_tracker(tracker)
        try:
            result = action.run(dispatcher, view, self.domain_json(domain))
            if inspect.isawaitable(result):
                result = await result
        except Exception as e:
            if _is_rejection(e):
                raise CustomActionRejected(name, str(e)) from e
            if isinstance(e, DialogflowLiteError):
                raise
            logger.exception("custom action %r raised an error", name)
            raise ActionExecutionError(
                f"custom action {name!r} failed: {type(e).__name__}: {e}",
                hint="see the traceback above") from e
        if result is not None and not isinstance(result, list):
            raise ActionExecutionError(f"custom action {name!r} returned "
                                       f"{type(result).__name__}, not a list of events")
        return CustomActionResult(self._events(name, result or []), dispatcher.messages)

    @staticmethod
    def _events(name: str, items: list[Any]) -> list[Event]:
        events: list[Event] = []
        for item in items:
            if isinstance(item, Event):
                events.append(item)
                continue
            if isinstance(item, dict) and item.get("event") in UNRECORDED_SDK_EVENTS:
                # rasa-sdk's AgentUttered and StoryExported change no state (Rasa
                # exports stories only for an `export` event with a file path, which
                # rasa-sdk never sends); refusing them would lose the whole action
                logger.info("custom action %r returned a %r event, which is not recorded",
                            name, item["event"])
                continue
            if isinstance(item, dict) and "event" not in item:
                # no event at all: Rasa passes over it and keeps the action's other events
                # and messages (an event of an unknown type loses them all, as in Rasa)
                logger.warning("custom action %r returned %s, which has no 'event' field; "
                               "it is left out", name, _brief(item))
                continue
            try:
                # strictly, as events sent to the HTTP API: stored as they are, a
                # malformed one would break every later turn of the conversation
                events.append(event_from_dict(item, strict=True))
            except DialogflowLiteError as e:
                raise ActionExecutionError(f"custom action {name!r} returned a bad event: "
                                           f"{e.message}", hint=e.hint) from e
        return events


def _brief(item: dict[str, Any], limit: int = 120) -> str:
    """``item`` as JSON, cut to ``limit`` characters for a log line."""
    text = json.dumps(item, ensure_ascii=False, default=str)
    return text if len(text) <= limit else text[:limit] + "..."
