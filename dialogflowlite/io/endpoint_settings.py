"""How the bot reaches an HTTP service: Rasa's endpoint settings, read one way.

An endpoints.yml section for an action server or an NLG server, and the
callback channel's section of credentials.yml, describe a URL the bot calls.
Rasa reads them all as the same endpoint settings::

    url: "https://actions.example.com/webhook"
    headers: {X-Api-Key: ${API_KEY}}      # sent with every request
    params: {region: eu}                  # query parameters of every request
    token: ${TOKEN}                       # one more query parameter ...
    token_name: token                     # ... under this name (default: token)
    basic_auth: {username: bot, password: ${PASSWORD}}
    cafile: /etc/ssl/our-ca.pem           # the CA that signed the URL's certificate

:func:`read_access` checks them when the bot starts (a wrong ``cafile`` or a
``basic_auth`` without a password stops it then, not at every call) and gives
an :class:`EndpointAccess` whose :meth:`~EndpointAccess.request_options` go
into each aiohttp request. :func:`read_settings_file` reads a whole
endpoints.yml or credentials.yml.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import ssl

    from dialogflowlite.errors import ConfigError

#: the keys of Rasa's endpoint settings that say how to reach and authenticate to the URL
ACCESS_KEYS: tuple[str, ...] = ("headers", "params", "token", "token_name", "basic_auth",
                                "cafile")

#: makes the error about one setting of the section: (problem, hint) -> ConfigError
ErrorFactory = Callable[[str, "str | None"], "ConfigError"]


@dataclass(frozen=True)
class EndpointAccess:
    """What goes with every request to an endpoint: headers, query parameters, the
    basic-auth user and the certificates trusted."""

    headers: dict[str, str] = field(default_factory=dict)
    #: ``params``, and ``token`` under ``token_name``
    params: dict[str, str] = field(default_factory=dict)
    basic_auth: tuple[str, str] | None = None
    #: trusting ``cafile``; None: the system's certificates
    ssl_context: ssl.SSLContext | None = None

    def request_options(self) -> dict[str, Any]:
        """Keyword arguments of an aiohttp request (``session.post(url, **options)``)."""
        import aiohttp

        return {
            "headers": self.headers or None,
            "params": self.params or None,
            "auth": aiohttp.BasicAuth(*self.basic_auth) if self.basic_auth else None,
            "ssl": self.ssl_context if self.ssl_context is not None else True,
        }


def read_access(section: Mapping[str, Any], error: ErrorFactory) -> EndpointAccess:
    """The :data:`ACCESS_KEYS` of ``section``, checked; ``error`` makes the error naming
    a bad one."""
    params = text_mapping(section, "params", error)
    if section.get("token") is not None:
        params[str(section.get("token_name") or "token")] = str(section["token"])
    return EndpointAccess(text_mapping(section, "headers", error), params,
                          basic_auth(section, error), ssl_context(section.get("cafile"), error))


def text_mapping(section: Mapping[str, Any], key: str, error: ErrorFactory) -> dict[str, str]:
    """The setting ``key`` (``headers``, ``params``) as text names and values; empty
    when unset. A value of null is left out (an unset ``${VARIABLE}``)."""
    given = section.get(key)
    if given is None:
        return {}
    if not isinstance(given, Mapping):
        raise error(f"`{key}` must be a mapping of names to values",
                    f"write `{key}:` then indented `name: value` lines")
    return {str(name): str(value) for name, value in given.items() if value is not None}


def basic_auth(section: Mapping[str, Any], error: ErrorFactory) -> tuple[str, str] | None:
    """``basic_auth``'s user name and password, or None when it is not set."""
    given = section.get("basic_auth")
    if given is None:
        return None
    if not isinstance(given, Mapping) or not given.get("username") \
            or given.get("password") is None:
        raise error("`basic_auth` needs a `username` and a `password`",
                    "write `basic_auth:` then `  username: ...` and `  password: ...`")
    return str(given["username"]), str(given["password"])


def ssl_context(cafile: Any, error: ErrorFactory) -> ssl.SSLContext | None:
    """A TLS context that trusts ``cafile``, or None when it is not set; built at start,
    so a missing or unreadable file stops the bot instead of failing every call."""
    if cafile is None:
        return None
    import ssl

    hint = "give the path of the PEM file of the CA that signed the URL's certificate"
    try:
        return ssl.create_default_context(cafile=str(cafile))
    except FileNotFoundError:
        raise error(f"`cafile` {cafile!r} is not a file", hint) from None
    except (ssl.SSLError, OSError) as e:
        raise error(f"`cafile` {cafile!r} holds no usable certificate ({e})", hint) from None


def read_settings_file(path: Path) -> dict[str, Any]:
    """An endpoints or credentials file: a mapping of section names to their settings.

    ``${VARIABLE}`` references are replaced from the environment, as Rasa does;
    an empty file is an empty mapping. A file of another shape (a list, a bare
    value) is a :class:`~dialogflowlite.errors.ConfigError` at its file:line.
    """
    from dialogflowlite.errors import ConfigError, Position
    from dialogflowlite.io.env import substitute_env
    from dialogflowlite.io.yaml import position, read_yaml_file, to_plain

    raw = read_yaml_file(path)
    if raw is not None and not isinstance(raw, Mapping):
        # said before `${...}` is looked at: in a file of the wrong shape that is no help
        where = position(path, raw)
        if where.line is None:  # a bare value: ruamel keeps no line for it
            where = Position(str(path), _first_content_line(path))
        found = "a list" if isinstance(raw, list) else f"the value {str(raw)[:40]!r}"
        raise ConfigError(f"expected a mapping of section names to their settings, found "
                          f"{found}", position=where,
                          hint="write each section as `name:` at the start of a line, its "
                               "settings indented below it")
    data = to_plain(substitute_env(raw, path))
    return data or {}


def _first_content_line(path: Path) -> int | None:
    """The number of the first line of ``path`` that is neither blank nor a comment."""
    lines = path.read_text(encoding="utf-8").splitlines()
    for number, line in enumerate(lines, start=1):
        if line.strip() and not line.lstrip().startswith(("#", "---")):
            return number
    return None
