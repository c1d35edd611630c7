from __future__ import annotations

import json

import pytest

from dialogflowlite.components.generation.data import (
    ACT2TEXT,
    BOT,
    CONTEXT2RESPONSE,
    USER,
    ActItem,
    GenerationExample,
    act_example,
    act_needs,
    context_example,
    pair_files,
    project_examples,
    read_pairs_file,
    response_examples,
    retrieval_examples,
    story_examples,
)
from dialogflowlite.errors import Position, ProjectError
from dialogflowlite.io.loader import load_project
from dialogflowlite.shared.events import BotUttered, SlotSet, UserUttered
from dialogflowlite.shared.tracker import DialogueStateTracker


def test_pair_files_do_not_disturb_the_project_loader(generation_project) -> None:
    project = load_project(generation_project)
    assert not project.problems
    assert [p.name for p in pair_files(generation_project)] == ["offers.jsonl"]
    # any case of the suffix (`more.JSONL` was left out without a word); hidden files not
    (generation_project / "data" / "more.JSONL").write_text("", encoding="utf-8")
    (generation_project / "data" / ".draft.jsonl").write_text("", encoding="utf-8")
    assert [p.name for p in pair_files(generation_project)] == ["more.JSONL", "offers.jsonl"]


def test_reading_every_pair_format(tmp_path) -> None:
    path = tmp_path / "pairs.jsonl"
    records = [
        {"act": "OFFER", "slots": {"restaurant_name": "Sakoon", "city": "Fremont"},
         "response": "How about Sakoon in Fremont?"},
        {"acts": [{"act": "OFFER", "slot": "city", "value": "Rome"}, "REQ_MORE"],
         "text": "Rome. Anything else?"},
        {"context": ["hi", "Hello!", "what does it cost?"], "intent": "ask_price",
         "slots": {"product": "tea"}, "response": "Tea costs 3 euros."},
        {"question": "Do you deliver?", "answer": "Yes, every day."},
    ]
    path.write_text("\n".join(json.dumps(r) for r in records) + "\n\n")
    first, second, third, fourth = read_pairs_file(path)
    assert first.mode == ACT2TEXT
    assert first.acts == [ActItem("OFFER", "restaurant_name", "Sakoon"),
                          ActItem("OFFER", "city", "Fremont")]
    assert second.acts == [ActItem("OFFER", "city", "Rome"), ActItem("REQ_MORE")]
    assert second.target == "Rome. Anything else?"
    assert third.mode == CONTEXT2RESPONSE
    assert [(t.speaker, t.text) for t in third.context] == [
        (USER, "hi"), (BOT, "Hello!"), (USER, "what does it cost?")]
    assert third.intent == "ask_price" and third.slots == [("product", "tea")]
    assert fourth.context[0].text == "Do you deliver?" and fourth.target == "Yes, every day."
    assert first.origin == f"{path}:1"


@pytest.mark.parametrize("line, message", [
    ("{not json", "not valid JSON"),
    ('["a list"]', "JSON object"),
    ('{"act": "OFFER"}', "no 'response'"),
    ('{"response": "x"}', "neither"),
    ('{"act": "OFFER", "slots": ["city"], "response": "x"}', "'slots'"),
    ('{"context": [1, 2], "response": "x"}', "'context'"),
])
def test_bad_pair_lines_name_file_and_line(tmp_path, line, message) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"question": "ok?", "answer": "ok"}\n' + line + "\n")
    with pytest.raises(ProjectError, match=message) as caught:
        read_pairs_file(path)
    assert caught.value.position.file == str(path)
    assert caught.value.position.line == 2


def test_a_pair_file_that_is_not_utf8_is_one_error_at_its_line(tmp_path) -> None:
    path = tmp_path / "latin1.jsonl"
    path.write_bytes(b'{"question": "ok?", "answer": "ok"}\n'
                     b'{"question": "caf\xe9?", "response": "Yes."}\n')
    with pytest.raises(ProjectError, match="not UTF-8") as caught:
        read_pairs_file(path)
    assert caught.value.position == Position(str(path), 2, 18)  # the é
    assert "UTF-8" in caught.value.hint


def test_a_pair_file_may_start_with_a_byte_order_mark(tmp_path) -> None:
    path = tmp_path / "bom.jsonl"
    path.write_bytes(b'\xef\xbb\xbf{"question": "ok?", "answer": "ok"}\n'
                     b'{"question": "caf\xc3\xa9?", "response": "Yes."}\n')
    first, second = read_pairs_file(path)
    assert first.context[0].text == "ok?"
    assert second.context[0].text == "café?"


@pytest.mark.parametrize("record, message", [
    # acts: the kinds of act, slot and value, and no empty list
    ('{"acts": [{"act": "OFFER", "slot": 5, "value": "Rome"}], "response": "In Rome."}',
     "'acts' entry 1: 'slot' must be a slot name as non-empty text, not 5"),
    ('{"acts": [], "response": "x"}', "'acts' must be a non-empty list"),
    ('{"acts": ["OFFER", {"act": 3}], "response": "x"}', "'acts' entry 2 needs 'act'"),
    ('{"acts": [7], "response": "x"}', "'acts' entry 1 must be an act name"),
    ('{"acts": [{"act": "OFFER", "slot": "city", "value": {"a": 1}}], "response": "x"}',
     "the 'value' of 'acts' entry 1 is an object"),
    ('{"acts": [{"act": "OFFER", "slot": "city", "value": NaN}], "response": "x"}',
     "'acts' entry 1 is NaN"),
    ('{"acts": [{"act": "OFFER", "value": "Rome"}], "response": "x"}', "no 'slot'"),
    ('{"acts": [{"act": "OFFER", "slott": "city"}], "response": "x"}',
     "unknown key in 'acts' entry 1: 'slott' \\(did you mean 'slot'\\?\\)"),
    # unknown keys of the record
    ('{"act": "utter_offer", "slots": {"city": "Rome"}, "response": "In Rome.", "intnet": "x",'
     ' "slotz": {"a": 1}}', "unknown keys in the pair: 'intnet' \\(did you mean 'intent'"),
    ('{"act": "utter_offer", "respons": "x"}', "'respons' \\(did you mean 'response'"),
    # the kinds of intent, the reply and slot values
    ('{"question": "q", "intent": ["a", "b"], "response": "x"}',
     "'intent' must be an intent name as text, not a list"),
    ('{"question": "q", "response": 42}', "'response' must be text, not 42"),
    ('{"question": "q", "answer": null}', "'answer' must be text, not null"),
    ('{"question": "q", "response": "  "}', "'response' is empty"),
    ('{"question": "q", "slots": {"city": NaN}, "response": "x"}',
     "slot 'city' in 'slots' is NaN"),
    ('{"act": "OFFER", "slots": {"city": {"name": "Rome"}}, "response": "x"}',
     "slot 'city' in 'slots' is an object"),
    ('{"act": "OFFER", "slots": {"city": [["Rome"]]}, "response": "x"}',
     "slot 'city' in 'slots' is a list"),
])
def test_wrong_fields_are_one_error_at_the_line(tmp_path, record, message) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"question": "ok?", "answer": "ok"}\n' + record + "\n", encoding="utf-8")
    with pytest.raises(ProjectError, match=message) as caught:
        read_pairs_file(path)
    assert caught.value.position == Position(str(path), 2)


def test_an_unknown_key_error_lists_the_keys_a_pair_may_have(tmp_path) -> None:
    path = tmp_path / "typo.jsonl"
    path.write_text('{"question": "q", "response": "x", "intnet": "greet"}\n')
    with pytest.raises(ProjectError, match="'intnet'") as caught:
        read_pairs_file(path)
    for key in ("act", "acts", "slots", "context", "question", "intent", "response", "text",
                "answer"):
        assert f" {key}" in caught.value.hint


def test_every_documented_key_and_slot_value_kind_is_accepted(tmp_path) -> None:
    path = tmp_path / "good.jsonl"
    records = [
        {"act": "OFFER", "slots": {"city": "Rome", "people": 4, "price": 9.5, "terrace": True,
                                   "cuisine": None, "dishes": ["pho", "bun cha"]},
         "text": "A table for 4 in Rome."},
        {"acts": [{"act": "OFFER", "slot": "people", "value": 4},
                  {"act": "OFFER", "slot": "cuisine", "value": None},
                  {"act": "REQ_MORE", "slot": None}], "response": "For 4. More?"},
        {"context": "hi", "intent": None, "slots": {}, "answer": "Hello!"},
        {"question": "open?", "intent": "faq/hours", "response": "From nine."},
    ]
    path.write_text("\n".join(json.dumps(r) for r in records) + "\n")
    first, second, third, fourth = read_pairs_file(path)
    assert ("dishes", ["pho", "bun cha"]) in [(a.slot, a.value) for a in first.acts]
    assert second.acts[0] == ActItem("OFFER", "people", 4)
    assert second.acts[2] == ActItem("REQ_MORE")
    assert third.intent is None and fourth.intent == "faq/hours"


@pytest.mark.parametrize("line, col", [
    ('{"act": "utter_offer", "response": "x",', 39),  # the line ends after the comma
    ('{"act": "utter_offer", "response": "x",   ', 39),  # trailing blanks are no JSON
    ('{"act": "utter_offer" "response": "x"}', 23),  # the missing comma
])
def test_a_json_error_names_its_column_within_the_line(tmp_path, line, col) -> None:
    path = tmp_path / "cut.jsonl"
    path.write_text('{"question": "ok?", "answer": "ok"}\n' + line + "\n"
                    + '{"question": "q", "answer": "a"}\n')
    with pytest.raises(ProjectError, match="not valid JSON") as caught:
        read_pairs_file(path)
    assert caught.value.position == Position(str(path), 2, col)


def test_responses_become_act2text_pairs(generation_project) -> None:
    domain = load_project(generation_project).domain
    by_act = {e.act_name: e for e in response_examples(domain)}
    confirm = by_act["utter_confirm"]
    assert confirm.target == "Booking a {cuisine} table in {city}."
    assert confirm.acts == [ActItem("utter_confirm", "cuisine", "{cuisine}"),
                            ActItem("utter_confirm", "city", "{city}")]
    assert by_act["utter_greet"].acts == [ActItem("utter_greet")]
    assert "utter_faq/hours" not in by_act  # retrieval answers are question -> answer pairs


def test_stories_are_rendered_with_their_responses(generation_project) -> None:
    examples = story_examples(load_project(generation_project), history=3, samples=1)
    by_target = {e.target: e for e in examples}
    # the reply as it is said: the story's values in place of the template's placeholders
    # (learnt with `{city}` left in, the model wrote it out literally)
    assert "Booking a {cuisine} table in {city}." not in by_target
    confirm = by_target["Booking a greek table in Oslo."]
    assert confirm.intent == "book"
    assert dict(confirm.slots) == {"cuisine": "greek", "city": "Oslo"}
    # the user turn is an NLU example of `book` carrying the story's entity values
    speakers = [t.speaker for t in confirm.context]
    assert speakers == [USER, BOT, USER]
    assert confirm.context[1].text == "Hello! How can I help?"
    assert "greek" in confirm.context[2].text and "Oslo" in confirm.context[2].text
    thanks = by_target["You are welcome."]
    assert [t.speaker for t in thanks.context] == [USER, BOT, USER]
    assert thanks.context[1].text == "Booking a greek table in Oslo."  # as it was said
    e2e = by_target["Yes, I am here."]
    assert [t.text for t in e2e.context] == ["anyone there?"]


def test_retrieval_intents_give_question_answer_pairs(generation_project) -> None:
    pairs = retrieval_examples(load_project(generation_project))
    assert {(p.context[0].text, p.target) for p in pairs} == {
        ("when do you open?", "We open at nine."), ("what are your hours", "We open at nine.")}
    assert {p.intent for p in pairs} == {"faq/hours"}


def test_project_examples_by_mode(generation_project) -> None:
    project = load_project(generation_project)
    acts = project_examples(project, modes=[ACT2TEXT])
    assert {e.mode for e in acts} == {ACT2TEXT}
    assert sum(1 for e in acts if e.act_name == "utter_offer") == 10
    contexts = project_examples(project, modes=[CONTEXT2RESPONSE])
    assert any(e.target == "No, we do not deliver." for e in contexts)
    assert all(e.origin for e in project_examples(project, modes=[ACT2TEXT],
                                                  pair_files_too=False))


def test_context_example_from_a_tracker(generation_project) -> None:
    domain = load_project(generation_project).domain
    tracker = DialogueStateTracker.for_domain("u", domain)
    tracker.update(UserUttered(text="hi", parse_data={"intent": {"name": "greet"}}))
    tracker.update(BotUttered(text="Hello! How can I help?"))
    tracker.update(UserUttered(text="when do you open", parse_data={
        "intent": {"name": "faq"},
        "response_selector": {"faq": {"response": {"intent_response_key": "faq/hours"}}}}))
    tracker.update(SlotSet(name="city", value="Rome"))
    example = context_example(tracker, history=2)
    assert [t.text for t in example.context] == ["Hello! How can I help?", "when do you open"]
    assert example.intent == "faq/hours"
    assert example.slots == [("city", "Rome")]


def test_act_example_leaves_out_slots_without_a_value(generation_project) -> None:
    domain = load_project(generation_project).domain
    tracker = DialogueStateTracker.for_domain("u", domain)
    tracker.update(SlotSet(name="cuisine", value="thai"))
    tracker.update(SlotSet(name="city", value=" "))
    example = act_example("utter_confirm", tracker, ["cuisine", "city"])
    assert [(a.slot, a.value) for a in example.acts] == [("cuisine", "thai")]


def test_an_act_needs_the_slots_every_pair_of_it_had() -> None:
    def pair(*slots: str) -> GenerationExample:
        return GenerationExample(ACT2TEXT, "x", acts=[ActItem("OFFER", s, "v") for s in slots])

    needs = act_needs([pair("cuisine", "city"), pair("cuisine"), pair("city", "cuisine"),
                       GenerationExample(ACT2TEXT, "y", acts=[ActItem("BYE")])])
    # city is optional: one pair lacks it
    assert needs == {"OFFER": ["cuisine"], "BYE": []}
    # a condition that a slot is unset (value None) gives the slot no value to need
    conditioned = GenerationExample(ACT2TEXT, "z", acts=[ActItem("HI", "name", "{name}"),
                                                         ActItem("HI", "vip", None)])
    assert act_needs([conditioned]) == {"HI": ["name"]}


def test_a_key_of_the_file_s_own_bookkeeping_is_a_warning_not_an_error(tmp_path,
                                                                       caplog) -> None:
    path = tmp_path / "pairs.jsonl"
    path.write_text(json.dumps({"id": 7, "source": "sgd", "act": "utter_offer",
                                "response": "In Rome."}) + "\n", encoding="utf-8")
    # a near miss (`slotz`) is an error; a key no field resembles is left out with a word
    with caplog.at_level("WARNING"):
        [example] = read_pairs_file(path)
    assert example.target == "In Rome."
    assert "has key(s) 'id', 'source', which the pair format does not read" in caplog.text
