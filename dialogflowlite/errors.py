"""The one exception tree of dialogflowlite.

Every error a user can cause derives from :class:`DialogflowLiteError`. Its
message names the file and line, the field, or the component at fault, and a
hint says what to do next. The command line prints these without a traceback
(``--debug`` shows it); anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from dialogflowlite.plugins.names import short_name


@dataclass(frozen=True)
class Position:
    """Where something sits in a source file (1-based line and column)."""

    file: str
    line: int | None = None
    col: int | None = None

    def __str__(self) -> str:
        parts = [self.file]
        if self.line is not None:
            parts.append(str(self.line))
            if self.col is not None:
                parts.append(str(self.col))
        return ":".join(parts)

    @classmethod
    def of(cls, file: str | Path, line: int | None = None, col: int | None = None) -> Position:
        return cls(str(file), line, col)


class DialogflowLiteError(Exception):
    """Base class of every error dialogflowlite raises on purpose.

    ``code`` is a short stable identifier (for docs and searching), ``hint`` a
    next step for the user, ``position`` the source location when known.
    """

    code: str = "DFL000"

    def __init__(
        self,
        message: str,
        *,
        hint: str | None = None,
        position: Position | None = None,
        code: str | None = None,
    ) -> None:
        self.message = message
        self.hint = hint
        self.position = position
        if code:
            self.code = code
        super().__init__(self.render())

    def render(self) -> str:
        text = f"{self.position}: {self.message}" if self.position else self.message
        if self.hint and "\n" in text:
            # after a list of problems, on a line of its own: it is about all of them
            text += f"\nhint: {self.hint}"
        elif self.hint:
            text += f" (hint: {self.hint})"
        return text


# ---------------------------------------------------------------- project files


class ProjectError(DialogflowLiteError):
    """Something is wrong with the project's files."""

    code = "DFL100"


class ProjectNotFoundError(ProjectError):
    """The project folder or a required file in it does not exist."""

    code = "DFL101"


class YamlSyntaxError(ProjectError):
    """A YAML file could not be parsed."""

    code = "DFL102"


class ProjectValidationError(ProjectError):
    """Validation found errors; ``problems`` holds every one of them."""

    code = "DFL103"

    def __init__(self, problems: list, *, hint: str | None = None) -> None:
        self.problems = list(problems)
        errors = [p for p in self.problems if getattr(p, "severity", "error") == "error"]
        # warnings are what is reported when they alone stop something (warnings as errors)
        shown, what = (errors, "error(s)") if errors else (self.problems, "warning(s)")
        lines = "\n".join(str(p) for p in shown[:20])
        more = f"\n... and {len(shown) - 20} more" if len(shown) > 20 else ""
        super().__init__(
            f"the project has {len(shown)} {what}:\n{lines}{more}",
            hint=hint or "fix them, then run `dialogflowlite data validate`",
        )


class AnnotationError(ProjectError):
    """An NLU example's inline entity annotation is malformed."""

    code = "DFL104"


class TemplateError(ProjectError):
    """`init` cannot create a project from a template."""

    code = "DFL107"


class ProjectImportError(ProjectError):
    """config.yml's ``importers:`` or ``imports:`` ask for something that cannot be read:
    an imported folder or importer setting that does not exist, an importer that is
    unknown or cannot run here, ``imports:`` that no importer follows.

    The loader reports these as problems with this code, at the line of the entry.
    """

    code = "DFL106"


# ---------------------------------------------------------------- configuration


class ConfigError(DialogflowLiteError):
    """config.yml, endpoints.yml or credentials.yml asks for something impossible."""

    code = "DFL200"


class UnknownComponentError(ConfigError):
    """config.yml names a component no plugin provides."""

    code = "DFL201"


class ComponentConfigError(ConfigError):
    """A component got a config key it does not know, or a bad value."""

    code = "DFL202"


class ModelSourceError(ConfigError):
    """Pretrained weights named by ``model:`` could not be found."""

    code = "DFL203"


# ---------------------------------------------------------------- plugins


class PluginError(DialogflowLiteError):
    """A plugin failed to load or returned something a hook does not accept."""

    code = "DFL300"

    def __init__(self, message: str, *, plugin: str | None = None, hook: str | None = None,
                 hint: str | None = None) -> None:
        self.plugin = plugin
        self.hook = hook
        if plugin:
            plugin = short_name(plugin)  # `nlu`, as `dialogflowlite plugins` lists it
        where = " ".join(
            part for part in (f"plugin {plugin!r}" if plugin else "",
                              f"hook {hook}" if hook else "") if part
        )
        super().__init__(f"{where}: {message}" if where else message, hint=hint)


# ---------------------------------------------------------------- training and models


class TrainingError(DialogflowLiteError):
    """Training cannot proceed (for example: no training data for a component)."""

    code = "DFL400"


class RuleDataError(TrainingError):
    """The rules cannot be learnt as written: they contradict each other or a story,
    leave out what their action does elsewhere, or hold too many user turns."""


class ModelLoadError(DialogflowLiteError):
    """A trained model file is missing, damaged or from an incompatible version."""

    code = "DFL401"


# ---------------------------------------------------------------- dialogue


class DialogueError(DialogflowLiteError):
    """The dialogue manager met a state it cannot handle."""

    code = "DFL500"


class ActionNotFoundError(DialogueError):
    """A policy or story asked for an action nobody provides."""

    code = "DFL501"


class ActionExecutionError(DialogueError):
    """A custom action failed, or the action server did not answer in time."""

    code = "DFL502"


class ActionRejectedError(DialogueError):
    """An action refused to run in this state: a form that cannot fill its slot, or a
    custom action that rejected itself.

    Not a failure: the processor records ``action_execution_rejected`` and the
    policies choose another action. It is kept apart from
    :class:`ActionExecutionError`, so that code handling failed actions does not
    take a rejection for one.
    """

    code = "DFL503"


# ---------------------------------------------------------------- serving and storage


class TrackerStoreError(DialogflowLiteError):
    """A tracker store or lock store cannot be reached or used."""

    code = "DFL600"


class ExportError(DialogflowLiteError):
    """Exporting stored events to an event broker found nothing, or stopped part way."""

    code = "DFL601"


class EventBrokerError(DialogflowLiteError):
    """An event broker cannot be reached, refuses the connection, or refuses events."""

    code = "DFL602"


class JsonContentError(DialogflowLiteError, ValueError):
    """Well-formed JSON that is refused: NaN or Infinity, a number too large for a
    float, or nesting deeper than the limit.

    A ValueError too, as the json module's own errors are, so code that handles
    unreadable JSON handles this the same way. ``field`` is where in the value
    the refused part is (``events[0].text``), when one place is to blame.
    """

    code = "DFL603"

    def __init__(self, message: str, *, hint: str | None = None,
                 field: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.field = field


class ApiError(DialogflowLiteError):
    """An HTTP API error; ``status`` is the HTTP status and ``reason`` Rasa's reason code."""

    code = "DFL700"

    def __init__(self, status: int, reason: str, message: str, *, hint: str | None = None) -> None:
        self.status = status
        self.reason = reason
        super().__init__(message, hint=hint)


# ---------------------------------------------------------------- reported problems


@dataclass(frozen=True)
class Problem:
    """One finding of the loader or validator, printed as ``file:line:col: severity: message``.

    Problems are collected rather than raised, so one run reports all of them.
    """

    position: Position
    severity: str  # "error" or "warning"
    message: str
    hint: str | None = None
    code: str = "DFL103"

    def __str__(self) -> str:
        text = f"{self.position}: {self.severity}: {self.message}"
        if self.hint:
            text += f" (hint: {self.hint})"
        return text

    @property
    def is_error(self) -> bool:
        return self.severity == "error"

    @classmethod
    def from_error(cls, error: DialogflowLiteError, file: str = "<unknown>") -> Problem:
        """Turn a raised error into a reported problem at the error's position."""
        return cls(error.position or Position(file), "error", error.message, error.hint, error.code)
