"""Delexicalisation: what becomes a placeholder, how the input is written, and the way back."""

from __future__ import annotations

from dialogflowlite.components.generation.data import ACT2TEXT, ActItem, GenerationExample
from dialogflowlite.components.generation.delex import Delexicaliser, is_flag, relexicalise


def act(reply: str | None, *items: tuple[str, str | None, object]) -> GenerationExample:
    return GenerationExample(mode=ACT2TEXT, target=reply,
                             acts=[ActItem(a, s, v) for a, s, v in items])


def test_values_become_numbered_placeholders_and_come_back() -> None:
    example = act("Sakoon is a nice place in Fremont.",
                  ("OFFER", "restaurant_name", "Sakoon"), ("OFFER", "city", "Fremont"))
    prepared = Delexicaliser().fit([example]).prepare(example)
    assert prepared.source == "OFFER restaurant_name=[v1] city=[v2]"
    assert prepared.target == "[v1] is a nice place in [v2]."
    assert prepared.required == ["[v1]", "[v2]"]
    assert relexicalise(prepared.target, prepared.values) == example.target


def test_slot_names_can_enter_the_input_as_words() -> None:
    example = act("You have $1,200 in savings.", ("INFORM", "account_balance", "$1,200"),
                  ("REQUEST", "account_type", None))
    delexicaliser = Delexicaliser(slot_words=True).fit([example])
    # a new slot (account_balance) then shares the word "balance" with a known one
    assert delexicaliser.prepare(example).source == (
        "INFORM account balance=[v1] | REQUEST account type")
    restored = Delexicaliser.from_dict(delexicaliser.to_dict())
    assert restored.slot_words
    # generators saved before the option existed keep reading their inputs as before
    old = delexicaliser.to_dict()
    del old["slot_words"]
    assert Delexicaliser.from_dict(old).prepare(example).source == (
        "INFORM account_balance=[v1] | REQUEST account_type")


def test_yes_no_values_are_never_placeholders() -> None:
    # a slot training never saw is delexicalised, but not when its value is a
    # yes/no flag: "True" is said in words ("they have vegetarian options"),
    # and copying it would write "located at True"
    seen = act("It is at 1 Main St.", ("INFORM", "address", "1 Main St"))
    delexicaliser = Delexicaliser().fit([seen])
    new = act(None, ("INFORM", "has_vegetarian_options", "True"), ("INFORM", "address", "2 Elm"))
    prepared = delexicaliser.prepare(new)
    assert prepared.source == "INFORM has_vegetarian_options=True address=[v1]"
    assert prepared.values == {"[v1]": "2 Elm"}
    assert is_flag(True) and is_flag(" false ") and not is_flag("Truett's Grill")


def test_slot_placeholders_are_named_after_the_slot() -> None:
    example = act("Sakoon is in Fremont.", ("OFFER", "restaurant_name", "Sakoon"),
                  ("OFFER", "city", "Fremont"))
    delexicaliser = Delexicaliser(style="slot").fit([example])
    prepared = delexicaliser.prepare(example)
    assert prepared.target == "[restaurant_name] is in [city]."
    assert set(delexicaliser.placeholders()) >= {"[city]", "[city#2]", "[restaurant_name#3]"}


def test_type_placeholders_name_a_new_slot_after_a_known_one() -> None:
    seen = act("Dr. Lee sees you at 10 am.", ("OFFER", "doctor_name", "Dr. Lee"),
               ("OFFER", "time", "10 am"))
    delexicaliser = Delexicaliser(style="type", slot_words=True).fit([seen])
    assert delexicaliser.prepare(seen).target == "[name] sees you at [time]."
    # therapist_name and appointment_time were never seen: their last words were
    new = act("Dr. Kim can see you at 4 pm, or at 5 pm.",
              ("OFFER", "therapist_name", "Dr. Kim"), ("OFFER", "appointment_time", "4 pm"),
              ("OFFER", "appointment_time", "5 pm"), ("INFORM", "passengers", "2"))
    prepared = delexicaliser.prepare(new)
    assert prepared.source == ("OFFER therapist name=[name] appointment time=[time] "
                               "appointment time=[time#2] | INFORM passengers=[value]")
    assert prepared.target == "[name] can see you at [time], or at [time#2]."
    assert prepared.required == ["[name]", "[time]", "[time#2]", "[value]"]
    assert relexicalise(prepared.target, prepared.values) == new.target
    # every placeholder it can write is one vocabulary token, the generic ones included
    tokens = set(delexicaliser.placeholders())
    assert set(prepared.values) <= tokens and "[value#3]" in tokens
    restored = Delexicaliser.from_dict(delexicaliser.to_dict())
    assert restored.prepare(new) == prepared


def test_values_beyond_the_placeholder_tokens_stay_text() -> None:
    titles = ["Up", "Heat", "Jaws", "Big"]
    example = act("Up, Heat, Jaws or Big?", *[("OFFER", "title", t) for t in titles])
    prepared = Delexicaliser(style="type").fit([example]).prepare(example)
    assert prepared.source == "OFFER title=[title] title=[title#2] title=[title#3] title=Big"
    assert "Big" not in prepared.values.values()


def test_values_beyond_the_placeholders_must_be_copied_word_for_word() -> None:
    example = act(None, ("OFFER", "name", "Sakoon"), ("OFFER", "city", "Fremont"),
                  ("OFFER", "area", "Downtown"), ("OFFER", "live_music", True))
    prepared = Delexicaliser(max_values=2).prepare(example)
    assert prepared.required == ["[v1]", "[v2]"]
    # the third value stays text and has to be in the reply as it is; a flag is said in words
    assert prepared.verbatim == ["Downtown"]
    assert "area=Downtown" in prepared.source


def test_a_slot_that_act_replies_copy_stays_a_placeholder_beside_context_pairs() -> None:
    from dialogflowlite.components.generation.data import CONTEXT2RESPONSE, Turn

    confirm = act("A table for 4 at 7pm.", ("utter_booking_confirmed", "party_size", "4"),
                  ("utter_booking_confirmed", "time", "7pm"))
    # later turns of the same conversations carry both slots and mention neither
    later = [GenerationExample(mode=CONTEXT2RESPONSE, target=reply,
                               context=[Turn("user", "thanks")],
                               slots=[("party_size", "4"), ("time", "7pm")])
             for reply in ("You are welcome.", "Bye!", "Anything else?", "Enjoy!")]
    delexicaliser = Delexicaliser().fit([confirm, *later])
    # counted together (1 reply of 5), both came out lexical, and a reply that dropped
    # the party size was no longer caught
    assert delexicaliser.lexical_slots == set()
    assert delexicaliser.prepare(confirm).required == ["[v1]", "[v2]"]
    # a slot that no mode's replies repeat still keeps its value as text
    assert Delexicaliser().fit(later).lexical_slots == {"party_size", "time"}
