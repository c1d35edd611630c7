"""Markers: reading Rasa's markers files, Rasa's meaning of every tag, sessions and outputs."""

from __future__ import annotations

import asyncio
import logging
import textwrap
from pathlib import Path

import pytest
from story_data import MOOD_MARKERS

from dialogflowlite.errors import ConfigError, ProjectNotFoundError, ProjectValidationError
from dialogflowlite.evaluation.markers import (
    ConversationResult,
    MarkedEvent,
    MarkerDefinition,
    MarkerStatistics,
    check_markers,
    evaluate_conversation,
    evaluate_session,
    evaluate_tracker_store,
    load_markers,
    read_domain,
    select_conversations,
    split_sessions,
    write_markers_csv,
    write_statistics,
)
from dialogflowlite.shared.events import (
    ActionExecuted,
    AllSlotsReset,
    Event,
    Restarted,
    SessionStarted,
    SlotSet,
    UserUttered,
)
from dialogflowlite.shared.tracker import DialogueStateTracker
from dialogflowlite.stores.memory import MemoryTrackerStore


def user(intent: str, **intent_fields: str) -> UserUttered:
    return UserUttered(text=f"<{intent}>",
                       parse_data={"intent": {"name": intent, "confidence": 1.0, **intent_fields}})


def action(name: str) -> ActionExecuted:
    return ActionExecuted(name=name)


def slot(name: str, value: object) -> SlotSet:
    return SlotSet(name=name, value=value)


def session_start() -> list[Event]:
    return [action("action_session_start"), SessionStarted(), action("action_listen")]


def markers(tmp_path: Path, text: str, name: str = "markers.yml") -> dict[str, MarkerDefinition]:
    file = tmp_path / name
    file.write_text(textwrap.dedent(text), encoding="utf-8")
    return {d.name: d for d in load_markers(file)}


def applies(tmp_path: Path, text: str, events: list[Event]) -> list[int]:
    """The answers of the only marker in ``text`` at each event, as 0/1."""
    (definition,) = markers(tmp_path, text).values()
    return [int(answer) for answer in definition.marker.applies(events)]


def problems(tmp_path: Path, text: str) -> list[str]:
    file = tmp_path / "markers.yml"
    file.write_text(textwrap.dedent(text), encoding="utf-8")
    _, found = check_markers(file)
    return [str(p) for p in found]


# ---------------------------------------------------------------- conditions


def test_action_and_not_action(tmp_path: Path) -> None:
    events = [user("greet"), action("utter_greet"), action("action_listen")]
    assert applies(tmp_path, "m:\n  action: utter_greet\n", events) == [0, 1, 0]
    assert applies(tmp_path, "m:\n  not_action: utter_greet\n", events) == [1, 0, 1]


def test_intent_and_not_intent_with_retrieval_intents(tmp_path: Path) -> None:
    events = [user("greet"), action("utter_greet"),
              user("faq", full_retrieval_intent_name="faq/ask_price"),
              UserUttered(text="hours?", parse_data={
                  "intent": {"name": "faq"},
                  "response_selector": {"faq": {"response": {
                      "intent_response_key": "faq/ask_hours"}}}})]
    assert applies(tmp_path, "m:\n  intent: greet\n", events) == [1, 0, 0, 0]
    assert applies(tmp_path, "m:\n  intent: faq\n", events) == [0, 0, 1, 1]
    assert applies(tmp_path, "m:\n  intent: faq/ask_price\n", events) == [0, 0, 1, 0]
    assert applies(tmp_path, "m:\n  intent: faq/ask_hours\n", events) == [0, 0, 0, 1]
    # not_intent applies at every event that is not that intent, actions included
    assert applies(tmp_path, "m:\n  not_intent: greet\n", events) == [0, 1, 1, 1]
    # one selector for every retrieval intent (Rasa's `default`, the templates' set-up)
    default = [UserUttered(text="hours?", parse_data={
        "intent": {"name": "faq"},
        "response_selector": {"default": {"response": {
            "intent_response_key": "faq/ask_hours"}}}})]
    assert applies(tmp_path, "m:\n  intent: faq/ask_hours\n", default) == [1]
    # that selector answers a greeting too, which does not make it a retrieval intent
    greeting = [UserUttered(text="hi", parse_data={
        "intent": {"name": "greet"}, "response_selector": default[0].parse_data[
            "response_selector"]})]
    assert applies(tmp_path, "m:\n  intent: faq/ask_hours\n", greeting) == [0]
    assert applies(tmp_path, "m:\n  intent: greet\n", greeting) == [1]


def test_slot_was_set_holds_from_a_value_until_it_is_cleared(tmp_path: Path) -> None:
    events = [user("inform"), slot("name", "Ann"), action("utter_ok"), slot("city", None),
              slot("name", None), action("utter_ok"), slot("name", 0), Restarted(),
              AllSlotsReset()]
    # a value of 0 is a value; as in Rasa, a restart or slot reset changes nothing
    assert applies(tmp_path, "m:\n  slot_was_set: name\n", events) == [0, 1, 1, 1, 0, 0, 1, 1, 1]
    assert applies(tmp_path, "m:\n  slot_was_not_set: name\n", events) == [
        1, 0, 0, 0, 1, 1, 0, 0, 0]


# ---------------------------------------------------------------- operators


def test_and_at_least_one_not_or_and_not(tmp_path: Path) -> None:
    events = [user("greet"), slot("name", "Ann"), user("greet"), user("bye")]
    both = "  - intent: greet\n  - slot_was_set: name\n"
    assert applies(tmp_path, f"m:\n and:\n{both}", events) == [0, 0, 1, 0]
    assert applies(tmp_path, f"m:\n at_least_one_not:\n{both}", events) == [1, 1, 0, 1]
    assert applies(tmp_path, f"m:\n or:\n{both}", events) == [1, 1, 1, 1]
    assert applies(tmp_path, "m:\n not:\n  - intent: greet\n", events) == [0, 1, 0, 1]


def test_seq_completes_in_order_with_events_between_and_starts_again(tmp_path: Path) -> None:
    a, b, other = user("a"), user("b"), action("utter_x")
    seq = "m:\n  seq:\n    - intent: a\n    - intent: b\n"
    assert applies(tmp_path, seq, [a, other, b, b, a, a, other, b]) == [0, 0, 1, 0, 0, 0, 0, 1]
    # the same sub-marker twice needs two events: one step per event
    twice = "m:\n  seq:\n    - intent: a\n    - intent: a\n"
    assert applies(tmp_path, twice, [a, a, a, a]) == [0, 1, 0, 1]
    held = "m:\n  seq:\n    - slot_was_set: name\n    - slot_was_set: name\n"
    assert applies(tmp_path, held, [slot("name", "Ann"), other]) == [0, 1]


def test_at_least_once_is_reported_at_its_first_event_only(tmp_path: Path) -> None:
    (definition,) = markers(tmp_path, "m:\n  at_least_once:\n    - action: utter_x\n").values()
    events = [user("a"), action("utter_x"), user("b"), action("utter_x")]
    assert definition.marker.applies(events) == [False, True, True, True]
    assert definition.marked(events) == [1]
    assert definition.marked([user("a")]) == []


def test_never_is_reported_at_the_end_of_a_session_where_it_never_happened(
        tmp_path: Path) -> None:
    (definition,) = markers(tmp_path, "m:\n  never:\n    - intent: bot_challenge\n").values()
    assert definition.marked([action("action_listen"), user("greet"), user("bye")]) == [2]
    # it happening later in the session means it did happen: not reported
    later = [action("action_listen"), user("bot_challenge"), user("greet")]
    assert definition.marker.applies(later) == [True, False, False]  # nested: "not yet"
    assert definition.marked(later) == []
    assert definition.marked([user("bot_challenge"), user("greet")]) == []
    assert definition.marked([]) == []


def test_nested_operators_as_in_rasa_s_example(tmp_path: Path) -> None:
    text = """\
        marker_mood_expressed_and_name_not_provided:
          description: the user said how they feel before giving their name
          and:
            - not:
              - slot_was_set: name
            - or:
              - intent: mood_unhappy
              - description: either mood counts
                intent: mood_great
        """
    (definition,) = markers(tmp_path, text).values()
    events = [user("mood_great"), slot("name", "Ann"), user("mood_unhappy")]
    assert definition.marked(events) == [0]
    assert definition.description == "the user said how they feel before giving their name"


# ---------------------------------------------------------------- sessions


def test_sessions_split_at_action_session_start() -> None:
    before = [user("early")]
    first = [*session_start(), user("greet")]
    second = [*session_start(), user("bye")]
    sessions = split_sessions([*before, *first, *second])
    # as in Rasa, events before the first session start belong to no session
    assert [(offset, len(events)) for offset, events in sessions] == [(1, 4), (5, 4)]
    assert split_sessions(first[3:]) == [(0, [first[3]])]
    assert split_sessions([]) == [(0, [])]


def test_each_session_is_evaluated_on_its_own_with_conversation_indices(
        tmp_path: Path) -> None:
    found = markers(tmp_path, """\
        named:
          slot_was_set: name
        greeted_then_bye:
          seq:
            - intent: greet
            - intent: bye
        """)
    events = [*session_start(), user("greet"), slot("name", "Ann"), user("other"),
              *session_start(), user("bye"), user("greet"), user("bye")]
    sessions = evaluate_conversation(list(found.values()), events)
    assert sessions[0] == {
        "named": [MarkedEvent(4, 1), MarkedEvent(5, 1)],
        "greeted_then_bye": [],
    }
    # the slot and the half-done sequence do not carry into the next session
    assert sessions[1] == {"named": [], "greeted_then_bye": [MarkedEvent(11, 2)]}


def test_preceding_user_turns_count_user_messages_before_the_event(tmp_path: Path) -> None:
    found = markers(tmp_path, "m:\n  not_intent: nothing\n")
    result = evaluate_session(list(found.values()), [user("a"), user("b"), action("x")], 10)
    assert result["m"] == [MarkedEvent(10, 0), MarkedEvent(11, 1), MarkedEvent(12, 2)]


# ---------------------------------------------------------------- choosing conversations


def test_all_and_first_n_keep_the_store_s_order() -> None:
    keys = ["d", "a", "c", "b"]
    assert select_conversations(keys, "all") == keys
    assert select_conversations(keys, "first_n", 2) == ["d", "a"]


def test_sample_n_draws_distinct_conversations_repeatably_with_a_seed() -> None:
    keys = [f"user{i}" for i in range(20)]
    drawn = select_conversations(keys, "sample_n", 5, seed=42)
    assert len(set(drawn)) == 5 and set(drawn) <= set(keys)
    assert select_conversations(keys, "sample_n", 5, seed=42) == drawn
    assert len({tuple(select_conversations(keys, "sample_n", 5, seed=s)) for s in range(5)}) > 1


def test_asking_for_more_conversations_than_stored_takes_them_all(caplog) -> None:
    with caplog.at_level(logging.WARNING):
        assert select_conversations(["a", "b"], "first_n", 5) == ["a", "b"]
    assert "holds only 2 conversations" in caplog.text
    with pytest.raises(ConfigError, match="at least 1"):
        select_conversations(["a"], "sample_n", 0)
    with pytest.raises(ConfigError, match="unknown strategy 'last_n'"):
        select_conversations(["a"], "last_n", 1)


# ---------------------------------------------------------------- outputs

ANN = [*session_start(), user("mood_unhappy"), action("utter_cheer_up"),
       action("utter_did_that_help"), action("action_listen"), user("deny"),
       action("utter_goodbye"),
       *session_start(), user("greet"), action("utter_greet"), action("action_listen"),
       user("mood_great"), action("utter_happy")]
BOB = [*session_start(), user("greet"), action("utter_greet")]


def _results(tmp_path: Path) -> list[ConversationResult]:
    store = MemoryTrackerStore()

    async def fill_and_evaluate() -> list[ConversationResult]:
        for sender, events in (("ann", ANN), ("bob", BOB)):
            await store.save(DialogueStateTracker(sender, events=events))
        definitions = list(markers(tmp_path, MOOD_MARKERS).values())
        return await evaluate_tracker_store(store, definitions)

    return asyncio.run(fill_and_evaluate())


def _lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines()


def test_the_extracted_markers_csv(tmp_path: Path) -> None:
    results = _results(tmp_path)
    assert write_markers_csv(results, tmp_path / "out.csv") == 3
    assert _lines(tmp_path / "out.csv") == [
        "sender_id,session_idx,marker,event_idx,num_preceding_user_turns",
        "ann,0,marker_mood_expressed,3,0",
        "ann,0,marker_cheer_up_failed,7,1",
        "ann,1,marker_mood_expressed,15,1",
    ]


def test_the_overall_statistics(tmp_path: Path) -> None:
    overall, _ = write_statistics(_results(tmp_path), tmp_path / "stats")
    assert overall == tmp_path / "stats-overall.csv"
    turns = "(number of preceding user turns)"
    assert _lines(overall) == [
        "sender_id,session_idx,marker,statistic,value",
        "all,nan,-,total_number_of_sessions,3",
        "all,nan,marker_cheer_up_failed,number_of_sessions_where_marker_applied_at_least_once,1",
        "all,nan,marker_cheer_up_failed,"
        "percentage_of_sessions_where_marker_applied_at_least_once,33.333",
        "all,nan,marker_mood_expressed,number_of_sessions_where_marker_applied_at_least_once,2",
        "all,nan,marker_mood_expressed,"
        "percentage_of_sessions_where_marker_applied_at_least_once,66.667",
        f"all,nan,marker_cheer_up_failed,count{turns},1",
        f"all,nan,marker_cheer_up_failed,mean{turns},1.0",
        f"all,nan,marker_cheer_up_failed,median{turns},1.0",
        f"all,nan,marker_cheer_up_failed,min{turns},1",
        f"all,nan,marker_cheer_up_failed,max{turns},1",
        f"all,nan,marker_mood_expressed,count{turns},2",
        f"all,nan,marker_mood_expressed,mean{turns},0.5",
        f"all,nan,marker_mood_expressed,median{turns},0.5",
        f"all,nan,marker_mood_expressed,min{turns},0",
        f"all,nan,marker_mood_expressed,max{turns},1",
    ]


def test_the_per_session_statistics(tmp_path: Path) -> None:
    _, per_session = write_statistics(_results(tmp_path), tmp_path / "my")
    assert per_session == tmp_path / "my-per-session.csv"
    sessions = [("ann", "0"), ("ann", "1"), ("bob", "0")]
    # grouped by marker, then statistic (alphabetically), then session
    values = {
        "marker_cheer_up_failed": {"count": ["1", "0", "0"], "max": ["1", "nan", "nan"],
                                   "mean": ["1.0", "nan", "nan"],
                                   "median": ["1.0", "nan", "nan"], "min": ["1", "nan", "nan"]},
        "marker_mood_expressed": {"count": ["1", "1", "0"], "max": ["0", "1", "nan"],
                                  "mean": ["0.0", "1.0", "nan"],
                                  "median": ["0.0", "1.0", "nan"], "min": ["0", "1", "nan"]},
    }
    assert _lines(per_session) == ["sender_id,session_idx,marker,statistic,value"] + [
        f"{sender},{index},{marker},{statistic}(number of preceding user turns),{value}"
        for marker, by_statistic in values.items()
        for statistic, column in by_statistic.items()
        for (sender, index), value in zip(sessions, column, strict=True)
    ]


def test_statistics_of_an_empty_store_count_no_sessions() -> None:
    stats = MarkerStatistics([])
    assert list(stats.overall_rows()) == [("all", "nan", "-", "total_number_of_sessions", "0")]
    assert list(stats.per_session_rows()) == []


def test_a_damaged_event_is_skipped_with_a_warning_and_the_rest_evaluated(
        tmp_path: Path, caplog) -> None:
    store = MemoryTrackerStore()
    definitions = list(markers(tmp_path, "m:\n  intent: greet\n").values())

    async def run() -> list[ConversationResult]:
        await store.append_events("bad", [{"event": "no_such_event"}, user("greet").as_dict()])
        await store.append_events("good", [user("greet").as_dict()])
        return await evaluate_tracker_store(store, definitions)

    with caplog.at_level(logging.WARNING):
        results = asyncio.run(run())
    assert [r.sender_id for r in results] == ["bad", "good"]
    # the bad event is left out, as the bot leaves it out when it reads the conversation
    assert [r.sessions for r in results] == [[{"m": [MarkedEvent(0, 0)]}]] * 2
    assert "conversation 'bad': stored event 0 is skipped" in caplog.text


# ---------------------------------------------------------------- markers files


def test_every_mistake_is_reported_at_its_line_naming_the_marker(tmp_path: Path) -> None:
    found = problems(tmp_path, """\
        typo:
          seqq:
            - intent: greet
        upper:
          AND:
            - intent: greet
        several_intents:
          or:
            - intent: [greet, hello]
        number:
          slot_was_set: 3
        empty_seq:
          seq: []
        two_negations:
          not:
            - intent: a
            - intent: b
        not_a_list:
          never:
            intent: bot_challenge
        two_tags:
          intent: greet
          action: utter_greet
        no_marker: greet
        bad_description:
          description: [a]
          intent: greet
        fine:
          intent: greet
        """)
    file = tmp_path / "markers.yml"
    assert found == [
        f"{file}:2:3: error: marker 'typo': unknown condition or operator 'seqq' "
        "(hint: did you mean 'seq'?)",
        f"{file}:5:3: error: marker 'upper': unknown condition or operator 'AND' "
        "(hint: tags are lower case: write 'and')",
        f"{file}:9:15: error: marker 'several_intents': `intent` takes the name of an intent, "
        "not a list (hint: one name per condition: list several `intent:` conditions under "
        "`or:`)",
        f"{file}:11:17: error: marker 'number': `slot_was_set` takes the name of a slot, "
        "not a number (hint: for example `slot_was_set: name`)",
        f"{file}:13:3: error: marker 'empty_seq': `seq` has an empty list "
        "(hint: give it at least one condition or operator)",
        f"{file}:15:3: error: marker 'two_negations': `not` takes exactly one condition or "
        "operator, found 2 (hint: combine several under `and:` or `or:` inside it)",
        f"{file}:19:3: error: marker 'not_a_list': `never` takes a list of conditions or "
        "operators, not a mapping (hint: make it a list item: `- intent: ...` under `never:`)",
        f"{file}:23:3: error: marker 'two_tags': 'intent' and 'action' share one mapping, "
        "which holds one condition or operator (hint: list them under `and:`, `or:` or "
        "`seq:`, each as its own `- ` item)",
        f"{file}:24:1: error: marker 'no_marker': expected a condition or an operator, found "
        "text (hint: for example `intent: greet`, or `or:` with a list of conditions)",
        f"{file}:26:16: error: marker 'bad_description': a description must be text, "
        "not a list",
    ]


def test_load_markers_raises_with_every_problem(tmp_path: Path) -> None:
    file = tmp_path / "markers.yml"
    file.write_text("a:\n  intent: 1\nb:\n  seq: []\n", encoding="utf-8")
    with pytest.raises(ProjectValidationError) as error:
        load_markers(file)
    assert [p.position.line for p in error.value.problems] == [2, 4]
    assert all(p.code == "DFL150" for p in error.value.problems)
    assert "fix the markers" in error.value.hint


def test_a_marker_named_twice_across_a_folder(tmp_path: Path) -> None:
    folder = tmp_path / "markers"
    (folder / "more").mkdir(parents=True)
    (folder / "a.yml").write_text("greeted:\n  intent: greet\n", encoding="utf-8")
    (folder / "more" / "b.yaml").write_text("left:\n  intent: bye\ngreeted:\n  intent: hi\n",
                                            encoding="utf-8")
    (folder / "notes.txt").write_text("not read", encoding="utf-8")
    definitions, found = check_markers(folder)
    assert [d.name for d in definitions] == ["greeted", "left"]
    assert [str(p) for p in found] == [
        f"{folder / 'more' / 'b.yaml'}:3:1: error: marker 'greeted' is defined twice "
        f"(first at {folder / 'a.yml'}:1:1) (hint: rename or remove one of them)"]


def test_top_level_tags_prototype_files_and_empty_files_are_refused(tmp_path: Path) -> None:
    assert problems(tmp_path, "intent: greet\n") == [
        f"{tmp_path / 'markers.yml'}:1:1: error: 'intent' is a condition, not a marker name: "
        "the top level of a markers file names the markers (hint: give it a name: "
        "`my_marker:` with `intent: ...` indented below it)"]
    prototype = problems(tmp_path, """\
        markers:
          - marker: no_restart
            operator: AND
            condition:
              - slot_is_set: [flight_class]
        """)
    assert len(prototype) == 1 and "unreleased markers prototype" in prototype[0]
    assert problems(tmp_path, "") == [f"{tmp_path / 'markers.yml'}: error: the markers file "
                                      "is empty (hint: define markers as `name:` followed by "
                                      "a condition or an operator)"]
    assert "invalid YAML" in problems(tmp_path, "a:\n  intent: [\n")[0]


def test_missing_markers_paths(tmp_path: Path) -> None:
    with pytest.raises(ProjectNotFoundError, match="does not exist"):
        load_markers(tmp_path / "markers.yml")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ProjectNotFoundError, match="holds no markers files"):
        load_markers(tmp_path / "empty")
    (tmp_path / "markers.json").write_text("{}", encoding="utf-8")
    with pytest.raises(ProjectNotFoundError, match="not a YAML file"):
        load_markers(tmp_path / "markers.json")


# ---------------------------------------------------------------- against the domain

DOMAIN = """\
    version: "3.1"
    intents: [greet, mood_great, faq]
    slots:
      name:
        type: text
        mappings: [{type: from_text}]
    responses:
      utter_greet: [{text: Hi}]
      utter_faq/ask_price: [{text: It is free}]
    actions: [action_check]
    """


def test_names_the_domain_lacks_are_errors_with_did_you_mean(tmp_path: Path) -> None:
    (tmp_path / "domain.yml").write_text(textwrap.dedent(DOMAIN), encoding="utf-8")
    domain = read_domain(tmp_path / "domain.yml")
    file = tmp_path / "markers.yml"
    file.write_text(textwrap.dedent("""\
        known:
          and:
            - intent: greet
            - intent: faq/ask_price
            - action: utter_greet
            - action: action_listen
            - not_action: action_check
            - slot_was_set: name
            - slot_was_set: requested_slot
            - intent: nlu_fallback
        unknown:
          or:
            - intent: gret
            - action: fetch_flights
            - slot_was_not_set: nmae
            - intent: faq/ask_prize
        """), encoding="utf-8")
    _, found = check_markers(file, domain)
    assert [str(p) for p in found] == [
        f"{file}:13:7: error: marker 'unknown': `intent` names the intent 'gret', which the "
        "domain does not have (hint: did you mean 'greet'?)",
        f"{file}:14:7: error: marker 'unknown': `action` names the action 'fetch_flights', "
        "which the domain does not have (hint: declare it under `actions:` or `responses:` in "
        "the domain)",
        f"{file}:15:7: error: marker 'unknown': `slot_was_not_set` names the slot 'nmae', "
        "which the domain does not have (hint: did you mean 'name'?)",
        # it passed, as `faq` is known, and never applied: no response answers it
        f"{file}:16:7: error: marker 'unknown': `intent` names the intent 'faq/ask_prize', "
        "which the domain does not have (hint: did you mean 'faq/ask_price'?)",
    ]
    assert {p.code for p in found} == {"DFL151"}


def test_read_domain_from_a_folder_and_missing(tmp_path: Path) -> None:
    folder = tmp_path / "domain"
    folder.mkdir()
    (folder / "intents.yml").write_text('version: "3.1"\nintents: [greet]\n', encoding="utf-8")
    (folder / "responses.yml").write_text('version: "3.1"\nresponses:\n  utter_hi: [{text: hi}]\n',
                                          encoding="utf-8")
    domain = read_domain(folder)
    assert "greet" in domain.intent_names and "utter_hi" in domain.action_names
    with pytest.raises(ProjectNotFoundError, match="does not exist"):
        read_domain(tmp_path / "nowhere.yml")
