"""Remote custom actions: rasa-sdk's webhook protocol over HTTP.

The bot POSTs ``{"next_action", "sender_id", "tracker", "domain",
"domain_digest", "version"}`` to the action server and reads ``{"events":
[...], "responses": [...]}`` back. An answer of 400 with ``action_name`` means
the action rejected itself (a form validation that refuses); 404 means the
server has no such action; 449 (newer rasa-sdk servers) asks for the call again
with the domain, which a call without one then gets. A server that is down,
slow or answers garbage gives an :class:`ActionExecutionError` naming the
action and the URL, which the processor logs before going on.
"""

from __future__ import annotations

import asyncio
import functools
import importlib.metadata
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from dialogflowlite.errors import (
    ActionExecutionError,
    ActionRejectedError,
    ConfigError,
    JsonContentError,
)
from dialogflowlite.io.endpoint_settings import ACCESS_KEYS, EndpointAccess, read_access
from dialogflowlite.io.formats import did_you_mean, flag_meaning
from dialogflowlite.shared import safe_json

if TYPE_CHECKING:
    from dialogflowlite.shared.domain import Domain
    from dialogflowlite.shared.tracker import DialogueStateTracker

logger = logging.getLogger(__name__)

#: seconds to wait for an action server before giving up on the action
DEFAULT_TIMEOUT = 10.0

# rasa-sdk warns once that it "might not be compatible" when the major and minor of a
# call's ``version`` differ from its own, so the version sent is the one of the rasa-sdk
# most likely at the other end (see protocol_version).
#: the ``version`` sent to a rasa-sdk 3 server when none is installed here: 3.6 is the
#: last minor of Rasa Open Source, whose projects' action servers run rasa-sdk 3.6
PROTOCOL_VERSION = "3.6.0"
#: the ``version`` sent to a rasa-sdk 2.x server (a Rasa 2.x project's): 2.8 is the last
RASA2_PROTOCOL_VERSION = "2.8.0"


class ActionRejectedByServer(ActionRejectedError):
    """The action server answered that the action rejects itself (HTTP 400)."""

    def __init__(self, action_name: str, message: str) -> None:
        self.action_name = action_name
        super().__init__(message)


class DomainRequested(ActionExecutionError):
    """The action server answered that it needs the domain for this call (HTTP 449).

    rasa-sdk keeps the domain of the last call that carried one; a call without
    the domain whose ``domain_digest`` does not match it is answered so.
    """

    def __init__(self, action_name: str, url: str) -> None:
        self.action_name = action_name
        super().__init__(
            f"custom action {action_name!r}: the action server at {url} needs the domain "
            "(HTTP 449) and did not take it when it was sent",
            hint="see the action server's log")


#: the keys of endpoints.yml's ``action_endpoint`` section (Rasa's endpoint settings)
ACTION_ENDPOINT_KEYS = ("url", "timeout", *ACCESS_KEYS, "enable_selective_domain")


def _endpoint_error(problem: str, hint: str | None = None) -> ConfigError:
    """The error about a setting of endpoints.yml's ``action_endpoint`` section."""
    return ConfigError(f"action_endpoint: {problem}", hint=hint)


def _check_keys(config: dict[str, Any]) -> None:
    """Raise a :class:`ConfigError` naming a key nothing reads (a misspelt ``timeout``
    would otherwise be ignored), with the closest known key."""
    for key in config:
        if key not in ACTION_ENDPOINT_KEYS:
            raise _endpoint_error(
                f"unknown setting {key!r}",
                did_you_mean(str(key), ACTION_ENDPOINT_KEYS)
                or f"the settings are: {', '.join(ACTION_ENDPOINT_KEYS)}")


@dataclass
class ActionEndpoint:
    """Where the action server is (endpoints.yml ``action_endpoint``)."""

    url: str
    timeout: float = DEFAULT_TIMEOUT
    #: headers, query parameters (``token`` included), basic auth and certificates
    access: EndpointAccess = field(default_factory=EndpointAccess)
    #: send the domain only to actions declared with ``send_domain: true`` (Rasa's
    #: ``enable_selective_domain``); the others get the tracker alone
    selective_domain: bool = False

    @classmethod
    def from_config(cls, config: Any) -> ActionEndpoint | None:
        """Read the endpoints.yml section (a mapping with ``url``, or just the URL)."""
        if config is None or config == {}:
            return None
        if isinstance(config, ActionEndpoint):
            return config
        if isinstance(config, str):
            config = {"url": config}
        if not isinstance(config, dict) or not config.get("url"):
            raise ConfigError("action_endpoint needs a `url`",
                              hint='write `action_endpoint: {url: "http://localhost:5055/webhook"}`')
        _check_keys(config)
        url = str(config["url"]).strip()
        if not url.lower().startswith(("http://", "https://")):
            # found now, not when the first custom action runs in a conversation
            raise ConfigError(f"action_endpoint url {url!r} is not an http(s) address",
                              hint=f'write `url: "http://{url.split("://")[-1]}"` (the action '
                                   "server's webhook, e.g. http://localhost:5055/webhook)")
        try:
            timeout = float(config.get("timeout", DEFAULT_TIMEOUT))
        except (TypeError, ValueError) as e:
            raise ConfigError(f"action_endpoint timeout must be seconds, not "
                              f"{config.get('timeout')!r}") from e
        selective = config.get("enable_selective_domain", False)
        if flag_meaning(selective) is None:
            raise ConfigError(f"action_endpoint enable_selective_domain must be true or false, "
                              f"not {selective!r}",
                              hint="write `enable_selective_domain: true` or `false`")
        return cls(
            url=url,
            timeout=timeout,
            access=read_access(config, _endpoint_error),
            selective_domain=bool(flag_meaning(selective)),
        )

    def sends_domain_to(self, action_name: str, domain: Domain) -> bool:
        """Whether the call of ``action_name`` carries the domain."""
        return not self.selective_domain or action_name in domain.send_domain_actions


@functools.cache
def installed_sdk_version() -> tuple[int, int] | None:
    """The major and minor version of the rasa-sdk installed here, or None when there is
    none (or its version cannot be read)."""
    try:
        version = importlib.metadata.version("rasa-sdk")
    except importlib.metadata.PackageNotFoundError:
        return None
    parts = version.split(".")
    if len(parts) < 2 or not (parts[0].isdigit() and parts[1].isdigit()):
        return None
    return int(parts[0]), int(parts[1])


def sdk_major(rasa2_domain: bool) -> int:
    """The rasa-sdk major an action server is taken to run, which decides the shape of
    the domain and the ``version`` it is sent.

    A rasa-sdk installed here is the one ``run actions`` starts, so its major
    counts; otherwise the major the domain was written for (a Rasa 2.x project
    keeps its rasa-sdk 2.x server).
    """
    installed = installed_sdk_version()
    if installed is not None and installed[0] in (2, 3):
        return installed[0]
    return 2 if rasa2_domain else 3


def protocol_version(major: int = 3) -> str:
    """The ``version`` sent to a rasa-sdk of ``major``: the major and minor of the
    rasa-sdk installed here when it is of that major, else
    :data:`RASA2_PROTOCOL_VERSION` or :data:`PROTOCOL_VERSION`."""
    installed = installed_sdk_version()
    if installed is not None and installed[0] == major:
        return f"{installed[0]}.{installed[1]}.0"
    return RASA2_PROTOCOL_VERSION if major == 2 else PROTOCOL_VERSION


def webhook_payload(action_name: str, tracker: DialogueStateTracker,
                    domain_json: dict[str, Any] | None,
                    domain_digest: str | None = None,
                    version: str | None = None) -> dict[str, Any]:
    """The JSON body rasa-sdk expects for running ``action_name``; without ``domain``
    when ``domain_json`` is None (an action not sent the domain), with
    ``domain_digest`` when one is given, and ``version`` (default: the one for a
    Rasa 3 domain, see :func:`protocol_version`)."""
    payload: dict[str, Any] = {
        "next_action": action_name,
        "sender_id": tracker.sender_id,
        "tracker": tracker.current_state("all"),
        "version": version or protocol_version(),
    }
    if domain_json is not None:
        payload["domain"] = domain_json
    if domain_digest is not None:
        payload["domain_digest"] = domain_digest
    return payload


class RemoteActionClient:
    """Calls one action server; every failure becomes a clear error naming action and URL."""

    def __init__(self, endpoint: ActionEndpoint) -> None:
        self.endpoint = endpoint

    async def run(self, action_name: str, tracker: DialogueStateTracker,
                  domain_json: dict[str, Any] | None,
                  domain_digest: str | None = None,
                  version: str | None = None) -> dict[str, Any]:
        """POST the action call and return the server's ``{"events", "responses"}``
        (the call carries no domain when ``domain_json`` is None; ``version`` as for
        :func:`webhook_payload`).

        Raises :class:`DomainRequested` when the server answers that it needs the
        domain (the caller sends it then).
        """
        import aiohttp

        url = self.endpoint.url
        payload = webhook_payload(action_name, tracker, domain_json, domain_digest, version)
        timeout = aiohttp.ClientTimeout(total=self.endpoint.timeout)
        try:
            async with aiohttp.ClientSession(timeout=timeout) as session, session.post(
                    url, json=payload, **self.endpoint.access.request_options()) as response:
                status = response.status
                body = await response.text()
        except asyncio.TimeoutError as e:
            raise ActionExecutionError(
                f"custom action {action_name!r}: the action server at {url} did not answer "
                f"within {self.endpoint.timeout:g}s",
                hint="check the action server, or raise `timeout` under action_endpoint in "
                     "endpoints.yml") from e
        except aiohttp.ClientError as e:
            raise ActionExecutionError(
                f"custom action {action_name!r}: the action server at {url} cannot be "
                f"reached ({type(e).__name__}: {e})",
                hint="start the action server, or fix action_endpoint in endpoints.yml") from e
        return self._read_answer(action_name, url, status, body)

    @staticmethod
    def _read_answer(action_name: str, url: str, status: int, body: str) -> dict[str, Any]:
        refused: JsonContentError | None = None
        try:
            data = safe_json.loads(body) if body.strip() else {}
        except JsonContentError as e:
            data, refused = None, e
        except ValueError:
            data = None
        if status == 400 and isinstance(data, dict) and data.get("action_name"):
            raise ActionRejectedByServer(action_name, str(data.get("error") or "rejected"))
        reason = data.get("error") if isinstance(data, dict) else None
        reason = reason[:500] if isinstance(reason, str) and reason else None
        # rasa-sdk names the action in its 404; a 404 without it (or rasa-sdk's 500
        # "Requested URL ... not found") is an address the server has no webhook at
        if (status == 404 and not (isinstance(data, dict) and data.get("action_name"))) or (
                status >= 500 and reason and reason.startswith("Requested URL")):
            raise ActionExecutionError(
                f"custom action {action_name!r}: {url} is not an action server's webhook "
                f"(HTTP {status}: {reason or repr(body[:200])})",
                hint="point action_endpoint's url in endpoints.yml at the webhook, for "
                     "rasa-sdk http://<host>:5055/webhook")
        if status == 404:
            raise ActionExecutionError(
                f"custom action {action_name!r}: the action server at {url} has no such action"
                + (f" ({reason})" if reason else ""),
                hint="register the action in the action server, or remove it from the domain")
        if status == 449:
            raise DomainRequested(action_name, url)
        if status >= 300:
            # rasa-sdk answers an action's exception with {"error": ..., "request_body": ...}:
            # the error is what to show, not the call echoed back
            raise ActionExecutionError(
                f"custom action {action_name!r}: the action server at {url} answered HTTP "
                f"{status}: {reason or repr(body[:200])}", hint="see the action server's log")
        if refused is not None:
            raise ActionExecutionError(
                f"custom action {action_name!r}: the action server at {url} answered JSON "
                f"that cannot be kept: {refused.message}",
                hint="see the action server's log: a value it returned is not storable")
        if not isinstance(data, dict):
            raise ActionExecutionError(
                f"custom action {action_name!r}: the action server at {url} did not answer a "
                f"JSON object: {body[:200]!r}",
                hint='it must answer {"events": [...], "responses": [...]}')
        events = data.get("events") or []
        responses = data.get("responses") or []
        if not isinstance(events, list) or not isinstance(responses, list) or not all(
                isinstance(item, dict) for item in (*events, *responses)):
            raise ActionExecutionError(
                f"custom action {action_name!r}: the action server at {url} answered "
                f"`events` or `responses` that are not lists of objects: {body[:200]!r}",
                hint='it must answer {"events": [...], "responses": [...]}')
        return {"events": events, "responses": responses}
