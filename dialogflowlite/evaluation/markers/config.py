"""Reading markers files: Rasa's YAML, one named marker per top-level key.

.. code-block:: yaml

    marker_mood_expressed:
      description: the user said how they feel   # optional, at any level
      or:
        - intent: mood_unhappy
        - intent: mood_great

``--config`` names one YAML file or a folder whose YAML files (in sub-folders
too) are read and merged; a marker name must be unique across all of them.
Every mistake becomes a :class:`~dialogflowlite.errors.Problem` at file:line
naming the marker, so one run reports all of them; :func:`load_markers` then
raises :class:`~dialogflowlite.errors.ProjectValidationError` listing them.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dialogflowlite.errors import (
    DialogflowLiteError,
    Position,
    Problem,
    ProjectNotFoundError,
    ProjectValidationError,
)
from dialogflowlite.evaluation.markers.model import (
    ALL_TAGS,
    CONDITION_TAGS,
    OPERATOR_TAGS,
    Marker,
    MarkerDefinition,
)
from dialogflowlite.io.formats import did_you_mean
from dialogflowlite.io.yaml import position, read_yaml_file, value_position

if TYPE_CHECKING:
    from dialogflowlite.shared.domain import Domain

logger = logging.getLogger(__name__)

#: the markers file read when ``--config`` is not given (Rasa's default)
MARKERS_FILE = "markers.yml"
#: the code of every problem in a markers file's own structure
MARKER_CONFIG_PROBLEM = "DFL150"
#: the optional key next to a marker's condition or operator
DESCRIPTION = "description"
YAML_SUFFIXES = (".yml", ".yaml")

#: an example value for each kind of condition, for hints
_EXAMPLES = {"action": "utter_greet", "intent": "greet", "slot": "name"}


def _kind(value: Any) -> str:
    """The YAML name of a value's type, as a markers file author knows it."""
    if value is None:
        return "an empty value"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, Sequence):
        return "a list"
    return type(value).__name__


def marker_files(path: str | Path) -> list[Path]:
    """The YAML files ``path`` stands for: itself, or those in the folder (sorted).

    Raises :class:`ProjectNotFoundError` when there is no such file or folder,
    or no YAML file in it.
    """
    path = Path(path)
    if path.is_file():
        if path.suffix not in YAML_SUFFIXES:
            raise ProjectNotFoundError(f"{path} is not a YAML file",
                                       hint="markers files end in .yml or .yaml")
        return [path]
    if path.is_dir():
        files = sorted(
            p for p in path.rglob("*")
            if p.is_file() and p.suffix in YAML_SUFFIXES
            and not any(part.startswith(".") for part in p.relative_to(path).parts)
        )
        if not files:
            raise ProjectNotFoundError(f"the folder {path} holds no markers files (.yml, .yaml)")
        return files
    raise ProjectNotFoundError(f"markers file {path} does not exist",
                               hint="write one (see docs/markers.md) or pass --config PATH")


class MarkersReader:
    """Reads markers files into :class:`MarkerDefinition` objects, collecting problems."""

    def __init__(self) -> None:
        self.definitions: list[MarkerDefinition] = []
        self.problems: list[Problem] = []
        self._defined: dict[str, Position] = {}

    def read_path(self, path: str | Path) -> list[MarkerDefinition]:
        """Read a markers file or every markers file of a folder; returns all definitions."""
        for file in marker_files(path):
            self.read_file(file)
        return self.definitions

    def read_file(self, file: Path) -> None:
        """Read the markers of one file."""
        try:
            data = read_yaml_file(file)
        except DialogflowLiteError as e:
            self.problems.append(Problem.from_error(e, str(file)))
            return
        if data is None:
            self._error(Position(str(file)), "the markers file is empty",
                        "define markers as `name:` followed by a condition or an operator")
            return
        if not isinstance(data, Mapping):
            self._error(position(file, data),
                        f"a markers file maps marker names to markers, not {_kind(data)}",
                        "write `marker_name:` at the top level, with a condition or operator "
                        "indented below it")
            return
        if set(data) == {"markers"} and isinstance(data["markers"], list):
            self._error(position(file, data, "markers"),
                        "`markers:` with a list of `- marker:` entries is the format of Rasa's "
                        "unreleased markers prototype, which no released Rasa reads",
                        "name each marker at the top level instead: `marker_name:` followed "
                        "by a condition or an operator")
            return
        for name in data:
            self._read_definition(file, data, name)

    def _read_definition(self, file: Path, data: Mapping, name: Any) -> None:
        where = position(file, data, name)
        if not isinstance(name, str):
            self._error(where, f"a marker name must be text, not {_kind(name)} ({name!r})")
            return
        if name in ALL_TAGS:
            kind = "condition" if name in CONDITION_TAGS else "operator"
            self._error(where, f"'{name}' is a {kind}, not a marker name: the top level of a "
                               f"markers file names the markers",
                        f"give it a name: `my_marker:` with `{name}: ...` indented below it")
            return
        if name in self._defined:
            self._error(where, f"marker '{name}' is defined twice (first at "
                               f"{self._defined[name]})", "rename or remove one of them")
            return
        self._defined[name] = where
        node = data[name]
        marker = self._read_marker(file, node, where, name)
        if marker is None:
            return
        description = node.get(DESCRIPTION)
        self.definitions.append(MarkerDefinition(
            name, marker, where, str(description) if description is not None else None))

    def _read_marker(self, file: Path, node: Any, where: Position, name: str) -> Marker | None:
        """One marker (a condition or an operator with its sub-markers); None after a problem."""
        if not isinstance(node, Mapping):
            self._error(where, f"marker '{name}': expected a condition or an operator, "
                               f"found {_kind(node)}",
                        "for example `intent: greet`, or `or:` with a list of conditions")
            return None
        if DESCRIPTION in node and not isinstance(node[DESCRIPTION], str):
            self._error(value_position(file, node, DESCRIPTION),
                        f"marker '{name}': a description must be text, not "
                        f"{_kind(node[DESCRIPTION])}")
            return None
        tags = [key for key in node if key != DESCRIPTION]
        if not tags:
            self._error(where, f"marker '{name}': no condition or operator",
                        f"use one of {', '.join(ALL_TAGS)}")
            return None
        if len(tags) > 1:
            self._error(position(file, node, tags[1]),
                        f"marker '{name}': '{tags[0]}' and '{tags[1]}' share one mapping, "
                        f"which holds one condition or operator",
                        "list them under `and:`, `or:` or `seq:`, each as its own `- ` item")
            return None
        tag = tags[0]
        if not isinstance(tag, str) or tag not in ALL_TAGS:
            self._unknown_tag(position(file, node, tag), tag, name)
            return None
        if tag in CONDITION_TAGS:
            return self._read_condition(file, node, tag, name)
        return self._read_operator(file, node, tag, name)

    def _read_condition(self, file: Path, node: Mapping, tag: str, name: str) -> Marker | None:
        cls, negated = CONDITION_TAGS[tag]
        value = node[tag]
        if not isinstance(value, str) or not value.strip():
            example = _EXAMPLES[cls.kind]
            article = "an" if cls.kind[0] in "aeiou" else "a"
            if isinstance(value, list):
                hint = f"one name per condition: list several `{tag}:` conditions under `or:`"
            else:
                hint = f"for example `{tag}: {example}`"
            self._error(value_position(file, node, tag),
                        f"marker '{name}': `{tag}` takes the name of {article} {cls.kind}, "
                        f"not {_kind(value)}", hint)
            return None
        return cls(tag=tag, negated=negated, position=position(file, node, tag),
                   value=str(value).strip())

    def _read_operator(self, file: Path, node: Mapping, tag: str, name: str) -> Marker | None:
        cls, negated = OPERATOR_TAGS[tag]
        value = node[tag]
        at = position(file, node, tag)
        if not isinstance(value, list):
            if isinstance(value, Mapping) and value:
                hint = f"make it a list item: `- {next(iter(value))}: ...` under `{tag}:`"
            else:
                hint = f"list conditions or operators under `{tag}:`, each as a `- ` item"
            self._error(at, f"marker '{name}': `{tag}` takes a list of conditions or "
                            f"operators, not {_kind(value)}", hint)
            return None
        if cls.arity is not None and len(value) != cls.arity:
            self._error(at, f"marker '{name}': `{tag}` takes exactly one condition or operator, "
                            f"found {len(value)}",
                        "combine several under `and:` or `or:` inside it")
            return None
        if not value:
            self._error(at, f"marker '{name}': `{tag}` has an empty list",
                        "give it at least one condition or operator")
            return None
        children = [self._read_marker(file, item, position(file, value, index), name)
                    for index, item in enumerate(value)]
        if any(child is None for child in children):
            return None
        return cls(tag=tag, negated=negated, position=at, children=tuple(children))

    def _unknown_tag(self, where: Position, tag: Any, name: str) -> None:
        text = str(tag)
        if text.lower() in ALL_TAGS:
            hint = f"tags are lower case: write '{text.lower()}'"
        else:
            hint = did_you_mean(text, ALL_TAGS) or (
                f"conditions: {', '.join(CONDITION_TAGS)}; operators: {', '.join(OPERATOR_TAGS)}")
        self._error(where, f"marker '{name}': unknown condition or operator '{text}'", hint)

    def _error(self, where: Position, message: str, hint: str | None = None) -> None:
        self.problems.append(Problem(where, "error", message, hint, MARKER_CONFIG_PROBLEM))


def check_markers(path: str | Path, domain: Domain | None = None
                  ) -> tuple[list[MarkerDefinition], list[Problem]]:
    """Read the markers at ``path`` and check them against ``domain`` (when given).

    Returns the markers that could be read and every problem found; raises
    only when ``path`` holds no markers files at all.
    """
    from dialogflowlite.evaluation.markers.domain_check import check_against_domain

    reader = MarkersReader()
    definitions = reader.read_path(path)
    problems = list(reader.problems)
    if domain is not None:
        problems += check_against_domain(definitions, domain)
    problems.sort(key=lambda p: (p.position.file, p.position.line or 0, p.position.col or 0))
    return definitions, problems


def load_markers(path: str | Path, domain: Domain | None = None) -> list[MarkerDefinition]:
    """The markers at ``path``, checked against ``domain`` when given.

    Raises :class:`ProjectValidationError` listing every problem (file:line,
    marker) when there is any error; warnings are logged.
    """
    definitions, problems = check_markers(path, domain)
    for problem in problems:
        if not problem.is_error:
            logger.warning("%s", problem)
    if any(problem.is_error for problem in problems):
        raise ProjectValidationError(problems, hint="fix the markers, then run the command again")
    if not definitions:
        raise ProjectValidationError(
            [Problem(Position(str(path)), "error", "no markers are defined", None,
                     MARKER_CONFIG_PROBLEM)],
            hint="define markers as `name:` followed by a condition or an operator")
    return definitions
