"""``dialogflowlite plugins``: every loaded plugin with its origin and contributions."""

from __future__ import annotations

import json

from dialogflowlite import hookimpl
from dialogflowlite.cli.main import main
from dialogflowlite.components.base import NluComponent
from dialogflowlite.plugins.manager import BUILTIN_PLUGINS, short_name


class ShoutingTokenizer(NluComponent):
    """Exists only for this test."""

    name = "ShoutingTokenizer"
    kind = "tokenizer"


class ToyPlugin:
    @hookimpl
    def dfl_register_components(self):
        return [ShoutingTokenizer]


def _blocks(out: str) -> dict[str, list[str]]:
    """Plugin header line -> its indented lines."""
    blocks: dict[str, list[str]] = {}
    current = None
    for line in out.splitlines():
        if line and not line.startswith(" "):
            current = line
            blocks[current] = []
        elif current is not None:
            blocks[current].append(line.strip())
    return blocks


def test_every_builtin_plugin_is_listed_as_built_in(plugin_manager, capsys) -> None:
    assert main(["plugins"]) == 0
    blocks = _blocks(capsys.readouterr().out)
    for module_name in BUILTIN_PLUGINS:
        assert f"{short_name(module_name)}  (built-in)" in blocks, module_name
    commands = blocks["commands  (built-in)"]
    listed = next(line for line in commands if line.startswith("commands: "))
    assert {"init", "plugins"} <= set(listed.removeprefix("commands: ").split(", "))


def test_json_output_has_one_entry_per_loaded_plugin(plugin_manager, capsys) -> None:
    assert main(["plugins", "--json"]) == 0
    plugins = json.loads(capsys.readouterr().out)
    assert len(plugins) == len(plugin_manager.infos)
    builtin = {p["name"] for p in plugins if p["builtin"]}
    assert builtin == {short_name(m) for m in BUILTIN_PLUGINS}
    for plugin in plugins:
        assert (plugin["origin"] == "built-in") is plugin["builtin"]
        assert set(plugin) == {"name", "origin", "builtin", "hooks", "contributes"}
    commands = next(p for p in plugins if p["name"] == "commands")
    assert "dfl_register_commands" in commands["hooks"]


def test_a_plugin_registered_in_code_shows_its_components(register_plugin, capsys) -> None:
    register_plugin(ToyPlugin(), "toy")
    assert main(["plugins"]) == 0
    blocks = _blocks(capsys.readouterr().out)
    assert blocks["toy  (registered in code)"] == ["tokenizers: ShoutingTokenizer"]


def test_a_disabled_builtin_plugin_is_not_listed(monkeypatch, capsys) -> None:
    from dialogflowlite.plugins.manager import reset_plugin_manager

    monkeypatch.setenv("DFL_DISABLE_PLUGINS", "masking")
    reset_plugin_manager()
    try:
        assert main(["plugins"]) == 0
        blocks = _blocks(capsys.readouterr().out)
        assert "masking  (built-in)" not in blocks
        assert "commands  (built-in)" in blocks
    finally:
        reset_plugin_manager()


def test_component_kinds_are_listed_in_plain_english(plugin_manager, capsys) -> None:
    assert main(["plugins", "--json"]) == 0
    plugins = {p["name"]: p for p in json.loads(capsys.readouterr().out)}
    assert "TransformerPolicy" in plugins["policies"]["contributes"]["policies"]
    assert "WhitespaceTokenizer" in plugins["tokenizers"]["contributes"]["tokenizers"]


class ActionCheckBalance:
    """A rasa-sdk style action class; exists only for this test."""

    def name(self) -> str:
        return "action_check_balance"

    def run(self, dispatcher, tracker, domain) -> list:
        return []


class BankPlugin:
    @hookimpl
    def dfl_register_actions(self):
        return [ActionCheckBalance]


def test_actions_are_listed_by_the_name_stories_use(register_plugin, capsys) -> None:
    register_plugin(BankPlugin(), "bank")
    assert main(["plugins"]) == 0
    blocks = _blocks(capsys.readouterr().out)
    assert blocks["bank  (registered in code)"] == ["actions: action_check_balance"]
