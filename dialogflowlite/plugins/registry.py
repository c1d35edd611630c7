"""The component registry: a name from config.yml -> the class that implements it.

Built from the ``dfl_register_components`` and ``dfl_component_aliases`` hooks of
every loaded plugin. An unknown name fails with the closest known names; an
alias (such as Rasa's ``DIETClassifier``) resolves with a one-line notice.
"""

from __future__ import annotations

import difflib
import logging
from collections import defaultdict
from dataclasses import dataclass
from typing import TYPE_CHECKING

from dialogflowlite.components.base import KINDS, Component, NluComponent
from dialogflowlite.errors import PluginError, Position, UnknownComponentError
from dialogflowlite.plugins.claims import NameClaims
from dialogflowlite.plugins.manager import PluginManager, get_plugin_manager, short_name

if TYPE_CHECKING:
    from dialogflowlite.artifact import ComponentRecord

logger = logging.getLogger(__name__)

#: kinds of component the NLU pipeline runs
NLU_KINDS = frozenset({"tokenizer", "featurizer", "intent_classifier", "entity_extractor",
                       "response_selector"})


@dataclass(frozen=True)
class ComponentEntry:
    """A registered component class and the plugin that contributed it."""

    name: str
    cls: type[Component]
    plugin: str

    @property
    def kind(self) -> str:
        return self.cls.kind


class ComponentRegistry:
    """Name -> component class, for every loaded plugin."""

    def __init__(self, pm: PluginManager) -> None:
        self.pm = pm
        self.generation = pm.generation
        self.entries: dict[str, ComponentEntry] = {}
        self.aliases: dict[str, str] = {}
        #: alias -> the plugin that declared it, to name it when its target is missing
        self.alias_plugins: dict[str, str] = {}
        self._notified: set[str] = set()
        self._collect_components()
        self._collect_aliases()

    def _collect_components(self) -> None:
        hook = "dfl_register_components"
        claims = NameClaims("component name", hook,
                            "give the component another name, or disable one plugin")
        for plugin, classes in self.pm.call_each_expecting(hook, (list, tuple),
                                                           "a list of component classes"):
            for cls in classes:
                self._check(cls, plugin, hook)
                claims.claim(cls.name, plugin, cls)
                self.entries[cls.name] = ComponentEntry(cls.name, cls, plugin)

    def _collect_aliases(self) -> None:
        hook = "dfl_component_aliases"
        for plugin, aliases in self.pm.call_each_expecting(
                hook, dict, "a mapping of alias to component name"):
            for alias, target in aliases.items():
                if not (isinstance(alias, str) and isinstance(target, str)):
                    raise PluginError(f"returned the alias {alias!r}: {target!r}; both must "
                                      "be names (text)", plugin=plugin, hook=hook)
                if alias not in self.entries:
                    self.aliases[alias] = target
                    self.alias_plugins[alias] = plugin

    @staticmethod
    def _check(cls: object, plugin: str, hook: str) -> None:
        if not (isinstance(cls, type) and issubclass(cls, Component)):
            raise PluginError(f"returned {cls!r}, which is not a Component subclass",
                              plugin=plugin, hook=hook,
                              hint="derive from dialogflowlite.components.base.Component")
        if not cls.name:
            raise PluginError(f"component class {cls.__name__} has no `name`", plugin=plugin,
                              hook=hook)
        if cls.kind not in KINDS:
            raise PluginError(f"component {cls.name} has unknown kind {cls.kind!r}",
                              plugin=plugin, hook=hook, hint=f"use one of {', '.join(KINDS)}")
        base = _base_for_kind(cls.kind)
        if base is not None and not issubclass(cls, base):
            # the pipeline or the ensemble would refuse it later, naming the kind, not the base
            raise PluginError(
                f"component {cls.name} has kind {cls.kind!r} but does not derive from "
                f"{base.__name__}", plugin=plugin, hook=hook,
                hint=f"derive it from {base.__module__}.{base.__name__}")

    # ------------------------------------------------------------ lookups

    def resolve_name(self, name: str, position: Position | None = None) -> str:
        """The registered name for ``name`` (following an alias, with a notice)."""
        if name in self.entries:
            return name
        target = self.aliases.get(name)
        if target is not None and target in self.entries:
            if name not in self._notified:
                self._notified.add(name)
                logger.warning("notice: %s is provided here by %s", name, target)
            return target
        if target is not None:
            plugin = self.alias_plugins.get(name, "?")
            raise UnknownComponentError(
                f"component '{name}' is an alias, from plugin {plugin!r}, of '{target}', "
                "which no installed plugin registers", position=position,
                hint="install or enable the plugin that provides it (see "
                     "`dialogflowlite plugins`), or name another component")
        known = sorted(set(self.entries) | set(self.aliases))
        close = difflib.get_close_matches(name, known, n=3, cutoff=0.5)
        hint = ("did you mean " + " or ".join(close) + "?") if close else (
            "run `dialogflowlite plugins` to list the components that are installed")
        raise UnknownComponentError(f"unknown component '{name}'", hint=hint, position=position)

    def get(self, name: str, position: Position | None = None) -> type[Component]:
        """The class registered for ``name`` (or its alias)."""
        return self.entries[self.resolve_name(name, position)].cls

    def names(self, kind: str | None = None) -> list[str]:
        return sorted(n for n, e in self.entries.items() if kind is None or e.kind == kind)

    def by_plugin(self) -> dict[str, list[ComponentEntry]]:
        grouped: dict[str, list[ComponentEntry]] = defaultdict(list)
        for entry in self.entries.values():
            grouped[entry.plugin].append(entry)
        return dict(grouped)


def _base_for_kind(kind: str) -> type | None:
    """The class a component of ``kind`` must derive from, where its kind needs one:
    the NLU pipeline runs only :class:`NluComponent`, the ensemble only :class:`Policy`."""
    if kind == "policy":
        from dialogflowlite.components.policies.base import Policy

        return Policy
    if kind in NLU_KINDS:
        return NluComponent
    return None


def origin_of(name: str) -> tuple[str, str]:
    """The plugin that registered the component ``name`` (its short name) and that
    plugin's package ("" for a built-in plugin, or a name nothing registers)."""
    registry = get_registry()
    entry = registry.entries.get(name)
    if entry is None:
        return "", ""
    return short_name(entry.plugin), registry.pm.info(entry.plugin).package or ""


def class_for_model(record: ComponentRecord | None, name: str) -> type[Component]:
    """The class of the component ``name`` a model was trained with (``record`` is its
    manifest entry, when there is one); a :class:`ModelLoadError` that names the plugin
    and package it came from when this installation lacks it, or has it switched off."""
    from dialogflowlite.errors import DialogflowLiteError, ModelLoadError
    from dialogflowlite.plugins.manager import disabled_plugins
    from dialogflowlite.plugins.names import BUILTIN_PREFIX

    try:
        return get_registry().get(name)
    except DialogflowLiteError as e:
        plugin = record.plugin if record is not None else ""
        package = record.package if record is not None else ""
        origin = ""
        if plugin:
            origin = f" of plugin {plugin!r}" + (f" (package {package})" if package else "")
        if plugin and {plugin, BUILTIN_PREFIX + plugin} & disabled_plugins():
            why = "which DFL_DISABLE_PLUGINS switches off"
            hint = f"remove {plugin} from DFL_DISABLE_PLUGINS, or retrain the model"
        else:
            why = "which is not installed"
            hint = (f"pip install {package}, or retrain the model" if package else
                    "install the plugin that provides it, or retrain the model")
        raise ModelLoadError(f"the model needs the component {name}{origin}, {why}",
                             hint=hint) from e


_registry: ComponentRegistry | None = None


def get_registry() -> ComponentRegistry:
    """The registry of the process-wide plugin manager, built on first use."""
    global _registry
    pm = get_plugin_manager()
    if _registry is None or _registry.pm is not pm or _registry.generation != pm.generation:
        _registry = ComponentRegistry(pm)
    return _registry


def reset_registry() -> None:
    global _registry
    _registry = None
