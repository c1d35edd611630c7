"""The logging of a signing key outage (Bot Framework, Google Chat), with a fake clock."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

from dialogflowlite.server.channels.signing_keys import (
    OUTAGE_REMINDER,
    RETRY_AFTER_FAILURE,
    SigningKeys,
    SigningKeysUnavailable,
)


class Platform:
    """Publishes one key, or fails to while ``down``."""

    def __init__(self) -> None:
        self.down = True

    async def fetch(self) -> tuple[dict[str, Any], float]:
        if self.down:
            raise ValueError("the key document is not JSON")
        return {"kid-1": "key"}, 3600.0


def test_a_long_outage_is_recalled_at_warning_level_at_most_every_reminder_period(
        caplog) -> None:
    # before, nothing above debug level was logged between its start and its end
    platform = Platform()
    now = [1000.0]
    keys = SigningKeys(platform.fetch, platform="Bot Framework", channel="botframework",
                       source="https://keys.example.com", clock=lambda: now[0])

    async def refused_request() -> None:
        with pytest.raises(SigningKeysUnavailable):
            await keys.get("kid-1")

    async def main() -> None:
        # a request every RETRY_AFTER_FAILURE seconds, each one a failed fetch, for
        # two and a half reminder periods
        for _ in range(int(2.5 * OUTAGE_REMINDER / RETRY_AFTER_FAILURE) + 1):
            await refused_request()
            now[0] += RETRY_AFTER_FAILURE
        platform.down = False
        assert await keys.get("kid-1") == "key"

    with caplog.at_level(logging.DEBUG):
        asyncio.run(main())
    above_debug = [(r.levelno, r.getMessage()) for r in caplog.records
                   if r.levelno > logging.DEBUG]
    assert [level for level, _ in above_debug] == [logging.ERROR, logging.WARNING,
                                                  logging.WARNING, logging.WARNING]
    first, second = above_debug[1][1], above_debug[2][1]
    requests_per_period = int(OUTAGE_REMINDER / RETRY_AFTER_FAILURE)
    assert "still cannot be fetched" in first
    assert f"for {OUTAGE_REMINDER:.0f} s now" in first
    assert f"{requests_per_period} request(s)" in first
    assert f"for {2 * OUTAGE_REMINDER:.0f} s now" in second
    assert f"{2 * requests_per_period} request(s)" in second
    assert "fetched again" in above_debug[3][1]


def test_a_short_outage_logs_only_its_start_and_its_end(caplog) -> None:
    platform = Platform()
    now = [1000.0]
    keys = SigningKeys(platform.fetch, platform="Google Chat", channel="hangouts",
                       source="https://keys.example.com", clock=lambda: now[0])

    async def main() -> None:
        for _ in range(3):
            with pytest.raises(SigningKeysUnavailable):
                await keys.get("kid-1")
            now[0] += RETRY_AFTER_FAILURE
        platform.down = False
        await keys.get("kid-1")
        # a second outage starts its own count: its first reminder is a period away
        platform.down = True
        now[0] += 24 * 3600.0 + 1
        for _ in range(3):
            with pytest.raises(SigningKeysUnavailable):
                await keys.get("kid-2")
            now[0] += RETRY_AFTER_FAILURE

    with caplog.at_level(logging.DEBUG):
        asyncio.run(main())
    levels = [r.levelno for r in caplog.records if r.levelno > logging.DEBUG]
    assert levels == [logging.ERROR, logging.WARNING, logging.ERROR]
