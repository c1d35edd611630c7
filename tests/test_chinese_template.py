"""The Chinese template end to end: init, validate, train, test stories, and a conversation.

The template's tokenizer comes from the first-party plugin
``plugins/dialogflowlite-jieba``. Where it is installed (the README's set-up),
dialogflowlite finds it through its entry point; where it is not, the fixture
makes the same entry point visible the way an editable install does (a
``.dist-info`` written from the plugin's ``pyproject.toml`` next to its source
folder on ``sys.path``), so the code path is the same either way.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path

import pytest
from plugin_packages import assert_package_tests_pass
from story_data import step_labels
from template_dialogue import bot_actions, bot_texts, last_bot_text

from dialogflowlite.cli.init import available_templates
from dialogflowlite.cli.main import main
from dialogflowlite.io.loader import load_project
from dialogflowlite.plugins.manager import get_plugin_manager, reset_plugin_manager

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    tomllib = pytest.importorskip("tomli")

pytest.importorskip("jieba")

REPO_ROOT = Path(__file__).resolve().parents[1]
JIEBA_PLUGIN = REPO_ROOT / "plugins" / "dialogflowlite-jieba"

pytestmark = pytest.mark.slow


def _jieba_entry_point_installed() -> bool:
    return any(e.name == "jieba" for e in metadata.entry_points(group="dialogflowlite"))


@pytest.fixture(scope="module")
def jieba_plugin(tmp_path_factory) -> Iterator[None]:
    """The jieba plugin, found through its ``dialogflowlite`` entry point."""
    with pytest.MonkeyPatch.context() as patch:
        if not _jieba_entry_point_installed():
            project = tomllib.loads((JIEBA_PLUGIN / "pyproject.toml").read_text("utf-8"))
            name, version = project["project"]["name"], project["project"]["version"]
            site = tmp_path_factory.mktemp("site")
            dist_info = site / f"{name.replace('-', '_')}-{version}.dist-info"
            dist_info.mkdir()
            (dist_info / "METADATA").write_text(
                f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n", encoding="utf-8"
            )
            points = project["project"]["entry-points"]["dialogflowlite"]
            lines = "".join(f"{key} = {value}\n" for key, value in points.items())
            (dist_info / "entry_points.txt").write_text(
                f"[dialogflowlite]\n{lines}", encoding="utf-8"
            )
            patch.syspath_prepend(str(JIEBA_PLUGIN))
            patch.syspath_prepend(str(site))
        patch.delenv("DFL_DISABLE_PLUGINS", raising=False)
        reset_plugin_manager()
        try:
            assert "jieba" in get_plugin_manager().infos
            yield
        finally:
            reset_plugin_manager()


@pytest.fixture(scope="module")
def zhbot(jieba_plugin, tmp_path_factory) -> Path:
    """The zh template, created and trained once for the module."""
    import torch

    root = tmp_path_factory.mktemp("zh") / "zhbot"
    assert main(["init", "--template", "zh", str(root)]) == 0
    # One thread: small models train no faster on more, and slow down a lot on a busy CPU.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        assert main(["train", "--project", str(root)]) == 0
    finally:
        torch.set_num_threads(threads)
    return root


def test_both_templates_are_listed_and_en_stays_the_default(capsys) -> None:
    assert sorted(available_templates()) >= ["en", "zh"]
    assert main(["init", "--list-templates"]) == 0
    lines = {line.split()[0]: line for line in capsys.readouterr().out.splitlines() if line}
    assert lines["en"].endswith("(default)")
    assert "(default)" not in lines["zh"]
    assert "中文" in lines["zh"]


def test_the_project_loads_strictly_with_the_expected_counts(zhbot) -> None:
    project = load_project(zhbot, strict=True)
    assert project.config.language == "zh"
    assert project.config.pipeline[0].name == "JiebaTokenizer"
    counts = project.counts()
    assert {k: counts[k] for k in ("intents", "entities", "slots", "forms", "test_stories")} == {
        "intents": 13,
        "entities": 2,
        "slots": 2,
        "forms": 1,
        "test_stories": 26,
    }
    assert project.nlu.retrieval_intents == ["faq"]
    assert not (zhbot / "template.yml").exists()


def test_data_validate_reports_no_problems(zhbot, capsys) -> None:
    assert main(["data", "validate", "--project", str(zhbot)]) == 0
    assert "0 error(s), 0 warning(s)" in capsys.readouterr().out


def test_every_test_story_passes(zhbot) -> None:
    code = main(["test", "--project", str(zhbot), "--fail-on-prediction-errors"])
    report = json.loads((zhbot / "results" / "story_report.json").read_text(encoding="utf-8"))
    assert report["failed_stories"] == [], report["failed_stories"]
    assert report["conversation_accuracy"] == {"accuracy": 1.0, "correct": 26,
                                               "with_warnings": 0, "total": 26}
    assert report["user_turns"] == {"total": 89, "intent_errors": 0, "entity_errors": 0}
    assert code == 0


@pytest.fixture(scope="module")
def agent(zhbot):
    from dialogflowlite.agent import Agent
    from dialogflowlite.artifact import latest_model

    loaded = Agent.load(latest_model(zhbot / "models"))
    yield loaded
    asyncio.run(loaded.close_async())


@pytest.mark.parametrize(
    ("text", "answer"),
    [
        ("下单以后多久能发货", "faq/ask_shipping"),
        # "how long" asked of shipping, not of a refund (it got the return answer)
        ("发货要多久？", "faq/ask_shipping"),
        ("发货需要多长时间", "faq/ask_shipping"),  # paraphrases no example holds
        ("几天能发出", "faq/ask_shipping"),
        ("怎么申请退货", "faq/ask_return"),
        ("可以用支付宝付款吗", "faq/ask_payment"),
        ("能开发票吗", "faq/ask_invoice"),
        ("周末人工客服上班吗", "faq/ask_hours"),
    ],
)
def test_faq_questions_get_the_right_answer(agent, text: str, answer: str) -> None:
    parsed = asyncio.run(agent.parse_message(text))
    assert parsed["intent"]["name"] == "faq"
    assert parsed["response_selector"]["default"]["response"]["intent_response_key"] == answer


def test_the_rules_give_time_to_a_hesitation_and_ask_again(zhbot) -> None:
    rules = load_project(zhbot, strict=True).rules
    in_form = [step_labels(r.steps) for r in rules
               if step_labels(r.condition) == ["loop:order_form"]]
    asked = ["action:order_form", "loop:order_form"]
    take_time = ["intent:hesitate", "action:utter_take_your_time"]
    assert [*asked, *take_time, *asked] in in_form
    assert ["action:utter_ask_continue", *take_time, "action:utter_ask_continue"] in in_form
    outside = [step_labels(r.steps) for r in rules if step_labels(r.condition) == ["loop:None"]]
    assert ["intent:hesitate", "action:utter_when_ready"] in outside


@pytest.mark.parametrize("before", [[], ["greet"], ["faq"]])
@pytest.mark.parametrize("stop", ["stop", "deny"])
def test_stopping_the_order_form_goes_by_rules_whatever_came_before(agent, before,
                                                                    stop) -> None:
    """算了 or 不 while the form asks, a hesitation, then the answer to 还需要继续查询订单吗:
    the rules decide every step after any opening, not the dialogue model (which
    stories teach these steps only after the openings they tell)."""
    for answer, then in (("affirm", ["order_form"]),
                         ("deny", ["action_deactivate_loop", "utter_query_cancelled",
                                   "action_restart"])):
        sender = f"{'-'.join(before)}-{stop}-{answer}"
        acted = bot_actions(agent, sender, [
            *before, "check_order", "hesitate", stop, "hesitate", answer])[len(before):]
        assert [name for name, _ in acted] == [
            "order_form", "utter_take_your_time", "order_form", "utter_ask_continue",
            "utter_take_your_time", "utter_ask_continue", *then], sender
        assert {policy for _, policy in acted} == {"RulePolicy"}, (sender, acted)


def test_every_answer_to_going_on_goes_by_rules(zhbot, agent) -> None:
    """Whatever intent answers 还需要继续查询订单吗？, a rule decides what follows, not
    the dialogue model: 取消 (`stop`) cancels as 不 does, 再见 ends the lookup, 你好 or
    谢谢 gets the question again, and an order number (`inform`) goes on with the
    lookup, which keeps it. A question or a message not understood gets its answer,
    then 还需要继续查询订单吗？ again: that question is still open, not the form's."""
    domain = load_project(zhbot, strict=True).domain
    cancel = ["action_deactivate_loop", "utter_query_cancelled", "action_restart"]
    back = ["order_form"]
    ask_again = ["utter_ask_continue"]
    expected = {"stop": cancel, "deny": cancel, "affirm": back, "inform": back,
                "check_order": back,
                "goodbye": ["action_deactivate_loop", "utter_goodbye", "action_restart"],
                "greet": ask_again, "thanks": ask_again,
                "hesitate": ["utter_take_your_time", *ask_again],
                "human_handoff": ["utter_handoff", "action_deactivate_loop", "action_restart"],
                "faq": ["utter_faq", *ask_again], "bot_challenge": ["utter_iamabot", *ask_again],
                "out_of_scope": ["utter_out_of_scope", *ask_again],
                "nlu_fallback": ["utter_default", *ask_again]}
    wrong = {}
    for intent in [*domain.intents, "nlu_fallback"]:
        acted = bot_actions(agent, f"going-on-{intent}", ["check_order", "stop", intent])
        answer = acted[len(["order_form", "utter_ask_continue"]):]
        names = [name for name, _ in answer]
        by_rules = bool(answer) and {policy for _, policy in answer} == {"RulePolicy"}
        if not by_rules or names != expected.get(intent):
            wrong[intent] = answer
    assert wrong == {}
    bot_actions(agent, "number-after-stop",
                ["check_order", "stop", 'inform{"order_number": "DD52719034"}'])
    tracker = asyncio.run(agent.get_tracker("number-after-stop"))
    assert tracker.get_slot("order_number") == "DD52719034"
    assert tracker.get_slot("requested_slot") == "phone_tail"


@pytest.mark.parametrize("before", [["check_order"], ["check_order", "stop"],
                                    ["check_order", "hesitate"]])
def test_a_goodbye_during_the_order_form_ends_it(agent, before) -> None:
    """再见 while the form asks, or in answer to 还需要继续查询订单吗？, ends the lookup by
    a rule: the form does not ask its question after the goodbye."""
    sender = f"bye-{'-'.join(before)}"
    acted = bot_actions(agent, sender, [*before, "goodbye"])
    assert acted[-3:] == [("action_deactivate_loop", "RulePolicy"),
                          ("utter_goodbye", "RulePolicy"),
                          ("action_restart", "RulePolicy")], acted
    assert asyncio.run(agent.get_tracker(sender)).active_loop_name is None


@pytest.mark.parametrize(("intent", "answer"), [("greet", "utter_greet"),
                                                ("thanks", "utter_noworries")])
def test_a_greeting_or_thanks_while_the_form_asks_answers_and_asks_again(agent, intent,
                                                                         answer) -> None:
    """你好 or 谢谢 while the form asks: the answer, then the form's question again, by
    rules. The answer asks nothing of its own there (还有其他可以帮您的吗？ before the
    form's question left two questions open); outside a lookup the full answer is
    given."""
    sender = f"form-asks-{intent}"
    acted = bot_actions(agent, sender, ["check_order", intent])
    assert acted[1:] == [(answer, "RulePolicy"), ("order_form", "RulePolicy")], acted
    asked, reply, asked_again = bot_texts(agent, sender)
    assert asked == asked_again == ASK_ORDER_NUMBER
    assert "？" not in reply and "?" not in reply, reply
    bot_actions(agent, f"no-form-{intent}", [intent])
    assert last_bot_text(agent, f"no-form-{intent}") != reply


#: the form's questions (domain.yml's utter_ask_order_number, utter_ask_phone_tail)
ASK_ORDER_NUMBER = "请提供您的订单号（以 DD 开头，例如 DD20481736）。"
ASK_PHONE_TAIL = "为了保护您的隐私，请告诉我下单手机号的后四位。"


@pytest.mark.parametrize("first", [
    ['check_order{"order_number": "DD52719034", "phone_tail": "2468"}'],
    ["check_order", 'inform{"order_number": "DD52719034"}', "goodbye"],
    ['check_order{"order_number": "DD52719034"}', "stop", "deny"],
    ['check_order{"order_number": "DD52719034"}', "human_handoff"],
])
def test_a_lookup_that_ended_leaves_nothing_to_the_next(agent, first) -> None:
    """Once the status was told, or the lookup was stopped, ended by 再见 or handed
    over to a human, `action_restart` forgets it: checking again asks for the order number and then
    the phone number's tail (the slots kept the first lookup's answers, so the bot
    told the status at once or asked only for the tail)."""
    sender = f"check-twice-{len(first)}-{first[-1]}"
    bot_actions(agent, sender, first)
    tracker = asyncio.run(agent.get_tracker(sender))
    assert tracker.get_slot("order_number") is None and tracker.get_slot("phone_tail") is None
    acted = bot_actions(agent, sender, ["check_order"])
    tracker = asyncio.run(agent.get_tracker(sender))
    assert tracker.latest_bot_utterance.text == ASK_ORDER_NUMBER, acted
    assert tracker.get_slot("requested_slot") == "order_number"
    answered = bot_actions(agent, sender, ['inform{"order_number": "DD63018274"}'])
    tracker = asyncio.run(agent.get_tracker(sender))
    assert tracker.latest_bot_utterance.text == ASK_PHONE_TAIL, answered


@pytest.mark.parametrize(("first", "carried"), [
    (['check_order{"order_number": "DD44120987"}', "human_handoff"],
     {"order_number": "DD44120987"}),
    (["check_order", "human_handoff"], {}),
    (["human_handoff"], {}),
])
def test_a_hand_off_gives_the_human_agent_the_order_number(agent, first, carried) -> None:
    """转人工 during a lookup restarts it (so the next lookup asks afresh), and the
    hand-off payload carries the order number given, with no placeholder when none
    was; the conversation before the restart stays in the tracker's full view."""
    sender = f"handoff-{len(first)}-{bool(carried)}"
    bot_actions(agent, sender, first)
    tracker = asyncio.run(agent.get_tracker(sender))
    told = [event.as_dict() for event in tracker.events]
    [*_, handoff] = [e for e in told if e.get("event") == "bot"]
    assert handoff["data"]["custom"] == {"handoff": True, "queue": "customer_service", **carried}
    assert tracker.get_slot("order_number") is None
    assert any(e.get("event") == "user" and e["parse_data"]["intent"]["name"] == "check_order"
               for e in told) == (first[0] != "human_handoff")


def test_asking_to_check_an_order_while_the_form_asks_goes_on(agent) -> None:
    """查订单 while the form asks: a rule says the lookup is under way and the form asks
    its question again (the form rejects the message; rerunning it at once left the bot
    silent, with `action_default_fallback`)."""
    acted = bot_actions(agent, "check-again", ["check_order", "check_order"])
    assert acted[1:] == [("utter_query_under_way", "RulePolicy"),
                         ("order_form", "RulePolicy")], acted
    tracker = asyncio.run(agent.get_tracker("check-again"))
    assert tracker.active_loop_name == "order_form"
    assert tracker.get_slot("requested_slot") == "order_number"


def test_an_order_number_with_no_lookup_running_starts_the_form(agent) -> None:
    """An order number out of the blue starts the lookup by a rule (the dialogue model
    said 不客气): the number is kept and the form asks for the phone number's tail."""
    acted = bot_actions(agent, "number-first", ['inform{"order_number": "DD52719034"}'])
    assert acted == [("order_form", "RulePolicy")], acted
    tracker = asyncio.run(agent.get_tracker("number-first"))
    assert tracker.get_slot("order_number") == "DD52719034"
    assert tracker.get_slot("requested_slot") == "phone_tail"
    assert tracker.active_loop_name == "order_form"


@pytest.mark.parametrize("before", [[], ["check_order", "stop", "deny"]])
def test_a_stop_outside_the_order_form_goes_by_a_rule(agent, before) -> None:
    """算了 when no lookup runs (after 还有其他可以帮您的吗？) gets the same answer as 不,
    by a rule, not 还需要继续查询订单吗？ with nothing to go on with."""
    acted = bot_actions(agent, f"stop-outside-{len(before)}", [*before, "stop"])
    assert acted[-1] == ("utter_anytime", "RulePolicy"), acted


def test_a_hesitation_is_not_a_yes(agent) -> None:
    """嗯…让我想想 must not go on with the order lookup; 嗯 alone still means yes."""
    hesitations = [
        "嗯…我想一下",
        "我还不确定",
        "呃，我也说不好",
        "让我考虑一下",
        "我想想",
        "不太确定",
        "我也不知道",
        "让我琢磨一下",
        "等等，我想想",
    ]
    answers = {
        "嗯": "affirm",
        "嗯嗯": "affirm",
        "好的": "affirm",
        "是的": "affirm",
        "不": "deny",
        "不用了": "deny",
        "算了": "stop",
        "取消吧": "stop",
    }
    expected = {**dict.fromkeys(hesitations, "hesitate"), **answers}
    parsed = {text: asyncio.run(agent.parse_message(text))["intent"]["name"] for text in expected}
    assert parsed == expected


def test_a_message_of_unknown_words_is_not_understood(agent) -> None:
    """Keyboard mash has no word of the examples: with ``unknown_words`` it falls back
    instead of being guessed (the classifier, trained from scratch, took "asdfgh" for a
    yes, which would go on with the order lookup); known words still classify."""
    mash = ["asdfgh", "qwerty uiop", "sdfsdf", "zxcv bnm"]
    parsed = asyncio.run(agent.parse_messages([*mash, "好的", "再见"]))
    assert [p["intent"]["name"] for p in parsed] == [*["nlu_fallback"] * 4, "affirm", "goodbye"]


def test_words_and_entities_keep_exact_character_offsets(agent) -> None:
    text = "查一下订单DD85120943到哪了，尾号2468"
    parsed = asyncio.run(agent.parse_message(text))
    assert parsed["intent"]["name"] == "check_order"
    found = {(e["entity"], e["value"], e["start"], e["end"]) for e in parsed["entities"]}
    assert found == {("order_number", "DD85120943", 5, 15), ("phone_tail", "2468", 21, 25)}
    for entity in parsed["entities"]:
        assert text[entity["start"] : entity["end"]] == entity["value"]


def test_a_conversation_checks_an_order_and_hands_over(agent) -> None:
    from dialogflowlite.dialogue.messages import IncomingMessage

    def say(text: str) -> list[dict]:
        return asyncio.run(agent.handle_message(IncomingMessage(text, sender_id="zh-user")))

    assert "订单号" in say("我想查订单")[0]["text"]
    assert "后四位" in say("订单号是DD63018274")[0]["text"]
    (status,) = say("5190")
    assert "DD63018274" in status["text"] and "5190" in status["text"]
    # text and custom payload go out as two replies, as Rasa's REST channel sends them
    handoff, payload = say("帮我转人工")
    assert "人工客服" in handoff["text"]
    assert payload["custom"] == {"handoff": True, "queue": "customer_service"}


def test_the_jieba_plugin_tests_pass() -> None:
    """The plugin package's own tests, as its README runs them."""
    assert_package_tests_pass(JIEBA_PLUGIN)
