"""Collecting problems while reading a project, so one run reports all of them."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from dialogflowlite.errors import DialogflowLiteError, Position, Problem
from dialogflowlite.io.formats import did_you_mean
from dialogflowlite.io.yaml import position

#: type names as YAML authors know them
_READABLE = {
    "CommentedMap": "mapping",
    "dict": "mapping",
    "CommentedSeq": "list",
    "list": "list",
    "str": "text",
    "ScalarFloat": "number",
    "float": "number",
    "int": "number",
    "ScalarBoolean": "boolean",
    "bool": "boolean",
    "NoneType": "empty value",
}

#: the code of every "unknown key" problem (see docs/validation.md)
UNKNOWN_KEY = "DFL110"
#: how the hint of an unknown key that is close to no known key starts
KNOWN_KEYS_HINT = "known keys: "
#: the code of a domain that is missing or declares nothing
NO_DOMAIN = "DFL105"


class ProblemLog:
    """An ordered list of problems with helpers for the common checks."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []

    def error(
        self, where: Position, message: str, hint: str | None = None, code: str = "DFL103"
    ) -> None:
        self.problems.append(Problem(where, "error", message, hint, code))

    def warning(
        self, where: Position, message: str, hint: str | None = None, code: str = "DFL103"
    ) -> None:
        self.problems.append(Problem(where, "warning", message, hint, code))

    def add(self, error: DialogflowLiteError, file: str | Path = "<unknown>") -> None:
        self.problems.append(Problem.from_error(error, str(file)))

    def add_warnings(self, errors: Iterable[DialogflowLiteError],
                     file: str | Path = "<unknown>") -> None:
        """Report ``errors`` as warnings (each at its position, or at ``file``)."""
        for error in errors:
            self.warning(error.position or Position(str(file)), error.message, error.hint,
                         error.code)

    def extend(self, problems: Iterable[Problem]) -> None:
        self.problems.extend(problems)

    def flag(self, file: str | Path, props: Any, key: str, default: bool, what: str) -> bool:
        """``props[key]`` (a true/false setting of ``what``) as a bool; ``default`` when it
        is absent. A word such as ``no`` or ``"false"``, which YAML 1.2 reads as text, is
        read by its meaning with a warning; anything else is a warning and ``default``."""
        from dialogflowlite.io.formats import flag_meaning
        from dialogflowlite.io.yaml import value_position

        value = props.get(key)
        if value is None or isinstance(value, bool):
            return default if value is None else value
        meaning = flag_meaning(value)
        where = value_position(file, props, key)
        if meaning is None:
            self.warning(where, f"{key} of {what} must be true or false, not {str(value)!r}; "
                                f"{str(default).lower()} is used",
                         f"write `{key}: true` or `{key}: false`")
            return default
        self.warning(where, f"{key} of {what} is the text {str(value)!r}, read as "
                            f"{str(meaning).lower()}",
                     f"write `{key}: {str(meaning).lower()}` (no quotes)")
        return meaning

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.is_error]

    def check_keys(
        self,
        file: str | Path,
        node: Any,
        known: Iterable[str],
        where: str,
        severity: str = "warning",
    ) -> None:
        """Report keys of mapping ``node`` that ``known`` does not contain, with a did-you-mean."""
        if not isinstance(node, Mapping):
            return
        known = list(known)
        for key in node:
            if key in known:
                continue
            hint = did_you_mean(str(key), known) or KNOWN_KEYS_HINT + ", ".join(known)
            report = self.error if severity == "error" else self.warning
            report(position(file, node, key), f"unknown key '{key}' in {where}", hint, UNKNOWN_KEY)

    def expect(
        self, file: str | Path, parent: Any, key: Any, value: Any, kind: type | tuple, what: str,
        code: str = "DFL103",
    ) -> bool:
        """Report (as an error, with ``code``) when ``value`` is not of ``kind``; return
        whether it is."""
        if isinstance(value, kind):
            return True
        kinds = (kind,) if isinstance(kind, type) else tuple(kind)
        expected = " or ".join(_READABLE.get(k.__name__, k.__name__) for k in kinds)
        actual = _READABLE.get(type(value).__name__, type(value).__name__)
        self.error(
            position(file, parent, key),
            f"{what} must be a {expected}, not {actual}",
            "see docs/project-format.md for the expected layout",
            code,
        )
        return False


def is_misspelt_key(problem: Problem) -> bool:
    """Whether ``problem`` is an unknown key close to a known one (a misspelling, which
    its hint names), not a key of some other kind of file."""
    return (problem.code == UNKNOWN_KEY and problem.hint is not None
            and not problem.hint.startswith(KNOWN_KEYS_HINT))
