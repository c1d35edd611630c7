"""The agent: a trained model, ready to answer messages.

``Agent.load("models/")`` opens the newest model in a folder (or the given
file), rebuilds its NLU pipeline, policies and responder, and wires them into
a :class:`~dialogflowlite.dialogue.processor.MessageProcessor` with a tracker
store, a lock store and the custom-action executor::

    agent = Agent.load("models/")
    replies = await agent.handle_text("hello", sender_id="alice")
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from dialogflowlite.artifact import MANIFEST, ModelArchive, latest_model, open_model
from dialogflowlite.brokers.base import EventBroker
from dialogflowlite.components.generation.messages import flatten_replies
from dialogflowlite.dialogue.custom_actions import CustomActionExecutor
from dialogflowlite.dialogue.domain_json import domain_from_dict
from dialogflowlite.dialogue.messages import IncomingMessage
from dialogflowlite.dialogue.parsing import IntentSyntaxParser, MessageParser, PipelineParser
from dialogflowlite.dialogue.processor import MessageProcessor, TurnResult
from dialogflowlite.dialogue.remote_actions import ActionEndpoint
from dialogflowlite.errors import ConfigError, ModelLoadError
from dialogflowlite.shared.domain import Domain
from dialogflowlite.shared.memory import release_free_memory
from dialogflowlite.shared.tracker import DialogueStateTracker
from dialogflowlite.stores.base import LockStore, TrackerStore

logger = logging.getLogger(__name__)

#: where a model keeps its domain (component folder and file)
DOMAIN_KEY = "domain"
DOMAIN_FILE = "domain.json"


def resolve_model_path(model_path: str | Path) -> Path:
    """The model file for ``model_path``: the file itself, or the newest model in a folder.

    Without one, the :class:`ModelLoadError` of :func:`missing_model_error`.
    """
    path = Path(model_path)
    if path.is_dir() and (path / MANIFEST).exists():
        return path
    if path.is_dir():
        newest = latest_model(path)
        if newest is None:
            raise missing_model_error(path)
        return newest
    if path.is_file():
        return path
    raise missing_model_error(path)


def missing_model_error(path: Path, *, under: bool = False) -> ModelLoadError:
    """The error for ``path`` holding no model, naming it in full and saying why: the
    folder holds no model file, or the file (a ``.tar``, ``.tar.gz`` or ``.tgz``
    name) or folder does not exist.

    ``under`` words it as a search of the project's models folder ("no model
    under ..."), where no model path was given.
    """
    # the whole path: `models` alone does not say which folder was searched (the
    # command may have run outside the project)
    where = path.absolute()
    if path.is_dir():
        return ModelLoadError(f"no model {'under' if under else 'in'} {where}: the folder "
                              "holds no model file",
                              hint="train one with `dialogflowlite train`, or pass "
                                   "--model PATH")
    lead = f"no model under {where}" if under else f"no model at {where}"
    if not under and path.suffix in (".tar", ".gz", ".tgz"):
        return ModelLoadError(f"{lead}: the file does not exist",
                              hint="check the path given to --model, or train a model with "
                                   "`dialogflowlite train`")
    return ModelLoadError(f"{lead}: the folder does not exist",
                          hint="run the command in the project folder (or pass --project "
                               "DIR), train a model with `dialogflowlite train`, or pass "
                               "--model PATH")


def load_model_domain(archive: ModelArchive) -> Domain:
    """The domain a model was trained with."""
    if archive.has(DOMAIN_KEY) and archive.storage(DOMAIN_KEY).exists(DOMAIN_FILE):
        data = archive.storage(DOMAIN_KEY).read_json(DOMAIN_FILE)
        return domain_from_dict(data, f"{archive.source or archive.root}:{DOMAIN_FILE}")
    raise ModelLoadError(f"the model {archive.source or archive.root} holds no domain",
                         hint="retrain it with this version: `dialogflowlite train`")


def read_endpoints(endpoints: str | Path | dict[str, Any] | None) -> dict[str, Any]:
    """endpoints.yml as a dict (a path is read; a dict is taken as it is).

    A file is read by :func:`~dialogflowlite.io.endpoint_settings.read_settings_file`:
    ``${VARIABLE}`` references are replaced, as Rasa does, and a file that is
    no mapping of sections is a :class:`ConfigError` at its file:line.
    """
    if endpoints is None:
        return {}
    if isinstance(endpoints, dict):
        return dict(endpoints)
    from dialogflowlite.io.endpoint_settings import read_settings_file

    path = Path(endpoints)
    if path.is_dir():
        raise ConfigError(f"endpoints file {path} is a folder",
                          hint="pass the path of endpoints.yml itself, or leave it out")
    if not path.is_file():
        raise ConfigError(f"endpoints file {path} does not exist",
                          hint="pass the path of endpoints.yml, or leave it out")
    # read as `run` reads it: `${VARIABLE}`s replaced, a wrong shape named at file:line
    return read_settings_file(path)


class Agent:
    """A trained bot: NLU, policies, responses and custom actions behind one processor."""

    def __init__(
        self,
        domain: Domain,
        *,
        nlu: Any = None,
        policies: Any = None,
        responder: Any = None,
        tracker_store: TrackerStore | None = None,
        lock_store: LockStore | None = None,
        action_endpoint: ActionEndpoint | str | dict[str, Any] | None = None,
        model_path: Path | None = None,
        archive: ModelArchive | None = None,
        parser: MessageParser | None = None,
        event_broker: EventBroker | None = None,
    ) -> None:
        self.domain = domain
        self.nlu = nlu
        self.policies = policies
        self.model_path = model_path
        self.archive = archive
        if responder is None:
            from dialogflowlite.components.generation.responder import Responder

            responder = Responder(domain)
        self.responder = responder
        if parser is None:
            from dialogflowlite.components.nlu.intent_shortcut import ShortcutNames

            names = ShortcutNames.from_domain(domain)
            parser = PipelineParser(nlu, names) if nlu is not None else IntentSyntaxParser(names)
        endpoint = ActionEndpoint.from_config(action_endpoint)
        self.processor = MessageProcessor(
            domain, policies=policies, parser=parser, responder=responder,
            tracker_store=tracker_store, lock_store=lock_store,
            executor=CustomActionExecutor(endpoint), event_broker=event_broker,
        )

    @classmethod
    def load(
        cls,
        model_path: str | Path,
        *,
        tracker_store: TrackerStore | None = None,
        lock_store: LockStore | None = None,
        action_endpoint: ActionEndpoint | str | dict[str, Any] | None = None,
        endpoints: str | Path | dict[str, Any] | None = None,
        quantize: bool = False,
        event_broker: EventBroker | None = None,
    ) -> Agent:
        """Load a model file (or the newest model in a folder).

        ``endpoints`` (endpoints.yml, as a path or a dict) configures the
        tracker store, lock store and action server unless they are given
        explicitly. Event brokers are given explicitly: the server and the
        shell build one from endpoints.yml's ``event_broker``
        (:func:`dialogflowlite.brokers.base.create_event_broker`).
        """
        path = resolve_model_path(model_path)
        archive = open_model(path)
        sections = archive.manifest.sections
        domain = load_model_domain(archive)
        nlu = None
        if sections.get("nlu"):
            from dialogflowlite.components.nlu.pipeline import NluPipeline

            nlu = NluPipeline.load(archive, quantize=quantize)
        policies = None
        if sections.get("core"):
            from dialogflowlite.components.policies.ensemble import PolicyEnsemble

            policies = PolicyEnsemble.load(archive, domain)
        from dialogflowlite.components.generation.responder import Responder

        config = read_endpoints(endpoints)
        # the nlg section: an NLG server, and how template variations are chosen
        responder = Responder.load(archive, domain, quantize=quantize, endpoints=config)
        if tracker_store is None or lock_store is None:
            from dialogflowlite.stores.base import create_lock_store, create_tracker_store

            if tracker_store is None:
                tracker_store = create_tracker_store(config.get("tracker_store"), domain)
            if lock_store is None:
                lock_store = create_lock_store(config.get("lock_store"))
        if action_endpoint is None:
            action_endpoint = config.get("action_endpoint")
        logger.info("loaded model %s (%s)", path, ", ".join(sorted(k for k, v in sections.items()
                                                                    if v)) or "empty")
        if policies is None:
            logger.warning(
                "model %s has no dialogue policies (trained with `train nlu`?): conversations "
                "get no replies, parsing works; `dialogflowlite train` trains the whole bot",
                path.name)
        # loading freed large temporaries: give their pages back (a server keeps running)
        release_free_memory()
        return cls(domain, nlu=nlu, policies=policies, responder=responder,
                   tracker_store=tracker_store, lock_store=lock_store,
                   action_endpoint=action_endpoint, model_path=path, archive=archive,
                   event_broker=event_broker)

    def warn_about_missing_nlu(self) -> None:
        """Log, once a model without an NLU part (``train core``) is loaded to talk to,
        that only ``/intent`` messages are understood: other text reached the policies
        with no intent, and the bot answered as if nothing was said."""
        if self.nlu is not None:
            return
        name = self.model_path.name if self.model_path else "the model"
        logger.warning("%s has no NLU part: only messages written as /intent (such as "
                       "/greet) are understood, other text gets no intent; train the whole "
                       "bot with `dialogflowlite train`, or pass --model with one that has "
                       "NLU", name)

    def warn_about_unreachable_actions(self) -> None:
        """Log, once, the custom actions that cannot run: what ``run``, ``shell`` and
        ``interactive`` say when they load a model, rather than at the first
        conversation that needs one (``test`` predicts actions without running them)."""
        missing = self.processor.executor.unreachable(self.domain)
        if not missing:
            return
        shown = ", ".join(missing[:8]) + (", ..." if len(missing) > 8 else "")
        logger.warning(
            "%d custom action(s) of the domain cannot run: no action server is configured "
            "(action_endpoint in endpoints.yml) and no plugin registers them in-process: %s. "
            "A conversation that reaches one goes on without its events. Run the project's "
            "actions.py on rasa-sdk's action server (`dialogflowlite run actions`, or `python "
            "-m rasa_sdk --actions actions` where rasa-sdk is installed) and set "
            "`action_endpoint: {url: http://localhost:5055/webhook}` in endpoints.yml, or "
            "register the actions in-process from a plugin (dfl_register_actions, "
            "docs/dialogue.md)", len(missing), shown)

    # ------------------------------------------------------------ stores

    @property
    def tracker_store(self) -> TrackerStore:
        return self.processor.tracker_store

    @property
    def lock_store(self) -> LockStore:
        return self.processor.lock_store

    @property
    def event_broker(self) -> EventBroker | None:
        return self.processor.event_broker

    @property
    def action_endpoint(self) -> ActionEndpoint | None:
        return self.processor.executor.endpoint

    def is_ready(self) -> bool:
        """Whether the agent can hold conversations (it has dialogue policies)."""
        return self.policies is not None

    # ------------------------------------------------------------ conversations

    async def handle_message(self, message: IncomingMessage) -> list[dict[str, Any]]:
        """Process a user message; returns the bot's replies in Rasa's REST shape.

        Quick replies come as buttons and each card of ``elements`` as a text, as
        Rasa's collecting channel has them; a response's ``button_type`` stays with
        its buttons.
        """
        return flatten_replies((await self.processor.handle_message(message)).replies)

    async def handle_turn(self, message: IncomingMessage) -> TurnResult:
        """Like :meth:`handle_message`, with the turn's events and full messages.

        Its ``replies`` are those channels get: quick replies and cards of
        ``elements`` kept for the channels that show them.
        """
        return await self.processor.handle_message(message)

    async def handle_text(self, text: str, sender_id: str = "default", *,
                          channel: str | None = None,
                          metadata: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        """Process a text from ``sender_id``; returns the replies."""
        return await self.handle_message(IncomingMessage(text, sender_id, channel=channel,
                                                         metadata=metadata or {}))

    async def trigger_intent(self, sender_id: str, intent: str,
                             entities: list[dict[str, Any]] | dict[str, Any] | None = None,
                             channel: str | None = None,
                             metadata: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        """Act as if the user expressed ``intent``; returns the replies."""
        result = await self.processor.trigger_intent(sender_id, intent, entities, channel,
                                                     metadata)
        return flatten_replies(result.replies)

    async def execute_action(self, sender_id: str, action_name: str, *,
                             policy: str | None = None, confidence: float | None = None,
                             channel: str | None = None) -> TurnResult:
        """Run one named action in a conversation."""
        return await self.processor.execute_action(sender_id, action_name, policy=policy,
                                                   confidence=confidence, channel=channel)

    async def predict_next(self, sender_id: str) -> dict[str, Any] | None:
        """The next action's scores for a conversation, without running it."""
        return await self.processor.predict_next(sender_id)

    async def get_tracker(self, sender_id: str) -> DialogueStateTracker:
        """The conversation of ``sender_id`` (empty when unknown)."""
        return await self.processor.get_tracker(sender_id)

    # ------------------------------------------------------------ NLU

    async def parse_message(self, text: str) -> dict[str, Any]:
        """Rasa's ``/model/parse`` result for ``text``."""
        return await self.processor.parse(text)

    async def parse_messages(self, texts: list[str]) -> list[dict[str, Any]]:
        """Parse results of several texts in one batch."""
        return await self.processor.parse_many(texts)

    # ------------------------------------------------------------ lifecycle

    async def close_async(self) -> None:
        """Stop reminders and close the stores and the event broker."""
        await self.processor.close()
        await self.tracker_store.close()
        await self.lock_store.close()
        if self.event_broker is not None:
            await self.event_broker.shutdown()

    def close(self) -> None:
        """Release the unpacked model (stores are closed by :meth:`close_async`)."""
        if self.archive is not None:
            self.archive.close()

    def __repr__(self) -> str:
        return f"Agent({str(self.model_path) if self.model_path else 'in memory'})"
