"""Built-in plugin: tracker stores, lock stores and event brokers."""

from __future__ import annotations

from dialogflowlite import hookimpl


@hookimpl
def dfl_register_tracker_stores() -> dict[str, type]:
    from dialogflowlite.stores.dynamo import DynamoTrackerStore
    from dialogflowlite.stores.factory import SQLTrackerStore
    from dialogflowlite.stores.mongo import MongoTrackerStore
    from dialogflowlite.stores.mysql import MySQLTrackerStore
    from dialogflowlite.stores.postgres import PostgresTrackerStore
    from dialogflowlite.stores.redis import RedisTrackerStore
    from dialogflowlite.stores.sqlite import SQLiteTrackerStore

    return {
        "sqlite": SQLiteTrackerStore,
        "postgres": PostgresTrackerStore,
        "postgresql": PostgresTrackerStore,
        "mysql": MySQLTrackerStore,
        "mariadb": MySQLTrackerStore,
        "redis": RedisTrackerStore,
        # Rasa's name, and the plain one
        "mongod": MongoTrackerStore,
        "mongo": MongoTrackerStore,
        # Rasa's name, and the service's
        "dynamo": DynamoTrackerStore,
        "dynamodb": DynamoTrackerStore,
        # Rasa's name: SQLite, PostgreSQL or MySQL by `dialect`
        "SQL": SQLTrackerStore,
    }


@hookimpl
def dfl_register_lock_stores() -> dict[str, type]:
    from dialogflowlite.stores.redis import RedisLockStore
    from dialogflowlite.stores.sqlite import SQLiteLockStore

    return {"sqlite": SQLiteLockStore, "redis": RedisLockStore}


@hookimpl
def dfl_register_event_brokers() -> dict[str, type]:
    from dialogflowlite.brokers.file import FileEventBroker
    from dialogflowlite.brokers.rabbitmq import PikaEventBroker
    from dialogflowlite.brokers.sql import SQLEventBroker

    return {"file": FileEventBroker, "SQL": SQLEventBroker, "pika": PikaEventBroker}
