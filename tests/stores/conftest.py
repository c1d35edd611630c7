"""Store backends to test against: SQLite always; PostgreSQL, MySQL and Redis when .ci/run
started them."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator

import pytest
from ci_services import service_url


def _mysql_url() -> str:
    """The test MySQL/MariaDB server's URL (a user that may create databases), or a skip."""
    url = service_url("DFL_TEST_MYSQL_URL", "MySQL/MariaDB")
    pytest.importorskip("aiomysql")
    return url


def _mysql_admin(url: str):
    """A blocking pymysql connection to the server of ``url`` (no database chosen)."""
    import pymysql

    from dialogflowlite.stores.mysql import connect_settings

    settings = connect_settings(url)
    settings.pop("db", None)
    return pymysql.connect(**settings, autocommit=True)


@pytest.fixture
def postgres_db() -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test; its URL."""
    import psycopg

    url = service_url("DFL_TEST_POSTGRES_URL", "PostgreSQL")
    name = f"dfl_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    base, _, query = url.partition("?")
    try:
        yield base.rsplit("/", 1)[0] + f"/{name}" + (f"?{query}" if query else "")
    finally:
        with psycopg.connect(url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def mysql_db() -> Iterator[str]:
    """A fresh, empty MySQL/MariaDB database for one test; its URL."""
    url = _mysql_url()
    name = f"dfl_test_{uuid.uuid4().hex[:12]}"
    with _mysql_admin(url) as admin, admin.cursor() as cursor:
        cursor.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
    base, _, query = url.partition("?")
    try:
        yield base.rsplit("/", 1)[0] + f"/{name}" + (f"?{query}" if query else "")
    finally:
        with _mysql_admin(url) as admin, admin.cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS `{name}`")


@pytest.fixture
def redis_url() -> Iterator[str]:
    """The test Redis server's URL; keys of the test's prefix are removed afterwards."""
    import redis

    url = service_url("DFL_TEST_REDIS_URL", "Redis")
    yield url
    client = redis.Redis.from_url(url)
    try:
        for key in client.scan_iter("dfltest-*"):
            client.delete(key)
    finally:
        client.close()


def run(coroutine):
    return asyncio.run(coroutine)
