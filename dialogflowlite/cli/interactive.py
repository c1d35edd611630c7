"""``dialogflowlite interactive``: chat with the bot, correct it, keep the corrections.

Rasa's ``rasa interactive`` in the terminal: the session itself is
:class:`dialogflowlite.dialogue.interactive.InteractiveSession`; this module
loads the model and hands the session stdin and stdout. As in Rasa, without
``--model`` the project is trained first (components whose data did not
change are reused), so the session starts from what the files say now.
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from dialogflowlite.cli.command import Command
from dialogflowlite.cli.options import add_source_options, port_number, sources_from_args
from dialogflowlite.dialogue.interactive_graph import DEFAULT_PORT, PAGE

if TYPE_CHECKING:
    from dialogflowlite.io.loader import ProjectSources

logger = logging.getLogger(__name__)


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--project", default=".", metavar="DIR",
                        help="project folder (default: .)")
    parser.add_argument("-m", "--model", default=None,
                        help="model file, or folder whose newest model is used (`-m models`: "
                             "the newest without training); default: train the project "
                             "first, reusing unchanged components, as Rasa does")
    add_source_options(parser, "train on")
    parser.add_argument("--endpoints", default=None, metavar="FILE",
                        help="endpoints file for the action server and NLG (default: "
                             "endpoints.yml of the project); its tracker store is not used")
    parser.add_argument("--out-stories", default=None, metavar="FILE",
                        help="the answer the export offers for the stories' file (default: "
                             "data/stories.yml, as Rasa)")
    parser.add_argument("--out-nlu", default=None, metavar="FILE",
                        help="the answer the export offers for the NLU examples' file "
                             "(default: data/nlu.yml, as Rasa)")
    parser.add_argument("--conversation-id", default=None, metavar="ID",
                        help="the conversation's id (its sender_id, as the action server and "
                             "NLG server see it); after /restart the next conversations are "
                             "ID-2, ID-3, ... (default: interactive-1, interactive-2, ...)")
    parser.add_argument("--e2e", action="store_true",
                        help="write the stories in the end-to-end format: each user step "
                             "holds the message's text (entities annotated) next to its "
                             "intent")
    parser.add_argument("-p", "--port", type=port_number, default=DEFAULT_PORT, metavar="PORT",
                        help="where the story graph of the session is served, at "
                             f"http://localhost:PORT{PAGE} (default: {DEFAULT_PORT}, Rasa's "
                             "address; Rasa's own --port names its server's port, the graph "
                             "one above)")
    parser.add_argument("--skip-visualization", action="store_true",
                        help="serve no story graph")


def run_interactive(project: str | Path = ".", model: str | None = None, *,
                    endpoints_file: str | None = None, out_stories: str | Path | None = None,
                    out_nlu: str | Path | None = None, stdin: TextIO | None = None,
                    stdout: TextIO | None = None, conversation_id: str | None = None,
                    e2e: bool = False, port: int | None = None,
                    sources: ProjectSources | None = None):
    """Run an interactive-learning session on stdin/stdout (or the given streams).

    Returns the :class:`~dialogflowlite.dialogue.interactive_export.ExportReport`
    of what was written, or None when nothing was. Conversations are kept in
    memory only; endpoints.yml is read for the action server and NLG.
    ``conversation_id`` names the first conversation (the later ones get
    ``-2``, ``-3``, ... after it). With ``e2e`` the stories hold the user's
    texts next to the intents. With ``port`` the story graph of the session
    is served at ``http://localhost:PORT/visualization.html``
    (:mod:`dialogflowlite.dialogue.interactive_graph`; 0 takes a free port),
    drawn with the stories of ``sources`` (``--data``, ``--domain``) when given.
    Before writing, the session asks where the files go; the answers it offers
    are ``out_stories``, ``out_nlu`` and a ``--domain`` file when given (as in
    Rasa), else ``data/stories.yml``, ``data/nlu.yml`` and the project's domain.
    """
    from dialogflowlite.agent import Agent
    from dialogflowlite.dialogue.interactive import InteractiveSession, StreamPrompt
    from dialogflowlite.errors import ModelLoadError
    from dialogflowlite.server.app import ServerConfig
    from dialogflowlite.server.models import resolve_model_path
    from dialogflowlite.stores.memory import MemoryLockStore, MemoryTrackerStore

    config = ServerConfig(project=str(project), model_path=model, endpoints_file=endpoints_file)
    model_file = resolve_model_path(config)
    endpoints = config.read_endpoints()
    with config.endpoints_errors():
        agent = Agent.load(model_file, tracker_store=MemoryTrackerStore(),
                           lock_store=MemoryLockStore(), endpoints=endpoints)
    agent.warn_about_unreachable_actions()
    agent.warn_about_missing_nlu()
    try:
        if not agent.is_ready():
            raise ModelLoadError(
                f"model {model_file.name} has no dialogue policies, so there is no next "
                "action to correct",
                hint="train the whole bot with `dialogflowlite train`, or pass --model PATH")
        _line_editing()
        prompt = StreamPrompt(stdin, stdout)
        graph = _story_graph_server(port, config.project_dir, prompt, sources)
        session = InteractiveSession(
            agent, prompt, config.project_dir, stories_file=out_stories, nlu_file=out_nlu,
            conversation_id=conversation_id, e2e=e2e,
            on_change=graph[1] if graph is not None else None, sources=sources)
        try:
            return session.run()
        finally:
            session.close()
            if graph is not None:
                graph[0].close()
    finally:
        agent.close()


def _story_graph_server(port: int | None, project_dir: Path, prompt: Any,
                        sources: ProjectSources | None
                        ) -> tuple[Any, Callable[[list[list[Any]]], None]] | None:
    """The story graph server and the session's hook that feeds it, or None when
    ``port`` is None or cannot be bound (the session goes on without the page)."""
    from dialogflowlite.dialogue.interactive_graph import SessionGraphServer, session_graph_page
    from dialogflowlite.io.loader import load_project
    from dialogflowlite.shared.story_paths import expand_story_paths

    if port is None:
        return None
    try:
        server = SessionGraphServer(port)
    except OSError as e:
        logger.warning("the story graph is not served: port %d cannot be used (%s); pass "
                       "--port with a free port, or --skip-visualization", port, e)
        return None
    project = load_project(project_dir, strict=False, sources=sources)
    training = expand_story_paths(project.stories, domain=project.domain)
    prompt.show(f"The story graph of this session is at {server.url}")

    def show(conversations: list[list[Any]]) -> None:
        server.show(session_graph_page(training, conversations))

    return server, show


def _line_editing() -> None:
    """Arrow keys and history at the prompts, where the platform has readline."""
    try:
        import readline  # noqa: F401 - importing it is what enables line editing in input()
    except ImportError:  # pragma: no cover - Windows
        pass


def _run(args: argparse.Namespace) -> int:
    from dialogflowlite.cli.shell import tolerate_bad_encodings

    tolerate_bad_encodings()
    model = args.model
    sources = sources_from_args(args, (), "interactive")
    if model is None:
        from dialogflowlite.cli.train import train_project

        print("Training the project first (unchanged components are reused)...", flush=True)
        model = str(train_project(args.project, sources=sources).model_path)
    run_interactive(args.project, model, endpoints_file=args.endpoints,
                    out_stories=args.out_stories, out_nlu=args.out_nlu,
                    conversation_id=args.conversation_id, e2e=args.e2e,
                    port=None if args.skip_visualization else args.port, sources=sources)
    return 0


COMMAND = Command(
    name="interactive",
    help="chat with the bot, correct it step by step, and save the corrections as training data",
    description="Train the project (or take --model), then chat with the bot and confirm or "
    "correct each parse "
    "(intent, entities) and each next action. /undo takes back a message, /restart starts a "
    "new conversation, /export asks where the files go (Enter keeps each default, as in "
    "Rasa) and writes the conversations as stories (data/stories.yml), the messages as NLU "
    "examples (data/nlu.yml) and new intents, entities, actions and responses into the "
    "domain, adding to files that exist; /stop or the end of the input asks whether to "
    "write them first. Conversations stay in memory.",
    add_arguments=_add_arguments,
    run=_run,
)
