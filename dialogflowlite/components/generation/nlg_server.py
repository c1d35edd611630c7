"""An external NLG server (Rasa's ``nlg: url:``): responses written by another service.

endpoints.yml::

    nlg:
      url: "http://localhost:5056/nlg"
      timeout: 5              # seconds (default 5)
      headers: {X-Api-Key: ${NLG_KEY}}

Rasa's other endpoint settings work as in Rasa: ``params`` (query
parameters), ``token`` (sent as the query parameter ``token_name``, default
``token``), ``basic_auth`` (``{username, password}``), ``cafile`` (a CA
bundle for https) and ``type`` (``callback``, the default with a ``url``; or
``response`` / ``template``: the domain's templates, no server). Any other key
is an error naming the closest known one.

For every ``utter_*`` response the bot sends, the server gets Rasa's request,
``{"response": "utter_greet", "id": "greet_1", "arguments": {}, "tracker":
{...}, "channel": {"name": "rest"}}`` (``id`` that of the domain's variation
that applies, null when it has none; ``tracker`` as ``GET
/conversations/{id}/tracker`` shows it), and answers one bot message in
Rasa's shape: ``{"text": ..., "buttons": [...], "image": ..., "custom": ...}``.
Any other top-level key of the answer (``{"text": "Hi", "lang": "es"}``) goes
into the bot event's metadata, as Rasa puts it there; so does an answer's
``metadata`` object, kept whole under the key ``metadata``.

A server that is down, slow or answers something else is logged, and the
domain's template is sent instead: a conversation never stops on it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Hashable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from dialogflowlite.errors import ConfigError, JsonContentError
from dialogflowlite.io.endpoint_settings import ACCESS_KEYS, EndpointAccess, read_access
from dialogflowlite.io.formats import did_you_mean
from dialogflowlite.shared import safe_json

if TYPE_CHECKING:
    from dialogflowlite.shared.domain import ResponseDef
    from dialogflowlite.shared.tracker import DialogueStateTracker

logger = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 5.0
#: the keys of endpoints.yml's ``nlg`` section: Rasa's endpoint settings, then how
#: template variations are chosen (read by the responder)
NLG_KEYS = ("url", "timeout", *ACCESS_KEYS, "type", "store_type", "response_selection",
            "seed")
#: ``type`` values of Rasa's that mean an NLG server at ``url``
SERVER_TYPES = ("callback",)
#: ``type`` values of Rasa's that mean the domain's templates (no server)
TEMPLATE_TYPES = ("response", "template")
#: keys of a bot message an NLG server may answer
MESSAGE_KEYS = ("text", "buttons", "quick_replies", "image", "elements", "attachment", "custom")


def _objects(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(item, dict) for item in value)


#: what each key of a bot message must hold, and how to say it
_SHAPES: dict[str, tuple[Any, str]] = {
    "text": (lambda v: isinstance(v, str), "text"),
    "image": (lambda v: isinstance(v, str), "a URL as text"),
    "attachment": (lambda v: isinstance(v, (str, dict)), "text or an object"),
    "buttons": (_objects, "a list of objects"),
    "quick_replies": (_objects, "a list of objects"),
    "elements": (_objects, "a list of objects"),
    "metadata": (lambda v: isinstance(v, dict), "an object"),
}


def message_problem(message: dict[str, Any]) -> str | None:
    """What is wrong with the shape of a bot message (``"'buttons' must be a list of
    objects, not 'yes'"``), or None; empty values are left out anyway, ``custom`` is free."""
    for key, (fits, shape) in _SHAPES.items():
        value = message.get(key)
        if value not in (None, "", []) and not fits(value):
            return f"'{key}' must be {shape}, not {value!r}"[:200]
    return None


def nlg_type(section: dict[str, Any]) -> str | None:
    """The section's ``type`` (Rasa also reads it as ``store_type``), lower-cased."""
    kind = section.get("type", section.get("store_type"))
    return None if kind is None else str(kind).strip().lower()


def check_nlg_keys(section: dict[str, Any]) -> None:
    """Raise a :class:`ConfigError` naming the first key of the ``nlg`` section that
    nothing reads, with the closest known key.

    A ``type`` that names a class of the user's own (Rasa's custom generators)
    takes settings of its own, so its keys are not checked.
    """
    kind = nlg_type(section)
    if kind is not None and kind not in (*SERVER_TYPES, *TEMPLATE_TYPES):
        return
    for key in section:
        if key not in NLG_KEYS:
            raise ConfigError(
                f"endpoints.yml nlg: unknown setting {key!r}",
                hint=did_you_mean(str(key), NLG_KEYS)
                or f"the settings are: {', '.join(NLG_KEYS)}")


def _nlg_error(problem: str, hint: str | None = None) -> ConfigError:
    """The error about a setting of endpoints.yml's ``nlg`` section."""
    return ConfigError(f"endpoints.yml nlg: {problem}", hint=hint)


@dataclass
class NlgServer:
    """Where the NLG server is, and how to ask it for one response."""

    url: str
    timeout: float = DEFAULT_TIMEOUT
    #: headers, query parameters, basic auth and certificates (Rasa's endpoint settings)
    access: EndpointAccess = field(default_factory=EndpointAccess)

    @classmethod
    def from_config(cls, section: dict[str, Any] | None) -> NlgServer | None:
        """The server of an endpoints.yml ``nlg`` section, or None when it names no ``url``
        (or a ``type`` that means the domain's templates)."""
        if not section:
            return None
        if not isinstance(section, dict):
            raise ConfigError("endpoints.yml nlg must be a mapping",
                              hint='write `nlg: {url: "http://localhost:5056/nlg"}`')
        check_nlg_keys(section)
        if not section.get("url") or nlg_type(section) in TEMPLATE_TYPES:
            return None
        url = str(section["url"])
        if not url.startswith(("http://", "https://")):
            raise ConfigError(f"endpoints.yml nlg url {url!r} is not an http(s) address",
                              hint='write `nlg: {url: "http://localhost:5056/nlg"}`')
        try:
            timeout = float(section.get("timeout", DEFAULT_TIMEOUT))
        except (TypeError, ValueError):
            raise ConfigError("endpoints.yml nlg timeout must be a number of seconds") from None
        return cls(url, timeout, read_access(section, _nlg_error))

    @staticmethod
    def request_body(response: str, tracker: DialogueStateTracker, channel: str | None,
                     arguments: dict[str, Any] | None = None,
                     response_id: str | None = None) -> dict[str, Any]:
        """Rasa's NLG request for ``response``; ``id`` is the ``id`` of the domain's
        variation that applies (:func:`variation_id`), null when there is none."""
        return {"response": response, "id": response_id, "arguments": dict(arguments or {}),
                "tracker": tracker.current_state(), "channel": {"name": channel}}

    async def generate(self, response: str, tracker: DialogueStateTracker,
                       channel: str | None,
                       arguments: dict[str, Any] | None = None,
                       response_id: str | None = None) -> dict[str, Any] | None:
        """The server's bot message for ``response``; None (logged) when it gives none.

        ``response_id`` is sent as the request's ``id`` (see :meth:`request_body`).
        """
        import aiohttp

        body = self.request_body(response, tracker, channel, arguments, response_id)
        try:
            async with aiohttp.ClientSession(
                    timeout=aiohttp.ClientTimeout(total=self.timeout)) as session, \
                    session.post(self.url, json=body,
                                 **self.access.request_options()) as answer:
                status, text = answer.status, await answer.text()
        except (aiohttp.ClientError, asyncio.TimeoutError) as e:
            logger.error("NLG server %s gave no answer for %s (%s); sending the template",
                         self.url, response, type(e).__name__)
            return None
        if status >= 300:
            logger.error("NLG server %s answered HTTP %d for %s; sending the template",
                         self.url, status, response)
            return None
        try:
            message = safe_json.loads(text)
        except JsonContentError as e:
            # NaN, a lone surrogate, ...: it would break the stored bot event
            logger.error("NLG server %s answered JSON for %s that cannot be kept (%s); "
                         "sending the template", self.url, response, e.message)
            return None
        except ValueError:
            message = None
        if not isinstance(message, dict) or not any(message.get(k) for k in MESSAGE_KEYS):
            logger.error("NLG server %s answered no bot message for %s (%r); sending the "
                         "template", self.url, response, text[:200])
            return None
        problem = message_problem(message)
        if problem is not None:
            # passed on, such a value would reach every channel and the stored bot event
            logger.error("NLG server %s answered a bot message for %s whose %s; sending the "
                         "template", self.url, response, problem)
            return None
        return server_message(message)


def variation_id(variations: list[dict[str, Any]]) -> str | None:
    """The ``id`` an NLG request names for a response: that of the first of
    ``variations`` (those that apply for the channel and slots, in the order the
    templates choose among them), as Rasa sends it.

    None when no variation applies, the first has no ``id``, or two of them share
    one (as in Rasa: it could not tell them apart). That is said once, when the
    responder loads (:func:`warn_about_shared_ids`), not at every request.
    """
    if not variations or shared_ids(variations) or variations[0].get("id") is None:
        return None
    return str(variations[0]["id"])


def shared_ids(variations: list[dict[str, Any]]) -> list[Any]:
    """The ``id`` values two or more of ``variations`` carry, each once, in the order
    they repeat."""
    seen: set[Any] = set()
    shared: list[Any] = []
    for variation in variations:
        found = variation.get("id")
        if not found:
            continue
        key = found if isinstance(found, Hashable) else repr(found)
        if key in seen and found not in shared:
            shared.append(found)
        seen.add(key)
    return shared


def warn_about_shared_ids(responses: Mapping[str, ResponseDef]) -> None:
    """Log once for each response whose variations share an ``id``: where two of them
    apply, the NLG request for it names no ``id`` (:func:`variation_id`).

    Rasa warns at every such request; a served bot would repeat it for every
    message, so it is said here, when the domain's responses are loaded.
    """
    for name, response in responses.items():
        shared = shared_ids(response.variations)
        if not shared:
            continue
        where = f"{response.position}: " if response.position is not None else ""
        logger.warning("%svariations of %s share the id %s: where two of them apply, the "
                       "NLG request names no id", where, name,
                       ", ".join(repr(found) for found in shared))


def server_message(answer: dict[str, Any]) -> dict[str, Any]:
    """An NLG server's answer as a bot message: the message keys that are set, and every
    other top-level key in its ``metadata``, as Rasa's ``create_bot_utterance`` makes
    them the bot event's metadata.

    The answer's own ``metadata`` object is one of those keys: it is kept whole under
    the key ``metadata``, not spread, as in Rasa.
    """
    message = {key: value for key, value in answer.items()
               if key in MESSAGE_KEYS and value not in (None, "", [])}
    metadata = {key: value for key, value in answer.items() if key not in MESSAGE_KEYS}
    if metadata:
        message["metadata"] = metadata
    return message
