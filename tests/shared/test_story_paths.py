"""Stories and rules expanded into the event sequences the dialogue policies learn from."""

from __future__ import annotations

import pytest

from dialogflowlite.errors import Position, ProjectError
from dialogflowlite.shared.domain import Domain, EntityDef, SlotDef, SlotMapping
from dialogflowlite.shared.events import ActionExecuted, ActiveLoop, Event, SlotSet, UserUttered
from dialogflowlite.shared.message import Entity
from dialogflowlite.shared.stories import (
    ANY_SLOT_VALUE,
    ActionStep,
    ActiveLoopStep,
    CheckpointStep,
    OrStep,
    SlotStep,
    Story,
    UserStep,
)
from dialogflowlite.shared.story_paths import (
    condition_to_events,
    expand_stories,
    expand_story_paths,
    story_to_events,
    unjoined_checkpoints,
    user_event,
)


def user(intent: str, *entities: Entity, text: str | None = None) -> UserStep:
    return UserStep(intent=intent, entities=list(entities), text=text)


def act(name: str) -> ActionStep:
    return ActionStep(name=name)


def check(name: str, **slots) -> CheckpointStep:
    return CheckpointStep(name, dict(slots))


def story(name: str, *steps, kind: str = "story", **extra) -> Story:
    return Story(name=name, kind=kind, steps=list(steps), **extra)


def summary(events: list[Event]) -> list[str]:
    """A compact, readable form of events for assertions."""
    out = []
    for event in events:
        if isinstance(event, UserUttered):
            out.append(f"user:{event.intent_name}")
        elif isinstance(event, ActionExecuted):
            out.append(event.name if not event.action_text else f"text:{event.action_text}")
        elif isinstance(event, SlotSet):
            out.append(f"slot:{event.name}={event.value}")
        elif isinstance(event, ActiveLoop):
            out.append(f"loop:{event.name}")
    return out


# ---------------------------------------------------------------- one story


def test_user_turns_get_action_listen_before_them_and_the_story_ends_listening() -> None:
    events = story_to_events(
        story("happy", user("greet"), act("utter_greet"), user("mood_great"), act("utter_happy"))
    )
    assert summary(events) == [
        "action_listen",
        "user:greet",
        "utter_greet",
        "action_listen",
        "user:mood_great",
        "utter_happy",
        "action_listen",
    ]


def test_user_event_parse_data_holds_intent_and_entity_dicts() -> None:
    step = user("inform", Entity("city", 0, 0, "Berlin", role="to"), Entity("date", 0, 0, None))
    event = story_to_events(story("s", step))[1]
    assert isinstance(event, UserUttered)
    assert event.text is None
    assert event.parse_data["intent"] == {"name": "inform", "confidence": 1.0}
    assert event.parse_data["entities"] == [
        {"entity": "city", "value": "Berlin", "role": "to", "group": None},
        {"entity": "date", "value": None, "role": None, "group": None},
    ]


def test_end_to_end_steps_keep_text_offsets_and_bot_text() -> None:
    step = user("inform", Entity("city", 8, 14, "Berlin"), text="fly to  Berlin")
    events = story_to_events(story("e2e", step, ActionStep(bot_text="Where from?")))
    user_event, bot_event = events[1], events[2]
    assert user_event.text == "fly to  Berlin"
    assert user_event.parse_data["entities"][0]["start"] == 8
    assert user_event.parse_data["entities"][0]["end"] == 14
    assert isinstance(bot_event, ActionExecuted)
    assert bot_event.name == "action_send_text"
    assert bot_event.action_text == "Where from?"


def test_a_story_that_starts_with_an_action_has_no_listen_before_it() -> None:
    events = story_to_events(story("s", act("utter_help"), user("affirm"), act("utter_ok")))
    assert summary(events) == [
        "utter_help",
        "action_listen",
        "user:affirm",
        "utter_ok",
        "action_listen",
    ]


def test_slots_loops_and_any_value() -> None:
    events = story_to_events(
        story(
            "form",
            user("request"),
            act("restaurant_form"),
            ActiveLoopStep("restaurant_form"),
            SlotStep({"cuisine": "thai", "num_people": ANY_SLOT_VALUE}),
            ActiveLoopStep(None),
            act("utter_submit"),
        )
    )
    assert summary(events) == [
        "action_listen",
        "user:request",
        "restaurant_form",
        "loop:restaurant_form",
        "slot:cuisine=thai",
        f"slot:num_people={ANY_SLOT_VALUE}",
        "loop:None",
        "utter_submit",
        "action_listen",
    ]


def test_rule_without_waiting_ends_without_listen_and_keeps_its_condition_apart() -> None:
    rule = story(
        "faq",
        user("faq"),
        act("utter_faq"),
        kind="rule",
        condition=[SlotStep({"detailed": True}), ActiveLoopStep("form")],
        wait_for_user_input=False,
    )
    assert summary(story_to_events(rule)) == ["action_listen", "user:faq", "utter_faq"]
    assert summary(condition_to_events(rule)) == ["slot:detailed=True", "loop:form"]
    [path] = expand_story_paths([rule])
    assert path.kind == "rule"
    assert not path.wait_for_user_input
    assert summary(path.condition) == ["slot:detailed=True", "loop:form"]
    assert summary(path.events) == ["action_listen", "user:faq", "utter_faq"]


def test_story_to_events_refuses_or_steps() -> None:
    with pytest.raises(ValueError, match="expand_story_paths"):
        story_to_events(story("s", OrStep([user("a"), user("b")]), act("x")))


def test_an_or_in_a_rule_condition_is_a_project_error_at_the_step() -> None:
    either = OrStep([SlotStep({"time": None}), SlotStep({"size": None})],
                    Position("data/rules.yml", 4, 5))
    rule = story("c4", user("greet"), act("utter_greet"), kind="rule", condition=[either])
    # the project's own error, which the command line prints without a traceback
    with pytest.raises(ProjectError, match="condition of rule 'c4' has an `or` step") as raised:
        condition_to_events(rule)
    assert str(raised.value.position) == "data/rules.yml:4:5"
    with pytest.raises(ProjectError):
        expand_story_paths([rule])


def test_format_2_entities_fill_slots_of_the_same_name() -> None:
    domain = Domain(
        version="2.0",
        entities={"city": EntityDef("city")},
        slots={"city": SlotDef("city", mappings=[SlotMapping("from_entity", entity="city")])},
    )
    steps = (user("inform", Entity("city", 0, 0, "Paris")), act("utter_ok"))
    assert summary(story_to_events(story("s", *steps), domain)) == [
        "action_listen",
        "user:inform",
        "slot:city=Paris",
        "utter_ok",
        "action_listen",
    ]
    domain.version = "3.1"
    assert "slot:city=Paris" not in summary(story_to_events(story("s", *steps), domain))


# ---------------------------------------------------------------- or steps and checkpoints


def test_or_steps_give_one_path_per_alternative() -> None:
    s = story(
        "switch",
        OrStep([user("a"), user("b")]),
        act("x"),
        OrStep([user("yes"), SlotStep({"ok": True})]),
        act("y"),
    )
    paths = expand_story_paths([s])
    assert len(paths) == 4
    assert {tuple(summary(p.events)) for p in paths} == {
        ("action_listen", "user:a", "x", "action_listen", "user:yes", "y", "action_listen"),
        ("action_listen", "user:a", "x", "slot:ok=True", "y", "action_listen"),
        ("action_listen", "user:b", "x", "action_listen", "user:yes", "y", "action_listen"),
        ("action_listen", "user:b", "x", "slot:ok=True", "y", "action_listen"),
    }
    assert all(p.stories == ["switch"] for p in paths)


def test_checkpoints_join_stories_into_longer_paths() -> None:
    start = story("start", user("greet"), act("utter_greet"), check("greeted"))
    happy = story("happy", check("greeted"), user("good"), act("utter_happy"))
    sad = story("sad", check("greeted"), user("bad"), act("utter_cheer"))
    paths = expand_story_paths([start, happy, sad])
    assert sorted(p.name for p in paths) == ["start > happy", "start > sad"]
    joined = next(p for p in paths if p.stories == ["start", "happy"])
    assert summary(joined.events) == [
        "action_listen",
        "user:greet",
        "utter_greet",
        "action_listen",
        "user:good",
        "utter_happy",
        "action_listen",
    ]


def test_a_checkpoint_in_the_middle_both_ends_and_starts() -> None:
    main = story("main", user("a"), act("x"), check("middle"), user("b"), act("y"))
    other = story("other", user("c"), act("z"), check("middle"))
    names = sorted(p.name for p in expand_story_paths([main, other]))
    assert names == ["main", "other > main"]


def test_checkpoint_slot_conditions_choose_the_continuation() -> None:
    start = story(
        "start", user("ask"), act("action_check"), SlotStep({"vip": True}), check("checked")
    )
    vip = story("vip", CheckpointStep("checked", {"vip": True}), act("utter_vip"))
    normal = story("normal", CheckpointStep("checked", {"vip": None}), act("utter_normal"))
    assert [p.name for p in expand_story_paths([start, vip, normal])] == ["start > vip"]


def test_loops_through_checkpoints_end() -> None:
    a = story("a", user("x"), act("ax"), check("c1"))
    b = story("b", check("c1"), user("y"), act("by"), check("c2"))
    c = story("c", check("c2"), user("z"), act("cz"), check("c1"))
    paths = expand_story_paths([a, b, c])
    # a > b > c would go back to b, which this path already holds: it stops there.
    assert [p.name for p in paths] == ["a > b > c"]


def test_unjoined_checkpoints_are_reported_and_their_stories_still_used() -> None:
    lonely_start = story("orphan", check("nowhere"), user("a"), act("x"))
    dead_end = story("dead", user("b"), act("y"), check("nobody_continues"))
    expansion = expand_stories([lonely_start, dead_end])
    assert [c.name for c in expansion.unsatisfied_checkpoints] == ["nowhere"]
    assert [c.name for c in expansion.unused_checkpoints] == ["nobody_continues"]
    assert sorted(p.name for p in expansion.paths) == ["dead", "orphan"]
    starts, ends = unjoined_checkpoints([lonely_start, dead_end])
    assert [c.name for c in starts] == ["nowhere"] and [c.name for c in ends] == [
        "nobody_continues"
    ]


def test_max_paths_caps_combinatorial_growth() -> None:
    steps = []
    for index in range(12):  # 2**12 = 4096 combinations
        steps += [OrStep([user(f"a{index}"), user(f"b{index}")]), act(f"x{index}")]
    expansion = expand_stories([story("big", *steps)], max_paths=50)
    assert len(expansion.paths) == 50
    assert expansion.truncated
    small = expand_stories([story("small", OrStep([user("a"), user("b")]), act("x"))], max_paths=2)
    assert len(small.paths) == 2
    assert not small.truncated


def test_paths_remember_where_each_event_was_written(write_project) -> None:
    from dialogflowlite.io.loader import load_project

    root = write_project(
        domain="""
        version: "3.1"
        intents: [greet]
        responses:
          utter_greet:
            - text: hi
        """,
        stories="""
        version: "3.1"
        stories:
          - story: hello
            steps:
              - intent: greet
              - action: utter_greet
        """,
    )
    project = load_project(root)
    [path] = expand_story_paths(project.stories, domain=project.domain)
    assert path.stories == ["hello"]
    assert path.position == Position(str(root / "data/stories.yml"), 3, 5)
    lines = [p.line for p in path.event_positions]
    # listen and user event come from the intent step, the action from its step,
    # and the final listen points at the last step.
    assert lines == [5, 5, 6, 6]


def test_retrieval_intent_in_a_story_is_its_base_intent_with_the_full_name_kept() -> None:
    event = user_event(UserStep(intent="faq/ask_hours"))
    assert event.parse_data["intent"] == {
        "name": "faq", "confidence": 1.0, "full_retrieval_intent_name": "faq/ask_hours"}
    assert event.intent_name == "faq"
