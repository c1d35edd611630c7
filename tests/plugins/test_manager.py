from __future__ import annotations

import pytest

from dialogflowlite import hookimpl
from dialogflowlite.components.base import Component
from dialogflowlite.errors import PluginError, UnknownComponentError
from dialogflowlite.plugins.manager import BUILTIN_PLUGINS, short_name
from dialogflowlite.plugins.registry import get_registry


class EchoTokenizer(Component):
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


def test_hook_tracing_logs_calls(monkeypatch, caplog) -> None:
    from dialogflowlite.plugins.manager import create_plugin_manager

    monkeypatch.setenv("DFL_TRACE_HOOKS", "1")
    pm = create_plugin_manager(load_entry_points=False)
    with caplog.at_level("WARNING"):
        pm.hook.dfl_register_commands()
    assert "dfl_register_commands" in caplog.text
