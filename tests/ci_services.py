"""The servers that .ci/run starts for the tests (PostgreSQL, MySQL, Redis, RabbitMQ)."""

from __future__ import annotations

import os

import pytest


def service_url(variable: str, server: str) -> str:
    """The URL of a test server, from the environment variable ``variable``; without it,
    the test is skipped with a reason naming the ``server`` that is missing."""
    url = os.environ.get(variable)
    if not url:
        pytest.skip(f"{variable} is not set: no {server} server to test against "
                    "(.ci/run starts one)")
    return url
