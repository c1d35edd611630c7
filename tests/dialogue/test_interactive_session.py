"""The interactive-learning session and its export, with the dialogue doubles (no training).

The whole-session tests against a trained model are in tests/cli/test_interactive.py;
here a scripted prompt answers, a rule double predicts, and the export is
checked on the files it merges into.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from dialogue_doubles import FakeResponder, simple_rules
from scripted_prompt import ScriptedPrompt

from dialogflowlite.agent import Agent
from dialogflowlite.dialogue.interactive import (
    ActionChoice,
    InteractiveSession,
    markup,
    shown_entities,
)
from dialogflowlite.dialogue.interactive_export import (
    export_conversations,
    export_texts,
    story_segments,
)
from dialogflowlite.dialogue.processor import Prediction
from dialogflowlite.io.loader import load_project
from dialogflowlite.shared.events import (
    ActionExecuted,
    Restarted,
    SessionStarted,
    SlotSet,
    UserUttered,
)

DOMAIN = """
version: "3.1"
intents: [greet, book, inform]
entities: [city]
slots:
  city:
    type: text
    mappings:
      - type: from_entity
        entity: city
forms:
  trip_form:
    required_slots: [city]
responses:
  utter_greet:
    - text: "Hello!"
  utter_ask_city:
    - text: "Which city?"
  utter_done:
    - text: "Booked for {city}."
"""


@pytest.fixture
def project(write_project) -> Path:
    return write_project(domain=DOMAIN)


@pytest.fixture
def session_for(project: Path, domain_from):
    """``session_for(answers)``: a session on the trip bot, closed after the test."""
    sessions = []

    def build(answers: list, interactive: bool = True) -> InteractiveSession:
        domain = domain_from(DOMAIN)
        rules = simple_rules({"greet": ["utter_greet"], "book": ["trip_form"]},
                             after_loop_done={"trip_form": ["utter_done"]})
        agent = Agent(domain, policies=rules, responder=FakeResponder(domain))
        session = InteractiveSession(agent, ScriptedPrompt(answers, interactive), project)
        sessions.append(session)
        return session

    yield build
    for session in sessions:
        session.close()


def test_a_form_runs_step_by_step_and_its_story_loads(session_for, project: Path) -> None:
    session = session_for(["/book", "", "", "",  # trip_form asks, then the bot listens
                           '/inform{"city": "Rome"}', "", "", "", "",  # form, utter_done, listen
                           "/export"])
    report = session.run()
    text = session.prompt.text
    assert "  form trip_form is active" in text and "  bot: Which city?" in text
    assert "  entities: city='Rome'" in text
    assert "  slot city = 'Rome'" in text and "  the form ended" in text
    assert "  bot: Booked for Rome." in text
    assert report.stories == 1
    (story,) = load_project(project).stories
    assert [type(step).__name__ for step in story.steps] == [
        "UserStep", "ActionStep", "ActiveLoopStep", "SlotStep",  # requested_slot: city
        "UserStep", "SlotStep", "ActionStep", "SlotStep", "ActiveLoopStep", "ActionStep"]


def test_end_of_a_terminals_input_asks_before_writing(session_for, project: Path) -> None:
    session = session_for(["/greet", "", "", "", EOFError(), "n"])
    assert session.run() is None
    assert "Export the conversations before quitting? [Y/n] " in session.prompt.lines
    assert "Nothing was written." in session.prompt.lines
    # leaving at that question too still writes: nothing corrected is lost
    session = session_for(["/greet", "", "", ""])
    assert session.run().stories == 1


def test_ctrl_c_in_the_middle_of_a_turn_keeps_what_was_logged(session_for) -> None:
    session = session_for(["/greet", "", KeyboardInterrupt(), "y"])
    report = session.run()
    assert report.stories == 1  # the message was logged before the action question


def test_the_intent_list_puts_the_ranking_first(session_for) -> None:
    session = session_for(["1"])
    parse = {"intent": {"name": "inform", "confidence": 0.6},
             "intent_ranking": [{"name": "inform", "confidence": 0.6},
                                {"name": "book", "confidence": 0.3}]}
    assert session.pick_intent("to Rome", parse, "inform") == "inform"
    assert session.prompt.lines[1:4] == ["  1. inform (0.60)", "  2. book (0.30)", "  3. greet"]


def test_the_action_list_puts_scores_first_then_every_action(session_for) -> None:
    session = session_for(["n", "2"])
    prediction = Prediction("utter_greet", 0.7, "TEDPolicy",
                            probabilities={"utter_greet": 0.7, "utter_done": 0.2})
    choice = session.confirm_action(prediction)
    assert (choice.name, choice.policy, choice.confidence) == ("utter_done", None, None)
    lines = session.prompt.lines
    start = lines.index("Which action should the bot run?") + 1
    assert lines[start:start + 3] == ["   1. utter_greet (0.70)", "   2. utter_done (0.20)",
                                      "   3. action_listen"]
    assert lines[-2] == "  18. trip_form"  # the domain's actions follow, every one of them


def test_a_confirmed_prediction_keeps_its_policy_and_events(session_for) -> None:
    from dialogflowlite.shared.events import LoopInterrupted

    session = session_for([""])
    interrupted = LoopInterrupted(is_interrupted=True)
    choice = session.confirm_action(Prediction("utter_greet", 1.0, "RulePolicy",
                                               [interrupted]))
    assert (choice.name, choice.policy, choice.confidence, choice.events) == (
        "utter_greet", "RulePolicy", 1.0, [interrupted])


# ---------------------------------------------------------------- entities


def test_shown_entities_drop_duplicates_and_crossing_spans() -> None:
    text = "fly to New York"
    found = [{"entity": "city", "start": 7, "end": 15, "value": "New York", "extractor": "a"},
             {"entity": "city", "start": 7, "end": 15, "value": "New York", "extractor": "b"},
             {"entity": "state", "start": 11, "end": 15, "value": "York"},  # crosses
             {"entity": "place", "start": 7, "end": 15, "value": "New York"},  # same span
             {"entity": "count", "value": 2}]  # no span: from /intent{...}
    kept = shown_entities(text, found)
    assert [e["entity"] for e in kept] == ["city", "place", "count"]
    assert markup(text, kept) == 'fly to [New York][{"entity": "city"}, {"entity": "place"}]'


# ---------------------------------------------------------------- export


def _conversation(text: str, intent: str, *actions: str, entities=()) -> list:
    parse = {"intent": {"name": intent, "confidence": 1.0}, "entities": list(entities)}
    return [ActionExecuted(name="action_listen"), UserUttered(text=text, parse_data=parse),
            *(ActionExecuted(name=a) for a in actions)]


def test_story_segments_split_at_restarts_and_sessions() -> None:
    events = [*_conversation("hi", "greet", "utter_greet"), Restarted(),
              SessionStarted(), *_conversation("book", "book")]
    assert [[type(e).__name__ for e in s] for s in story_segments(events)] == [
        ["ActionExecuted", "UserUttered", "ActionExecuted"],
        ["ActionExecuted", "UserUttered"]]


def test_a_domain_folder_gets_a_file_of_its_own(write_project) -> None:
    root = write_project(files={"domain/base.yml": DOMAIN})
    events = [*_conversation("what time is it", "ask_time", "utter_time", "action_clock"),
              SlotSet(name="city", value="Rome")]
    report = export_conversations(root, [events], responses={"utter_time": "It is noon."})
    assert report.domain_file == root / "domain" / "interactive_domain.yml"
    assert report.additions.intents == ["ask_time"]
    assert report.additions.actions == ["action_clock"]
    domain = load_project(root).domain
    assert "ask_time" in domain.intents and "action_clock" in domain.custom_actions
    assert domain.responses["utter_time"].variations == [{"text": "It is noon."}]
    assert (root / "domain" / "base.yml").read_text(encoding="utf-8") == \
        textwrap.dedent(DOMAIN).lstrip("\n")


def test_flow_lists_and_list_examples_are_added_to(write_project) -> None:
    root = write_project(domain=DOMAIN, files={"data/interactive_nlu.yml": """
        version: "3.1"
        nlu:
        - intent: inform
          examples:
          - text: "to [Paris](city)"
        """})
    city = {"entity": "city", "start": 3, "end": 7, "value": "Rome"}
    events = [*_conversation("to Rome", "inform", entities=[city]),
              *_conversation("see you", "bye")]
    report = export_conversations(root, [events], nlu_file="data/interactive_nlu.yml")
    assert report.examples == 2
    loaded = load_project(root)
    assert {m.text: m.intent for m in loaded.nlu.examples} == {
        "to Paris": "inform", "to Rome": "inform", "see you": "bye"}
    domain_text = (root / "domain.yml").read_text(encoding="utf-8")
    assert "intents: [greet, book, inform, bye]" in domain_text


def test_a_file_that_cannot_be_merged_is_left_alone(write_project) -> None:
    root = write_project(domain=DOMAIN, files={"data/interactive_stories.yml": "stories: [x\n"})
    broken = root / "data" / "interactive_stories.yml"
    report = export_conversations(root, [_conversation("hi", "greet", "utter_greet")],
                                  stories_file=broken)
    assert broken.read_text(encoding="utf-8") == "stories: [x\n"
    assert report.stories_file.name.startswith("interactive_stories.")
    assert report.stories_file != broken
    assert any("invalid YAML" in note and "merge it by hand" in note for note in report.notes)


def test_when_nothing_can_be_written_the_session_prints_it(session_for, project: Path) -> None:
    from dialogflowlite.errors import ProjectError

    session = session_for(["hello there", "greet", "", "", ""], interactive=False)
    session.stories_file = "data/interactive_stories.yml"  # the default the question offers
    (project / "data" / "interactive_stories.yml").mkdir(parents=True)  # not a file
    with pytest.raises(ProjectError, match="could not be written"):
        session.run()
    text = session.prompt.text
    assert "Here it is, to add to the project by hand:" in text
    assert "- story: \"interactive_story_1\"" in text and "  - action: utter_greet" in text
    assert "- intent: greet\n  examples: |\n    - hello there" in text


def test_a_message_typed_with_annotations_is_logged_with_those_entities(
        session_for, project: Path) -> None:
    # no NLU model here: the intent is picked (3: inform), the typed entities kept (Enter)
    session = session_for(["I want to go to [Rome](city)", "3", "", "", "/export"])
    session.run()
    text = session.prompt.text
    assert "Which intent is 'I want to go to Rome'?" in text
    assert "  message: I want to go to [Rome](city)" in text
    assert "  slot city = 'Rome'" in text
    examples = [m for m in load_project(project).nlu.examples if m.text.startswith("I want")]
    assert [(m.text, m.intent, [(e.entity, e.value) for e in m.entities])
            for m in examples] == [("I want to go to Rome", "inform", [("city", "Rome")])]


def test_e2e_stories_hold_the_users_text_next_to_the_intent(write_project) -> None:
    root = write_project(domain=DOMAIN)
    city = {"entity": "city", "start": 8, "end": 12, "value": "Oslo"}
    conversations = [_conversation("trip to Oslo", "book", "utter_greet", entities=[city]),
                     _conversation("/greet", "greet", "utter_greet")]
    export_conversations(root, conversations[:1], e2e=True)
    text = (root / "data" / "stories.yml").read_text(encoding="utf-8")
    assert "  - intent: book\n    user: |-\n      trip to [Oslo](city)\n" in text
    story = load_project(root, strict=False).stories[0]
    assert story.user_steps[0].text == "trip to Oslo"
    # an intent typed as /greet has no text to keep; without e2e no text is kept
    export_conversations(root, conversations, e2e=False)
    stories = load_project(root, strict=False).stories
    assert [s.text for story in stories[1:] for s in story.user_steps] == [None, None]
    assert "user: |-\n      /greet" not in export_texts(conversations[1:], e2e=True)


def test_the_session_hands_over_its_conversations_after_every_step(session_for) -> None:
    seen: list[list[list]] = []
    session = session_for(["/greet", "", "", "", "/restart", "/export"])
    session.on_change = seen.append
    session.run()

    def steps(events: list) -> list[str]:
        return [e.intent_name if isinstance(e, UserUttered) else e.name for e in events
                if isinstance(e, UserUttered)
                or (isinstance(e, ActionExecuted)
                    and e.name not in ("action_listen", "action_session_start"))]

    # before the first message; after utter_greet; after action_listen; after /restart
    assert [len(conversations) for conversations in seen] == [1, 1, 1, 1, 2]
    assert steps(seen[0][-1]) == []
    assert steps(seen[1][-1]) == ["greet", "utter_greet"]
    assert steps(seen[-1][0]) == ["greet", "utter_greet"]
    assert steps(seen[-1][-1]) == []


# ---------------------------------------------------------------- retrieval intents

FAQ_DOMAIN = DOMAIN.replace("intents: [greet, book, inform]",
                            "intents: [greet, book, inform, faq]") + """
  utter_faq/hours:
    - text: "We open at nine."
  utter_faq/parking:
    - text: "Park behind the house."
"""


@pytest.fixture
def faq_session(write_project, domain_from):
    """``faq_session(answers)``: a session on a bot whose ``faq`` is a retrieval intent
    that ``utter_faq`` answers (templates rendered by the real responder)."""
    from dialogflowlite.components.generation.responder import Responder

    sessions = []

    def build(answers: list) -> InteractiveSession:
        project = write_project(domain=FAQ_DOMAIN, name=f"faq{len(sessions)}")
        domain = domain_from(FAQ_DOMAIN)
        agent = Agent(domain, policies=simple_rules({"faq": ["utter_faq"]}),
                      responder=Responder(domain))
        session = InteractiveSession(agent, ScriptedPrompt(answers), project)
        sessions.append(session)
        return session

    yield build
    for session in sessions:
        session.close()


def test_a_retrieval_intent_typed_in_full_is_its_selectors_choice(faq_session) -> None:
    session = faq_session(["when do you open", "faq/hours", "", "", "", "/export"])
    report = session.run()
    text = session.prompt.text
    assert "is not an intent of the domain" not in text
    assert "  intent:  faq/hours (1.00)" in text
    assert "  bot: We open at nine." in text
    user = next(e for e in session.conversation_events()[0] if isinstance(e, UserUttered))
    assert user.intent_name == "faq"
    assert report.additions.intents == []
    project = load_project(session.project_dir)
    (story,) = project.stories
    assert story.steps[0].intent == "faq/hours"
    # the NLU example too, so that the response selector learns from it
    assert ("when do you open", "faq/hours") in [(m.text, m.intent) for m in project.nlu.examples]


def test_a_retrieval_intent_typed_as_a_message_is_understood(faq_session) -> None:
    # `/faq/hours` was "Unknown command": the full name is no intent of the domain
    session = faq_session(["/faq/hours", "", "", "", "/export"])
    session.run()
    text = session.prompt.text
    assert "  bot: We open at nine." in text
    user = next(e for e in session.conversation_events()[0] if isinstance(e, UserUttered))
    assert user.intent_name == "faq"


def test_a_retrieval_intent_picked_from_the_list_asks_for_its_response(faq_session) -> None:
    session = faq_session(["where can I park", "4", "hours?", "2", "", "", "", "/export"])
    session.run()
    text = session.prompt.text
    assert "'faq' is a retrieval intent: which of its responses answers the message?" in text
    assert "  1. faq/hours" in text and "  2. faq/parking" in text
    assert "  bot: Park behind the house." in text
    project = load_project(session.project_dir)
    (story,) = project.stories
    assert story.steps[0].intent == "faq/parking"
    assert ("where can I park", "faq/parking") in [
        (m.text, m.intent) for m in project.nlu.examples]


def test_a_confirmed_selector_choice_is_shown_and_kept(faq_session) -> None:
    session = faq_session([""])
    parse = {"intent": {"name": "faq", "confidence": 0.9},
             "response_selector": {"default": {"response": {
                 "intent_response_key": "faq/parking", "utter_action": "utter_faq/parking",
                 "confidence": 0.8}}}}
    corrected = session.confirm_parse("where can I park", parse)
    assert "  intent:  faq/parking (0.90)" in session.prompt.text
    assert corrected["intent"]["name"] == "faq"
    assert corrected["response_selector"] == parse["response_selector"]


def test_a_generated_message_is_marked_with_its_score(session_for) -> None:
    from dialogflowlite.shared.events import BotUttered

    session = session_for([])
    session._show_events([
        BotUttered(text="How about thai?", metadata={"generated": True, "score": -0.213,
                                                     "utter_action": "utter_offer"}),
        BotUttered(text="Hello!", metadata={"utter_action": "utter_greet"})])
    assert session.prompt.lines == ["  bot: How about thai?", "       (generated, score -0.21)",
                                    "  bot: Hello!"]


# ---------------------------------------------------------------- an active form


def _after_user(events: list, text: str) -> list:
    """The events after the user message ``text`` (to the end of the conversation)."""
    index = max(i for i, e in enumerate(events) if isinstance(e, UserUttered) and e.text == text)
    return events[index + 1:]


# the form asks; another action answers the chit-chat and the bot listens; the form
# comes back after the next message
_INTERRUPTED_FORM = ["/book", "", "", "",
                     "/greet", "", "n", "utter_greet", "n", "action_listen",
                     '/inform{"city": "Rome"}', "", ""]


def test_another_action_than_the_form_logs_the_form_rejected(session_for) -> None:
    from dialogflowlite.shared.events import ActionExecutionRejected

    session = session_for(_INTERRUPTED_FORM[:10])
    session.run()
    events = _after_user(session.conversation_events()[0], "/greet")
    assert [type(e).__name__ for e in events[:2]] == ["ActionExecutionRejected",
                                                      "ActionExecuted"]
    assert (events[0].name, events[1].name) == ("trip_form", "utter_greet")
    # the flag holds until the form runs: the picked action_listen logs no second one
    assert sum(isinstance(e, ActionExecutionRejected) for e in events) == 1
    assert "  (trip_form is logged as rejected: utter_greet answers instead)" in \
        session.prompt.lines


def test_a_form_back_after_a_rejection_asks_whether_to_validate(session_for) -> None:
    from dialogflowlite.shared.events import LoopInterrupted

    session = session_for([*_INTERRUPTED_FORM, "n", "", "", "/export"])
    session.run()
    question = ("trip_form comes back after it was interrupted: should it validate your "
                "last message as the value of 'city'? [Y/n] ")
    assert session.prompt.lines.count(question) == 1
    events = _after_user(session.conversation_events()[0], '/inform{"city": "Rome"}')
    assert isinstance(events[1], LoopInterrupted) and events[1].is_interrupted
    assert isinstance(events[2], ActionExecuted) and events[2].name == "trip_form"
    # answered yes, nothing is logged: the form validates as it would anyway
    session = session_for([*_INTERRUPTED_FORM, "y", "", "", "/export"])
    session.run()
    assert question in session.prompt.lines
    events = _after_user(session.conversation_events()[0], '/inform{"city": "Rome"}')
    assert not any(isinstance(e, LoopInterrupted) for e in events)


def test_a_form_not_rejected_runs_without_the_question(session_for) -> None:
    session = session_for(["/book", "", "", "", '/inform{"city": "Rome"}', "", "", "", "",
                           "/export"])
    session.run()
    assert not any("should it validate" in line for line in session.prompt.lines)


def test_validating_against_the_policys_unhappy_path_is_pointed_out(session_for) -> None:
    from dialogflowlite.shared.events import (
        ActionExecutionRejected,
        ActiveLoop,
        LoopInterrupted,
    )
    from dialogflowlite.shared.tracker import DialogueStateTracker

    def tracker_back_at_the_form() -> DialogueStateTracker:
        return DialogueStateTracker(sender_id="t", events=[
            ActionExecuted(name="action_listen"), UserUttered(text="/book", parse_data={}),
            ActionExecuted(name="trip_form"), ActiveLoop(name="trip_form"),
            SlotSet(name="requested_slot", value="city"), ActionExecuted(name="action_listen"),
            UserUttered(text="/greet", parse_data={}), ActionExecutionRejected(name="trip_form"),
            ActionExecuted(name="utter_greet"), ActionExecuted(name="action_listen"),
            UserUttered(text="/inform", parse_data={})])

    # a rule's unhappy path: the form comes back without validating
    choice = ActionChoice("trip_form", "RulePolicy", 1.0, [LoopInterrupted(is_interrupted=True)])
    def interruptions(events: list) -> list:
        return [(type(e).__name__, e.is_interrupted) for e in events]

    session = session_for(["y"])
    assert interruptions(session.loop_events(tracker_back_at_the_form(), choice)) == [
        ("LoopInterrupted", False)]
    assert "a rule or story says it does not validate" in session.prompt.text
    session = session_for(["n"])
    assert interruptions(session.loop_events(tracker_back_at_the_form(), choice)) == [
        ("LoopInterrupted", True)]
    assert "a rule or story says" not in session.prompt.text


# ---------------------------------------------------------------- turns taken back


def test_a_turn_taken_back_leaves_its_example_but_not_its_actions(write_project) -> None:
    from dialogflowlite.shared.events import BotUttered, UserUtteranceReverted

    root = write_project(domain=DOMAIN)
    code = {"entity": "code", "start": 8, "end": 11, "value": "ABC"}
    events = [*_conversation("hi", "greet", "utter_greet"),
              # taken back by the fallback: a new intent and entity, a new custom action
              *_conversation("booking ABC", "rebook", "action_lookup", entities=[code]),
              ActionExecuted(name="action_default_fallback"), BotUttered(text="Sorry?"),
              UserUtteranceReverted()]
    report = export_conversations(root, [events], responses={"utter_unused": "Typed."},
                                  new_actions=["action_never_run"])
    project = load_project(root)
    assert [m.text for m in project.nlu.examples] == ["hi"]
    (story,) = project.stories
    assert [getattr(s, "intent", None) or s.name for s in story.steps] == ["greet",
                                                                          "utter_greet"]
    # the message's intent and entity go with it; what the bot ran and the session
    # created stays declared
    assert (report.additions.intents, report.additions.entities) == ([], [])
    assert report.additions.actions == ["action_lookup", "action_never_run"]
    assert report.additions.responses == {"utter_unused": [{"text": "Typed."}]}
    assert "action_lookup" in project.domain.custom_actions
    assert project.domain.responses["utter_unused"].variations == [{"text": "Typed."}]


def test_a_response_typed_in_a_turn_undone_is_still_written(session_for,
                                                             project: Path) -> None:
    session = session_for(["/greet", "", "n", "utter_hello", "Hello there!",
                           "n", "action_listen", "/undo", "/export"])
    report = session.run()
    assert "Undone: '/greet' and what followed it." in session.prompt.lines
    assert report.stories == 0
    assert "added to domain.yml: response utter_hello" in session.prompt.text
    assert load_project(project).domain.responses["utter_hello"].variations == [
        {"text": "Hello there!"}]


def test_the_end_of_the_input_at_an_export_question_keeps_the_answers_and_defaults(
        session_for, project: Path) -> None:
    # the stories' path is answered, then the input ends at the NLU question: the rest keep
    # their defaults, so that a scripted session still writes what it learnt
    session = session_for(["/greet", "", "", "", "/export", "data/mine.yml", EOFError()])
    report = session.run()
    assert report.stories_file == project / "data" / "mine.yml"
    assert "Export the domain to" not in session.prompt.text
    assert [story.name for story in load_project(project).stories] == ["interactive_story_1"]


def _data_files(project: Path) -> list[str]:
    return sorted(path.name for path in (project / "data").rglob("*") if path.is_file())


def test_ctrl_c_at_an_export_question_cancels_that_export(session_for, project: Path) -> None:
    # as Rasa's export questions: Ctrl-C writes nothing; here the session goes on
    session = session_for(["/greet", "", "", "", "/export", "data/mine.yml",
                           KeyboardInterrupt(), "/stop", "n"])
    assert session.run() is None
    text = session.prompt.text
    assert "Export cancelled: nothing was written. The conversation goes on; /export asks " \
           "again." in text
    assert "Nothing was written." in text
    assert _data_files(project) == []
    # /export after a cancelled one asks again, the cancelled answers forgotten
    session = session_for(["/greet", "", "", "", "/export", "data/mine.yml",
                           KeyboardInterrupt(), "/export", "", "", ""])
    report = session.run()
    assert report.stories_file == project / "data" / "stories.yml"
    assert session.prompt.text.count("Export stories to") == 2
    assert _data_files(project) == ["stories.yml"]


def test_ctrl_c_at_an_export_question_when_quitting_exports_nothing(
        session_for, project: Path) -> None:
    domain_before = (project / "domain.yml").read_text(encoding="utf-8")
    session = session_for(["/greet", "", "n", "utter_hi", "Hi!", "n", "action_listen",
                           "/stop", "y", "", KeyboardInterrupt()])
    assert session.run() is None
    assert "Export cancelled: nothing was exported." in session.prompt.lines
    assert _data_files(project) == []
    assert (project / "domain.yml").read_text(encoding="utf-8") == domain_before


def test_a_turn_cut_short_by_a_cancelled_export_goes_on(session_for, project: Path) -> None:
    # /export at the action question, then Ctrl-C: the bot's turn resumes where it was
    session = session_for(["/greet", "", "/export", KeyboardInterrupt(), "", "",
                           "/export", "", "", ""])
    session.run()
    (story,) = load_project(project).stories
    assert [type(step).__name__ for step in story.steps] == ["UserStep", "ActionStep"]
    assert session.prompt.text.count("Next action: utter_greet") == 2


def test_a_domain_answer_must_be_read_as_the_projects_domain(write_project) -> None:
    from dialogflowlite.dialogue.interactive_export import domain_path_problem

    folder = write_project(files={"domain/main.yml": DOMAIN}, name="folder")
    offered = "domain/interactive_domain.yml"
    assert domain_path_problem("domain/new/more.yml", folder, offered) is None
    assert domain_path_problem(offered, folder, offered) is None
    assert "would replace domain/ as the project's domain" in domain_path_problem(
        "domain.yml", folder, offered)
    assert "would replace domain/" in domain_path_problem("domain.yaml", folder, offered)
    assert "reads its domain from the files of domain/" in domain_path_problem(
        "domain/.drafts/x.yml", folder, offered)  # the loader skips hidden folders
    # domain.yml comes before domain.yaml; a file given with --domain is always taken
    plain = write_project(domain=DOMAIN, name="plain")
    assert "domain.yaml is not read as the project's domain" in domain_path_problem(
        "domain.yaml", plain, "domain.yml")
    assert domain_path_problem("other.yml", plain, "other.yml") is None
    assert domain_path_problem(str(plain / "domain.yml"), plain, "other.yml") is None
    yaml_named = write_project(files={"domain.yaml": DOMAIN}, name="yaml")
    assert "domain.yml would replace domain.yaml" in domain_path_problem(
        "domain.yml", yaml_named, "domain.yaml")
    # a project without a domain yet: whichever place the answer creates becomes it
    fresh = write_project(files={"data/nlu.yml": "nlu: []\n"}, name="fresh")
    for answer in ("domain.yml", "domain.yaml", "domain/learnt.yml"):
        assert domain_path_problem(answer, fresh, "domain.yml") is None
    assert "reads its domain from domain.yml (or the files of a domain/ folder)" in (
        domain_path_problem("data/domain.yml", fresh, "domain.yml"))
