"""YAML reading and writing that keeps where every node came from.

Files are read with ruamel.yaml's round-trip loader (YAML 1.2, like Rasa), so
mappings and sequences remember their line and column; :func:`position` turns
that into a :class:`~dialogflowlite.errors.Position` for error messages.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedBase
from ruamel.yaml.constructor import DuplicateKeyError
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from dialogflowlite.errors import Position, YamlSyntaxError


def _reader() -> YAML:
    yaml = YAML(typ="rt")
    yaml.allow_duplicate_keys = False
    return yaml


def read_yaml(text: str, file: str | Path = "<string>") -> Any:
    """Parse YAML text; a syntax error raises :class:`YamlSyntaxError` at file:line:col."""
    try:
        return _reader().load(text)
    except MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line = mark.line + 1 if mark else None
        col = mark.column + 1 if mark else None
        what = " ".join(str(part) for part in (e.context, e.problem) if part)
        if isinstance(e, DuplicateKeyError):
            hint = "remove or rename one of the two entries"
        elif "'\\t'" in what:
            hint = "indent with spaces: YAML does not allow tabs for indentation"
        else:
            hint = "check indentation, quotes and the `key: value` layout around this line"
            if e.context_mark is not None and "quoted scalar" in str(e.context) \
                    and e.context_mark.line + 1 != line:
                # a quote that nothing closes: reported where it opened, not at the end
                # of the file where the reader gave up
                what = (f"a quote opened on this line is not closed (the reader went on to "
                        f"line {line}: {what or e})")
                hint = "close the quote on this line, or remove it"
                line, col = e.context_mark.line + 1, None
            else:
                opened = _unclosed_quote_line(text, line)
                if opened is not None and opened != line:
                    # a quote closed only by the next value's opening quote
                    hint = (f"line {opened} opens a quote that it does not close, so YAML "
                            "read on into the lines below it; " + hint)
        raise YamlSyntaxError(
            f"invalid YAML: {what or e}",
            position=Position(str(file), line, col),
            hint=hint,
        ) from e
    except YAMLError as e:
        raise YamlSyntaxError(f"invalid YAML: {e}", position=Position(str(file))) from e


#: a value that starts with a quote: after `key:` or a list's `- `
_QUOTED_VALUE = re.compile(r"""(?:^\s*-\s+|:\s+)(["'])(.*)$""")


def _unclosed_quote_line(text: str, line: int | None, before: int = 5) -> int | None:
    """The line (1-based) at or up to ``before`` lines above ``line`` whose quoted value
    is not closed on it: where an error that YAML reports later started."""
    if line is None:
        return None
    lines = text.splitlines()
    for number in range(min(line, len(lines)), max(0, line - before - 1), -1):
        if lines[number - 1].lstrip().startswith("#"):
            continue
        match = _QUOTED_VALUE.search(lines[number - 1])
        if match is None:
            continue
        quote, rest = match.groups()
        closing = rest.replace("''", "") if quote == "'" else re.sub(r'\\.', "", rest)
        if quote not in closing and _closing_helps(lines, number, quote, line):
            return number
    return None


def _closing_helps(lines: list[str], number: int, quote: str, error_line: int) -> bool:
    """Whether closing the quote at the end of line ``number`` reads further than
    ``error_line`` (a quoted text that goes on over lines on purpose does not)."""
    fixed = [*lines[:number - 1], lines[number - 1] + quote, *lines[number:]]
    try:
        _reader().load("\n".join(fixed))
    except MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        return mark is not None and mark.line + 1 > error_line
    except YAMLError:
        return False
    return True


def read_yaml_file(path: str | Path) -> Any:
    """Read and parse one YAML file (UTF-8)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        where, message = not_utf8(path, e)
        raise YamlSyntaxError(message, position=where, hint="save the file as UTF-8") from e
    return read_yaml(text, path)


def not_utf8(file: str | Path, error: UnicodeDecodeError) -> tuple[Position, str]:
    """Where a file that is not UTF-8 first goes wrong (line and column, as editors
    count them, rather than a byte offset), and the message that says so."""
    data = error.object
    line_start = data.rfind(b"\n", 0, error.start) + 1
    line = data.count(b"\n", 0, error.start) + 1
    # what comes before the bad byte on its line is valid UTF-8: count its characters
    col = len(data[line_start:error.start].decode("utf-8-sig", errors="replace")) + 1
    guess = ("UTF-16" if data.startswith((b"\xff\xfe", b"\xfe\xff"))
             else "Latin-1 or Windows-1252")
    return (Position(str(file), line, col),
            f"file is not UTF-8 text: byte 0x{data[error.start]:02x} at line {line}, column "
            f"{col} is no UTF-8 ({error.reason}); the file looks like {guess}")


def position(file: str | Path, node: Any, key: Any = None) -> Position:
    """Where ``node`` (or its entry ``key``: a mapping key or a list index) starts.

    Falls back to the node's own position, then to the bare file, when ruamel
    did not record one (for example for plain scalars).
    """
    file = str(file)
    if isinstance(node, CommentedBase):
        try:
            if key is not None:
                if isinstance(node, Mapping):
                    line, col = node.lc.key(key)
                else:
                    line, col = node.lc.item(key)
            else:
                line, col = node.lc.line, node.lc.col
            return Position(file, line + 1, col + 1)
        except (KeyError, IndexError, TypeError, AttributeError):
            if key is not None:
                return position(file, node)
    return Position(file)


def value_position(file: str | Path, node: Any, key: Any) -> Position:
    """Where the value of mapping entry ``key`` starts."""
    if isinstance(node, CommentedBase) and isinstance(node, Mapping):
        try:
            line, col = node.lc.value(key)
            return Position(str(file), line + 1, col + 1)
        except (KeyError, TypeError, AttributeError):
            pass
    return position(file, node, key)


def to_plain(node: Any) -> Any:
    """Turn ruamel's round-trip containers and scalars into plain Python values."""
    if isinstance(node, Mapping):
        return {
            str(k) if not isinstance(k, (int, float, bool)) else k: to_plain(v)
            for k, v in node.items()
        }
    if isinstance(node, Sequence) and not isinstance(node, (str, bytes)):
        return [to_plain(v) for v in node]
    if isinstance(node, bool) or node is None:
        return node
    if isinstance(node, int):
        return int(node)
    if isinstance(node, float):
        return float(node)
    if isinstance(node, str):
        return str(node)
    return node


def yaml_scalar(value: Any) -> str:
    """``value`` as one YAML scalar: bare when it is a safe name, else JSON (valid YAML)."""
    if isinstance(value, str) and value and value.replace("_", "").replace("-", "").isalnum() \
            and value.lower() not in ("true", "false", "null", "yes", "no", "on", "off", "~") \
            and not value[0].isdigit():
        return value
    return json.dumps(value, ensure_ascii=False)


def dump_yaml(data: Any) -> str:
    """Serialise plain data as block-style YAML (used for written reports and stories)."""
    yaml = YAML(typ="safe", pure=True)
    yaml.default_flow_style = False
    yaml.allow_unicode = True
    yaml.sort_base_mapping_type_on_output = False
    stream = io.StringIO()
    yaml.dump(data, stream)
    return stream.getvalue()


def write_yaml(data: Any, path: str | Path) -> None:
    """Write plain data as YAML (UTF-8)."""
    Path(path).write_text(dump_yaml(data), encoding="utf-8")
