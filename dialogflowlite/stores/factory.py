"""Building the stores an endpoints.yml asks for, as ``dialogflowlite run`` does.

On top of :func:`dialogflowlite.stores.base.create_tracker_store` this adds:

* (``${NAME}`` in any value was replaced by the environment variable when
  the file was read: :mod:`dialogflowlite.io.env`);
* Rasa's ``type: SQL`` with ``dialect: sqlite | postgresql | mysql`` is understood;
* a SQLite ``db`` path is relative to the project folder; an empty one is a
  database in memory, as in Rasa (as ``":memory:"`` is);
* with no ``tracker_store`` section the server keeps conversations in a
  SQLite file in the project (``trackers.db``), so they survive a restart;
* with several workers on a SQLite file and no ``lock_store`` section, the
  lock store is a SQLite one on the same file, so the workers share the locks.

Every key a store does not take is reported with the closest one it does.
"""

from __future__ import annotations

import inspect
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dialogflowlite.errors import ConfigError
from dialogflowlite.stores import base
from dialogflowlite.stores.sqlite import DEFAULT_DB, IN_MEMORY, is_in_memory

if TYPE_CHECKING:
    from dialogflowlite.shared.domain import Domain

logger = logging.getLogger(__name__)

#: ``dialect`` values of Rasa's ``type: SQL`` and the store type each means
SQL_DIALECTS = {"sqlite": "sqlite", "postgresql": "postgres", "postgres": "postgres",
                "mysql": "mysql", "mariadb": "mysql"}


def check_keys(cls: type, params: dict[str, Any], section: str) -> None:
    """Raise a :class:`ConfigError` naming the first key ``cls`` does not accept, or
    the first setting it needs that ``params`` lacks.

    A class whose ``__init__`` takes ``**kwargs`` accepts any key.
    """
    from dialogflowlite.io.formats import did_you_mean

    parameters = inspect.signature(cls.__init__).parameters
    settings = {name: p for name, p in parameters.items()
                if name not in ("self", "domain")
                and p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)}
    takes_any = any(p.kind == p.VAR_KEYWORD for p in parameters.values())
    for key in params:
        if key not in settings and not takes_any:
            raise ConfigError(
                f"endpoints.yml {section}: {cls.__name__} has no setting {key!r}",
                hint=did_you_mean(key, settings)
                or f"its settings are: {', '.join(settings) or 'none'}")
    for name, parameter in settings.items():
        if parameter.default is parameter.empty and name not in params:
            raise ConfigError(f"endpoints.yml {section}: {cls.__name__} needs the setting "
                              f"{name!r}", hint=f"add `{name}: ...` to the {section} section")


def _sql_type(params: dict[str, Any], section: str) -> str:
    dialect = str(params.pop("dialect", "sqlite") or "sqlite").lower()
    # SQLAlchemy-style dialects name a driver after a plus sign: postgresql+psycopg,
    # mysql+pymysql. The store brings its own driver, so the name is only a label.
    kind = SQL_DIALECTS.get(dialect.split("+", 1)[0])
    if kind is None:
        raise ConfigError(f"endpoints.yml {section}: SQL dialect {dialect!r} is not supported",
                          hint="use dialect: sqlite, postgresql or mysql")
    return kind


#: the settings of Rasa's ``type: SQL`` that name a database server: Rasa ignores them
#: for ``dialect: sqlite``, and its sample section (made for PostgreSQL) has them
SQL_SERVER_SETTINGS = ("url", "host", "port", "username", "password", "login_db", "query")


def _without_server_settings(params: dict[str, Any], section: str) -> dict[str, Any]:
    """A ``type: SQL`` section for SQLite without the server settings SQLite has no use
    for; those that are set are named in a warning."""
    given = [key for key in SQL_SERVER_SETTINGS if params.get(key) not in (None, "", {})]
    if given:
        logger.warning("endpoints.yml %s: %s ignored: a SQLite database is a file (db:)",
                       section, ", ".join(given))
    return {key: value for key, value in params.items() if key not in SQL_SERVER_SETTINGS}


def normalise_section(config: dict[str, Any] | None, section: str,
                      project: str | Path | None = None) -> dict[str, Any] | None:
    """The section with Rasa's SQL type resolved and a SQLite path made absolute."""
    if not config:
        return None
    if not isinstance(config, dict):
        raise ConfigError(f"endpoints.yml {section} must be a mapping with a `type:`")
    params = dict(config)
    kind = str(params.get("type") or "")
    if kind.lower() == "sql":
        params["type"] = kind = _sql_type(params, section)
        if kind == "sqlite":
            params = _without_server_settings(params, section)
    if kind.lower() == "sqlite":
        if "db" in params and is_in_memory(params["db"]):
            if params["db"] != IN_MEMORY:
                # Rasa's SQLAlchemy URL for an empty db is sqlite://, a database in
                # memory: as there, but said, as the conversations go with the process
                logger.warning("endpoints.yml %s: db is empty, so the SQLite database is "
                               "kept in memory and lost when the server stops (as in "
                               "Rasa); give db: a file to keep it", section)
            params["db"] = IN_MEMORY
        elif project is not None:
            db = Path(str(params.get("db") or DEFAULT_DB)).expanduser()
            params["db"] = str(db if db.is_absolute() else Path(project) / db)
    return params


class SQLTrackerStore:
    """Rasa's ``type: SQL``: a SQLite, PostgreSQL or MySQL tracker store, chosen by ``dialect``."""

    @classmethod
    def from_endpoint_config(cls, config: dict[str, Any],
                             domain: Domain | None = None) -> base.TrackerStore:
        params = dict(config)
        kind = _sql_type(params, "tracker_store")
        if kind == "sqlite":
            params = _without_server_settings(params, "tracker_store")
        store_class = _tracker_store_classes()[kind]
        return store_class.from_endpoint_config(params, domain=domain)


def _tracker_store_classes() -> dict[str, type]:
    from dialogflowlite.stores.mysql import MySQLTrackerStore
    from dialogflowlite.stores.postgres import PostgresTrackerStore
    from dialogflowlite.stores.redis import RedisTrackerStore
    from dialogflowlite.stores.sqlite import SQLiteTrackerStore

    return {"sqlite": SQLiteTrackerStore, "postgres": PostgresTrackerStore,
            "mysql": MySQLTrackerStore, "redis": RedisTrackerStore}


def create_tracker_store(config: dict[str, Any] | None, *, project: str | Path | None = None,
                         default_sqlite: str | None = None,
                         domain: Domain | None = None) -> base.TrackerStore:
    """The tracker store of an endpoints.yml ``tracker_store`` section.

    With no section: a SQLite file ``default_sqlite`` in ``project`` when given
    (what ``run`` does), else the in-memory store.
    """
    params = normalise_section(config, "tracker_store", project)
    if params is None and default_sqlite:
        params = normalise_section({"type": "sqlite", "db": default_sqlite}, "tracker_store",
                                   project or ".")
    return base.create_tracker_store(params, domain)


def sqlite_file(config: dict[str, Any] | None, *, project: str | Path | None = None,
                default_sqlite: str | None = None) -> Path | None:
    """The SQLite file the tracker store of :func:`create_tracker_store` with the same
    arguments keeps its conversations in; None for another store or one in memory."""
    params = normalise_section(config, "tracker_store", project)
    if params is None and default_sqlite:
        params = normalise_section({"type": "sqlite", "db": default_sqlite}, "tracker_store",
                                   project or ".")
    if params is None or str(params.get("type") or "").lower() != "sqlite":
        return None
    db = params.get("db")
    return None if not db or db == IN_MEMORY else Path(str(db))


def create_lock_store(config: dict[str, Any] | None, *, project: str | Path | None = None,
                      tracker_store: base.TrackerStore | None = None,
                      workers: int = 1) -> base.LockStore:
    """The lock store of an endpoints.yml ``lock_store`` section.

    With no section and several workers, a SQLite tracker store's file also
    holds the locks; any other store needs a shared lock store (a warning says so).
    """
    from dialogflowlite.stores.sqlite import SQLiteLockStore, SQLiteTrackerStore

    params = normalise_section(config, "lock_store", project)
    if workers > 1:
        _refuse_memory_for_workers(tracker_store, params, workers)
    if params is None and workers > 1:
        if isinstance(tracker_store, SQLiteTrackerStore):
            return SQLiteLockStore(db=tracker_store.db_path)
        logger.warning("%d workers share conversations without a shared lock store: two "
                       "messages of one conversation may be processed at the same time; "
                       "configure `lock_store: {type: redis, ...}` in endpoints.yml", workers)
    return base.create_lock_store(params)


def _refuse_memory_for_workers(tracker_store: base.TrackerStore | None,
                               lock_params: dict[str, Any] | None, workers: int) -> None:
    """A ConfigError when an in-memory SQLite database would have to be shared by
    ``workers`` processes: each would hold its own conversations (or locks) unseen
    by the others."""
    from dialogflowlite.stores.memory import MemoryTrackerStore
    from dialogflowlite.stores.sqlite import SQLiteTrackerStore

    lock_type = str((lock_params or {}).get("type") or "").lower()
    if isinstance(tracker_store, MemoryTrackerStore) or (
            lock_params is not None and lock_type in {t.lower() for t in base.MEMORY_TYPES}):
        # each worker held half of every conversation, and answered from its half
        section = "tracker_store" if isinstance(tracker_store, MemoryTrackerStore) \
            else "lock_store"
        raise ConfigError(f"endpoints.yml {section}: type memory keeps it in one process's "
                          f"memory, which {workers} workers cannot share",
                          hint="use a store the workers share (sql with a file, redis, "
                               "postgresql, ...), or run one worker")
    memory_tracker = (isinstance(tracker_store, SQLiteTrackerStore)
                      and is_in_memory(tracker_store.db_path))
    memory_locks = (lock_params is not None
                    and str(lock_params.get("type") or "").lower() == "sqlite"
                    and "db" in lock_params and is_in_memory(lock_params["db"]))
    if memory_tracker or memory_locks:
        section = "tracker_store" if memory_tracker else "lock_store"
        raise ConfigError(f"endpoints.yml {section}: db: \":memory:\" is a database in one "
                          f"process's memory, which {workers} workers cannot share",
                          hint="give `db:` a file (trackers.db), or run one worker")


def checked_settings(cls: type, config: dict[str, Any], section: str) -> dict[str, Any]:
    """``config`` once every key is one ``cls`` takes, with its true/false settings as
    bools and its number settings as numbers.

    A setting whose default is true or false may come as text: from
    ``${ENV_VAR}``, or as YAML 1.2's ``no``/``off``. Python calls any such text
    true, so ``"false"`` would switch the setting on: words are read by their
    meaning. A setting annotated ``int`` or ``float`` (``port``, ``timeout``)
    may come as text too (``port: ${DB_PORT}``) and is read as a number.
    Anything else is a :class:`ConfigError` naming the key.
    """
    from dialogflowlite.io.formats import flag_meaning

    check_keys(cls, config, section)
    parameters = inspect.signature(cls.__init__).parameters
    settings = dict(config)
    for key, value in config.items():
        parameter = parameters.get(key)
        if parameter is None:
            continue
        default = parameter.default
        if isinstance(default, bool) and value is not None and not isinstance(value, bool):
            meaning = flag_meaning(value)
            if meaning is None:
                raise ConfigError(f"endpoints.yml {section}: {key} must be true or false, "
                                  f"not {value!r}", hint=f"write `{key}: true` or "
                                                         f"`{key}: false`")
            settings[key] = meaning
            continue
        number = _number_type(parameter)
        if number is not None:
            settings[key] = _as_number(value, number, key, section,
                                       optional=_allows_none(parameter), example=default)
    return settings


def _annotation_names(parameter: inspect.Parameter) -> set[str]:
    """The type names of an annotation written as text (``int | None`` -> int, None)."""
    annotation = parameter.annotation
    if annotation is parameter.empty:
        return set()
    text = annotation if isinstance(annotation, str) else getattr(annotation, "__name__", "")
    return {part.strip() for part in str(text).split("|")}


def _number_type(parameter: inspect.Parameter) -> type | None:
    """int or float when the parameter takes only that number (and maybe None)."""
    names = _annotation_names(parameter) - {"None"}
    return {"int": int, "float": float}.get(names.pop()) if len(names) == 1 else None


def _allows_none(parameter: inspect.Parameter) -> bool:
    return "None" in _annotation_names(parameter) or parameter.default is None


def _as_number(value: Any, number: type, key: str, section: str, *, optional: bool,
               example: Any) -> Any:
    """``value`` as ``number`` (text is parsed); a ConfigError naming the key otherwise."""
    if value is None and optional:
        return None
    kind = "a whole number" if number is int else "a number"
    if isinstance(value, number if number is int else (int, float)) and not isinstance(
            value, bool):
        return value
    if isinstance(value, str):
        try:
            return number(value.strip())
        except ValueError:
            pass
    hint = f"write {kind} after `{key}:`"
    if isinstance(example, int | float) and not isinstance(example, bool):
        hint += f"; the default is {example}"
    raise ConfigError(f"endpoints.yml {section}: {key} must be {kind}, not {value!r}",
                      hint=hint)


def build_store(cls: type, config: dict[str, Any], section: str, **extra: Any) -> Any:
    """``cls(**extra, **config)`` after checking every setting of ``config``
    (:func:`checked_settings`)."""
    return cls(**extra, **checked_settings(cls, config, section))
