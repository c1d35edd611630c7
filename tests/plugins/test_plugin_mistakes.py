"""What a plugin author gets wrong, and the one error that names it.

Each mistake here used to end in a bare TypeError or AttributeError (or in
nothing at all) somewhere far from the plugin; now it is a
:class:`PluginError` naming the plugin and the hook, where the plugin is
loaded or its hook is first called.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import pytest
from plain_data import train_model, write_files

from dialogflowlite import hookimpl
from dialogflowlite.cli.command import Command
from dialogflowlite.components.base import Component, NluComponent, saved_config
from dialogflowlite.components.policies.base import Policy, PolicyPrediction
from dialogflowlite.errors import PluginError, UnknownComponentError
from dialogflowlite.plugins.registry import get_registry


class Shouter(NluComponent):
    """Upper-cases nothing; exists for these tests."""

    name = "Shouter"
    kind = "featurizer"


def test_a_misspelt_hook_name_is_refused_with_the_hook_it_meant(register_plugin) -> None:
    class Misspelt:
        @hookimpl
        def dfl_register_component(self):  # the `s` is missing
            return [Shouter]

    with pytest.raises(PluginError) as info:
        register_plugin(Misspelt(), "misspelt")
    assert "plugin 'misspelt'" in info.value.message
    assert "'dfl_register_component', which is no hook" in info.value.message
    assert info.value.hint == "did you mean dfl_register_components?"


def test_an_optional_hook_of_another_version_is_taken(register_plugin) -> None:
    class Newer:
        @hookimpl(optionalhook=True)
        def dfl_hook_of_a_later_version(self):
            return []

    register_plugin(Newer(), "newer")  # no error: the author said it may be missing


@pytest.mark.parametrize(("hook", "returned", "shape"), [
    ("dfl_register_components", Shouter, "a list of component classes"),
    ("dfl_component_aliases", ["Shout"], "a mapping of alias to component name"),
    ("dfl_register_channels", "plain", "a list of channel classes"),
    ("dfl_register_tracker_stores", ["files"], "a mapping of type name to class"),
    ("dfl_register_actions", "action_x", "a list of action classes or instances"),
    ("dfl_register_commands", Command, "a list of Command"),
])
def test_a_hook_returning_the_wrong_shape_names_the_plugin(register_plugin, hook, returned,
                                                           shape) -> None:
    from dialogflowlite.cli.main import _commands
    from dialogflowlite.dialogue.custom_actions import collect_local_actions
    from dialogflowlite.plugins.manager import get_plugin_manager
    from dialogflowlite.server.channels.loader import channel_classes
    from dialogflowlite.stores.base import registered_types

    plugin = type("WrongShape", (), {hook: hookimpl(lambda self: returned)})()
    register_plugin(plugin, "wrong-shape")
    collect = {
        "dfl_register_components": get_registry,
        "dfl_component_aliases": get_registry,
        "dfl_register_channels": channel_classes,
        "dfl_register_tracker_stores": lambda: registered_types(hook),
        "dfl_register_actions": lambda: collect_local_actions(get_plugin_manager()),
        "dfl_register_commands": _commands,
    }[hook]
    with pytest.raises(PluginError) as info:
        collect()
    assert info.value.message.startswith(f"plugin 'wrong-shape' hook {hook}: returned ")
    assert info.value.message.endswith(f", not {shape}")


def test_a_component_of_an_nlu_kind_must_be_an_nlu_component(register_plugin) -> None:
    class Bare(Component):
        """A classifier on the wrong base class."""

        name = "BareClassifier"
        kind = "intent_classifier"

    class Plugin:
        @hookimpl
        def dfl_register_components(self):
            return [Bare]

    register_plugin(Plugin(), "bare")
    with pytest.raises(PluginError) as info:
        get_registry()
    assert "component BareClassifier has kind 'intent_classifier' but does not derive " \
           "from NluComponent" in info.value.message
    assert info.value.hint == "derive it from dialogflowlite.components.base.NluComponent"


def test_an_alias_of_a_name_nobody_registers_names_the_alias_and_its_plugin(
        register_plugin) -> None:
    class Plugin:
        @hookimpl
        def dfl_component_aliases(self):
            return {"Foo": "NotAComponent"}

    register_plugin(Plugin(), "aliasing")
    with pytest.raises(UnknownComponentError) as info:
        get_registry().get("Foo")
    # it said: unknown component 'Foo' (did you mean Foo?)
    assert info.value.message == ("component 'Foo' is an alias, from plugin 'aliasing', of "
                                  "'NotAComponent', which no installed plugin registers")


def test_a_duplicate_component_names_the_built_in_plugin_by_its_short_name(
        register_plugin) -> None:
    class Fallback(NluComponent):
        """Takes a built-in's name."""

        name = "FallbackClassifier"
        kind = "intent_classifier"

    class Plugin:
        @hookimpl
        def dfl_register_components(self):
            return [Fallback]

    register_plugin(Plugin(), "clash")
    with pytest.raises(PluginError, match="already registered by plugin 'nlu'"):
        get_registry()


def _channel(channel_name: str) -> type:
    return type("Channel", (), {"name": staticmethod(lambda: channel_name),
                                "blueprint": lambda self, on_message: None})


def test_two_plugins_registering_one_channel_name_stop_with_both_named(register_plugin) -> None:
    from dialogflowlite.server.channels.loader import channel_classes

    for plugin_name in ("first", "second"):
        cls = _channel("plain")
        register_plugin(type("P", (), {"dfl_register_channels": hookimpl(
            lambda self, cls=cls: [cls])})(), plugin_name)
    with pytest.raises(PluginError) as info:
        channel_classes()  # one webhook answered 404 without a word
    assert info.value.message == ("plugin 'second' hook dfl_register_channels: channel name "
                                  "'plain' is already registered by plugin 'first'")


def test_a_plugin_channel_cannot_take_a_built_in_channel_s_name(register_plugin) -> None:
    from dialogflowlite.server.channels.loader import channel_classes

    register_plugin(type("P", (), {"dfl_register_channels": hookimpl(
        lambda self: [_channel("rest")])})(), "own-rest")
    with pytest.raises(PluginError) as info:
        channel_classes()  # it was ignored for the built-in one, without a word
    assert "channel name 'rest' is already registered by plugin 'channels'" in \
           info.value.message


def test_store_types_clash_ignoring_case_and_must_be_classes(register_plugin) -> None:
    from dialogflowlite.stores.base import registered_types

    hook = "dfl_register_tracker_stores"

    class FileStore:
        pass

    register_plugin(type("P", (), {hook: hookimpl(lambda self: {"Sqlite": FileStore})})(),
                    "files")
    with pytest.raises(PluginError) as info:
        registered_types(hook)
    assert "type 'Sqlite' is already registered by plugin 'stores'" in info.value.message


def test_a_store_type_that_is_no_class_is_named(register_plugin) -> None:
    from dialogflowlite.stores.base import registered_types

    hook = "dfl_register_lock_stores"
    register_plugin(type("P", (), {hook: hookimpl(lambda self: {"files": "a.b.Store"})})(),
                    "files")
    with pytest.raises(PluginError) as info:
        registered_types(hook)
    assert "returned 'files': 'a.b.Store'; each entry must map" in info.value.message


def test_an_unknown_store_type_suggests_the_close_one() -> None:
    from dialogflowlite.errors import ConfigError
    from dialogflowlite.stores.base import create_tracker_store

    with pytest.raises(ConfigError) as info:
        create_tracker_store({"type": "sqlit"})
    assert info.value.hint.startswith("did you mean 'sqlite'")


@pytest.mark.parametrize(("taken", "new"), [
    ("train", "train"), ("plugins", "plugins extra"), ("data validate", "data")])
def test_a_plugin_command_clashing_with_another_is_named(register_plugin, taken: str,
                                                        new: str) -> None:
    from dialogflowlite.cli.main import _commands

    command = Command(name=new, help="x", add_arguments=lambda parser: None,
                      run=lambda args: 0)
    register_plugin(type("P", (), {"dfl_register_commands": hookimpl(
        lambda self: [command])})(), "extra")
    with pytest.raises(PluginError) as info:
        _commands()  # argparse stopped every command, --help included, naming nobody
    clash = ("is already registered by plugin" if new == taken
             else f"clashes with the command '{taken}' of plugin")
    assert info.value.message.startswith(f"plugin 'extra' hook dfl_register_commands: "
                                         f"command '{new}' {clash} 'commands'")


def test_an_action_class_that_needs_arguments_is_named(register_plugin) -> None:
    from dialogflowlite.dialogue.custom_actions import collect_local_actions
    from dialogflowlite.plugins.manager import get_plugin_manager

    class ActionNeedsClient:
        def __init__(self, client):
            self.client = client

        def name(self) -> str:
            return "action_needs_client"

    register_plugin(type("P", (), {"dfl_register_actions": hookimpl(
        lambda self: [ActionNeedsClient])})(), "needy")
    with pytest.raises(PluginError) as info:
        collect_local_actions(get_plugin_manager())
    assert "action class ActionNeedsClient cannot be made without arguments" in \
           info.value.message
    assert "register an instance" in info.value.hint


def test_two_plugins_registering_one_action_name_are_named_as_plugins_lists_them(
        register_plugin) -> None:
    from dialogflowlite.dialogue.custom_actions import collect_local_actions
    from dialogflowlite.plugins.manager import get_plugin_manager

    class ActionCheck:
        def name(self) -> str:
            return "action_check"

        async def run(self, dispatcher, tracker, domain):
            return []

    for plugin_name in ("dialogflowlite.plugins.builtin.first", "second"):
        register_plugin(type("P", (), {"dfl_register_actions": hookimpl(
            lambda self: [ActionCheck()])})(), plugin_name)
    with pytest.raises(PluginError) as info:
        collect_local_actions(get_plugin_manager())  # one ran the other's code, silently
    assert info.value.message == ("plugin 'second' hook dfl_register_actions: action "
                                  "'action_check' is already registered by plugin 'first'")


class Keyword(Policy):
    """A plugin policy with a setting of its own, no ``priority`` default and no
    ``persist``: it learns nothing to keep."""

    name: ClassVar[str] = "KeywordPolicy"
    defaults: ClassVar[dict] = {"answer": "utter_greet"}

    def train(self, paths, domain, context) -> None:
        pass

    def predict(self, tracker, domain) -> PolicyPrediction:
        if tracker.latest_intent == "greet" and \
                tracker.latest_action_name == "action_listen":
            return self.prediction({self.config["answer"]: 1.0})
        return PolicyPrediction.nothing(self)


class KeywordPlugin:
    @hookimpl
    def dfl_register_components(self):
        return [Keyword]


def test_every_policy_takes_priority_without_declaring_it(register_plugin, caplog) -> None:
    register_plugin(KeywordPlugin(), "keyword")
    config = Keyword.resolve_config({"priority": 7})  # it said: has no setting 'priority'
    assert config == {"answer": "utter_greet", "priority": 7}
    assert Keyword(config).priority == 7
    assert Keyword(Keyword.resolve_config({})).priority == Keyword.default_priority
    with caplog.at_level("WARNING"):
        assert saved_config(Keyword, config) == config
    assert "no longer has" not in caplog.text  # it warned at every load of the model


def test_a_policy_that_persists_nothing_loads_from_its_model(register_plugin,
                                                            tmp_path: Path) -> None:
    from dialogflowlite.agent import Agent

    register_plugin(KeywordPlugin(), "keyword")
    root = write_files(tmp_path / "bot", {
        "domain.yml": 'version: "3.1"\nintents: [greet]\nresponses:\n'
                      '  utter_greet:\n    - text: hi\n',
        "data/rules.yml": 'version: "3.1"\nrules:\n  - rule: greet\n    steps:\n'
                          '      - intent: greet\n      - action: utter_greet\n',
        "config.yml": "language: en\npipeline: []\npolicies:\n  - name: KeywordPolicy\n"
                      "    priority: 7\n"})
    # the model had no folder for the policy, so loading said "the model lacks the
    # resources of policy KeywordPolicy", and retraining never helped
    agent = Agent.load(train_model(root))
    policy = agent.policies.policies[0]
    assert (policy.name, policy.priority) == ("KeywordPolicy", 7)


def test_a_model_whose_plugin_is_gone_names_the_plugin(register_plugin, plugin_manager,
                                                       tmp_path: Path, monkeypatch) -> None:
    from dialogflowlite.agent import Agent
    from dialogflowlite.errors import ModelLoadError
    from dialogflowlite.plugins.manager import PluginInfo

    plugin_manager.register_plugin(KeywordPlugin(), "keyword", PluginInfo(
        "keyword", builtin=False, package="dialogflowlite-keyword", version="0.1.0"))
    root = write_files(tmp_path / "bot", {
        "domain.yml": 'version: "3.1"\nintents: [greet]\nresponses:\n'
                      '  utter_greet:\n    - text: hi\n',
        "data/rules.yml": 'version: "3.1"\nrules:\n  - rule: greet\n    steps:\n'
                          '      - intent: greet\n      - action: utter_greet\n',
        "config.yml": "language: en\npipeline: []\npolicies:\n  - name: KeywordPolicy\n"})
    model = train_model(root)
    plugin_manager.unregister_plugin("keyword")
    # it said "unknown component 'KeywordPolicy'", naming no plugin or package
    with pytest.raises(ModelLoadError) as info:
        Agent.load(model)
    assert info.value.message == ("the model needs the component KeywordPolicy of plugin "
                                  "'keyword' (package dialogflowlite-keyword), which is not "
                                  "installed")
    assert info.value.hint == "pip install dialogflowlite-keyword, or retrain the model"
    monkeypatch.setenv("DFL_DISABLE_PLUGINS", "keyword")
    with pytest.raises(ModelLoadError, match="which DFL_DISABLE_PLUGINS switches off"):
        Agent.load(model)


def test_a_policy_returning_no_prediction_is_named_and_left_out(caplog) -> None:
    from dialogflowlite.components.policies.ensemble import PolicyEnsemble
    from dialogflowlite.shared.domain import Domain
    from dialogflowlite.shared.tracker import DialogueStateTracker

    class DictPolicy(Keyword):
        name: ClassVar[str] = "DictPolicy"

        def predict(self, tracker, domain):
            return {"utter_greet": 1.0}

    domain = Domain()
    tracker = DialogueStateTracker.for_domain("x", domain)
    # it failed on a missing attribute, naming no policy
    with caplog.at_level("ERROR"):
        found = PolicyEnsemble([DictPolicy(), Keyword()]).predictions(tracker, domain)
    assert [p.policy_name for p in found] == ["KeywordPolicy"]
    assert "policy DictPolicy returned dict, not a PolicyPrediction" in caplog.text

    for odd in (float("nan"), "0.9", True, float("inf")):
        class OddPolicy(Keyword):
            name: ClassVar[str] = "OddPolicy"

            def predict(self, tracker, domain, odd=odd):
                return self.prediction({"utter_greet": odd})

        # NaN lost every comparison (no reply, no word of why); text failed the turn
        found = PolicyEnsemble([OddPolicy(), Keyword()]).predictions(tracker, domain)
        assert [p.policy_name for p in found] == ["KeywordPolicy"]
        assert (f"policy OddPolicy gave 'utter_greet' the probability {odd!r}, which is not "
                "a finite number") in caplog.text


def test_a_policy_that_raises_loses_no_message(register_plugin, tmp_path: Path,
                                              caplog) -> None:
    import asyncio

    from dialogflowlite.agent import Agent

    class Broken(Keyword):
        name: ClassVar[str] = "BrokenPolicy"

        def predict(self, tracker, domain):
            raise RuntimeError("a bug in the plugin")

    class Plugin:
        @hookimpl
        def dfl_register_components(self):
            return [Keyword, Broken]

    register_plugin(Plugin(), "keyword")
    root = write_files(tmp_path / "bot", {
        "domain.yml": 'version: "3.1"\nintents: [greet]\nresponses:\n'
                      '  utter_greet:\n    - text: hi\n',
        "data/rules.yml": 'version: "3.1"\nrules:\n  - rule: greet\n    steps:\n'
                          '      - intent: greet\n      - action: utter_greet\n',
        "config.yml": "language: en\npipeline: []\npolicies:\n  - name: BrokenPolicy\n"
                      "  - name: KeywordPolicy\n"})
    agent = Agent.load(train_model(root))
    try:
        with caplog.at_level("ERROR"):
            replies = asyncio.run(agent.handle_text("/greet", sender_id="ann"))
        events = asyncio.run(agent.tracker_store.load_events("ann"))
    finally:
        agent.close()
    # the turn failed with a 500, and nothing was stored
    assert [r["text"] for r in replies] == ["hi"]
    assert [e["text"] for e in events if e["event"] == "user"] == ["/greet"]
    assert "policy BrokenPolicy failed; its prediction is left out" in caplog.text
    assert "a bug in the plugin" in caplog.text


@pytest.mark.parametrize(("name", "said"), [
    ("fallback", "its component would be called FallbackClassifier, the name of a "
                 "component of plugin 'nlu'"),
    ("masking", "a plugin named 'masking' is already loaded (built in)"),
])
def test_plugin_new_refuses_the_names_of_built_ins(tmp_path: Path, name: str,
                                                   said: str) -> None:
    from dialogflowlite.cli.plugin_new import create_plugin

    with pytest.raises(PluginError) as info:
        create_plugin(name, tmp_path)
    assert said in info.value.message
    assert not any(tmp_path.iterdir())
