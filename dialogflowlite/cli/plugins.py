"""``dialogflowlite plugins``: every loaded plugin and what it contributes."""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING, Any

from dialogflowlite.cli.command import Command

if TYPE_CHECKING:
    from dialogflowlite.plugins.manager import PluginManager

#: hooks whose results are listed per plugin, with the label they get
CONTRIBUTION_HOOKS = {
    "dfl_register_actions": "actions",
    "dfl_register_channels": "channels",
    "dfl_register_tracker_stores": "tracker stores",
    "dfl_register_lock_stores": "lock stores",
    "dfl_register_event_brokers": "event brokers",
    "dfl_register_commands": "commands",
}


def _names(items: Any) -> list[str]:
    if isinstance(items, dict):
        return sorted(str(k) for k in items)
    names = []
    for item in items or []:
        name = getattr(item, "name", None)
        if callable(name):
            try:
                name = name()
            except TypeError:
                name = getattr(item, "__name__", repr(item))
        names.append(str(name or getattr(item, "__name__", repr(item))))
    return sorted(names)


def _action_names(items: Any, plugin: str) -> list[str]:
    """The names actions run under, as stories use them (``action_check_balance``):
    ``name()`` is an instance method, so a registered class is built first, as the
    bot builds it."""
    from dialogflowlite.dialogue.custom_actions import registered_action_name

    names = []
    for item in items or []:
        try:
            names.append(registered_action_name(item, plugin))
        except Exception:
            # a listing shows what is there even when an action cannot run;
            # the bot reports the broken action when it loads them
            names.append(getattr(item, "__name__", None) or repr(item))
    return sorted(names)


def _hook_contributions(pm: PluginManager) -> dict[str, dict[str, list[str]]]:
    """Hook -> plugin name -> the names of what that plugin's hook returned."""
    found: dict[str, dict[str, list[str]]] = {}
    for hook_name in CONTRIBUTION_HOOKS:
        by_plugin = found.setdefault(hook_name, {})
        for plugin, returned in pm.call_each(hook_name):
            if hook_name == "dfl_register_actions":
                by_plugin[plugin] = _action_names(returned, plugin)
            else:
                by_plugin[plugin] = _names(returned)
    return found


def _plural(kind: str) -> str:
    """``policy`` -> ``policies``, ``tokenizer`` -> ``tokenizers``."""
    return kind[:-1] + "ies" if kind.endswith("y") else kind + "s"


def describe_plugins() -> list[dict[str, Any]]:
    """One entry per loaded plugin: name, origin, and its contributions by kind."""
    from dialogflowlite.plugins.manager import get_plugin_manager, short_name
    from dialogflowlite.plugins.registry import get_registry

    pm = get_plugin_manager()
    registry = get_registry()
    by_plugin = registry.by_plugin()
    hooks_listed = _hook_contributions(pm)
    found = []
    for name, info in pm.infos.items():
        contributions: dict[str, list[str]] = {}
        for entry in sorted(by_plugin.get(name, []), key=lambda e: (e.kind, e.name)):
            contributions.setdefault(_plural(entry.kind), []).append(entry.name)
        plugin = pm.get_plugin(name)
        for hook_name, label in CONTRIBUTION_HOOKS.items():
            listed = hooks_listed[hook_name].get(name)
            if listed:
                contributions[label] = listed
        aliases = [a for a, t in registry.aliases.items()
                   if any(e.name == t for e in by_plugin.get(name, []))]
        if aliases:
            contributions["aliases"] = sorted(aliases)
        hooks = sorted(h.name for h in pm.get_hookcallers(plugin) or [])
        found.append({
            "name": short_name(name) if info.builtin else name,
            "origin": info.origin,
            "builtin": info.builtin,
            "hooks": hooks,
            "contributes": contributions,
        })
    return found


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")


def _run(args: argparse.Namespace) -> int:
    plugins = describe_plugins()
    if args.json:
        print(json.dumps(plugins, indent=2))
        return 0
    for plugin in plugins:
        print(f"{plugin['name']}  ({plugin['origin']})")
        if not plugin["contributes"]:
            print(f"    hooks: {', '.join(plugin['hooks']) or 'none'}")
        for label, names in plugin["contributes"].items():
            print(f"    {label}: {', '.join(names)}")
    return 0


COMMAND = Command("plugins", "list loaded plugins and the components they contribute",
                  _add_arguments, _run)
