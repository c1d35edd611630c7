"""Checks on what clients send: JSON bodies, field types, sender ids, message length.

Every failure is a 400 :class:`~dialogflowlite.errors.ApiError` (413 for text
that is too long) whose message names the field, so a client knows what to fix.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from dialogflowlite.errors import ApiError, JsonContentError
from dialogflowlite.server.errors import bad_request
from dialogflowlite.shared import safe_json

if TYPE_CHECKING:
    from sanic import Request

#: the most characters a conversation id may have (Rasa's SQL stores keep 255)
MAX_SENDER_ID_CHARS = 255
#: Unicode categories no conversation id may hold: control and format characters (line
#: breaks, bidirectional overrides, zero-width marks) would forge or hide text in the
#: log lines that name a conversation, line and paragraph separators likewise, and a
#: lone surrogate cannot be stored as UTF-8
REFUSED_ID_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})
DEFAULT_SENDER_ID = "default"


#: Content-Type values a YAML body may come with
YAML_TYPES = ("application/yaml", "application/x-yaml", "application/x-yml", "text/yaml",
              "text/x-yaml", "text/plain")
#: Content-Type values that say nothing of the body, which is then read as YAML, as Rasa
#: reads every body of these routes: none at all (``requests.post(url, data=text)``),
#: what ``curl --data-binary @file`` sends, and raw bytes
UNTYPED = ("", "application/x-www-form-urlencoded", "application/octet-stream")


#: Content-Type values of a JSON body, which a YAML body may be too (JSON is YAML)
JSON_TYPES = ("application/json",)


def yaml_body(request: Request, what: str, hint: str) -> str:
    """The request's body as YAML text, when it is sent as YAML (or without saying what it
    is: :data:`UNTYPED`) or as JSON; else a 400 naming ``what``.

    A JSON body is the same document written in JSON, which Rasa reads as YAML
    whatever its type (``requests.post(url, json=project)``). It is checked as
    JSON (a 400 says where it is not) and handed on as it is, so that the lines
    and columns of later messages are its own; one indented with tabs, which
    cannot indent YAML, is handed on written again with spaces.
    """
    kind = (request.headers.get("content-type") or "").split(";", 1)[0].strip().lower()
    if kind in JSON_TYPES:
        import json

        data = json_body(request, expect=(dict, list))
        # valid JSON holds a tab only as space between tokens (in a text it is escaped)
        if b"\t" in request.body:
            return json.dumps(data, indent=2, ensure_ascii=False)
        return request.body.decode("utf-8")
    if kind not in YAML_TYPES and kind not in UNTYPED:
        raise ApiError(400, "BadRequest", f"{what} must be sent as YAML, not {kind or 'no type'}",
                       hint=hint)
    try:
        return (request.body or b"").decode("utf-8")
    except UnicodeDecodeError as e:
        raise bad_request("the request body is not UTF-8 text") from e


def json_body(request: Request, *, expect: type | tuple[type, ...] = dict) -> Any:
    """The request's JSON body; 400 when it is missing, malformed or of the wrong type, and
    when it holds NaN or Infinity or nests deeper than :data:`safe_json.MAX_DEPTH`."""
    if not request.body:
        raise bad_request("the request needs a JSON body", parameter="body")
    try:
        data = safe_json.loads(request.body)
    except JsonContentError as e:
        # checked before UnicodeDecodeError and ValueError: it is one, with a better message
        raise bad_request(f"the body is refused: {e.render()}",
                          parameter=e.field or "body") from e
    except (ValueError, UnicodeDecodeError) as e:
        raise bad_request(f"the body is not valid JSON ({type(e).__name__})",
                          parameter="body") from e
    if not isinstance(data, expect):
        wanted = " or ".join(_type_name(t) for t in (expect if isinstance(expect, tuple)
                                                      else (expect,)))
        raise bad_request(f"the body must be a JSON {wanted}, not {_json_type(data)}",
                          parameter="body")
    return data


def _type_name(kind: type) -> str:
    return {dict: "object", list: "array", str: "string", bool: "boolean",
            int: "number", float: "number"}.get(kind, kind.__name__)


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    return _type_name(type(value))


def field(data: dict[str, Any], key: str, kind: type | tuple[type, ...], *,
          required: bool = True, default: Any = None) -> Any:
    """``data[key]`` checked against ``kind`` (a missing optional field gives ``default``)."""
    if key not in data or data[key] is None:
        if required:
            raise bad_request(f"the field {key!r} is missing", parameter=key)
        return default
    value = data[key]
    kinds = kind if isinstance(kind, tuple) else (kind,)
    # JSON booleans are not numbers here, though Python thinks they are ints.
    if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
        # (int, float) is one JSON kind: "a number", not "a number or number"
        wanted = " or ".join(dict.fromkeys(_type_name(k) for k in kinds))
        article = "an" if wanted[0] in "aeiou" else "a"
        raise bad_request(f"the field {key!r} must be {article} {wanted}, not "
                          f"{_json_type(value)}", parameter=key)
    return value


def message_text(data: dict[str, Any], key: str, max_chars: int) -> str:
    """A required text field, at most ``max_chars`` characters long (413 otherwise)."""
    text = field(data, key, str)
    if len(text) > max_chars:
        raise ApiError(413, "PayloadTooLarge",
                       f"the field {key!r} has {len(text)} characters; at most {max_chars} "
                       "are accepted")
    return text


def sender_id(value: Any, *, parameter: str = "sender", location: str = "body") -> str:
    """A valid conversation id (400 otherwise)."""
    if value is None:
        return DEFAULT_SENDER_ID
    if not isinstance(value, str):
        # Numbers are common sender ids in chat platforms; accept them as text, as Rasa
        # does (str() of any number it is given)
        if isinstance(value, (int, float)) and not isinstance(value, bool) \
                and math.isfinite(value):
            value = str(value)
        else:
            raise bad_request(f"the {parameter} must be a string, not {_json_type(value)}",
                              parameter=parameter, location=location)
    if not is_sender_id(value):
        raise bad_request(
            f"the {parameter} must be 1 to {MAX_SENDER_ID_CHARS} characters without control "
            "characters and without spaces at either end", parameter=parameter,
            location=location)
    return value


def is_sender_id(value: str) -> bool:
    """Whether ``value`` may be a conversation id.

    As in Rasa, any text: spaces, ``/`` and every script included (stores keep
    such ids apart and the conversation routes take them percent-encoded),
    1 to :data:`MAX_SENDER_ID_CHARS` characters, with two limits. No character
    of :data:`REFUSED_ID_CATEGORIES`, for the logs' sake. No space at either
    end: MySQL does not tell ``"ann "`` from ``"ann"``, so such an id would
    share a conversation there and not in the other stores.
    """
    import unicodedata

    if not 0 < len(value) <= MAX_SENDER_ID_CHARS or value != value.strip():
        return False
    return not any(unicodedata.category(char) in REFUSED_ID_CATEGORIES for char in value)


#: how a query parameter may say yes and no
TRUE_WORDS, FALSE_WORDS = ("true", "1", "yes"), ("false", "0", "no")


def query_flag(request: Request, name: str, default: bool) -> bool:
    """The yes-or-no query parameter ``name`` (``default`` when absent or empty); 400 for
    anything but :data:`TRUE_WORDS` and :data:`FALSE_WORDS`."""
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    if raw.lower() in TRUE_WORDS:
        return True
    if raw.lower() in FALSE_WORDS:
        return False
    raise bad_request(f"{name} must be true or false", parameter=name, location="query")


def metadata(data: dict[str, Any], key: str = "metadata") -> dict[str, Any]:
    """An optional JSON object field (``{}`` when absent)."""
    return dict(field(data, key, dict, required=False, default={}))
