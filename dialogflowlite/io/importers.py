"""Rasa's training-data importers: config.yml's ``importers:`` and ``imports:``.

Rasa reads a project through the importers its config lists (``RasaFileImporter``
when it lists none) and merges what they read. Two are built in, and both are
honoured here:

* ``RasaFileImporter`` reads the project's domain and training data. Its
  settings ``domain_path``, ``training_data_paths`` and ``config_file`` name
  other files, taken from the project folder.
* ``MultiProjectImporter`` reads the project and every project its config lists
  under ``imports:`` (folders taken from the folder of the config that lists
  them), and, in turn, those that their own ``config.yml`` imports. Only the
  importing project's pipeline and policies are used; where an imported
  project declares an intent, slot, response or form again, the importing
  project's declaration is kept, as Rasa's domain merge keeps the first one.

Any other importer (a ``module.Class`` of Python code) cannot run here: it is
an error, since the data it would read would otherwise be missing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dialogflowlite.errors import Position, ProjectImportError
from dialogflowlite.io.formats import did_you_mean
from dialogflowlite.io.problems import ProblemLog
from dialogflowlite.io.yaml import position, to_plain, value_position

RASA_FILE_IMPORTER = "RasaFileImporter"
MULTI_PROJECT_IMPORTER = "MultiProjectImporter"
#: the importers this framework has, and the settings each reads
IMPORTER_SETTINGS = {
    RASA_FILE_IMPORTER: ("config_file", "domain_path", "training_data_paths"),
    MULTI_PROJECT_IMPORTER: ("project_directory",),
}
#: the names a project's config file has (the ones Rasa follows ``imports:`` of)
CONFIG_NAMES = ("config.yml", "config.yaml")
#: the code of every problem with ``importers:`` or ``imports:`` (the loader's findings)
IMPORT_PROBLEM = ProjectImportError.code


@dataclass(frozen=True)
class FileImporterSettings:
    """What one ``RasaFileImporter`` entry reads instead of the project's own files
    (``None``: the project's own)."""

    config_file: Path | None = None
    domain_path: Path | None = None
    training_data_paths: tuple[Path, ...] | None = None


@dataclass
class ImporterPlan:
    """What the ``importers:`` of a config ask for.

    ``file_importers`` lists the ``RasaFileImporter`` entries (one with no settings
    when the config lists no importer: Rasa's default); ``multi_project`` is where
    ``MultiProjectImporter`` is listed, ``None`` when it is not.
    """

    file_importers: list[FileImporterSettings] = field(
        default_factory=lambda: [FileImporterSettings()])
    multi_project: Position | None = None
    #: the folder whose config's ``imports:`` are followed (``project_directory``)
    project_directory: Path | None = None


def read_importers(file: Path, data: Any, root: Path, log: ProblemLog) -> ImporterPlan:
    """The :class:`ImporterPlan` of a parsed config (``file``); problems go to ``log``.

    Paths in the settings are taken from the project folder ``root``.
    """
    plan = ImporterPlan()
    if not isinstance(data, dict):
        return plan
    entries = data.get("importers")
    if entries is None:
        _check_unused_imports(file, data, plan, log)
        return plan
    if not log.expect(file, data, "importers", entries, list, "'importers'",
                      code=IMPORT_PROBLEM):
        return plan
    listed: list[FileImporterSettings] = []
    for index, entry in enumerate(entries):
        where = position(file, entries, index)
        if not isinstance(entry, dict) or not entry.get("name"):
            log.error(where, "an entry of 'importers' has no `name`",
                      f"write `- name: {MULTI_PROJECT_IMPORTER}` (or `- name: "
                      f"{RASA_FILE_IMPORTER}`)", code=IMPORT_PROBLEM)
            continue
        name = str(entry["name"])
        known = IMPORTER_SETTINGS.get(name)
        if known is None:
            _unknown_importer(file, entry, name, log)
            continue
        log.check_keys(file, entry, ("name", *known), f"importer {name}")
        if name == MULTI_PROJECT_IMPORTER:
            plan.multi_project = plan.multi_project or where
            if entry.get("project_directory") is not None:
                plan.project_directory = _setting_path(file, entry, "project_directory",
                                                       root, log, folder=True)
        else:
            listed.append(_file_importer(file, entry, root, log))
    if listed or plan.multi_project is not None:
        # the project's own files, read by MultiProjectImporter too, are read once
        plan.file_importers = listed or [FileImporterSettings()]
    _check_unused_imports(file, data, plan, log)
    return plan


def _unknown_importer(file: Path, entry: Any, name: str, log: ProblemLog) -> None:
    where = value_position(file, entry, "name")
    suggestion = did_you_mean(name, IMPORTER_SETTINGS)
    if suggestion:
        log.error(where, f"unknown importer '{name}'", suggestion, code=IMPORT_PROBLEM)
        return
    log.error(
        where,
        f"importer '{name}' cannot run here: only {RASA_FILE_IMPORTER} and "
        f"{MULTI_PROJECT_IMPORTER} are built in, and Python importers are not loaded, so the "
        "training data it would read would be missing",
        "write that data as Rasa YAML files (a domain.yml and a data/ folder, in this "
        f"project or in one listed under `imports:` with {MULTI_PROJECT_IMPORTER}), then "
        "remove the importer",
        code=IMPORT_PROBLEM,
    )


def _check_unused_imports(file: Path, data: Any, plan: ImporterPlan, log: ProblemLog) -> None:
    if plan.multi_project is None and data.get("imports"):
        log.warning(
            position(file, data, "imports"),
            f"`imports:` is read only by {MULTI_PROJECT_IMPORTER}, which 'importers' does not "
            "list: the projects it names are not read",
            f"add `importers:` then `- name: {MULTI_PROJECT_IMPORTER}`, or remove `imports:`",
            code=IMPORT_PROBLEM,
        )


def _file_importer(file: Path, entry: Any, root: Path, log: ProblemLog) -> FileImporterSettings:
    config_file = domain_path = None
    if entry.get("config_file") is not None:
        config_file = _setting_path(file, entry, "config_file", root, log)
    if entry.get("domain_path") is not None:
        domain_path = _setting_path(file, entry, "domain_path", root, log)
    paths = None
    given = entry.get("training_data_paths")
    if given is not None:
        items = [given] if isinstance(given, str) else given
        if not isinstance(items, list):
            log.error(value_position(file, entry, "training_data_paths"),
                      "training_data_paths must be a path or a list of paths",
                      "write `training_data_paths: [data]`", code=IMPORT_PROBLEM)
            items = []
        found = []
        for index, item in enumerate(items):
            where = (value_position(file, entry, "training_data_paths") if items is not given
                     else position(file, given, index))
            path = _existing(where, item, root, "training data", log)
            if path is not None:
                found.append(path)
        paths = tuple(found)
    return FileImporterSettings(config_file, domain_path, paths)


def _setting_path(file: Path, entry: Any, key: str, root: Path, log: ProblemLog,
                  folder: bool = False) -> Path | None:
    where = value_position(file, entry, key)
    path = _existing(where, entry[key], root, key.replace("_", " "), log)
    if path is not None and folder and not path.is_dir():
        log.error(where, f"{key} {to_plain(entry[key])} is not a folder", code=IMPORT_PROBLEM)
        return None
    return path


def _existing(where: Position, value: Any, root: Path, what: str,
              log: ProblemLog) -> Path | None:
    if not isinstance(value, str) or not value.strip():
        log.error(where, f"the {what} must be a path, not {to_plain(value)!r}",
                  code=IMPORT_PROBLEM)
        return None
    path = Path(value) if Path(value).is_absolute() else root / value
    if not path.exists():
        log.error(where, f"the {what} {value} does not exist ({path})",
                  "paths in importer settings are taken from the project folder",
                  code=IMPORT_PROBLEM)
        return None
    return path


@dataclass(frozen=True)
class ImportedProject:
    """A project folder read because a config's ``imports:`` lists it."""

    folder: Path
    #: the ``imports:`` entry that names it
    position: Position


class ImportResolver:
    """Follows ``imports:`` from the importing project's config, as Rasa's
    ``MultiProjectImporter`` does.

    Entries are folders (or config files) taken from the folder of the config
    that lists them. An imported folder's config files (``config.yml`` anywhere
    in it) are followed in turn; a folder imported already, one inside an
    imported folder, and the importing project itself are skipped, so cycles
    end. ``parse`` reads a config file (the loader's parser, so that the file
    is listed among the project's files and its YAML errors reported).
    """

    def __init__(self, root: Path, parse: Callable[[Path], Any], log: ProblemLog) -> None:
        self.root = root.resolve()
        self.parse = parse
        self.log = log
        self.projects: list[ImportedProject] = []
        self._followed: set[Path] = set()

    def resolve(self, config_file: Path, data: Any, folder: Path) -> list[ImportedProject]:
        """The projects ``data`` (parsed from ``config_file``) imports, relative to
        ``folder``, and, in turn, those they import; in the order Rasa reads them."""
        self._followed.add(config_file.resolve())
        self._follow(config_file, data, folder.resolve())
        return self.projects

    def covers(self, path: Path) -> bool:
        """Whether ``path`` lies in an imported project's folder."""
        path = path.resolve()
        return any(p.folder == path or p.folder in path.parents for p in self.projects)

    def _follow(self, config_file: Path, data: Any, folder: Path) -> None:
        if not isinstance(data, dict) or data.get("imports") is None:
            return
        entries = data["imports"]
        if isinstance(entries, str):
            entries_list: Any = [entries]
        elif self.log.expect(config_file, data, "imports", entries, list, "'imports'",
                             code=IMPORT_PROBLEM):
            entries_list = entries
        else:
            return
        # every entry of this config first, then what they import (Rasa's order)
        new_configs: list[Path] = []
        for index, entry in enumerate(entries_list):
            where = (value_position(config_file, data, "imports") if entries_list is not entries
                     else position(config_file, entries, index))
            target = self._target(where, entry, folder, config_file)
            if target is None:
                continue
            if target.is_file():
                if target not in self._followed:
                    new_configs.append(target)
                continue
            self.projects.append(ImportedProject(target, where))
            new_configs.extend(c for c in _config_files(target) if c not in self._followed)
        for config in new_configs:
            if config in self._followed:
                continue
            self._followed.add(config)
            self._follow(config, self.parse(config), config.parent)

    def _target(self, where: Position, entry: Any, folder: Path,
                config_file: Path) -> Path | None:
        """The folder or config file an ``imports:`` entry names; None (with an error)
        when it names nothing, and None when it is imported already."""
        if not isinstance(entry, str) or not entry.strip():
            self.log.error(where, f"an entry of 'imports' must be a folder, not "
                                  f"{to_plain(entry)!r}",
                           "write `- path/to/other_project`", code=IMPORT_PROBLEM)
            return None
        target = (folder / entry).resolve()
        if not target.exists():
            self.log.error(where, f"the imported project {entry} does not exist ({target})",
                           f"imports are taken from the folder of {config_file.name} "
                           f"({folder}); fix the path or remove the entry",
                           code=IMPORT_PROBLEM)
            return None
        if target.is_file():
            if target.name in CONFIG_NAMES:
                return target
            self.log.error(where, f"the imported path {entry} is a file, not a project folder",
                           "import the folder of the project (the one holding its "
                           "domain.yml and data/)", code=IMPORT_PROBLEM)
            return None
        if target == self.root or self.covers(target):
            return None
        return target


def _config_files(folder: Path) -> list[Path]:
    """The config files in ``folder`` and below, whose ``imports:`` Rasa follows too."""
    return sorted(
        p.resolve() for name in CONFIG_NAMES for p in folder.rglob(name)
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(folder).parts)
    )
