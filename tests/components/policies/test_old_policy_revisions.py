"""Models whose policies were saved at an older policy revision.

Such a model still loads for ``run``, ``shell`` and ``test``. One warning names
each policy whose older revision matters for that model (its revision, the
current one, what differs) and says to retrain. A policy saved before bot texts
were learnt (revision 4) predicts ``action_send_text`` without a text for a
story's ``bot:`` step: that prediction is left out, so the bot never sends an
empty message. Old models are made here by training with the older behaviour
patched in, then by removing from the saved files what older versions did not
write.
"""

from __future__ import annotations

import asyncio
import json
import logging
import shutil
from itertools import count
from pathlib import Path

import pytest
from policy_helpers import MEMOIZATION_CONFIG, said, tracker, trained
from story_data import rules_yaml, stories_yaml

from dialogflowlite.agent import Agent
from dialogflowlite.artifact import MANIFEST, ComponentStorage, ModelWriter
from dialogflowlite.components.policies import dialogues, memoization
from dialogflowlite.components.policies.base import (
    REVISION_KEY,
    UNLIKELY_INTENT_REVISION,
    Conversation,
    Policy,
)
from dialogflowlite.components.policies.memoization import MemoizationPolicy
from dialogflowlite.components.policies.training import CoreSection
from dialogflowlite.components.policies.transformer_policy import META_FILE, TransformerPolicy
from dialogflowlite.dialogue.messages import IncomingMessage
from dialogflowlite.io.loader import load_project
from dialogflowlite.shared.domain import ACTION_SEND_TEXT, ACTION_UNLIKELY_INTENT
from dialogflowlite.shared.events import ActionExecuted, BotUttered, Event
from dialogflowlite.training.trainer import TrainingContext, TrainOptions, write_model_extras

ENSEMBLE_LOGGER = "dialogflowlite.components.policies.ensemble"

DOMAIN = """
version: "3.1"
intents: [greet, bye, thanks]
responses:
  utter_noworries: [{text: np}]
  utter_bye: [{text: bye}]
  utter_default: [{text: "Sorry, say that again?"}]
"""

BOT_STORIES = stories_yaml(
    '- story: greet\n  steps:\n  - intent: greet\n  - bot: "Hi there!"\n'
    '  - bot: "How can I help?"\n',
    '- story: bye\n  steps:\n  - intent: bye\n  - bot: "See you soon."\n')
ACTION_STORIES = stories_yaml(
    "- story: bye\n  steps:\n  - intent: bye\n  - action: utter_bye\n")
RULES = rules_yaml("- rule: thanks\n  steps:\n  - intent: thanks\n  - action: utter_noworries\n")

RULES_ONLY_CONFIG = """
language: en
policies:
  - name: RulePolicy
"""
TINY_TRANSFORMER = {"hidden_size": 16, "num_heads": 2, "epochs": 40}

_models = count()


@pytest.fixture
def project(write_project):
    def build(stories: str = BOT_STORIES, config: str = MEMOIZATION_CONFIG):
        return load_project(write_project(domain=DOMAIN, stories=stories, rules=RULES,
                                          config=config, name=f"project{next(_models)}"),
                            strict=True)

    return build


def as_revision(patch: pytest.MonkeyPatch, revision: int) -> None:
    """Train and save as policy ``revision`` did: before 4, a ``bot:`` step is learnt
    as ``action_send_text``; before 5, memoization learns ``action_unlikely_intent``
    steps."""
    for policy_class in (Policy, MemoizationPolicy, TransformerPolicy):
        patch.setattr(policy_class, "revision", min(revision, policy_class.revision))
    if revision < 4:
        patch.setattr(dialogues, "bot_text", lambda event: None)
    if revision < UNLIKELY_INTENT_REVISION:
        patch.setattr(memoization, "without_unlikely_intents", lambda dialogue: dialogue)


def saved_model(project, tmp_path: Path, revision: int | None = None) -> Path:
    """The trained policies of ``project`` as an unpacked model folder, saved at policy
    ``revision`` (the current one when None)."""
    with pytest.MonkeyPatch.context() as patch:
        if revision is not None:
            as_revision(patch, revision)
        writer = ModelWriter()
        try:
            options = TrainOptions(progress=False)
            context = TrainingContext(writer, None, options)
            writer.manifest.sections["core"] = CoreSection().train(project, context)
            write_model_extras(writer, project, options)
            packed = writer.save(tmp_path / f"model{next(_models)}.tar")
            # the folder the model was packed from is a model too (what `run` unpacks)
            folder = shutil.copytree(writer.workdir, tmp_path / packed.stem)
        finally:
            writer.close()
    return folder


def as_saved_before_revisions_were_recorded(folder: Path, *, without_rule_only: bool = False
                                            ) -> None:
    """Remove what versions that did not record revisions never wrote: the revision,
    and (``without_rule_only``: revision 2) the rule policy's rule-only data."""
    manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    for item in manifest["sections"]["core"]["policies"]:
        for saved in (folder / item["key"]).glob("*.json"):
            data = json.loads(saved.read_text(encoding="utf-8"))
            del data[REVISION_KEY]
            if without_rule_only and item["name"] == "RulePolicy":
                del data["rule_only"], data["rules_not_in_stories"]
            saved.write_text(json.dumps(data), encoding="utf-8")


def old_model(project, tmp_path: Path, revision: int, *, recorded: bool) -> Path:
    """:func:`saved_model` at policy ``revision``, as versions that did not record
    revisions saved it unless ``recorded``."""
    folder = saved_model(project, tmp_path, revision=revision)
    if not recorded:
        as_saved_before_revisions_were_recorded(folder)
    return folder


def warnings_of_loading(folder: Path, caplog) -> list[str]:
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger=ENSEMBLE_LOGGER):
        Agent.load(folder)
    return [r.getMessage() for r in caplog.records if r.name == ENSEMBLE_LOGGER]


def the_memoization_warning(folder: Path, caplog, revision: int, *, recorded: bool) -> str:
    """The one warning of loading ``folder``, which says that the memoization policy was
    saved at ``revision`` (or older, when the revision was not ``recorded``)."""
    [warning] = warnings_of_loading(folder, caplog)
    saved = f"revision {revision}" if recorded else f"revision {revision} or older"
    assert f"AugmentedMemoizationPolicy was saved at policy {saved} (" in warning
    return warning


def bye_events(folder: Path) -> list[Event]:
    """What the model in ``folder`` does when the user says bye."""
    agent = Agent.load(folder)
    return asyncio.run(agent.handle_turn(IncomingMessage("/bye", "someone"))).events


def texts_sent(events: list[Event]) -> list[str]:
    return [e.text for e in events if isinstance(e, BotUttered)]


def assert_retrained_answers_bye(project, tmp_path: Path, caplog) -> None:
    """Retrained at the current revision, the model loads without a warning and answers
    bye with utter_bye."""
    retrained = saved_model(project, tmp_path)
    assert warnings_of_loading(retrained, caplog) == []
    assert texts_sent(bye_events(retrained)) == ["bye"]


def test_a_current_model_loads_without_a_warning(project, tmp_path, caplog) -> None:
    assert warnings_of_loading(saved_model(project(), tmp_path), caplog) == []


@pytest.mark.parametrize("recorded", [True, False])
def test_a_revision_3_model_with_bot_steps_warns_once(project, tmp_path, caplog,
                                                      recorded) -> None:
    folder = old_model(project(), tmp_path, 3, recorded=recorded)
    warning = the_memoization_warning(folder, caplog, 3, recorded=recorded)
    assert "saves revision 5" in warning
    assert "`bot:` steps as action_send_text" in warning
    assert "`dialogflowlite train`" in warning
    # the rule policy learnt no bot step: nothing about it matters
    assert "RulePolicy" not in warning


UNLIKELY_STORIES = stories_yaml(
    "- story: bye\n  steps:\n  - intent: bye\n  - action: action_unlikely_intent\n"
    "  - action: utter_bye\n")


@pytest.mark.parametrize("recorded", [True, False])
def test_an_old_memoization_forgets_its_unlikely_intent_steps(project, tmp_path, caplog,
                                                              recorded) -> None:
    """Saved before revision 5, memoization remembered action_unlikely_intent after
    `bye`; its state left out after the action, it would predict it again and again."""
    folder = old_model(project(UNLIKELY_STORIES), tmp_path, 4, recorded=recorded)
    warning = the_memoization_warning(folder, caplog, 4, recorded=recorded)
    assert "saves revision 5" in warning and "action_unlikely_intent steps" in warning
    assert "RulePolicy" not in warning
    assert not any(isinstance(e, ActionExecuted) and e.name == ACTION_UNLIKELY_INTENT
                   for e in bye_events(folder))
    # retrained, it learns the story without the step
    assert_retrained_answers_bye(project(UNLIKELY_STORIES), tmp_path, caplog)


AMBIGUOUS_UNLIKELY_STORIES = stories_yaml(
    "- story: bye unlikely\n  steps:\n  - intent: bye\n  - action: action_unlikely_intent\n"
    "  - action: utter_bye\n",
    "- story: bye\n  steps:\n  - intent: bye\n  - action: utter_bye\n")


@pytest.mark.parametrize("recorded", [True, False])
def test_an_old_memoization_warns_when_only_states_after_the_step_remain(
        project, tmp_path, caplog, recorded) -> None:
    """Before revision 5, `bye` was followed by action_unlikely_intent in one story and
    by utter_bye in the other: that key was forgotten as ambiguous, so no remembered
    action is action_unlikely_intent, but utter_bye was learnt after the action's
    state, which prediction leaves out. The old model cannot answer `bye`: it warns."""
    folder = old_model(project(AMBIGUOUS_UNLIKELY_STORIES), tmp_path, 4, recorded=recorded)
    warning = the_memoization_warning(folder, caplog, 4, recorded=recorded)
    assert "action_unlikely_intent steps" in warning
    assert "Retrain it with `dialogflowlite train`" in warning
    assert "bye" not in texts_sent(bye_events(folder))
    # retrained, both stories agree on utter_bye after bye
    assert_retrained_answers_bye(project(AMBIGUOUS_UNLIKELY_STORIES), tmp_path, caplog)


def test_an_old_model_without_bot_steps_does_not_warn(project, tmp_path, caplog) -> None:
    folder = saved_model(project(ACTION_STORIES), tmp_path, revision=3)
    assert warnings_of_loading(folder, caplog) == []


def test_an_old_rule_policy_warns_that_rule_turns_are_not_hidden(project, tmp_path,
                                                                 caplog) -> None:
    folder = saved_model(project(ACTION_STORIES), tmp_path, revision=2)
    as_saved_before_revisions_were_recorded(folder, without_rule_only=True)
    [warning] = warnings_of_loading(folder, caplog)
    assert "RulePolicy was saved at policy revision 2 or older" in warning
    assert "not hidden from AugmentedMemoizationPolicy" in warning


def test_an_old_rule_policy_alone_does_not_warn(project, tmp_path, caplog) -> None:
    """Without a policy that learns from stories only, hiding rule turns changes nothing."""
    folder = saved_model(project(ACTION_STORIES, RULES_ONLY_CONFIG), tmp_path, revision=2)
    as_saved_before_revisions_were_recorded(folder, without_rule_only=True)
    assert warnings_of_loading(folder, caplog) == []


@pytest.mark.parametrize("recorded", [True, False])
def test_an_old_model_sends_no_empty_message(project, tmp_path, caplog, recorded) -> None:
    agent = Agent.load(old_model(project(), tmp_path, 3, recorded=recorded))

    async def chat() -> list[list[Event]]:
        return [(await agent.handle_turn(IncomingMessage(text, "someone"))).events
                for text in ("/greet", "/thanks")]

    greet, thanks = asyncio.run(chat())
    assert not any(isinstance(e, ActionExecuted) and e.name == ACTION_SEND_TEXT
                   for e in greet)
    # the step it cannot send is left to the fallback; what it learnt otherwise holds
    assert texts_sent(greet) == ["Sorry, say that again?"]
    assert texts_sent(thanks) == ["np"]


def test_an_old_transformer_leaves_its_textless_bot_step_out(project, tmp_path) -> None:
    stories = project(config=RULES_ONLY_CONFIG)
    domain = stories.domain
    with pytest.MonkeyPatch.context() as patch:
        as_revision(patch, 3)
        old = trained(TransformerPolicy(dict(TINY_TRANSFORMER)), stories)
        storage = ComponentStorage(tmp_path / "transformer")
        old.persist(storage)
    meta = storage.read_json(META_FILE)
    del meta[REVISION_KEY], meta["action_texts"]  # as revision 3 saved it
    storage.write_json(META_FILE, meta)

    loaded = TransformerPolicy.load(old.config, storage)
    greet = tracker(domain, *said("greet"))
    conversation = Conversation.from_tracker(greet, loaded.featurizer(domain))
    # what it learnt for the bot step: action_send_text, with no text to send
    scores = loaded.probabilities(conversation)
    assert max(scores, key=scores.__getitem__) == ACTION_SEND_TEXT
    prediction = loaded.predict(greet, domain)
    assert ACTION_SEND_TEXT not in prediction.probabilities
    assert prediction.action_name not in (None, ACTION_SEND_TEXT)
    assert str(loaded.saved_revision) == "revision 3 or older"
    [note] = loaded.outdated_notes([loaded])
    assert "`bot:` steps" in note


def test_an_old_transformer_without_bot_steps_has_nothing_to_say(project, tmp_path) -> None:
    stories = project(ACTION_STORIES, RULES_ONLY_CONFIG)
    with pytest.MonkeyPatch.context() as patch:
        as_revision(patch, 3)
        old = trained(TransformerPolicy(dict(TINY_TRANSFORMER)), stories)
        storage = ComponentStorage(tmp_path / "transformer")
        old.persist(storage)
    loaded = TransformerPolicy.load(old.config, storage)
    assert str(loaded.saved_revision) == "revision 3"
    assert loaded.outdated_notes([loaded]) == []
