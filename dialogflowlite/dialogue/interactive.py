"""Interactive learning: chat with the trained bot and correct it as you go.

An :class:`InteractiveSession` talks to the user through a :class:`Prompt`
(a question out, one line back), so the same session runs in a terminal and
under tests that script the answers. Every turn:

1. the user types a message; its parse is shown (the intent with its
   confidence, the message with its entities in ``[value](entity)`` markup)
   and confirmed or corrected: an intent from a numbered list or a new name,
   the entities by retyping the message with annotations;
2. the corrected parse is logged with intent confidence 1.0 and fills slots,
   but the bot does not act yet;
3. the action the policies predict next is shown with its confidence and
   policy, then confirmed or replaced (another action, or a new ``utter_``
   action with the text of its response) and run, until the bot listens.
   Around an active form it is logged as in Rasa: another action answering
   the user makes the form rejected first, and a form coming back after that
   asks whether it should validate the message (see :meth:`InteractiveSession.loop_events`).

At any question ``/undo`` takes back the last message (or the one being
corrected) and all after it, ``/restart`` finishes the conversation (it
becomes a story of its own), ``/export`` writes everything and quits,
``/stop`` (or Ctrl-C, or the end of a terminal's input) asks whether to write
it first; at the end of piped input it is written. Before writing, the
session asks where the stories, NLU examples and domain additions go (Enter
keeps the default offered, as in Rasa); Ctrl-C at one of those questions
cancels the export, as in Rasa (but the session goes on, back at the turn
that ``/export`` interrupted), and the end of the input keeps the defaults of
the questions left. The files are written by
:func:`dialogflowlite.dialogue.interactive_export.export_conversations`.

Conversations live in the agent's tracker store, which the command line
makes an in-memory one: nothing reaches the production store.
"""

from __future__ import annotations

import asyncio
import json
import re
import sys
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TextIO, TypeVar

from dialogflowlite.dialogue.interactive_export import (
    DEFAULT_NLU_FILE,
    DEFAULT_STORIES_FILE,
    INTENT_MESSAGE_PREFIX,
    ExportReport,
    default_domain_file,
    domain_path_problem,
    export_conversations,
    export_path_answer,
    export_path_problem,
    export_project,
    export_texts,
)
from dialogflowlite.dialogue.messages import IncomingMessage, bot_message
from dialogflowlite.dialogue.processor import MessageProcessor, Prediction, TurnResult
from dialogflowlite.errors import AnnotationError, DialogflowLiteError, ProjectError
from dialogflowlite.io.loader import Project, ProjectSources
from dialogflowlite.shared.domain import (
    ACTION_BACK,
    ACTION_DEFAULT_FALLBACK,
    ACTION_LISTEN,
    ACTION_SESSION_START,
)
from dialogflowlite.shared.events import (
    ActionExecuted,
    ActionExecutionRejected,
    ActionReverted,
    ActiveLoop,
    BotUttered,
    Event,
    LoopInterrupted,
    Restarted,
    SlotSet,
    UserUtteranceReverted,
    UserUttered,
)
from dialogflowlite.shared.message import (
    RETRIEVAL_SEPARATOR,
    Entity,
    chosen_retrieval_response,
    full_intent_name,
)
from dialogflowlite.shared.tracker import DialogueStateTracker
from dialogflowlite.shared.training_data import annotate, parse_annotated_text

T = TypeVar("T")

#: the commands, understood at every question, and what they do (shown at the start)
COMMANDS = {
    "/undo": "take back your last message (or the one being corrected) and what followed",
    "/restart": "finish this conversation (it becomes a story) and start a new one",
    "/export": "ask where the stories, NLU examples and domain additions go, write "
               "them, then quit",
    "/stop": "quit (you are asked whether to write them first)",
}
#: the policy recorded for a new action, which no policy could have predicted
NEW_ACTION_POLICY = None
#: a name for a new intent or action: no spaces, brackets or quotes
_NAME = re.compile(r"[^\s/\[\](){}\"'`]+(/[^\s/\[\](){}\"'`]+)?")
#: actions that take back the user's message when they run, so that the turn
#: leaves the story and the NLU examples: confirming one is worth a warning
REVERTING_ACTIONS = (ACTION_DEFAULT_FALLBACK, ACTION_BACK)
#: how the session ended
EXPORT, STOP, END_OF_INPUT, INTERRUPTED = "export", "stop", "end of input", "interrupted"


class Prompt(Protocol):
    """How the session talks to the user: text out, one answered line in."""

    #: whether a person answers (a terminal), rather than a script or a pipe
    interactive: bool

    def show(self, text: str) -> None:
        """Print ``text`` (and a line break)."""

    def ask(self, question: str) -> str:
        """Print ``question`` and return the answer without its line break.

        Raises :class:`EOFError` at the end of the input (and lets
        :class:`KeyboardInterrupt` through).
        """


class StreamPrompt:
    """A :class:`Prompt` on text streams (stdin and stdout unless others are given).

    On a terminal the answer is read with :func:`input`, so line editing works;
    from a pipe or a file each answer is echoed after its question, so the
    output reads as the whole exchange.
    """

    def __init__(self, stdin: TextIO | None = None, stdout: TextIO | None = None) -> None:
        self.stdin = stdin if stdin is not None else sys.stdin
        self.stdout = stdout if stdout is not None else sys.stdout
        isatty = getattr(self.stdin, "isatty", None)
        self.interactive = bool(isatty and isatty())

    def show(self, text: str) -> None:
        print(text, file=self.stdout, flush=True)

    def ask(self, question: str) -> str:
        if self.interactive and self.stdin is sys.stdin and self.stdout is sys.stdout:
            try:
                return input(question)
            except EOFError:
                # Ctrl-D leaves the cursor after the question: what follows needs a line
                self.stdout.write("\n")
                raise
        self.stdout.write(question)
        self.stdout.flush()
        line = self.stdin.readline()
        if not line:
            self.stdout.write("\n")
            raise EOFError
        answer = line.rstrip("\r\n")
        if not self.interactive:
            self.stdout.write(answer + "\n")
        return answer


@dataclass
class ActionChoice:
    """The action to run next: predicted and confirmed, picked, or new."""

    name: str
    policy: str | None = None
    confidence: float | None = None
    #: events the policy wants logged before its action (e.g. a form interrupted)
    events: list[Event] = field(default_factory=list)


class _CommandGiven(Exception):
    """A command typed at one of a turn's questions: the turn stops there."""

    def __init__(self, command: str, paths_answered: bool = False) -> None:
        super().__init__(command)
        self.command = command
        #: for ``/export``: its questions were answered where it was typed
        self.paths_answered = paths_answered


class _EventLoop:
    """One event loop for the whole session, driven from plain (blocking) code.

    The prompts block on input between steps; running each step with
    ``run_until_complete`` keeps Ctrl-C an ordinary KeyboardInterrupt there,
    which the session turns into "export before quitting?".
    """

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return self.loop.run_until_complete(coroutine)

    def close(self) -> None:
        if self.loop.is_closed():
            return
        # a step cut short by Ctrl-C leaves its task behind
        pending = [task for task in asyncio.all_tasks(self.loop) if not task.done()]
        for task in pending:
            task.cancel()
        if pending:
            self.loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        self.loop.run_until_complete(self.loop.shutdown_asyncgens())
        self.loop.close()


class InteractiveSession:
    """One interactive-learning session with ``agent`` (see the module docstring).

    ``project_dir`` is where the training data is written; ``stories_file``,
    ``nlu_file`` and ``domain_file`` replace the defaults that the export's
    questions offer (``data/stories.yml``, ``data/nlu.yml``, the project's
    domain file); with ``e2e`` the stories hold the user's
    texts next to the intents. ``sources`` are the ``--domain`` and ``--data``
    the bot was trained with: the export reads them, not the project's own
    files, to know what is new and where the domain is read from.
    :meth:`run` drives the whole session and returns what the export wrote
    (None when nothing was written);
    :meth:`close` releases the agent's stores and the session's event loop.
    ``on_change`` is called with the events of every conversation of the
    session (the current one last) before each message is asked for and
    after each action (the story graph page follows the session that way).
    """

    def __init__(self, agent: Any, prompt: Prompt, project_dir: str | Path = ".", *,
                 stories_file: str | Path | None = None,
                 nlu_file: str | Path | None = None,
                 domain_file: str | Path | None = None,
                 conversation_id: str | None = None, e2e: bool = False,
                 on_change: Callable[[list[list[Event]]], None] | None = None,
                 sources: ProjectSources | None = None) -> None:
        self.agent = agent
        self.sources = sources
        self.e2e = e2e
        self.on_change = on_change
        #: the first conversation's id; after /restart: ``<id>-2``, ``<id>-3``, ...
        self.conversation_id = conversation_id
        self.processor: MessageProcessor = agent.processor
        self.domain = agent.domain
        self.prompt = prompt
        self.project_dir = Path(project_dir)
        self.stories_file = stories_file
        self.nlu_file = nlu_file
        self.domain_file = domain_file
        #: conversations finished with /restart, then the current one
        self.conversations: list[str] = []
        self.sender_id = self._new_conversation()
        #: intents and actions created in this session; new responses with their text
        self.new_intents: list[str] = []
        self.new_actions: list[str] = []
        self.responses: dict[str, str] = {}
        self.report: ExportReport | None = None
        #: the project as the paths of the export were checked against; the export
        #: that follows writes with it rather than reading every file again
        self._export_project: Project | None = None
        #: a message whose questions an export interrupted and completed: not logged
        self._left_out: str | None = None
        self._loop = _EventLoop()

    # ------------------------------------------------------------ the session

    def run(self) -> ExportReport | None:
        """Chat until ``/export``, ``/stop``, the end of the input or Ctrl-C; then export."""
        self._introduce()
        try:
            ending = self._converse()
        except EOFError:
            ending = END_OF_INPUT
        except KeyboardInterrupt:
            self.prompt.show("")
            ending = INTERRUPTED
        return self._finish(ending)

    def close(self) -> None:
        """Stop the agent's reminders, close its stores and the session's event loop."""
        try:
            self._loop.run(self.agent.close_async())
        finally:
            self._loop.close()

    def _introduce(self) -> None:
        model = getattr(self.agent, "model_path", None)
        self.prompt.show(f"Interactive learning{f' with {model.name}' if model else ''}: "
                         "chat with the bot and correct it as you go.")
        self.prompt.show("Commands (at any question):")
        for command, meaning in COMMANDS.items():
            self.prompt.show(f"  {command:<9} {meaning}")

    def _converse(self) -> str:
        resume_turn = False
        while True:
            self._changed()
            try:
                if resume_turn:
                    resume_turn = False
                    if self._awaits_bot():
                        # /export cut the bot's turn short, then was cancelled
                        self.bot_turn()
                        continue
                text = self.prompt.ask("\nYour message: ").strip()
                if not text:
                    continue
                command = text.split()[0].lower()
                if command in COMMANDS:
                    raise _CommandGiven(command)
                if text.startswith(INTENT_MESSAGE_PREFIX) and not self._is_intent_message(text):
                    self.prompt.show(
                        f"Unknown command {command}. Commands: {', '.join(COMMANDS)}; /INTENT "
                        "sends an intent of the domain (e.g. "
                        f"/{next(iter(self.domain.intents), 'greet')}).")
                    continue
                self.user_turn(text)
            except _CommandGiven as given:
                ending = self._command(given.command)
                if (ending == EXPORT and not given.paths_answered
                        and not self.ask_export_paths()):
                    self.prompt.show("Export cancelled: nothing was written. The "
                                     "conversation goes on; /export asks again.")
                    resume_turn = True
                elif ending is not None:
                    return ending

    def _awaits_bot(self) -> bool:
        """Whether the current conversation's last message still waits for the bot's
        actions (a turn cut short by a command)."""
        tracker = self._loop.run(self.processor.get_tracker(self.sender_id))
        for event in reversed(tracker.events):
            if isinstance(event, UserUttered):
                return True
            if isinstance(event, ActionExecuted) and event.name == ACTION_LISTEN:
                return False
        return False

    def _command(self, command: str) -> str | None:
        """Carry out a command; returns how the session ends, or None to go on."""
        if command == "/undo":
            self.undo()
        elif command == "/restart":
            self.restart()
        else:
            return EXPORT if command == "/export" else STOP
        return None

    def _written_intent(self, text: str) -> dict[str, Any] | None:
        """The parse of ``/intent{...}`` naming an intent of this session, new ones
        included, as written (the bot's parser knows only the domain's, and would
        read a new intent as text and drop new entities); None for other text."""
        from dialogflowlite.components.nlu.intent_shortcut import parse_intent_shortcut

        if not (text.startswith(INTENT_MESSAGE_PREFIX) and self._is_intent_message(text)):
            return None
        message = parse_intent_shortcut(text)
        return message.parse_result() if message is not None else None

    def _is_intent_message(self, text: str) -> bool:
        name = re.split(r"[{@\s]", text[len(INTENT_MESSAGE_PREFIX):], maxsplit=1)[0]
        # a retrieval intent's full name (`/faq/ask_hours`) by its base intent
        return name.split(RETRIEVAL_SEPARATOR, 1)[0] in self._intent_names()

    def _finish(self, ending: str) -> ExportReport | None:
        if ending == EXPORT:
            report = self.write_export()  # the paths were answered at /export
            if self._left_out is not None:
                self.prompt.show(f"{self._left_out!r} is not in the export: it was still "
                                 "being corrected.")
            return report
        if not self._has_messages():
            self.prompt.show("Nothing to export: no messages were exchanged.")
            return None
        if ending == END_OF_INPUT and not self.prompt.interactive:
            return self.export()
        try:
            if self._yes_no("Export the conversations before quitting? [Y/n] ", commands=False):
                return self.export()
        except (EOFError, KeyboardInterrupt):
            # whoever leaves at this question must not lose what they corrected
            self.prompt.show("")
            return self.export()
        self.prompt.show("Nothing was written.")
        return None

    # ------------------------------------------------------------ one turn

    def user_turn(self, text: str) -> TurnResult | None:
        """Parse ``text``, have the parse confirmed or corrected, log it, then the bot's turn.

        A command typed at one of the questions ends the turn (``/undo`` before
        the message is logged drops it, and None is returned).
        """
        text, typed = self._typed_entities(text)
        parse = self._written_intent(text) or self._loop.run(self.processor.parse(text))
        if typed is not None:
            # entities annotated as the message was typed are what the user means
            parse = {**parse, "entities": typed}
        corrected = self._confirmed_parse(text, parse)
        if corrected is None:
            return None
        result = self._loop.run(self.processor.handle_message(
            IncomingMessage(text, self.sender_id, parse_data=corrected), predict=False))
        self._show_events(result.events, skip=UserUttered)
        self.bot_turn()
        return result

    def _confirmed_parse(self, text: str, parse: dict[str, Any]) -> dict[str, Any] | None:
        """The parse of ``text`` as confirmed; None when ``/undo`` drops the message.

        An export cancelled at its questions (``/export``, then Ctrl-C) asks about
        the message again: it is not logged yet, so going on without it would lose it.
        """
        while True:
            try:
                return self.confirm_parse(text, parse)
            except _CommandGiven as given:
                if given.command == "/undo":
                    self.prompt.show(f"Dropped {text!r}.")
                    return None
                if given.command != "/export":
                    raise
                if self.ask_export_paths():
                    # its parse is not confirmed, so it is not logged; the export says so
                    self._left_out = text
                    raise _CommandGiven(given.command, paths_answered=True) from None
                self.prompt.show(f"Export cancelled: nothing was written. Back to {text!r}.")

    @staticmethod
    def _typed_entities(text: str) -> tuple[str, list[dict[str, Any]] | None]:
        """A message typed with ``[value](entity)`` annotations: its words and those entities.

        A message without annotations (or whose brackets do not read as one)
        is taken as typed, and None says the model's entities stand.
        """
        if text.startswith(INTENT_MESSAGE_PREFIX) or "](" not in text:
            return text, None
        try:
            plain, found = parse_annotated_text(text)
        except AnnotationError:
            return text, None
        if not found:
            return text, None
        return plain, [_entity_dict(entity) for entity in found]

    def bot_turn(self) -> None:
        """Predict, confirm and run actions until the bot listens."""
        while True:
            tracker = self._loop.run(self.processor.get_tracker(self.sender_id))
            prediction = self.processor.predict_next_action(tracker.copy())
            choice = self.confirm_action(prediction)
            before = self.loop_events(tracker, choice)
            if before:
                self._loop.run(self.processor.append_events(self.sender_id, before))
            if choice.name in self.new_actions:
                self._log_new_action(choice.name)
                continue
            result = self._loop.run(self.processor.execute_action(
                self.sender_id, choice.name, policy=choice.policy,
                confidence=choice.confidence))
            self._show_events(result.events)
            self._changed()
            if choice.name in (ACTION_LISTEN, ACTION_SESSION_START):
                return

    def loop_events(self, tracker: DialogueStateTracker, choice: ActionChoice) -> list[Event]:
        """The events to log before ``choice`` runs: the policy's, and what an active form
        needs, as Rasa's interactive learning logs them.

        * Another action than the active form (and than ``action_listen``) answers
          the user: the form is logged as having rejected first
          (``action_execution_rejected``), as a live form would have, so the
          tracker holds the unhappy path the story is about.
        * The form comes back right after a message, having been rejected: the
          session asks whether it should validate that message. The answer no
          logs ``loop_interrupted`` (the tracker's ``active_loop.validate`` turns
          false for this run); yes, where the policy predicted the form without
          validation (a rule's unhappy path), is pointed out as contradicting the
          training data and logged as ``loop_interrupted`` false.
        """
        events = list(choice.events)
        loop = tracker.active_loop_name
        if not loop or choice.name == ACTION_LISTEN:
            return events
        rejected = bool(tracker.active_loop.get("rejected"))
        if choice.name != loop:
            # once logged (or rejected by the form itself) the flag holds until the
            # form runs again: a second rejection would change nothing
            if rejected:
                return events
            self.prompt.show(f"  ({loop} is logged as rejected: {choice.name} answers instead)")
            return [ActionExecutionRejected(name=loop), *events]
        if not rejected or tracker.latest_action_name != ACTION_LISTEN:
            return events
        kept = [event for event in events if not isinstance(event, LoopInterrupted)]
        learnt_not_to = (not tracker.active_loop.get("validate", True)
                         or any(isinstance(event, LoopInterrupted) and event.is_interrupted
                                for event in events))
        slot = tracker.requested_slot
        target = f" as the value of '{slot}'" if slot else ""
        if not self._yes_no(f"{loop} comes back after it was interrupted: should it validate "
                            f"your last message{target}? [Y/n] "):
            self.prompt.show(f"  (logged: {loop} is not to validate your last message)")
            return [*kept, LoopInterrupted(is_interrupted=True)]
        if learnt_not_to:
            self.prompt.show(f"  (the policies predicted {loop} without validating here: a rule "
                             "or story says it does not validate after this interruption. "
                             "Remove the one that contradicts this conversation, or the "
                             "model will not learn it)")
            return [*kept, LoopInterrupted(is_interrupted=False)]
        return kept

    def _log_new_action(self, name: str) -> None:
        """Log an action the model does not know: its response is sent as typed;
        a new custom action is only recorded (its code lives in the action server)."""
        events: list[Event] = [ActionExecuted(name=name, policy=NEW_ACTION_POLICY)]
        if name in self.responses:
            events.append(BotUttered(text=self.responses[name],
                                     metadata={"utter_action": name}))
        self._loop.run(self.processor.append_events(self.sender_id, events))
        self._show_events(events)

    # ------------------------------------------------------------ the parse

    def confirm_parse(self, text: str, parse: dict[str, Any]) -> dict[str, Any]:
        """The parse of ``text`` as the user confirms or corrects it (confidence 1.0).

        A retrieval intent is shown and picked in full (``faq/ask_hours``): the
        part after the slash is the response selector's choice, which
        ``utter_faq`` sends and the story holds.
        """
        intent = full_intent_name(parse)
        confidence = (parse.get("intent") or {}).get("confidence")
        entities = shown_entities(text, parse.get("entities") or [])
        self.prompt.show(self._parse_summary(text, intent, confidence, entities))
        if intent is None:
            self.prompt.show("The model found no intent for this message.")
        if intent is None or not self._yes_no("Is this right? [Y/n] "):
            intent = self.pick_intent(text, parse, intent)
            if intent in self.domain.retrieval_intents:
                intent = self.pick_retrieval_response(intent)
            if not text.startswith(INTENT_MESSAGE_PREFIX):
                entities = self.correct_entities(text, entities)
            self.prompt.show(self._parse_summary(text, intent, 1.0, entities))
        return self._corrected_parse(text, parse, intent, entities)

    def _corrected_parse(self, text: str, parse: dict[str, Any], intent: str,
                         entities: list[dict[str, Any]]) -> dict[str, Any]:
        """``parse`` with the confirmed intent (a retrieval one's key in the response
        selector) and entities."""
        corrected = {key: value for key, value in parse.items()
                     if key not in ("intent", "entities", "intent_ranking")}
        base = intent
        if intent == full_intent_name(parse):
            base = (parse.get("intent") or {}).get("name") or intent
        else:
            # a response selector's answer belongs to the intent the model thought of
            corrected.pop("response_selector", None)
            if self._is_retrieval_response(intent):
                base = intent.split(RETRIEVAL_SEPARATOR, 1)[0]
                corrected["response_selector"] = chosen_retrieval_response(intent)
        corrected.update({"text": text, "intent": {"name": base, "confidence": 1.0},
                          "entities": entities,
                          "intent_ranking": [{"name": base, "confidence": 1.0}]})
        return corrected

    def _is_retrieval_response(self, intent: str) -> bool:
        """Whether ``intent`` is ``faq/ask_hours`` for a retrieval intent ``faq`` of the
        domain with the response ``utter_faq/ask_hours``."""
        base, _, key = intent.partition(RETRIEVAL_SEPARATOR)
        return (bool(key) and base in self.domain.retrieval_intents
                and f"utter_{intent}" in self.domain.responses)

    def _retrieval_keys(self, base: str) -> list[str]:
        prefix = f"utter_{base}{RETRIEVAL_SEPARATOR}"
        return [name[len("utter_"):] for name in self.domain.responses
                if name.startswith(prefix)]

    def pick_retrieval_response(self, base: str) -> str:
        """The full retrieval intent (``faq/ask_hours``) whose response answers the message."""
        keys = self._retrieval_keys(base)
        while True:
            name = self._choose(f"'{base}' is a retrieval intent: which of its responses "
                                "answers the message?", keys, keys,
                                "Response (number or name): ", None)
            if name in keys:
                return name
            self.prompt.show(f"Pick one of the responses of '{base}' "
                             f"({', '.join(keys)}).")

    def _parse_summary(self, text: str, intent: str | None, confidence: float | None,
                       entities: list[dict[str, Any]]) -> str:
        score = (f" ({confidence:.2f})" if intent and isinstance(confidence, (int, float))
                 else "")
        lines = [f"  intent:  {intent or '(none)'}{score}"]
        if text.startswith(INTENT_MESSAGE_PREFIX):
            if entities:
                lines.append("  entities: " + ", ".join(
                    f"{e['entity']}={e.get('value')!r}" for e in entities))
        else:
            lines.append(f"  message: {markup(text, entities)}")
        return "\n".join(lines)

    def pick_intent(self, text: str, parse: dict[str, Any], current: str | None) -> str:
        """The intent the user picks from the ranking and the domain, or types."""
        ranking = {item["name"]: item.get("confidence") for item in parse.get("intent_ranking")
                   or [] if item.get("name")}
        options = list(ranking) + [name for name in self._intent_names(declared=True)
                                   if name not in ranking]
        labels = [f"{name} ({ranking[name]:.2f})" if isinstance(ranking.get(name), (int, float))
                  else name for name in options]
        keep = f", Enter to keep '{current}'" if current else ""
        while True:
            name = self._choose(f"Which intent is {text!r}?", options, labels,
                                f"Intent (number or name{keep}): ", current)
            if name in self._intent_names() or self._is_retrieval_response(name):
                return name
            if self._yes_no(f"'{name}' is not an intent of the domain: add it as a new "
                            "intent? [Y/n] "):
                self.new_intents.append(name)
                return name

    def correct_entities(self, text: str, entities: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The entities as the user retypes the message with annotations (Enter keeps them)."""
        self.prompt.show(f"Entities: {markup(text, entities)}")
        while True:
            answer = self._ask("Enter to keep them, or retype the message with "
                               "[value](entity) annotations: ")
            if not answer:
                return entities
            try:
                plain, found = parse_annotated_text(answer)
            except AnnotationError as e:
                self.prompt.show(f"That annotation does not read: {e.render()}")
                continue
            if plain != text:
                self.prompt.show(f"The words must stay {text!r}; add or change only the "
                                 "[value](entity) annotations.")
                continue
            new = sorted({e.entity for e in found} - set(self.domain.entities))
            if new:
                self.prompt.show(f"(new entit{'y' if len(new) == 1 else 'ies'}: "
                                 f"{', '.join(new)})")
            return [_entity_dict(e) for e in found]

    # ------------------------------------------------------------ the actions

    def confirm_action(self, prediction: Prediction) -> ActionChoice:
        """The predicted action if the user confirms it, else the one they pick or create."""
        score = (f"{prediction.confidence:.2f}"
                 if isinstance(prediction.confidence, (int, float)) else "?")
        by = f", {prediction.policy_name}" if prediction.policy_name else ""
        self.prompt.show(f"Next action: {prediction.action_name} ({score}{by})")
        if prediction.action_name in REVERTING_ACTIONS:
            self.prompt.show(f"  ({prediction.action_name} takes back your message: the turn "
                             "stays out of the story and the NLU examples; answer n to pick "
                             "what the bot should do)")
        if self._yes_no("Is this right? [Y/n] "):
            return ActionChoice(prediction.action_name, prediction.policy_name,
                                prediction.confidence, list(prediction.events))
        scores = prediction.probabilities or {
            prediction.action_name: prediction.confidence or 0.0}
        ranked = [name for name, _ in sorted(scores.items(), key=lambda item: item[1],
                                             reverse=True)]
        options = ranked + [name for name in (*self.domain.action_names, *self.new_actions)
                            if name not in scores]
        labels = [f"{name} ({scores[name]:.2f})" if name in scores else name
                  for name in options]
        while True:
            name = self._choose("Which action should the bot run?", options, labels,
                                "Action (number or name, Enter to keep "
                                f"'{prediction.action_name}'): ", prediction.action_name)
            if name == prediction.action_name:
                return ActionChoice(name, prediction.policy_name, prediction.confidence,
                                    list(prediction.events))
            if name in options or self.domain.is_known_action(name):
                return ActionChoice(name)
            if self._create_action(name):
                return ActionChoice(name, NEW_ACTION_POLICY)

    def _create_action(self, name: str) -> bool:
        """Make ``name`` a new action (a response asks for its text); False to pick again."""
        if name.startswith("utter_"):
            text = self._ask(f"Text of the new response {name} (empty: pick another action): ")
            if not text:
                return False
            self.responses[name] = text
        elif not self._yes_no(f"'{name}' is not an action of the domain: add it as a custom "
                              "action? It is logged, not run. [Y/n] "):
            return False
        self.new_actions.append(name)
        return True

    # ------------------------------------------------------------ commands

    def undo(self) -> None:
        """Drop the last user message of the conversation and everything after it."""
        tracker = self._loop.run(self.processor.get_tracker(self.sender_id))
        last = next((index for index in range(len(tracker.events) - 1, -1, -1)
                     if isinstance(tracker.events[index], UserUttered)), None)
        if last is None:
            self.prompt.show("Nothing to undo in this conversation.")
            return
        message = tracker.events[last]
        self._loop.run(self.processor.replace_events(self.sender_id, tracker.events[:last]))
        self.prompt.show(f"Undone: {message.text!r} and what followed it.")

    def restart(self) -> None:
        """Finish the conversation (it becomes a story) and start a new one."""
        if not self._has_messages(self.sender_id):
            self.prompt.show("This conversation has no messages yet: it goes on.")
            return
        self.sender_id = self._new_conversation()
        self.prompt.show(f"Conversation {len(self.conversations) - 1} is finished; "
                         f"conversation {len(self.conversations)} starts.")

    def export(self) -> ExportReport | None:
        """Ask where the files go, then write the conversations as stories, NLU
        examples and domain additions; None when the export is cancelled at a
        question (Ctrl-C), which writes nothing."""
        if not self.ask_export_paths():
            self.prompt.show("Export cancelled: nothing was exported.")
            return None
        return self.write_export()

    def write_export(self) -> ExportReport:
        """Write the conversations as stories, NLU examples and domain additions to
        the paths answered (or offered)."""
        conversations = self.conversation_events()
        project, self._export_project = self._export_project, None
        try:
            self.report = export_conversations(
                self.project_dir, conversations, responses=self.responses,
                model_domain=self.domain, stories_file=self.stories_file,
                nlu_file=self.nlu_file, domain_file=self.domain_file, e2e=self.e2e,
                new_actions=self.new_actions, sources=self.sources, project=project)
        except (DialogflowLiteError, OSError) as e:
            # the session's work must survive a file that cannot be written: show it
            message = e.render() if isinstance(e, DialogflowLiteError) else str(e)
            self.prompt.show(f"The training data could not be written ({message}). Here it "
                             "is, to add to the project by hand:\n")
            self.prompt.show(export_texts(conversations, e2e=self.e2e))
            if isinstance(e, DialogflowLiteError):
                raise
            raise ProjectError(f"the training data could not be written: {e}",
                               hint="check the paths answered at the export's questions "
                                    "and the project's permissions") from e
        lines = self.report.lines(self.project_dir)
        self.prompt.show("\n".join(lines) if lines else "Nothing to export.")
        return self.report

    def ask_export_paths(self) -> bool:
        """Ask where the stories, the NLU examples and the domain additions go;
        False when the user cancels the export with Ctrl-C (nothing is changed).

        Each question offers a default (Enter keeps it): ``data/stories.yml``,
        ``data/nlu.yml`` and the project's domain file, as Rasa offers, or the
        paths the session was given. An answer may be quoted and start with
        ``~``. A path that is not a YAML file, that cannot be a file, or (for the
        domain) that the project would not read as its domain is explained and
        asked again. At the end of the input the questions not answered keep
        their defaults, so that a scripted session still writes what it learnt.
        Nothing is asked when there is nothing to write.
        """
        if not (self._has_messages() or self.new_actions or self.responses):
            return True
        # read once (it reads every file of the project), as the session's training read it
        project = export_project(self.project_dir, self.sources)
        domain_default = self.domain_file or self._shown(
            default_domain_file(self.project_dir, project=project))
        questions = (
            ("stories_file", "Export stories to (an existing file is added to)",
             self.stories_file or DEFAULT_STORIES_FILE, "the stories"),
            ("nlu_file", "Export NLU data to (an existing file is added to)",
             self.nlu_file or DEFAULT_NLU_FILE, "the NLU data"),
            ("domain_file", "Export the domain to (an existing file is added to)",
             domain_default, "the domain"),
        )
        answers: dict[str, str] = {}
        try:
            for attribute, question, default, what in questions:
                answer = self._export_path(f"{question} [{default}]: ", what, default,
                                           project if attribute == "domain_file" else None)
                if answer is not None:
                    answers[attribute] = answer
        except EOFError:
            pass
        except KeyboardInterrupt:
            # as Rasa's export: Ctrl-C at its questions writes nothing
            self.prompt.show("")
            return False
        for attribute, answer in answers.items():
            setattr(self, attribute, answer)
        self._export_project = project
        return True

    def _export_path(self, question: str, what: str, default: str | Path,
                     domain_of: Project | None = None) -> str | None:
        """The path answered, or None where Enter keeps ``default``; with ``domain_of``
        (the project), one that this project would not read as its domain is refused."""
        while True:
            answer = export_path_answer(self._ask(question, commands=False))
            if not answer:
                return None
            problem = export_path_problem(answer, self.project_dir, what, str(default))
            if problem is None and domain_of is not None:
                problem = domain_path_problem(answer, self.project_dir, default,
                                              project=domain_of, sources=self.sources)
            if problem is None:
                return answer
            self.prompt.show(problem)

    def _shown(self, path: Path) -> str:
        """``path`` relative to the project, as the user types it."""
        try:
            return str(path.relative_to(self.project_dir))
        except ValueError:
            return str(path)

    # ------------------------------------------------------------ helpers

    def conversation_events(self) -> list[list[Event]]:
        """The events of every conversation of the session, the current one last."""
        return [list(self._loop.run(self.processor.get_tracker(sender)).events)
                for sender in self.conversations]

    def _changed(self) -> None:
        if self.on_change is not None:
            self.on_change(self.conversation_events())

    def _new_conversation(self) -> str:
        number = len(self.conversations) + 1
        if self.conversation_id is None:
            sender_id = f"interactive-{number}"
        else:
            sender_id = self.conversation_id if number == 1 else f"{self.conversation_id}-{number}"
        self.conversations.append(sender_id)
        return sender_id

    def _has_messages(self, sender_id: str | None = None) -> bool:
        senders = [sender_id] if sender_id else self.conversations
        return any(isinstance(event, UserUttered)
                   for sender in senders
                   for event in self._loop.run(self.processor.get_tracker(sender)).events)

    def _intent_names(self, declared: bool = False) -> list[str]:
        names = list(self.domain.intents) if declared else list(self.domain.intent_names)
        return names + [name for name in self.new_intents if name not in names]

    def _ask(self, question: str, commands: bool = True) -> str:
        """The stripped answer; with ``commands``, a command raises :class:`_CommandGiven`."""
        answer = self.prompt.ask(question).strip()
        if commands and answer.lower() in COMMANDS:
            raise _CommandGiven(answer.lower())
        return answer

    def _yes_no(self, question: str, commands: bool = True) -> bool:
        while True:
            answer = self._ask(question, commands).lower()
            if answer in ("", "y", "yes"):
                return True
            if answer in ("n", "no"):
                return False
            self.prompt.show("Please answer y or n.")

    def _choose(self, title: str, options: Sequence[str], labels: Sequence[str],
                question: str, keep: str | None) -> str:
        """A name from the numbered ``options``, or one the user types."""
        self.prompt.show(title)
        width = len(str(len(options)))
        for number, label in enumerate(labels, 1):
            self.prompt.show(f"  {number:>{width}}. {label}")
        while True:
            answer = self._ask(question)
            if not answer and keep is not None:
                return keep
            if answer.isdigit():
                if 1 <= int(answer) <= len(options):
                    return options[int(answer) - 1]
                self.prompt.show(f"There is no {answer} in the list: type a number from 1 to "
                                 f"{len(options)}, or a name.")
                continue
            if answer and _NAME.fullmatch(answer):
                return answer
            self.prompt.show(f"{answer!r} is not a name: type a number from 1 to "
                             f"{len(options)}, or a name without spaces or brackets."
                             if answer else "Type a number from the list, or a name.")

    def _show_events(self, events: Sequence[Event], skip: type | None = None) -> None:
        for event in events:
            if skip is not None and isinstance(event, skip):
                continue
            if isinstance(event, BotUttered):
                message = bot_message(event)
                self.prompt.show(f"  bot: {message.get('text') or ''}".rstrip())
                if event.metadata.get("generated"):
                    # a trainer should know the text came from the generator, not a template
                    score = event.metadata.get("score")
                    self.prompt.show("       (generated" + (
                        f", score {score:.2f})" if isinstance(score, (int, float)) else ")"))
                for number, button in enumerate(message.get("buttons") or [], 1):
                    self.prompt.show(f"       {number}: {button.get('title')} "
                                     f"({button.get('payload')})")
                # labelled as the shell (and Rasa's console) shows them; a custom payload
                # as JSON, so that it can be copied into a response
                for key in ("image", "attachment"):
                    if message.get(key):
                        self.prompt.show(f"       {key.capitalize()}: {message[key]}")
                if message.get("custom") is not None:
                    self.prompt.show("       Custom: " + json.dumps(message["custom"],
                                                                    ensure_ascii=False))
            elif isinstance(event, SlotSet):
                self.prompt.show(f"  slot {event.name} = {event.value!r}")
            elif isinstance(event, ActiveLoop):
                self.prompt.show(f"  form {event.name} is active" if event.name
                                 else "  the form ended")
            elif isinstance(event, ActionExecutionRejected):
                self.prompt.show(f"  {event.name} rejected running: the bot picks again")
            elif isinstance(event, Restarted):
                self.prompt.show("  (the conversation was restarted)")
            elif isinstance(event, UserUtteranceReverted):
                self.prompt.show("  (your last message is taken back: it is not written to "
                                 "the story or the NLU examples)")
            elif isinstance(event, ActionReverted):
                self.prompt.show("  (the bot's last action is taken back)")


# ---------------------------------------------------------------- entities


def shown_entities(text: str, entities: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The entities of a parse as one markup can show them.

    Spans that overlap an earlier one and duplicates (two extractors finding
    the same value) are dropped, so what the user confirms is exactly what is
    logged; entities without a span (from ``/intent{...}``) are kept.
    """
    kept: list[dict[str, Any]] = []
    seen: set[tuple] = set()
    spanned = [e for e in entities if _has_span(e, text)]
    for entity in sorted(spanned, key=lambda e: (e["start"], -e["end"])):
        key = (entity["entity"], entity["start"], entity["end"], str(entity.get("value")),
               entity.get("role"), entity.get("group"))
        span = (entity["start"], entity["end"])
        # one span may carry several entities; spans that cross cannot be written
        overlaps = any(k[1] < span[1] and span[0] < k[2] and (k[1], k[2]) != span for k in seen)
        if key in seen or overlaps:
            continue
        seen.add(key)
        kept.append(dict(entity))
    return kept + [dict(e) for e in entities if e.get("entity") and not _has_span(e, text)]


def markup(text: str, entities: Sequence[dict[str, Any]]) -> str:
    """``text`` with ``entities`` in Rasa's ``[value](entity)`` annotation."""
    spanned = [Entity(e["entity"], e["start"], e["end"], e.get("value"), role=e.get("role"),
                      group=e.get("group")) for e in entities if _has_span(e, text)]
    return annotate(text, spanned)


def _has_span(entity: dict[str, Any], text: str) -> bool:
    start, end = entity.get("start"), entity.get("end")
    return (bool(entity.get("entity")) and isinstance(start, int) and isinstance(end, int)
            and 0 <= start < end <= len(text))


def _entity_dict(entity: Entity) -> dict[str, Any]:
    data = {"entity": entity.entity, "start": entity.start, "end": entity.end,
            "value": entity.value}
    data.update({key: value for key, value in (("role", entity.role), ("group", entity.group))
                 if value is not None})
    return data
