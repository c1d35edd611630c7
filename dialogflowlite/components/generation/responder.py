"""The responder: what the bot says for an ``utter_*`` action or ``action_generate``.

The processor calls :meth:`Responder.respond` for every ``utter_*`` action and
for ``action_generate``. It renders the domain's templates, answers retrieval
actions (``utter_faq``) with the response the NLU response selector picked for
the latest message, and, when the model has a trained generator, realises
actions that have no template (dialogue act -> text) and writes free replies
for ``action_generate`` (context -> response). A generated reply is sent only
when it passes the generator's guardrails; otherwise the template (or the
fallback response) is sent instead. Generated messages carry
``metadata: {"generated": true, "score": ...}``, which no other reply has.
With an NLG server in endpoints.yml (``nlg: url:``), the server writes
``utter_*`` responses, and the templates answer when it does not; its
message's metadata is passed on, without ``generated`` and ``score``.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any, Protocol

from dialogflowlite.components.base import load_component
from dialogflowlite.components.generation.messages import compact_message
from dialogflowlite.components.generation.nlg_server import (
    NlgServer,
    variation_id,
    warn_about_shared_ids,
)
from dialogflowlite.components.generation.templates import (
    UTTER_ACTION_KEY,
    TemplateRenderer,
)
from dialogflowlite.errors import ConfigError
from dialogflowlite.shared.domain import ACTION_GENERATE, Domain
from dialogflowlite.shared.message import RETRIEVAL_SEPARATOR

if TYPE_CHECKING:
    from dialogflowlite.artifact import ModelArchive
    from dialogflowlite.shared.tracker import DialogueStateTracker

logger = logging.getLogger(__name__)

UTTER_PREFIX = "utter_"
#: the response sent when a generated reply is rejected and nothing else fits
FALLBACK_RESPONSE = "utter_default"
#: what the fallback says when the domain has no ``utter_default``
FALLBACK_TEXT = "Sorry, I didn't get that. Can you rephrase?"
#: the section of a model file that holds trained generators
GENERATION_SECTION = "generation"
#: the metadata that marks a reply of the generator (:func:`generated_message`)
GENERATED_METADATA = ("generated", "score")


class Generation(Protocol):
    """What a generated reply looks like to the responder."""

    text: str
    score: float
    accepted: bool
    reason: str


class Generator(Protocol):
    """The interface of a trained response generator (see ``neural.py``)."""

    def realises(self, action_name: str, has_template: bool) -> bool:
        """Whether this generator should write the text of ``action_name``."""

    def writes_free_replies(self) -> bool:
        """Whether it can answer ``action_generate`` (context -> response)."""

    def generate_for_action(self, action_name: str,
                            tracker: DialogueStateTracker) -> Generation | None:
        """Realise the act of ``action_name`` with the tracker's slot values."""

    def generate_reply(self, tracker: DialogueStateTracker) -> Generation | None:
        """A free reply to the conversation so far."""


def retrieval_query(action_name: str) -> str:
    """``faq`` for ``utter_faq`` (the retrieval intent an action answers)."""
    return action_name[len(UTTER_PREFIX):] if action_name.startswith(UTTER_PREFIX) else action_name


class Responder:
    """Answers ``utter_*`` actions and ``action_generate`` with bot messages.

    ``Responder(domain)`` renders templates only; :meth:`load` adds the
    generators of a trained model. ``response_selection`` and ``seed`` go to
    the :class:`TemplateRenderer`; ``nlg_server`` writes ``utter_*`` responses
    before the templates are asked.
    """

    def __init__(self, domain: Domain, *, generators: list[Generator] | None = None,
                 response_selection: str = "random", seed: int | None = None,
                 nlg_server: NlgServer | None = None) -> None:
        self.domain = domain
        self.templates = TemplateRenderer(domain, selection=response_selection, seed=seed)
        self.generators: list[Generator] = list(generators or [])
        self.nlg_server = nlg_server
        if nlg_server is not None:
            # said once here, not at each request that names no id because of it
            warn_about_shared_ids(domain.responses)

    @classmethod
    def load(cls, archive: ModelArchive, domain: Domain, *,
             response_selection: str | None = None, seed: int | None = None,
             endpoints: dict[str, Any] | None = None, quantize: bool = False) -> Responder:
        """A responder with the generators trained into ``archive`` (if any).

        ``quantize`` loads generators that support it with int8 weights.

        ``response_selection`` and ``seed`` default to the ``nlg:`` section of
        ``endpoints`` (endpoints.yml), then to ``random`` without a seed; a
        ``url`` in that section is an NLG server (:class:`NlgServer`).
        """
        from dialogflowlite.plugins.registry import class_for_model

        nlg = (endpoints or {}).get("nlg") or {}
        # first, as it checks the section (a mapping, of keys something reads)
        nlg_server = NlgServer.from_config(nlg)
        if response_selection is None:
            response_selection = str(nlg.get("response_selection", "random"))
        if seed is None and nlg.get("seed") is not None:
            seed = _nlg_seed(nlg["seed"])
        generators: list[Generator] = []
        for record in archive.manifest.components:
            if record.section != GENERATION_SECTION or record.kind != "generator":
                continue
            component_cls = class_for_model(record, record.name)
            generators.append(load_component(component_cls, record.config,
                                             archive.storage(record.key), quantize=quantize))
        _warn_about_untrained_generators(archive, len(generators))
        return cls(domain, generators=generators, response_selection=response_selection,
                   seed=seed, nlg_server=nlg_server)

    # ------------------------------------------------------------ questions

    def is_retrieval_action(self, action_name: str) -> bool:
        """Whether ``action_name`` is ``utter_<retrieval intent>`` (answered via the selector)."""
        if RETRIEVAL_SEPARATOR in action_name or not action_name.startswith(UTTER_PREFIX):
            return False
        prefix = action_name + RETRIEVAL_SEPARATOR
        return any(name.startswith(prefix) for name in self.domain.responses)

    def _realiser(self, action_name: str) -> Generator | None:
        has_template = self.templates.has_response(action_name)
        for generator in self.generators:
            if generator.realises(action_name, has_template):
                return generator
        return None

    def can_respond(self, action_name: str) -> bool:
        """Whether :meth:`respond` knows ``action_name`` (otherwise it returns None)."""
        if action_name == ACTION_GENERATE:
            return True
        if not action_name.startswith(UTTER_PREFIX):
            return False
        return (self.templates.has_response(action_name)
                or self.is_retrieval_action(action_name)
                or self._realiser(action_name) is not None)

    # ------------------------------------------------------------ answering

    async def respond(self, action_name: str, tracker: DialogueStateTracker,
                      channel: str | None = None,
                      arguments: dict[str, Any] | None = None) -> list[dict[str, Any]] | None:
        """Bot messages for ``action_name``, or None when it is not an action this answers.

        An empty list means the action is known but nothing applies (no
        variation for this channel and these slots, or no selected retrieval
        response); the reason is logged. ``arguments`` (a custom action's
        keyword arguments for a named response) fill template placeholders
        before slots do and go to an NLG server.
        """
        if not self.can_respond(action_name):
            return None
        if action_name == ACTION_GENERATE:
            return await self._generate_reply(tracker, channel)
        if self.nlg_server is not None and not self.is_retrieval_action(action_name):
            response_id = variation_id(
                self.templates.candidates(action_name, dict(tracker.slots), channel))
            message = await self.nlg_server.generate(action_name, tracker, channel, arguments,
                                                     response_id=response_id)
            if message is not None:
                return [nlg_server_message(message, action_name)]
        generator = self._realiser(action_name)
        if generator is not None:
            generated = await asyncio.to_thread(generator.generate_for_action, action_name,
                                                tracker)
            if generated is not None and generated.accepted:
                return [generated_message(generated, action_name)]
            if generated is not None:
                logger.info("generated text for %s rejected (%s); sending %s", action_name,
                            generated.reason, self._instead_of_generated(action_name))
        # as Rasa: utter_<retrieval intent> is the selector's answer, even when the
        # domain has a response of that name too
        if self.is_retrieval_action(action_name):
            return self._retrieval(action_name, tracker, channel)
        if self.templates.has_response(action_name):
            return self.templates.render(action_name, tracker, channel, arguments)
        return self._fallback(tracker, channel)

    def _instead_of_generated(self, action_name: str) -> str:
        """What :meth:`respond` sends for ``action_name`` when its generated text is rejected."""
        if self.is_retrieval_action(action_name):
            return "the selected retrieval response"
        if self.templates.has_response(action_name):
            return "the template"
        return f"the fallback {FALLBACK_RESPONSE}"

    def render(self, response_name: str, tracker: DialogueStateTracker | None,
               channel: str | None = None,
               extra_values: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        """Render a response template directly (``dispatcher.utter_message(response=...)``)."""
        return self.templates.render(response_name, tracker, channel, extra_values)

    def _retrieval(self, action_name: str, tracker: DialogueStateTracker,
                   channel: str | None) -> list[dict[str, Any]]:
        selector = {}
        if tracker.latest_message is not None:
            selector = tracker.latest_message.parse_data.get("response_selector") or {}
        query = retrieval_query(action_name)
        chosen = selector.get(query) or selector.get("default")
        response = (chosen or {}).get("response") or {}
        key = response.get("intent_response_key")
        name = response.get("utter_action") or (f"{UTTER_PREFIX}{key}" if key else None)
        if name is None:
            logger.warning("%s: the latest message has no response selector result for '%s'",
                           action_name, query)
            return []
        if self.templates.has_response(name):
            return self.templates.render(name, tracker, channel)
        # A selector trained on another domain may still carry the response itself.
        variations = response.get("responses") or []
        if variations:
            variation = self.templates.random.choice(variations)
            if isinstance(variation, str):
                variation = {"text": variation}
            return [self.templates.render_variation(name, dict(variation),
                                                    self.templates.placeholder_values(tracker))]
        logger.warning("%s: the selected response '%s' is not in the domain", action_name, name)
        return []

    async def _generate_reply(self, tracker: DialogueStateTracker,
                              channel: str | None) -> list[dict[str, Any]]:
        for generator in self.generators:
            if not generator.writes_free_replies():
                continue
            generated = await asyncio.to_thread(generator.generate_reply, tracker)
            if generated is not None and generated.accepted:
                return [generated_message(generated, ACTION_GENERATE)]
            if generated is not None:
                logger.info("generated reply rejected (%s); sending the fallback",
                            generated.reason)
        return self._fallback(tracker, channel)

    def _fallback(self, tracker: DialogueStateTracker, channel: str | None) -> list[dict[str, Any]]:
        if self.templates.has_response(FALLBACK_RESPONSE):
            rendered = self.templates.render(FALLBACK_RESPONSE, tracker, channel)
            if rendered:
                return rendered
        return [{"text": FALLBACK_TEXT, "metadata": {UTTER_ACTION_KEY: FALLBACK_RESPONSE}}]


def nlg_server_message(message: dict[str, Any], action_name: str) -> dict[str, Any]:
    """An NLG server's bot message as sent: its metadata with the action it answers.

    ``generated`` and ``score`` are left out of it: they say that the generator
    wrote the reply, and the interactive trainer and the stored bot event would
    take a server's text for the model's.
    """
    metadata = message.get("metadata") or {}
    dropped = [key for key in GENERATED_METADATA if key in metadata or key in message]
    if dropped:
        logger.debug("the NLG server's message for %s has %s, which only the generator "
                     "sets; left out", action_name, " and ".join(dropped))
    kept = {key: value for key, value in message.items() if key not in GENERATED_METADATA}
    kept["metadata"] = {**{key: value for key, value in metadata.items()
                           if key not in GENERATED_METADATA},
                        UTTER_ACTION_KEY: action_name}
    return kept


def generated_message(generated: Generation, action_name: str) -> dict[str, Any]:
    """A generated reply as a bot message, marked as generated with its score."""
    return compact_message({
        "text": generated.text,
        "metadata": {"generated": True, "score": round(float(generated.score), 6),
                     UTTER_ACTION_KEY: action_name},
    })


def _warn_about_untrained_generators(archive: ModelArchive, trained: int) -> None:
    """Say so when config.yml lists generators that the model was trained without.

    Otherwise the bot quietly answers every ``action_generate`` with the
    fallback, and ``utter_*`` actions that only a generator writes say nothing.
    """
    listed = archive.manifest.config.get("generators") or []
    if not isinstance(listed, list) or len(listed) <= trained:
        return
    names = ", ".join(str(entry.get("name")) if isinstance(entry, dict) else str(entry)
                      for entry in listed)
    model = archive.source
    logger.warning(
        "the model%s was trained with %d of the %d generator(s) its config lists (%s): "
        "action_generate sends %s, and utter_* actions without a template send nothing; "
        "train them with `dialogflowlite train` (or `dialogflowlite train generation`)",
        f" {model.name}" if model is not None else "", trained, len(listed), names,
        FALLBACK_RESPONSE)


def _nlg_seed(value: Any) -> int:
    """The ``seed`` of endpoints.yml's ``nlg`` section, a whole number."""
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise ConfigError(f"endpoints.yml nlg seed must be a whole number, not {value!r}")
    try:
        return int(value)
    except ValueError:
        raise ConfigError(f"endpoints.yml nlg seed must be a whole number, not {value!r}",
                          hint="for example `seed: 42`") from None
