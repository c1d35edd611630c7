"""The plugin manager: hook specs, built-in plugins, then outside plugins.

Built-in features are plugin modules registered exactly like outside ones; the
only difference is where they are found (:data:`BUILTIN_PLUGINS` rather than
the ``dialogflowlite`` entry-point group).

Environment variables:

* ``DFL_DISABLE_PLUGINS=a,b`` skips the named plugins (entry-point names, or
  the short names of built-in plugins such as ``masking``);
* ``DFL_TRACE_HOOKS=1`` logs every hook call with its arguments and results.
"""

from __future__ import annotations

import importlib
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import metadata
from types import ModuleType
from typing import Any

import pluggy

from dialogflowlite import PROJECT_NAME
from dialogflowlite.errors import PluginError
from dialogflowlite.plugins import hookspecs
from dialogflowlite.plugins.names import short_name  # callers import it from here too

logger = logging.getLogger(__name__)

ENTRY_POINT_GROUP = PROJECT_NAME

#: built-in plugin modules, registered in this order
BUILTIN_PLUGINS: tuple[str, ...] = (
    "dialogflowlite.plugins.builtin.tokenizers",
    "dialogflowlite.plugins.builtin.nlu",
    "dialogflowlite.plugins.builtin.policies",
    "dialogflowlite.plugins.builtin.generation",
    "dialogflowlite.plugins.builtin.model_sources",
    "dialogflowlite.plugins.builtin.channels",
    "dialogflowlite.plugins.builtin.stores",
    "dialogflowlite.plugins.builtin.commands",
    "dialogflowlite.plugins.builtin.masking",
)


@dataclass(frozen=True)
class PluginInfo:
    """Where a loaded plugin came from."""

    name: str
    builtin: bool
    package: str | None = None
    version: str | None = None

    @property
    def origin(self) -> str:
        if self.builtin:
            return "built-in"
        if self.package:
            return f"{self.package} {self.version or ''}".strip()
        return "registered in code"


def disabled_plugins() -> set[str]:
    """Names listed in ``DFL_DISABLE_PLUGINS``."""
    raw = os.environ.get("DFL_DISABLE_PLUGINS", "")
    return {name.strip() for name in raw.split(",") if name.strip()}




class PluginManager(pluggy.PluginManager):
    """pluggy's manager that also remembers where each plugin came from."""

    def __init__(self) -> None:
        super().__init__(PROJECT_NAME)
        self.add_hookspecs(hookspecs)
        self.infos: dict[str, PluginInfo] = {}
        #: bumped on every (un)registration so caches built from hooks know they are stale
        self.generation = 0

    def register(self, plugin: object, name: str | None = None) -> str | None:
        result = super().register(plugin, name=name)
        self.generation += 1
        return result

    def unregister(self, plugin: object | None = None, name: str | None = None) -> object | None:
        result = super().unregister(plugin, name=name)
        self.generation += 1
        return result

    def register_plugin(self, plugin: object, name: str, info: PluginInfo) -> None:
        if name in self.infos:
            raise PluginError(f"a plugin named {name!r} is already registered", plugin=name,
                              hint="rename the entry point of one of them")
        try:
            self.register(plugin, name=name)
        except pluggy.PluginValidationError as e:
            raise PluginError(
                str(e), plugin=name,
                hint="check the hook names and arguments against docs/plugins.md",
            ) from e
        try:
            self._check_hook_names(plugin, name)
        except PluginError:
            self.unregister(plugin, name=name)
            raise
        self.infos[name] = info

    def _check_hook_names(self, plugin: object, name: str) -> None:
        """A :class:`PluginError` for a hook implementation that no hook spec has
        (``dfl_register_component`` without its ``s``): pluggy takes it and never calls
        it, so the plugin would load and silently contribute nothing."""
        import difflib

        specified = [hook for hook in vars(self.hook)
                     if getattr(self.hook, hook).has_spec()]
        for hook, caller in vars(self.hook).items():
            if caller.has_spec() or not any(impl.plugin is plugin and not impl.optionalhook
                                            for impl in caller.get_hookimpls()):
                continue
            close = difflib.get_close_matches(hook, specified, n=1, cutoff=0.6)
            raise PluginError(
                f"implements {hook!r}, which is no hook of dialogflowlite (it would never "
                "be called)", plugin=name,
                hint=(f"did you mean {close[0]}?" if close else
                      "see docs/plugins.md for the hooks, or mark a hook of another "
                      "version optional with @hookimpl(optionalhook=True)"))

    def unregister_plugin(self, name: str) -> None:
        plugin = self.get_plugin(name)
        if plugin is not None:
            self.unregister(plugin, name=name)
        self.infos.pop(name, None)

    def call_each(self, hook: str) -> Iterator[tuple[str, Any]]:
        """Call ``hook`` on one plugin at a time, yielding (plugin name, what it returned).

        For hooks whose results must stay tied to the plugin that gave them
        (to name it in an error or a listing). Each call still goes through
        pluggy, on a hook caller without the other plugins, so
        ``DFL_TRACE_HOOKS`` logs it like any other hook call. A plugin whose
        hook raises becomes a :class:`PluginError` naming the plugin and hook.
        """
        for impl in getattr(self.hook, hook).get_hookimpls():
            others = [plugin for _name, plugin in self.list_name_plugin()
                      if plugin is not impl.plugin]
            caller = self.subset_hook_caller(hook, remove_plugins=others)
            try:
                results = caller()
            except Exception as e:
                raise PluginError(f"failed: {type(e).__name__}: {e}", plugin=impl.plugin_name,
                                  hook=hook) from e
            yield impl.plugin_name, results[0] if results else None

    def call_each_expecting(self, hook: str, kind: type | tuple[type, ...],
                            shape: str) -> Iterator[tuple[str, Any]]:
        """:meth:`call_each` for a hook whose result must be ``kind`` (None counts as
        nothing): a plugin that returns something else is a :class:`PluginError`
        naming it, the hook and ``shape`` (what the hook returns, in words), where the
        caller would fail on it later with a bare TypeError or AttributeError."""
        for plugin, result in self.call_each(hook):
            if result is None:
                continue
            if not isinstance(result, kind):
                raise PluginError(f"returned {type(result).__name__} {result!r}, not {shape}",
                                  plugin=plugin, hook=hook,
                                  hint="see the hook's description in docs/plugins.md")
            yield plugin, result

    def info(self, name: str) -> PluginInfo:
        return self.infos.get(name) or PluginInfo(name, builtin=False)


def _load_builtin(pm: PluginManager, skip: set[str]) -> None:
    for module_name in BUILTIN_PLUGINS:
        if module_name in skip or short_name(module_name) in skip:
            logger.info("built-in plugin %s disabled by DFL_DISABLE_PLUGINS", module_name)
            continue
        module: ModuleType = importlib.import_module(module_name)
        pm.register_plugin(module, module_name, PluginInfo(module_name, builtin=True))


def _load_entry_points(pm: PluginManager, skip: set[str]) -> None:
    for entry_point in sorted(metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
        if entry_point.name in skip:
            logger.info("plugin %s disabled by DFL_DISABLE_PLUGINS", entry_point.name)
            continue
        if entry_point.name in pm.infos:
            continue  # the same distribution found twice on sys.path
        dist = entry_point.dist
        try:
            plugin = entry_point.load()
        except Exception as e:
            raise PluginError(
                f"cannot be imported ({type(e).__name__}: {e})", plugin=entry_point.name,
                hint=f"reinstall it, or skip it with DFL_DISABLE_PLUGINS={entry_point.name}",
            ) from e
        pm.register_plugin(plugin, entry_point.name, PluginInfo(
            entry_point.name, builtin=False,
            package=dist.metadata["Name"] if dist else None,
            version=dist.version if dist else None,
        ))


def _warn_about_unknown_disabled(skip: set[str]) -> None:
    """A warning for each ``DFL_DISABLE_PLUGINS`` name that no plugin has (a misspelt
    one, or the pip name ``dialogflowlite-x`` for the entry point ``x``): the plugin it
    was meant for stays on, without a word."""
    if not skip:
        return  # (every command starts here: no second scan of the entry points)
    from dialogflowlite.io.formats import did_you_mean

    known = {short_name(name) for name in BUILTIN_PLUGINS} | {
        entry_point.name for entry_point in metadata.entry_points(group=ENTRY_POINT_GROUP)}
    for name in sorted(skip - known - set(BUILTIN_PLUGINS)):
        package = name.removeprefix(f"{PROJECT_NAME}-").replace("_", "-")
        hint = (f"the plugin's name is '{package}' (its package is {name})" if package in known
                else did_you_mean(name, known) or f"the plugins: {', '.join(sorted(known))}")
        logger.warning("DFL_DISABLE_PLUGINS names %r, which is no plugin; %s", name, hint)


def create_plugin_manager(*, load_entry_points: bool = True) -> PluginManager:
    """A fresh manager with the hook specs, the built-in plugins and (optionally) entry points."""
    pm = PluginManager()
    skip = disabled_plugins()
    _load_builtin(pm, skip)
    if load_entry_points:
        _load_entry_points(pm, skip)
        _warn_about_unknown_disabled(skip)
    if os.environ.get("DFL_TRACE_HOOKS"):
        pm.trace.root.setwriter(lambda text: logger.warning("hook: %s", text.rstrip()))
        pm.enable_tracing()
    return pm


_plugin_manager: PluginManager | None = None


def get_plugin_manager() -> PluginManager:
    """The process-wide plugin manager, created on first use."""
    global _plugin_manager
    if _plugin_manager is None:
        _plugin_manager = create_plugin_manager()
    return _plugin_manager


def reset_plugin_manager() -> None:
    """Forget the process-wide manager (and the registry built from it); tests use this."""
    global _plugin_manager
    _plugin_manager = None
    from dialogflowlite.plugins import registry

    registry.reset_registry()
