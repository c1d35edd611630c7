"""docs/plugins.md documents every hook, and its examples are valid plugins."""

from __future__ import annotations

import inspect
import re
import types
from pathlib import Path

import pluggy
import pytest

from dialogflowlite import PROJECT_NAME
from dialogflowlite.plugins import hookspecs

DOCS = Path(__file__).resolve().parents[2] / "docs"
PLUGINS_DOC = DOCS / "plugins.md"
HEADING = re.compile(r"^### (\w+)\s*$", re.MULTILINE)
CODE_BLOCK = re.compile(r"^```python\n(.*?)^```", re.MULTILINE | re.DOTALL)


def _hooks() -> dict[str, inspect.Signature]:
    marker = f"{PROJECT_NAME}_spec"
    return {
        name: inspect.signature(function)
        for name, function in inspect.getmembers(hookspecs, inspect.isfunction)
        if hasattr(function, marker)
    }


def _sections(text: str) -> dict[str, str]:
    parts = HEADING.split(text)
    return {parts[i]: parts[i + 1].split("\n## ", 1)[0] for i in range(1, len(parts), 2)}


TEXT = PLUGINS_DOC.read_text(encoding="utf-8")
SECTIONS = _sections(TEXT)


def test_the_hook_specs_are_found() -> None:
    hooks = _hooks()
    assert "dfl_register_components" in hooks and "dfl_replies_outgoing" in hooks
    assert len(hooks) >= 12


@pytest.mark.parametrize("hook", sorted(_hooks()))
def test_every_hook_has_a_heading_naming_its_arguments(hook: str) -> None:
    assert hook in SECTIONS, f"docs/plugins.md has no '### {hook}' heading"
    section = SECTIONS[hook]
    for word in ("**Receives**", "**Returns**", "**Called**", "```python"):
        assert word in section, f"the section of {hook} lacks {word}"
    for argument in _hooks()[hook].parameters:
        assert f"`{argument}`" in section, f"the section of {hook} does not name `{argument}`"
    assert f"def {hook}(" in section, f"the example of {hook} does not implement it"


def test_no_heading_names_a_hook_that_does_not_exist() -> None:
    hooks = _hooks()
    stale = [name for name in SECTIONS if name.startswith("dfl_") and name not in hooks]
    assert stale == [], f"docs/plugins.md documents hooks that hookspecs.py lacks: {stale}"


def test_the_first_result_hook_is_documented_as_such() -> None:
    firstresult = [
        name
        for name in _hooks()
        if getattr(getattr(hookspecs, name), f"{PROJECT_NAME}_spec").get("firstresult")
    ]
    assert firstresult == ["dfl_resolve_model_source"]
    assert "First result wins" in SECTIONS["dfl_resolve_model_source"]


@pytest.mark.parametrize("hook", sorted(_hooks()))
def test_the_example_is_a_plugin_the_manager_accepts(hook: str) -> None:
    """Each example runs as a module and registers against the real hook specs."""
    (code,) = [block for block in CODE_BLOCK.findall(SECTIONS[hook]) if "@hookimpl" in block]
    module = types.ModuleType(f"example_{hook}")
    exec(compile(code, f"docs/plugins.md ({hook})", "exec"), module.__dict__)
    pm = pluggy.PluginManager(PROJECT_NAME)
    pm.add_hookspecs(hookspecs)
    pm.register(module)  # pluggy checks hook names and argument names here
    assert len(getattr(pm.hook, hook).get_hookimpls()) == 1


def test_the_example_results_have_the_documented_shape(tmp_path) -> None:
    import asyncio

    from dialogflowlite.cli.command import Command
    from dialogflowlite.server.channels.base import InputChannel
    from dialogflowlite.stores.base import LockStore, TrackerStore

    def run(hook: str, **kwargs):
        (code,) = [b for b in CODE_BLOCK.findall(SECTIONS[hook]) if "@hookimpl" in b]
        namespace: dict = {}
        exec(compile(code, hook, "exec"), namespace)
        return namespace, namespace[hook](**kwargs)

    _, stores = run("dfl_register_tracker_stores")
    store = stores["json_files"].from_endpoint_config({"folder": str(tmp_path / "t")})
    assert isinstance(store, TrackerStore)
    events = [{"event": "action", "name": "action_listen"}]

    async def round_trip():
        await store.append_events("a", events)
        await store.append_events("a", events)
        return await store.load_events("a"), await store.keys(), await store.load_events("b")

    assert asyncio.run(round_trip()) == (events * 2, ["a"], None)

    _, locks = run("dfl_register_lock_stores")
    lock_store = locks["single_process"].from_endpoint_config({})
    assert isinstance(lock_store, LockStore)

    async def locked():
        async with lock_store.lock("a"):
            return True

    assert asyncio.run(locked())

    _, channels = run("dfl_register_channels")
    assert issubclass(channels[0], InputChannel) and channels[0].name() == "plain"
    _, commands = run("dfl_register_commands")
    assert isinstance(commands[0], Command) and commands[0].name == "data intents"
    _, aliases = run("dfl_component_aliases")
    assert aliases == {"SentimentAnalyzer": "SentimentClassifier"}
    assert run("dfl_resolve_model_source", name="bert-base-uncased")[1] is None
    _, actions = run("dfl_register_actions")
    assert actions[0]().name() == "action_check_order"

    from dialogflowlite.dialogue.messages import IncomingMessage

    message = IncomingMessage("my card is 4111 1111 1111 1111", sender_id="u")
    run("dfl_message_received", message=message)
    assert message.text_for_storage == "my card is [card number]"
    assert message.metadata == {"had_card_number": True}
    stored = [{"event": "slot", "name": "phone_tail", "value": "1234"}]
    run("dfl_before_events_stored", sender_id="u", events=stored)
    assert stored[0]["value"] == "****"
    replies = [{"recipient_id": "u", "text": "x", "custom": {"handoff": True}}]
    run("dfl_replies_outgoing", sender_id="u", replies=replies)
    assert replies[0]["metadata"] == {"routed_to": "human"}
