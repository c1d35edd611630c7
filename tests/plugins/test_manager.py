from __future__ import annotations

import pytest

from dialogflowlite import hookimpl
from dialogflowlite.components.base import NluComponent
from dialogflowlite.errors import PluginError, UnknownComponentError
from dialogflowlite.plugins.manager import BUILTIN_PLUGINS, short_name
from dialogflowlite.plugins.registry import get_registry


class EchoTokenizer(NluComponent):
    """Splits nothing; exists for the test."""

    name = "EchoTokenizer"
    kind = "tokenizer"
    defaults = {"lowercase": False}


class ToyPlugin:
    @hookimpl
    def dfl_register_components(self):
        return [EchoTokenizer]

    @hookimpl
    def dfl_component_aliases(self):
        return {"RasaEchoTokenizer": "EchoTokenizer"}


def test_builtin_plugins_are_registered_like_outside_ones(plugin_manager) -> None:
    for module_name in BUILTIN_PLUGINS:
        assert plugin_manager.get_plugin(module_name) is not None
        assert plugin_manager.info(module_name).builtin
        assert plugin_manager.info(module_name).origin == "built-in"


def test_registry_resolves_registered_components_and_aliases(register_plugin, caplog) -> None:
    register_plugin(ToyPlugin(), "toy")
    registry = get_registry()
    assert registry.get("EchoTokenizer") is EchoTokenizer
    assert registry.entries["EchoTokenizer"].plugin == "toy"
    with caplog.at_level("WARNING"):
        assert registry.get("RasaEchoTokenizer") is EchoTokenizer
    assert "RasaEchoTokenizer is provided here by EchoTokenizer" in caplog.text


def test_unknown_component_names_the_closest_ones(register_plugin) -> None:
    register_plugin(ToyPlugin(), "toy")
    with pytest.raises(UnknownComponentError) as info:
        get_registry().get("EchoTokeniser")
    assert "unknown component 'EchoTokeniser'" in str(info.value)
    assert "EchoTokenizer" in info.value.hint


def test_a_plugin_returning_a_non_component_is_named_in_the_error(register_plugin) -> None:
    class Broken:
        @hookimpl
        def dfl_register_components(self):
            return [object]

    register_plugin(Broken(), "broken-plugin")
    with pytest.raises(PluginError) as info:
        get_registry()
    assert "broken-plugin" in str(info.value)
    assert "dfl_register_components" in str(info.value)


def test_component_config_rejects_unknown_keys_with_a_suggestion() -> None:
    from dialogflowlite.errors import ComponentConfigError

    assert EchoTokenizer({"lowercase": True}).config == {"lowercase": True}
    with pytest.raises(ComponentConfigError, match="has no setting 'lowercas'") as info:
        EchoTokenizer({"lowercas": True})
    assert "lowercase" in info.value.hint


def test_disable_plugins_environment_variable(monkeypatch) -> None:
    from dialogflowlite.plugins.manager import create_plugin_manager

    monkeypatch.setenv("DFL_DISABLE_PLUGINS", "masking, commands")
    pm = create_plugin_manager(load_entry_points=False)
    loaded = {short_name(name) for name in pm.infos}
    assert "masking" not in loaded and "commands" not in loaded
    assert "tokenizers" in loaded


def test_a_disabled_name_that_is_no_plugin_is_named(monkeypatch, caplog) -> None:
    from dialogflowlite.plugins.manager import create_plugin_manager

    # the plugin meant stayed on without a word
    monkeypatch.setenv("DFL_DISABLE_PLUGINS", "maskng, dialogflowlite-masking, commands")
    with caplog.at_level("WARNING"):
        pm = create_plugin_manager()
    assert "DFL_DISABLE_PLUGINS names 'maskng', which is no plugin; did you mean " \
           "'masking'?" in caplog.text
    assert "names 'dialogflowlite-masking', which is no plugin; the plugin's name is " \
           "'masking'" in caplog.text
    assert "'commands'" not in caplog.text
    assert "masking" in {short_name(name) for name in pm.infos}


def test_hook_tracing_logs_calls(monkeypatch, caplog) -> None:
    from dialogflowlite.plugins.manager import create_plugin_manager

    monkeypatch.setenv("DFL_TRACE_HOOKS", "1")
    pm = create_plugin_manager(load_entry_points=False)
    with caplog.at_level("WARNING"):
        pm.hook.dfl_register_commands()
    assert "dfl_register_commands" in caplog.text


class BalanceAction:
    """An in-process custom action; exists for the test."""

    def name(self) -> str:
        return "action_check_balance"

    def run(self, dispatcher, tracker, domain) -> list:
        return []


class ActionPlugin:
    @hookimpl
    def dfl_register_actions(self):
        return [BalanceAction]


def test_hook_tracing_sees_the_registry_and_action_hooks(monkeypatch, caplog) -> None:
    from dialogflowlite.dialogue.custom_actions import collect_local_actions
    from dialogflowlite.plugins.manager import PluginInfo, create_plugin_manager
    from dialogflowlite.plugins.registry import ComponentRegistry

    monkeypatch.setenv("DFL_TRACE_HOOKS", "1")
    pm = create_plugin_manager(load_entry_points=False)
    pm.register_plugin(ToyPlugin(), "toy", PluginInfo("toy", builtin=False))
    pm.register_plugin(ActionPlugin(), "bank", PluginInfo("bank", builtin=False))
    with caplog.at_level("WARNING"):
        registry = ComponentRegistry(pm)
        actions = collect_local_actions(pm)
    traced = [r.getMessage() for r in caplog.records if r.getMessage().startswith("hook: ")]
    for hook in ("dfl_register_components", "dfl_component_aliases", "dfl_register_actions"):
        assert any(hook in line for line in traced), hook
    # each result is still tied to the plugin that returned it
    assert registry.entries["EchoTokenizer"].plugin == "toy"
    assert registry.get("RasaEchoTokenizer") is EchoTokenizer
    assert list(actions) == ["action_check_balance"]


def test_call_each_names_the_plugin_whose_hook_fails(plugin_manager, register_plugin) -> None:
    class Failing:
        @hookimpl
        def dfl_component_aliases(self):
            raise RuntimeError("no aliases today")

    register_plugin(Failing(), "failing")
    with pytest.raises(PluginError) as info:
        list(plugin_manager.call_each("dfl_component_aliases"))
    assert "plugin 'failing'" in str(info.value)
    assert "dfl_component_aliases" in str(info.value)
    assert "no aliases today" in str(info.value)
