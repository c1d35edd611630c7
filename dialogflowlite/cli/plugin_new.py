"""``dialogflowlite plugin new NAME``: write the skeleton of a new plugin package.

The skeleton lives in ``dialogflowlite/plugin_skeleton/`` (package data): its
files end in ``.tmpl`` and hold ``{{placeholders}}``; a folder or file named
``__module__`` takes the name of the plugin's Python package. What comes out
is a complete package: ``pyproject.toml`` with the ``dialogflowlite`` entry
point, a plugin module with one hook, one NLU component, a README and tests,
which installs with ``pip install -e`` and passes its tests as created.
"""

from __future__ import annotations

import argparse
import keyword
import re
from dataclasses import dataclass
from pathlib import Path

from dialogflowlite import __version__
from dialogflowlite.cli.command import Command
from dialogflowlite.errors import PluginError

SKELETON = Path(__file__).resolve().parents[1] / "plugin_skeleton"
TEMPLATE_SUFFIX = ".tmpl"
MODULE_PLACEHOLDER = "__module__"
DISTRIBUTION_PREFIX = "dialogflowlite-"
_NAME = re.compile(r"[a-z][a-z0-9]*(?:[-_][a-z0-9]+)*")


@dataclass(frozen=True)
class PluginNames:
    """Every name a plugin package needs, derived from the one the user gave."""

    #: the entry point's name: what ``dialogflowlite plugins`` shows and
    #: ``DFL_DISABLE_PLUGINS`` takes (``sentiment``)
    entry_point: str
    #: the distribution on PyPI and in ``pip list`` (``dialogflowlite-sentiment``)
    distribution: str
    #: the Python package (``dialogflowlite_sentiment``)
    module: str
    #: the component class, also its config.yml name (``SentimentClassifier``)
    class_name: str

    def substitutions(self) -> dict[str, str]:
        major_minor = ".".join(__version__.split(".")[:2])
        return {
            "entry_point": self.entry_point,
            "distribution": self.distribution,
            "module": self.module,
            "class_name": self.class_name,
            "requirement": f"dialogflowlite>={major_minor}",
        }


def plugin_names(name: str) -> PluginNames:
    """The names for a plugin called ``name`` (``sentiment`` or ``dialogflowlite-sentiment``)."""
    short = name.strip().lower()
    if short.startswith(DISTRIBUTION_PREFIX):
        short = short[len(DISTRIBUTION_PREFIX) :]
    short = short.replace("_", "-")
    if not _NAME.fullmatch(short):
        raise PluginError(
            f"'{name}' cannot name a plugin",
            hint="use lowercase letters, digits and hyphens, starting with a letter "
            "(for example: sentiment, order-lookup)",
        )
    module = "dialogflowlite_" + short.replace("-", "_")
    parts = short.split("-")
    if keyword.iskeyword(module):
        raise PluginError(f"'{name}' cannot name a plugin", hint="choose another name")
    camel = "".join(part[:1].upper() + part[1:] for part in parts)
    class_name = camel if camel.endswith("Classifier") else camel + "Classifier"
    return PluginNames(short, DISTRIBUTION_PREFIX + short, module, class_name)


def _check_names_are_free(names: PluginNames, *, force: bool) -> None:
    """A :class:`PluginError` when the new plugin would take a name that a loaded plugin
    has: once installed, a component name registered twice stops every command, and an
    entry point named like another plugin is switched off with it by
    ``DFL_DISABLE_PLUGINS``. An outside plugin's names pass with ``force`` (writing the
    skeleton of one's own installed plugin again)."""
    from dialogflowlite.plugins.manager import get_plugin_manager, short_name
    from dialogflowlite.plugins.registry import get_registry

    pm = get_plugin_manager()
    for plugin, info in pm.infos.items():
        if short_name(plugin) == names.entry_point and (info.builtin or not force):
            raise PluginError(
                f"a plugin named {names.entry_point!r} is already loaded "
                f"({'built in' if info.builtin else info.origin})",
                plugin=names.entry_point, hint="choose another name")
    entry = get_registry().entries.get(names.class_name)
    if entry is not None and (pm.info(entry.plugin).builtin or not force):
        raise PluginError(
            f"its component would be called {names.class_name}, the name of a component "
            f"of plugin {short_name(entry.plugin)!r}",
            plugin=names.entry_point, hint="choose another name")


def _fill(text: str, substitutions: dict[str, str]) -> str:
    for key, value in substitutions.items():
        text = text.replace("{{" + key + "}}", value)
    leftover = re.search(r"\{\{\w+\}\}", text)
    if leftover:  # a skeleton file uses a name this module does not know
        raise PluginError(f"the plugin skeleton has an unknown placeholder {leftover.group()}")
    return text


def skeleton_files() -> list[Path]:
    """The skeleton's files, relative to its folder."""
    if not SKELETON.is_dir():
        raise PluginError(
            f"the plugin skeleton is missing ({SKELETON})",
            hint="reinstall dialogflowlite; the skeleton ships inside the package",
        )
    return sorted(
        p.relative_to(SKELETON)
        for p in SKELETON.rglob("*")
        if p.is_file() and p.name.endswith(TEMPLATE_SUFFIX)
    )


def create_plugin(name: str, directory: str | Path = ".", *, force: bool = False) -> Path:
    """Write the package for the plugin ``name`` into ``directory/<distribution>``.

    Returns the package folder. A folder that already holds files is refused
    unless ``force`` is set; then files of the skeleton overwrite files of the
    same name and every other file stays.
    """
    names = plugin_names(name)
    _check_names_are_free(names, force=force)
    target = Path(directory) / names.distribution
    if target.exists() and not target.is_dir():
        raise PluginError(
            f"{target} is a file, not a folder", plugin=names.entry_point, hint="pass another --dir"
        )
    if target.is_dir() and any(target.iterdir()) and not force:
        raise PluginError(
            f"folder {target} is not empty",
            plugin=names.entry_point,
            hint="choose another --dir or name, or pass --force to write the "
            "skeleton's files into it anyway",
        )
    substitutions = names.substitutions()
    try:
        for relative in skeleton_files():
            text = _fill((SKELETON / relative).read_text(encoding="utf-8"), substitutions)
            parts = [part.replace(MODULE_PLACEHOLDER, names.module) for part in relative.parts]
            destination = target.joinpath(*parts)
            destination = destination.with_name(destination.name[: -len(TEMPLATE_SUFFIX)])
            destination.parent.mkdir(parents=True, exist_ok=True)
            destination.write_text(text, encoding="utf-8")
    except OSError as e:
        raise PluginError(
            f"cannot write the plugin package in {target}: {e.strerror or e}",
            plugin=names.entry_point,
            hint="check that the folder is writable",
        ) from e
    return target


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "name",
        help="the plugin's name, e.g. sentiment (the package becomes dialogflowlite-sentiment)",
    )
    parser.add_argument(
        "--dir",
        default=".",
        metavar="DIR",
        help="the folder to create the package folder in (default: the current folder)",
    )
    parser.add_argument(
        "--force", action="store_true", help="write into a package folder that is not empty"
    )


def _run(args: argparse.Namespace) -> int:
    target = create_plugin(args.name, args.dir, force=args.force)
    names = plugin_names(args.name)
    print(f"Created the plugin package {names.distribution} in {target}")
    print(f"  component: {names.class_name} ({names.module}/component.py)")
    print(f"  entry point: {names.entry_point} = {names.module}.plugin")
    print("Next steps:")
    print(f"  pip install -e {target}")
    print(f"  cd {target} && python -m pytest")
    print(f"  dialogflowlite plugins      # lists {names.entry_point} and {names.class_name}")
    return 0


COMMAND = Command(
    "plugin new",
    "write the skeleton of a new plugin package",
    _add_arguments,
    _run,
    description="Write a new plugin package: pyproject.toml with the dialogflowlite entry "
    "point, a plugin module, one NLU component, a README and tests. It installs with "
    "`pip install -e` and passes its tests as created.",
)
