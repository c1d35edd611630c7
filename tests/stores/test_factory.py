"""Building stores from endpoints.yml: types, Rasa's SQL section, paths, defaults."""

from __future__ import annotations

from pathlib import Path

import pytest

from dialogflowlite.errors import ConfigError
from dialogflowlite.stores.factory import create_lock_store, create_tracker_store
from dialogflowlite.stores.memory import MemoryLockStore, MemoryTrackerStore
from dialogflowlite.stores.postgres import PostgresTrackerStore
from dialogflowlite.stores.redis import RedisLockStore
from dialogflowlite.stores.sqlite import SQLiteLockStore, SQLiteTrackerStore


def test_run_default_is_a_sqlite_file_in_the_project(tmp_path: Path, plugin_manager) -> None:
    store = create_tracker_store(None, project=tmp_path, default_sqlite="trackers.db")
    assert isinstance(store, SQLiteTrackerStore)
    assert store.db_path == tmp_path / "trackers.db"
    assert isinstance(create_tracker_store(None), MemoryTrackerStore)


def test_rasa_sql_sections_pick_the_store_by_dialect(tmp_path: Path, plugin_manager) -> None:
    sqlite = create_tracker_store({"type": "SQL", "dialect": "sqlite", "db": "conv.db"},
                                  project=tmp_path)
    assert isinstance(sqlite, SQLiteTrackerStore) and sqlite.db_path == tmp_path / "conv.db"
    postgres = create_tracker_store({"type": "SQL", "dialect": "postgresql", "url": "db.local",
                                     "port": 5433, "db": "bots", "username": "bot",
                                     "password": "pw", "login_db": "postgres"})
    assert isinstance(postgres, PostgresTrackerStore)
    for part in ("host=db.local", "port=5433", "dbname=bots", "user=bot", "password=pw"):
        assert part in postgres.conninfo
    with pytest.raises(ConfigError, match="dialect 'oracle' is not supported") as error:
        create_tracker_store({"type": "SQL", "dialect": "oracle"})
    assert "mysql" in str(error.value.hint)


def test_unknown_settings_name_the_key_and_the_closest_one(plugin_manager) -> None:
    with pytest.raises(ConfigError, match="no setting 'key_prefx'") as error:
        create_tracker_store({"type": "redis", "key_prefx": "x"})
    assert "key_prefix" in str(error.value)
    with pytest.raises(ConfigError, match="no setting 'lifetim'"):
        create_lock_store({"type": "redis", "lifetim": 3})


def test_several_workers_on_sqlite_share_locks_in_the_same_file(tmp_path: Path,
                                                                plugin_manager) -> None:
    store = create_tracker_store(None, project=tmp_path, default_sqlite="trackers.db")
    locks = create_lock_store(None, tracker_store=store, workers=2)
    assert isinstance(locks, SQLiteLockStore) and locks.db_path == store.db_path
    assert isinstance(create_lock_store(None, tracker_store=store, workers=1), MemoryLockStore)
    assert isinstance(create_lock_store({"type": "redis", "url": "localhost"}), RedisLockStore)
    sqlite_locks = create_lock_store({"type": "sqlite", "db": "locks.db"}, project=tmp_path)
    assert isinstance(sqlite_locks, SQLiteLockStore)
    assert sqlite_locks.db_path == tmp_path / "locks.db"


def test_several_workers_without_a_shared_lock_store_are_warned_about(caplog,
                                                                      plugin_manager) -> None:
    store = create_tracker_store({"type": "redis"})
    with caplog.at_level("WARNING"):
        locks = create_lock_store(None, tracker_store=store, workers=3)
    assert isinstance(locks, MemoryLockStore)
    assert "without a shared lock store" in caplog.text


def test_the_builtin_stores_are_plugins(plugin_manager) -> None:
    from dialogflowlite.cli.plugins import describe_plugins

    stores = next(p for p in describe_plugins() if p["name"] == "stores")
    assert {"sqlite", "postgres", "redis", "SQL"} <= set(stores["contributes"]["tracker stores"])
    assert {"sqlite", "redis"} <= set(stores["contributes"]["lock stores"])


def test_true_false_settings_given_as_text_are_read_by_their_meaning(plugin_manager) -> None:
    # `${REDIS_SSL}` gives text, and YAML 1.2 reads `no` as text: Python calls both true
    store = create_tracker_store({"type": "redis", "url": "localhost", "use_ssl": "false"})
    assert store.redis.connection_pool.connection_class.__name__ == "Connection"
    store = create_tracker_store({"type": "redis", "url": "localhost", "use_ssl": "yes"})
    assert store.redis.connection_pool.connection_class.__name__ == "SSLConnection"
    with pytest.raises(ConfigError, match="tracker_store: use_ssl must be true or false, "
                                          "not 'maybe'"):
        create_tracker_store({"type": "redis", "url": "localhost", "use_ssl": "maybe"})


def test_number_settings_given_as_text_are_read_as_numbers(plugin_manager) -> None:
    # `port: ${DB_PORT}` gives text
    postgres = create_tracker_store({"type": "SQL", "dialect": "postgresql", "port": "5433",
                                     "connect_timeout": "2.5"})
    assert "port=5433" in postgres.conninfo and postgres.connect_timeout == 2.5
    redis = create_tracker_store({"type": "redis", "url": "localhost", "port": " 6380 "})
    assert redis.redis.connection_pool.connection_kwargs["port"] == 6380
    # an optional number may be left empty; a float setting takes a whole number
    assert create_tracker_store({"type": "SQL", "dialect": "postgresql", "port": None})
    assert create_lock_store({"type": "redis", "lifetime": 30}).lifetime == 30

    with pytest.raises(ConfigError, match="tracker_store: port must be a whole number, not "
                                          "'notaport'") as error:
        create_tracker_store({"type": "SQL", "dialect": "postgresql", "port": "notaport"})
    assert "the default is 5432" in str(error.value.hint)
    for port in ("63.5", True, None):
        with pytest.raises(ConfigError, match="port must be a whole number"):
            create_tracker_store({"type": "redis", "url": "localhost", "port": port})
    with pytest.raises(ConfigError, match="lock_store: lifetime must be a number, not 'long'"):
        create_lock_store({"type": "redis", "lifetime": "long"})


def test_an_event_broker_reads_its_true_false_settings_the_same_way(plugin_manager) -> None:
    from dialogflowlite.brokers.base import create_event_broker

    broker = create_event_broker({"type": "pika", "url": "localhost", "raise_on_failure": "no",
                                  "should_keep_unpublished_messages": "off"})
    assert (broker.raise_on_failure, broker.keep_unpublished) == (False, False)
    with pytest.raises(ConfigError, match="raise_on_failure must be true or false"):
        create_event_broker({"type": "pika", "url": "localhost", "raise_on_failure": "2"})
