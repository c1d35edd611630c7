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


def test_rasas_redis_user_and_tls_settings_are_taken(plugin_manager, tmp_path: Path) -> None:
    # Rasa's keys for a Redis 6 ACL user and TLS client certificates: they were refused
    # ("has no setting 'username'"), so such an endpoints.yml did not start
    ca = tmp_path / "ca.pem"
    tls = {"username": "bot", "password": "pw", "use_ssl": True, "ssl_ca_certs": str(ca),
           "ssl_certfile": "client.pem", "ssl_keyfile": "client.key"}
    store = create_tracker_store({"type": "redis", "url": "cache.internal", **tls})
    locks = create_lock_store({"type": "redis", "url": "cache.internal", **tls})
    for client in (store.redis, locks.redis):
        settings = client.connection_pool.connection_kwargs
        assert (settings["username"], settings["password"]) == ("bot", "pw")
        assert settings["ssl_ca_certs"] == str(ca) and settings["ssl_keyfile"] == "client.key"
        assert client.connection_pool.connection_class.__name__ == "SSLConnection"
    by_url = create_tracker_store({"type": "redis", "url": "rediss://cache.internal:6380",
                                   "username": "bot", "ssl_ca_certs": str(ca)})
    assert by_url.redis.connection_pool.connection_kwargs["ssl_ca_certs"] == str(ca)
    with pytest.raises(ConfigError, match="lock_store: ssl_ca_certs need TLS") as error:
        create_lock_store({"type": "redis", "url": "cache.internal", "ssl_ca_certs": str(ca)})
    assert "use_ssl: true" in str(error.value.hint)


@pytest.mark.redis
def test_a_redis_acl_user_reads_and_writes(redis_url: str) -> None:
    import asyncio

    import redis

    from dialogflowlite.shared.tracker import DialogueStateTracker

    admin = redis.Redis.from_url(redis_url)
    admin.acl_setuser("dfltest-user", enabled=True, passwords=["+secret"],
                      keys=["dfltest-*"], commands=["+@all"])

    async def main() -> None:
        store = create_tracker_store({"type": "redis", "url": redis_url, "username":
                                      "dfltest-user", "password": "secret",
                                      "key_prefix": "dfltest-acl:"})
        await store.save(DialogueStateTracker("ann"))
        assert await store.keys() == ["ann"]
        await store.close()

    try:
        asyncio.run(main())
    finally:
        admin.acl_deluser("dfltest-user")
        admin.close()


def test_settings_without_a_type_are_an_error_not_the_memory_store(plugin_manager, caplog,
                                                                   tmp_path: Path) -> None:
    # they were dropped: conversations went to memory and were lost at the next restart
    with pytest.raises(ConfigError, match=r"tracker_store has settings \(url, port\) but no "
                                          "`type:`") as error:
        create_tracker_store({"url": "cache.internal", "port": 6379}, project=tmp_path,
                             default_sqlite="trackers.db")
    assert "redis" in str(error.value.hint) and "sqlite" in str(error.value.hint)
    with pytest.raises(ConfigError, match=r"lock_store has settings \(url\) but no `type:`"):
        create_lock_store({"url": "cache.internal"})
    # `type: ${STORE_TYPE}` set to memory leaves the other store's settings: said, not refused
    with caplog.at_level("WARNING"):
        assert isinstance(create_lock_store({"type": "in_memory", "url": "cache.internal"}),
                          MemoryLockStore)
    assert "lock_store: the in-memory store takes no settings; url ignored" in caplog.text
    # a section with nothing set, or set to nothing, is no section
    assert isinstance(create_tracker_store({"type": None}), MemoryTrackerStore)
    assert isinstance(create_lock_store({"type": "in_memory"}), MemoryLockStore)


def test_a_custom_class_path_is_answered_with_where_custom_classes_go(plugin_manager) -> None:
    from dialogflowlite.brokers.base import create_event_broker

    for create, hook in ((create_tracker_store, "dfl_register_tracker_stores"),
                         (create_lock_store, "dfl_register_lock_stores"),
                         (create_event_broker, "dfl_register_event_brokers")):
        with pytest.raises(ConfigError, match=r"type 'addons\.custom\.MyClass'") as error:
            create({"type": "addons.custom.MyClass"})
        assert f"registered by a plugin here ({hook}" in str(error.value.hint)
    with pytest.raises(ConfigError) as error:
        create_tracker_store({"type": "mongodb"})
    assert "plugin" not in str(error.value.hint)


def test_lock_and_expiry_times_must_be_above_zero(plugin_manager, tmp_path: Path) -> None:
    # lifetime 0 was a TrackerStoreError without the section; poll_interval 0 polled the
    # backend in a tight loop; record_exp -1 (or 0.5) made Redis delete each conversation
    # at its next write
    for key, value in (("lifetime", 0), ("lifetime", -5), ("poll_interval", 0)):
        with pytest.raises(ConfigError, match=f"lock_store: {key} must be more than 0 "
                                              f"seconds, not {value}"):
            create_lock_store({"type": "sqlite", "db": "locks.db", key: value},
                              project=tmp_path)
    with pytest.raises(ConfigError, match="tracker_store: record_exp must be a number of "
                                          "seconds above 0, not -1"):
        create_tracker_store({"type": "redis", "record_exp": -1})
    assert create_tracker_store({"type": "redis", "record_exp": 0.5}).record_exp == 1
    assert create_tracker_store({"type": "redis", "record_exp": 0}).record_exp is None


def test_rasas_sample_sql_section_works_for_sqlite(plugin_manager, tmp_path: Path,
                                                   caplog) -> None:
    # Rasa's documented SQL section, switched to SQLite: Rasa ignores the server settings,
    # here they were "SQLiteTrackerStore has no setting 'url'"
    section = {"type": "SQL", "dialect": "sqlite", "url": "", "db": "rasa.db",
               "username": None, "password": None, "query": None}
    with caplog.at_level("WARNING"):
        store = create_tracker_store(section, project=tmp_path)
    assert isinstance(store, SQLiteTrackerStore) and store.db_path == tmp_path / "rasa.db"
    assert "ignored" not in caplog.text  # nothing was set
    with caplog.at_level("WARNING"):
        create_tracker_store({**section, "url": "localhost", "port": 5432}, project=tmp_path)
    assert "tracker_store: url, port ignored: a SQLite database is a file" in caplog.text
    # `type: sqlite` (this project's own spelling) stays strict
    with pytest.raises(ConfigError, match="no setting 'url'"):
        create_tracker_store({"type": "sqlite", "url": "localhost"}, project=tmp_path)


def test_server_addresses_a_driver_cannot_read_are_config_errors(plugin_manager) -> None:
    # they were the drivers' own ValueError or ProgrammingError: a traceback at start
    from dialogflowlite.brokers.base import create_event_broker

    with pytest.raises(ConfigError, match="tracker_store: the Redis url 'http://cache:6379'"):
        create_tracker_store({"type": "redis", "url": "http://cache:6379"})
    with pytest.raises(ConfigError, match="lock_store: the Redis url 'redis://cache:x'"):
        create_lock_store({"type": "redis", "url": "redis://cache:x"})
    with pytest.raises(ConfigError, match="tracker_store: the PostgreSQL settings are not "
                                          "usable: invalid connection option \"sslmod\""):
        create_tracker_store({"type": "SQL", "dialect": "postgresql", "url": "db.internal",
                              "query": {"sslmod": "require"}})
    with pytest.raises(ConfigError, match="event_broker: the PostgreSQL settings"):
        create_event_broker({"type": "SQL", "dialect": "postgresql", "url": "db.internal",
                             "query": {"sslmod": "require"}})
    postgres = create_tracker_store({"type": "SQL", "dialect": "postgresql",
                                     "url": "db.internal", "query": {"sslmode": "require"}})
    assert "sslmode=require" in postgres.conninfo
