from __future__ import annotations

import json

import pytest

from dialogflowlite.components.generation.corpora import read_bitext, read_sgd
from dialogflowlite.components.generation.data import ACT2TEXT, BOT, CONTEXT2RESPONSE, USER, ActItem
from dialogflowlite.errors import ProjectError

SCHEMA = [{"service_name": "Restaurants_1", "slots": [
    {"name": "restaurant_name", "is_categorical": False,
     "description": "Name of the restaurant."},
    {"name": "city", "is_categorical": False},
    {"name": "has_live_music", "is_categorical": True}]}]

DIALOGUE = {"dialogue_id": "1_00000", "services": ["Restaurants_1"], "turns": [
    {"speaker": "USER", "utterance": "Find me a place in Fremont.", "frames": [
        {"service": "Restaurants_1", "actions": [],
         "state": {"active_intent": "FindRestaurants",
                   "slot_values": {"city": ["Fremont"]}}}]},
    {"speaker": "SYSTEM", "utterance": "How about Sakoon in Fremont? It has live music.",
     "frames": [{"service": "Restaurants_1", "actions": [
         {"act": "OFFER", "slot": "restaurant_name", "values": ["Sakoon"]},
         {"act": "OFFER", "slot": "city", "values": ["Fremont"]},
         {"act": "INFORM", "slot": "has_live_music", "values": ["True"]},
         {"act": "REQ_MORE", "slot": "", "values": []}]}]},
]}


@pytest.fixture
def sgd_split(tmp_path):
    (tmp_path / "schema.json").write_text(json.dumps(SCHEMA))
    (tmp_path / "dialogues_001.json").write_text(json.dumps([DIALOGUE]))
    return tmp_path


def test_sgd_act2text_pairs(sgd_split) -> None:
    [pair] = read_sgd(sgd_split, ACT2TEXT)
    assert pair.example.target == "How about Sakoon in Fremont? It has live music."
    assert pair.example.acts == [
        ActItem("Restaurants"), ActItem("OFFER", "restaurant_name", "Sakoon"),
        ActItem("OFFER", "city", "Fremont"), ActItem("INFORM", "has_live_music", "True"),
        ActItem("REQ_MORE")]
    # categorical values may be said in other words, so only these must be copied
    assert pair.expected_values == ["Sakoon", "Fremont"]
    assert pair.service == "Restaurants_1"  # the API, for scoring per service
    [bare] = read_sgd(sgd_split, ACT2TEXT, with_service=False)
    assert bare.example.acts[0] == ActItem("OFFER", "restaurant_name", "Sakoon")


def test_sgd_slots_may_be_named_by_their_schema_descriptions(sgd_split) -> None:
    [pair] = read_sgd(sgd_split, ACT2TEXT, describe_slots=True)
    assert pair.example.acts[1:3] == [ActItem("OFFER", "name of the restaurant", "Sakoon"),
                                      ActItem("OFFER", "city", "Fremont")]  # no description
    # what a reply must copy does not depend on how the slot is named
    assert pair.expected_values == ["Sakoon", "Fremont"]


def test_sgd_context2response_pairs(sgd_split) -> None:
    [pair] = read_sgd(sgd_split, CONTEXT2RESPONSE)
    example = pair.example
    assert [(t.speaker, t.text) for t in example.context] == [(USER,
                                                               "Find me a place in Fremont.")]
    assert example.intent == "FindRestaurants"
    assert example.slots == [("city", "Fremont")]
    assert BOT not in {t.speaker for t in example.context}
    assert pair.service == "Restaurants_1"


def test_sgd_folder_without_dialogues_is_an_error(tmp_path) -> None:
    with pytest.raises(ProjectError, match="dialogues_"):
        read_sgd(tmp_path, ACT2TEXT)


def test_bitext_pairs(tmp_path) -> None:
    path = tmp_path / "qa.csv"
    path.write_text('instruction,response,intent,category,tags\n'
                    '"how do I cancel?","Sure.\nGo to {{Orders}}.",cancel_order,ORDER,B\n')
    [pair] = read_bitext(path)
    assert pair.example.context[0].text == "how do I cancel?"
    assert pair.example.target == "Sure.\nGo to {{Orders}}."
    assert pair.example.intent == "cancel_order"
    assert pair.example.slots == []
    bad = tmp_path / "bad.csv"
    bad.write_text("question,answer\nx,y\n")
    with pytest.raises(ProjectError, match="instruction"):
        read_bitext(bad)


def test_a_tagged_bitext_entity_is_a_value_the_answer_must_copy(tmp_path) -> None:
    from dialogflowlite.evaluation.generation import expected_values

    path = tmp_path / "qa.csv"
    path.write_text(
        "instruction,intent,entity_type,entity_value,start_offset,end_offset,response\n"
        "cancel order 00123 now,cancel_order,order_id,123,13,18,Order 00123 is cancelled.\n"
        "cancel order 00777,cancel_order,order_id,777,13,18,Your order is cancelled.\n"
        "cancel it,cancel_order,order_id,,,,Done.\n"
        "cancel it,cancel_order,order_id,1,40,45,Done.\n")
    copied, not_repeated, untagged, bad_offsets = read_bitext(path)
    # the value as the question writes it, not the normalised entity_value
    assert copied.example.slots == [("order_id", "00123")]
    assert expected_values(copied.example) == ["00123"]
    # an answer that does not repeat the value does not have to
    assert not_repeated.example.slots == [("order_id", "00777")]
    assert expected_values(not_repeated.example) == []
    assert untagged.example.slots == [] and bad_offsets.example.slots == []


@pytest.mark.shared_data
def test_the_shared_corpora_read(shared_data) -> None:
    dialogue = shared_data / "dialogue"
    assert len(read_sgd(dialogue / "sgd" / "dev", ACT2TEXT)) == 2154
    assert len(read_bitext(dialogue / "bitext" / "dev.csv")) == 453
