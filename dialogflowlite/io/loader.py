"""``load_project(dir)``: read every file of a project into one :class:`Project`.

The layout is Rasa's: ``domain.yml`` or a ``domain/`` folder, every YAML file
under ``data/`` (NLU, stories, rules, retrieval responses; any names, merged),
``config.yml``, test stories under ``tests/``, ``credentials.yml`` and
``endpoints.yml``; with ``importers: [{name: MultiProjectImporter}]`` in the
config, also the projects its ``imports:`` list (see :mod:`dialogflowlite.io.importers`).
Training data under ``data/`` in Rasa's older Markdown and
JSON formats is read too, with a warning that suggests converting it. Problems
found while reading are collected on the project; with ``strict=True`` any
error among them raises :class:`ProjectValidationError`.

:class:`ProjectSources` points the loader at other files instead, as Rasa's
``--domain``, ``--data`` and ``--config`` options do.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from dialogflowlite.errors import (
    Position,
    Problem,
    ProjectNotFoundError,
    ProjectValidationError,
    YamlSyntaxError,
)
from dialogflowlite.io import formats
from dialogflowlite.io.config_reader import ProjectConfig, read_config
from dialogflowlite.io.domain_reader import DomainReader
from dialogflowlite.io.importers import (
    CONFIG_NAMES,
    ImportedProject,
    ImporterPlan,
    ImportResolver,
    read_importers,
)
from dialogflowlite.io.json_nlu_reader import read_json_nlu
from dialogflowlite.io.markdown_reader import (
    is_markdown_nlu,
    is_markdown_responses,
    read_markdown_nlu,
    read_markdown_responses,
    read_markdown_stories,
)
from dialogflowlite.io.nlu_reader import NluReader
from dialogflowlite.io.problems import NO_DOMAIN, ProblemLog, is_misspelt_key
from dialogflowlite.io.story_reader import StoryReader
from dialogflowlite.io.yaml import position, read_yaml_file, to_plain
from dialogflowlite.shared.domain import Domain
from dialogflowlite.shared.stories import Story
from dialogflowlite.shared.training_data import TrainingData

YAML_SUFFIXES = (".yml", ".yaml")
#: the domain sections that declare something: a domain with none of them is no domain
DOMAIN_CONTENT = ("intents", "entities", "slots", "responses", "actions", "forms")
#: how the name of a test-stories file starts (Rasa's ``TEST_STORIES_FILE_PREFIX``)
TEST_STORIES_PREFIX = "test_"
#: a story's user turn: an intent name (one word, as `* greet`, `* faq/ask_name`), its
#: entities, `OR` other intents or the user's text (`* greet: hello`), and nothing else
_USER_TURN = r"\*\s*[\w./-]+(@[\d.]+)?(\{[^\n]*\})?(\s+OR\s+[^\n]*|\s*:[^\n]*)?[ \t\r]*\n"
#: a story's action step: one action name, or an event with its JSON (`- slot{...}`)
_ACTION_STEP = r"\s*-\s*[\w./-]+\s*(\{[^\n]*\})?[ \t\r]*$"
#: lines that mark Markdown training data (Rasa 1.x, deprecated in 2.x): an NLU section,
#: a story's title followed (after comments and checkpoints) by a user turn and an
#: action step, a rule's title, or a step only stories have (an action named utter_ or
#: action_, slot, form and active_loop events). A heading above a bulleted list (`##
#: Features` then `* Fast and small`) is no story.
_MARKDOWN_DATA = re.compile(
    r"^\s*(##\s*(intent|synonym|regex|lookup)\s*:"
    r"|##[^\n]*\n(\s*(<!--[^\n]*|>[^\n]*)?\n)*\s*" + _USER_TURN
    + r"(\s*(<!--[^\n]*)?\n)*" + _ACTION_STEP
    + r"|>>\s*\S"
    r"|-\s*(utter|action)_\w+\s*$"
    r"|-\s*(slot|form|active_loop)\s*\{)", re.M
)


@dataclass
class Project:
    """Everything a project declares, merged from all of its files."""

    root: Path
    domain: Domain
    nlu: TrainingData
    stories: list[Story]
    rules: list[Story]
    test_stories: list[Story]
    config: ProjectConfig
    credentials: dict[str, Any] = field(default_factory=dict)
    endpoints: dict[str, Any] = field(default_factory=dict)
    #: NLU examples found under tests/ (used by `test nlu` when no file is given)
    test_nlu: TrainingData = field(default_factory=TrainingData)
    files: list[Path] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    format_versions: list[str] = field(default_factory=list)
    #: the projects read because the config imports them (MultiProjectImporter)
    imported: list[ImportedProject] = field(default_factory=list)
    #: the files the domain was read from, imported projects' included
    domain_files: list[Path] = field(default_factory=list)
    #: where the project's own domain was read from, as found: the ``--domain`` given,
    #: the ``domain_path`` of its importers, or the first of :data:`DOMAIN_PLACES`
    #: (a file or a folder; none when there is no domain yet)
    domain_sources: list[Path] = field(default_factory=list)
    #: the files read as training data (NLU, stories, rules), imported projects'
    #: included; not the domain, config or test files
    training_files: list[Path] = field(default_factory=list)
    #: where the project's own training data is read from, as found: the ``--data``
    #: given, the ``training_data_paths`` of its importers, or ``data/`` (files or
    #: folders; ``data/`` even before it exists); imported projects' not included
    data_sources: list[Path] = field(default_factory=list)
    #: the files read as test stories (and test NLU data), imported projects' included
    test_files: list[Path] = field(default_factory=list)

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.is_error]

    def errors_under(self, folder: str) -> list[Problem]:
        """The errors found reading files under the project's ``folder`` (``tests``,
        ``data``): what a command that reads only those files would otherwise go on
        without."""
        base = (self.root / folder).resolve()
        found = []
        for problem in self.errors:
            path = self.file_of(problem)
            if base == path or base in path.parents:
                found.append(problem)
        return found

    def file_of(self, problem: Problem) -> Path:
        """The file ``problem`` is about, as an absolute path (relative ones are taken
        from the project folder)."""
        path = Path(problem.position.file)
        return (path if path.is_absolute() else self.root / path).resolve()

    def check_files_under(self, folder: str, hint: str) -> Project:
        """This project, when every file under ``folder`` could be read; else
        :class:`ProjectValidationError` listing what could not, with ``hint``."""
        errors = self.errors_under(folder)
        if errors:
            raise ProjectValidationError(errors, hint=hint)
        return self

    def check_test_files(self) -> Project:
        """This project, when every test file could be read: those under ``tests/`` and
        those of imported projects (see :meth:`check_files_under`)."""
        tests = {f.resolve() for f in self.test_files}
        under_tests = self.errors_under("tests")
        errors = [p for p in self.errors if p in under_tests or self.file_of(p) in tests]
        # a misspelt key of a test file (`storys:`) is an error here, not the warning
        # it is elsewhere: what is under it would be left out of the test unseen. A key
        # close to no known one (`services:` of another tool's file kept there) stays a
        # warning, as Rasa reads only the files that hold test data.
        folder = (self.root / "tests").resolve()
        errors += [replace(p, severity="error") for p in self.problems
                   if is_misspelt_key(p) and not p.is_error
                   and (self.file_of(p) in tests or folder in self.file_of(p).parents)]
        if errors:
            raise ProjectValidationError(
                errors, hint="fix the test files: one that cannot be read would be left "
                             "out of the test")
        return self

    def counts(self) -> dict[str, int]:
        """What the project holds: the numbers `data validate` and the loader tests report."""
        domain = self.domain.counts()
        return {
            "intents": domain["intents"],
            "examples": len(self.nlu.examples),
            "entities": domain["entities"],
            "slots": domain["slots"],
            "forms": domain["forms"],
            "responses": domain["responses"],
            "actions": domain["actions"],
            "stories": len(self.stories),
            "rules": len(self.rules),
            "test_stories": len(self.test_stories),
            "synonyms": len(self.nlu.synonyms),
            "regexes": len(self.nlu.regexes),
            "lookups": len(self.nlu.lookups),
        }


def yaml_files(folder: Path) -> list[Path]:
    """The YAML files under ``folder``, in the order the loader reads them."""
    if not folder.is_dir():
        return []
    return sorted(
        p
        for p in folder.rglob("*")
        if p.is_file()
        and p.suffix in YAML_SUFFIXES
        and not any(part.startswith(".") for part in p.relative_to(folder).parts)
    )


#: the older training-data formats, as :func:`old_training_data_format` names them
MARKDOWN_NLU, MARKDOWN_STORIES, JSON_NLU = "Markdown NLU data", "Markdown stories", "JSON NLU data"
#: Rasa 1's ``responses.md``: the texts of retrieval intents
MARKDOWN_RESPONSES = "Markdown responses"


def old_training_data_format(file: Path) -> str | None:
    """``MARKDOWN_NLU``, ``MARKDOWN_STORIES``, ``MARKDOWN_RESPONSES`` or ``JSON_NLU`` for a
    file in an older format."""
    if file.suffix not in (".md", ".json"):
        return None
    try:
        text = file.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    if file.suffix == ".json":
        return JSON_NLU if "rasa_nlu_data" in text else None
    if is_markdown_nlu(text):
        return MARKDOWN_NLU
    if is_markdown_responses(text):
        return MARKDOWN_RESPONSES
    return MARKDOWN_STORIES if _MARKDOWN_DATA.search(text) else None


#: where a project's domain may be, in the order the first that exists is read
DOMAIN_PLACES = ("domain.yml", "domain.yaml", "domain")


def existing_domain(root: str | Path) -> Path | None:
    """The project's own domain in ``root`` (the first of :data:`DOMAIN_PLACES` that
    exists), or None."""
    return _first_existing(Path(root), *DOMAIN_PLACES)


def _first_existing(root: Path, *names: str) -> Path | None:
    for name in names:
        candidate = root / name
        if candidate.exists():
            return candidate
    return None


@dataclass(frozen=True)
class ProjectSources:
    """Files read instead of the project's own (``--domain``, ``--data``, ``--config``).

    ``None`` keeps the project's: ``domain.yml`` (or ``domain/``), ``data/``,
    ``config.yml``. ``data`` lists files and folders; only they are read.
    Relative paths are taken from the working folder when they exist there,
    else from the project folder.
    """

    domain: str | Path | None = None
    data: tuple[str | Path, ...] | None = None
    config: str | Path | None = None

    @property
    def given(self) -> bool:
        return self.domain is not None or self.data is not None or self.config is not None


class ProjectLoader:
    """Reads one project folder; use :func:`load_project`."""

    def __init__(self, root: Path, sources: ProjectSources | None = None) -> None:
        self.root = root
        self.sources = sources or ProjectSources()
        self.log = ProblemLog()
        self.domain_reader = DomainReader(self.log)
        self.nlu_reader = NluReader(self.log)
        self.test_nlu_reader = NluReader(self.log)
        self.story_reader = StoryReader(self.log)
        self.files: list[Path] = []
        self.versions: list[str] = []
        self.stories: list[Story] = []
        self.rules: list[Story] = []
        self.test_stories: list[Story] = []
        #: files that could not be parsed at all (their error is logged)
        self.unreadable: set[Path] = set()
        #: every file read, resolved: a file two importers name is read once
        self.read: set[Path] = set()
        self.domain_files: list[Path] = []
        self.domain_sources: list[Path] = []
        self.data_sources: list[Path] = []
        self.training_files: list[Path] = []
        self.test_files: list[Path] = []
        self.plan = ImporterPlan()
        self.imports = ImportResolver(root, self._parse_imported_config, self.log)
        #: when a dict, what each YAML file parsed to, by its resolved path (see
        #: :func:`load_project_as_written`)
        self.parsed: dict[Path, Any] | None = None

    def _parse(self, file: Path, data: Any = None, unreadable_note: str | None = None) -> Any:
        """``file`` parsed (``data``: parsed already), listed among the project's files;
        None when it cannot be parsed (and the error logged, ending with
        ``unreadable_note``, what is lost with it, when given)."""
        self.files.append(file)
        self.read.add(file.resolve())
        if data is None:
            try:
                data = read_yaml_file(file)
            except YamlSyntaxError as e:
                problem = Problem.from_error(e, str(file))
                if unreadable_note:
                    problem = replace(problem, message=f"{problem.message}; {unreadable_note}")
                self.log.extend([problem])
                self.unreadable.add(file)
                return None
        if isinstance(data, dict) and "version" in data:
            version = data["version"]
            if not formats.is_supported_version(version):
                self.log.error(
                    position(file, data, "version"),
                    f"unsupported format version {to_plain(version)!r}",
                    'use version "3.1" (or "2.0" for older projects)',
                )
            elif str(version) not in self.versions:
                self.versions.append(str(version))
        if self.parsed is not None:
            self.parsed[file.resolve()] = data
        return data

    def _parse_imported_config(self, file: Path) -> Any:
        """An imported project's config file, parsed for its ``imports:``; one that cannot
        be parsed says that they are not followed."""
        return self._parse(file, unreadable_note="its `imports:`, if any, are not followed: "
                                                 "the projects they list are not read")

    def load(self) -> Project:
        if not self.root.is_dir():
            raise ProjectNotFoundError(
                f"project folder {self.root} "
                + ("is a file, not a folder" if self.root.exists() else "does not exist"),
                hint="pass --project DIR, or run `dialogflowlite init`",
            )
        config_file, config_data = self._parse_config()
        self._load_domain()
        self._load_data()
        for file in yaml_files(self.root / "tests"):
            self._load_data_file(file, tests=True)
        for imported in self.imports.projects:
            self._load_imported_project(imported)
        if self.imports.projects and not self.domain_files:
            self._report_no_domain()
        config = self._read_config(config_file, config_data)
        project = Project(
            root=self.root,
            domain=self.domain_reader.finish(),
            nlu=self.nlu_reader.data,
            stories=self.stories,
            rules=self.rules,
            test_stories=self.test_stories,
            config=config,
            credentials=self._load_plain("credentials.yml", "credentials.yaml"),
            endpoints=self._load_plain("endpoints.yml", "endpoints.yaml"),
            test_nlu=self.test_nlu_reader.data,
            files=self.files,
            problems=self.log.problems,
            format_versions=self.versions,
            imported=list(self.imports.projects),
            domain_files=self.domain_files,
            domain_sources=self.domain_sources,
            training_files=self.training_files,
            data_sources=self.data_sources,
            test_files=self.test_files,
        )
        return project

    def _given(self, path: str | Path, what: str, option: str,
               code: str = "DFL103") -> Path | None:
        """A path given on the command line, or None (and an error) when it does not exist."""
        found = resolve_in_project(path, self.root)
        if not found.exists():
            self.log.error(Position(str(found)), f"the {what} {path} does not exist",
                           f"check the path given to {option}", code=code)
            return None
        return found

    def _load_data(self) -> None:
        if self.sources.data is None:
            paths: list[Path] = []
            for importer in self.plan.file_importers:
                if importer.training_data_paths is None:
                    paths.append(self.root / "data")
                else:
                    paths.extend(importer.training_data_paths)
        else:
            paths = [path for given in self.sources.data
                     if (path := self._given(given, "training data", "--data")) is not None]
        self.data_sources = paths
        for path in paths:
            if path.is_dir():
                for file in yaml_files(path):
                    self._load_data_file(file, tests=False)
                self._load_old_format_files(path)
            elif old_training_data_format(path) is not None:
                self._load_old_format_files(path)
            elif path.exists():
                self._load_data_file(path, tests=False)

    def _load_old_format_files(self, folder: Path, project: Path | None = None) -> None:
        """Markdown and JSON training data (Rasa 1.x, deprecated in 2.x) is read as well.

        ``folder`` may also be one such file; ``project`` is the imported project
        being read (None: the project itself).
        """
        if not folder.exists():
            return
        candidates = sorted(folder.rglob("*")) if folder.is_dir() else [folder]
        for file in candidates:
            kind = old_training_data_format(file) if file.is_file() else None
            if kind is None and file.suffix == ".md" and file.is_file() \
                    and not file.stem.upper().startswith("README") \
                    and not self._skip(file, project):
                # Rasa read every .md under data/ as training data: say this one is not
                # (a README, of course, is not)
                self.log.warning(Position(str(file), 1, 1),
                                 f"{file.name} is not read: it holds no Markdown training data "
                                 "(no `## intent:` section, `## story` with `* intent` turns, "
                                 "`>> rule` or `* faq/ask_name` responses)",
                                 "move it out of the data folder if it is not training data")
            if kind is None or self._skip(file, project):
                continue
            self.files.append(file)
            self.read.add(file.resolve())
            self.training_files.append(file)
            command = {MARKDOWN_STORIES: "core", MARKDOWN_RESPONSES: "nlg"}.get(kind, "nlu")
            try:
                relative = file.resolve().relative_to(self.root.resolve()).as_posix()
            except ValueError:  # given with --data, or imported, from outside the project
                relative = str(file)
            self.log.warning(
                Position(str(file), 1, 1),
                f"{file.name} holds {kind}, a deprecated format: it is read, but convert it",
                f"`dialogflowlite data convert {command} --data {relative} --out "
                f"{relative.rsplit('.', 1)[0]}.yml`, then delete {relative}",
            )
            if kind == MARKDOWN_STORIES:
                for story in read_markdown_stories(file, self.log):
                    (self.rules if story.kind == "rule" else self.stories).append(story)
            elif kind == MARKDOWN_RESPONSES:
                # as a YAML data file's `responses:`, with the lines of the Markdown
                self.domain_reader.read(file, read_markdown_responses(file, self.log),
                                        ("responses",))
            else:
                read = read_json_nlu if kind == JSON_NLU else read_markdown_nlu
                self.nlu_reader.data = self.nlu_reader.data.merge(read(file, self.log, self.root))

    def _load_domain(self) -> None:
        if self.sources.domain is not None:
            self._load_domain_from(self._given(self.sources.domain, "domain", "--domain",
                                               NO_DOMAIN), given=True)
            return
        paths = []
        for importer in self.plan.file_importers:
            path = (importer.domain_path if importer.domain_path is not None
                    else existing_domain(self.root))
            if path not in paths:
                paths.append(path)
        for path in paths:
            self._load_domain_from(path, given=False)

    def _load_domain_from(self, domain_path: Path | None, given: bool) -> None:
        # A missing or empty domain is NO_DOMAIN, not DFL103: validation then skips the
        # checks against the domain, which would report everything the data names.
        if given and domain_path is None:
            return
        if domain_path is None:
            if not self.imports.projects:
                # else the imported projects' domains may do (checked once they are read)
                self._report_no_domain()
            return
        self.domain_sources.append(domain_path)
        files = yaml_files(domain_path) if domain_path.is_dir() else [domain_path]
        declares = empty = False
        for file in files:
            self.domain_files.append(file)
            data = self._parse(file)
            if data is None:
                empty = file not in self.unreadable
                continue
            declares = self._read_domain_file(file, data) or declares
        if not declares and not self.unreadable.intersection(files):
            self._no_domain_in(domain_path, files, empty)

    def _read_domain_file(self, file: Path, data: Any) -> bool:
        """Read one parsed domain file; whether it declares anything."""
        declares = False
        if isinstance(data, dict):
            self.log.check_keys(file, data, formats.DOMAIN_KEYS, "the domain")
            declares = any(key in data for key in DOMAIN_CONTENT)
        self.domain_reader.read(file, data)
        return declares

    def _report_no_domain(self) -> None:
        self.log.error(
            Position(str(self.root / "domain.yml")),
            "the project has no domain",
            "create domain.yml (or a domain/ folder) listing intents and responses",
            code=NO_DOMAIN,
        )

    def _no_domain_in(self, domain_path: Path, files: list[Path], empty: bool) -> None:
        """Report a domain file or folder that declares nothing: empty, or another file
        (``-d config.yml``)."""
        given = self.sources.domain is not None
        name = str(self.sources.domain) if given else domain_path.name
        sections = ", ".join(DOMAIN_CONTENT)
        if domain_path.is_dir():
            what = (f"the domain folder {name} declares none of {sections}" if files
                    else f"the domain folder {name} holds no YAML files")
        elif empty:
            what = f"the domain file {name} is empty"
        else:
            what = f"{name} is no domain file: it declares none of {sections}"
        hint = ("check the path given to --domain" if given
                else "declare the bot's intents and responses in it")
        self.log.error(Position(str(domain_path)), what, hint, code=NO_DOMAIN)

    def _load_data_file(self, file: Path, tests: bool, data: Any = None,
                        project: Path | None = None) -> None:
        """Read one training-data file (``data``: parsed already) of the project, or of
        the imported ``project``; unless it is read already or belongs to another."""
        if self._skip(file, project):
            return
        # listed before parsing: a file that cannot be read is still known for what it is
        (self.test_files if tests else self.training_files).append(file)
        data = self._parse(file, data)
        if data is None:
            if file not in self.unreadable:
                # (an empty domain file is an error; an empty data file may be a start)
                self.log.warning(Position(str(file)), f"the data file {file.name} is empty "
                                 "(or only comments), so it adds nothing",
                                 "add `nlu:`, `stories:` or `rules:`, or remove the file")
            return
        if not isinstance(data, dict):
            self.log.error(
                Position(str(file), 1, 1),
                "a data file must be a mapping with `nlu:`, `stories:`, `rules:` or `responses:`",
            )
            return
        self.log.check_keys(file, data, formats.DATA_KEYS, "a data file")
        nlu_reader = self.test_nlu_reader if tests else self.nlu_reader
        if "nlu" in data:
            nlu_reader.read(file, data, data["nlu"])
        for key in ("stories", "rules"):
            if key in data:
                found = self.story_reader.read(
                    file, data, key, data[key], "test" if tests else "story"
                )
                if tests:
                    self.test_stories.extend(found)
                elif key == "rules":
                    self.rules.extend(found)
                else:
                    self.stories.extend(found)
        if "responses" in data:
            # Retrieval responses may live next to their NLU examples.
            self.domain_reader.read(file, data, ("responses",))

    def _parse_config(self) -> tuple[Path | None, Any]:
        """The config file and its content, read first: its ``importers:`` say which
        files make up the project."""
        if self.sources.config is not None:
            file = self._given(self.sources.config, "config file", "--config")
        else:
            file = _first_existing(self.root, *CONFIG_NAMES)
        if file is None:
            return None, None
        data = self._parse(file)
        self.plan = read_importers(file, data, self.root, self.log)
        if self.plan.multi_project is not None:
            folder = self.plan.project_directory or file.parent
            self.imports.resolve(file, data, folder)
        settings = [i.config_file for i in self.plan.file_importers if i.config_file]
        if settings and self.sources.config is None:
            # RasaFileImporter's config_file: the model's settings come from there
            file = settings[-1]
            data = self._parse(file)
        return file, data

    def _read_config(self, file: Path | None, data: Any) -> ProjectConfig:
        if file is None:
            return ProjectConfig()
        if isinstance(data, dict) and not set(data) & (set(formats.CONFIG_KEYS) - {"version"}):
            # a domain or training-data file given to --config would otherwise train on
            # the default settings after a warning for each of its keys
            found = [key for key in data
                     if key != "version" and key in (*DOMAIN_CONTENT, *formats.DATA_KEYS)]
            if found:
                self.log.error(
                    Position(str(file)),
                    f"{file.name} is no config file: it holds {', '.join(found)}, and no "
                    "language, pipeline or policies",
                    "check the path given to --config (config.yml holds `pipeline:` and "
                    "`policies:`)" if self.sources.config is not None
                    else "config.yml holds `language:`, `pipeline:` and `policies:`")
                return ProjectConfig()
        return read_config(file, data, self.log)

    def _skip(self, file: Path, project: Path | None) -> bool:
        """Whether ``file`` is read already, or belongs to an imported project other than
        ``project`` (the one being read; None: the project itself)."""
        resolved = file.resolve()
        if resolved in self.read:
            return True
        owners = [p.folder for p in self.imports.projects
                  if p.folder == resolved or p.folder in resolved.parents]
        # of nested imported folders, the innermost one owns the file
        owner = max(owners, key=lambda folder: len(folder.parts), default=None)
        return owner is not None and owner != project

    def _load_imported_project(self, imported: ImportedProject) -> None:
        """Read the domain, training data and test stories of an imported project.

        As Rasa's MultiProjectImporter walks the whole folder, every YAML file in it
        is read: those under ``tests/`` as test stories, and so, wherever it lies, a
        file whose name starts with ``test_`` that holds stories or rules (Rasa's
        test-stories file: left out of training); those under ``data/`` as training
        data, ``domain.yml`` and those under ``domain/`` as
        its domain, and any other file by what it holds (one that holds neither, such
        as ``endpoints.yml``, is not training data and is left alone; one that cannot
        be parsed is reported when it looks like training data or domain, see
        :meth:`_load_by_content`).
        """
        folder = imported.folder
        self.domain_reader.begin_imported_project()
        for file in yaml_files(folder):
            if file.name in CONFIG_NAMES or self._skip(file, folder):
                continue
            parts = file.relative_to(folder).parts
            if parts[0] == "tests" or _is_test_stories_file(file):
                self._load_data_file(file, tests=True, project=folder)
            elif parts[0] == "data":
                self._load_data_file(file, tests=False, project=folder)
            elif parts[0] == "domain" or file.name in ("domain.yml", "domain.yaml"):
                self.domain_files.append(file)
                data = self._parse(file)
                if data is not None:
                    self._read_domain_file(file, data)
            else:
                self._load_by_content(file, folder)
        self._load_old_format_files(folder / "data", folder)

    def _load_by_content(self, file: Path, project: Path) -> None:
        """An imported project's YAML file outside its usual places, read as domain or
        training data by its keys; a file that is neither is left alone.

        A file that is not valid YAML is reported (at its line, as a file under
        ``data/`` is) when its lines say it is training data or domain (see
        :func:`_unreadable_file_kind`); else it is left alone too, as
        ``endpoints.yml``, ``credentials.yml``, notes and files of other tools are,
        whatever their names.
        """
        try:
            data = read_yaml_file(file)
        except YamlSyntaxError:
            kind = _unreadable_file_kind(file)
            if kind == _DATA_FILE:
                self._load_data_file(file, tests=False, project=project)
            elif kind == _DOMAIN_FILE:
                self.domain_files.append(file)
                self._parse(file)  # reports the error
            return
        if not isinstance(data, dict):
            return
        if any(key in data for key in _DATA_SECTIONS):
            self._load_data_file(file, tests=False, data=data, project=project)
        elif any(key in data for key in _DOMAIN_SECTIONS):
            self.domain_files.append(file)
            self._read_domain_file(file, self._parse(file, data))

    def _load_plain(self, *names: str) -> dict[str, Any]:
        file = _first_existing(self.root, *names)
        if file is None:
            return {}
        data = self._parse(file)
        if data is None:
            return {}
        if not isinstance(data, dict):
            self.log.error(Position(str(file), 1, 1), f"{file.name} must be a mapping")
            return {}
        return to_plain(data)


#: what :func:`_unreadable_file_kind` says of a file
_DATA_FILE, _DOMAIN_FILE = "training data", "domain"
#: the top-level keys that make a file training data, and those that make it domain
_DATA_SECTIONS = ("nlu", "stories", "rules")
_DOMAIN_SECTIONS = (*DOMAIN_CONTENT, "session_config")
#: a project's files that are never training data or domain, whatever they hold
_OTHER_PROJECT_FILES = frozenset({"endpoints.yml", "endpoints.yaml", "credentials.yml",
                                  "credentials.yaml", *CONFIG_NAMES})
#: a line that starts a key, indented or not, as Rasa's ``is_key_in_yaml`` reads one
_KEY_LINE = re.compile(r"^[ \t]*([A-Za-z_]+):", re.M)
#: a line that starts a key at the top level
_TOP_LEVEL_KEY = re.compile(r"^([A-Za-z_]+):", re.M)


def _unreadable_file_kind(file: Path) -> str | None:
    """``_DATA_FILE`` or ``_DOMAIN_FILE`` for a YAML file that cannot be parsed, by what
    it holds, never by its name: training data when a line, indented or not, starts
    ``nlu:``, ``stories:`` or ``rules:`` (Rasa's line-wise test); domain when a line at
    the top level starts one of its sections (``intents:``, ``responses:``, ...). None
    for anything else, and always for ``endpoints.yml``, ``credentials.yml`` and
    ``config.yml``.
    """
    if file.name in _OTHER_PROJECT_FILES:
        return None
    if has_key_line(file, *_DATA_SECTIONS):
        return _DATA_FILE
    if has_key_line(file, *_DOMAIN_SECTIONS, top_level=True):
        return _DOMAIN_FILE
    return None


def has_key_line(file: Path, *keys: str, top_level: bool = False) -> bool:
    """Whether a line of ``file`` starts one of ``keys`` (``nlu:``), indented or not
    (only at the top level with ``top_level``). Rasa's line-wise test: it tells what a
    YAML file that cannot be parsed was meant to hold. False when it cannot be read."""
    try:
        text = file.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    found = (_TOP_LEVEL_KEY if top_level else _KEY_LINE).findall(text)
    return not set(found).isdisjoint(keys)


def _is_test_stories_file(file: Path) -> bool:
    """Whether ``file`` is a test-stories file by Rasa's rule: a name that starts with
    ``test_``, and stories or rules in it. One that cannot be parsed counts by its name
    (its error is reported when it is read)."""
    if not file.name.startswith(TEST_STORIES_PREFIX):
        return False
    try:
        data = read_yaml_file(file)
    except YamlSyntaxError:
        return True
    return isinstance(data, dict) and ("stories" in data or "rules" in data)


def resolve_in_project(path: str | Path, root: str | Path) -> Path:
    """``path`` as given when it is absolute or exists from here, else under ``root``.

    How command-line paths of what is read (``--nlu``, ``--stories``,
    ``--model``) are taken: relative to the working folder first, then to the
    project. (Where a command writes is :func:`resolve_output`.)
    """
    candidate = Path(path)
    if candidate.is_absolute() or candidate.exists():
        return candidate
    return Path(root) / candidate


#: where ``test`` writes its reports, in the project, without ``--out``
DEFAULT_RESULTS = "results"


def resolve_output(path: str | Path | None, root: str | Path,
                   default: str = DEFAULT_RESULTS) -> Path:
    """Where a command writes: ``path`` as given (a relative one from the working
    folder, as Rasa reads ``--out``), or ``default`` in the project ``root`` when
    none is given.

    Not :func:`resolve_in_project`: an output folder seldom exists before the
    first run, and ``--project bot --out bot/results`` wrote to
    ``bot/bot/results``.
    """
    return Path(root) / default if path is None else Path(path)


def load_project(root: str | Path = ".", *, strict: bool = True,
                 sources: ProjectSources | None = None) -> Project:
    """Load the project in ``root`` (with ``sources`` instead of its own files, if given).

    With ``strict`` (the default) any error found while reading raises
    :class:`ProjectValidationError` listing all of them; otherwise the errors
    stay in ``project.problems`` for the caller to report.
    """
    project = ProjectLoader(Path(root), sources).load()
    if strict and project.errors:
        raise ProjectValidationError(project.problems)
    return project


def load_project_as_written(root: str | Path = ".", *, sources: ProjectSources | None = None,
                            ) -> tuple[Project, dict[Path, Any]]:
    """The project, as ``load_project(root, strict=False)`` reads it, and what each of
    its YAML files parsed to (by resolved path), as written: comments and layout kept.

    For a command that goes on to rewrite some of the files (``data split stories``):
    it reads each file once. A file that could not be parsed is not among them.
    """
    loader = ProjectLoader(Path(root), sources)
    loader.parsed = {}
    return loader.load(), loader.parsed
