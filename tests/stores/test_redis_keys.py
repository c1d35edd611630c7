"""How the Redis tracker store names its keys and reads Rasa's trackers (no server needed)."""

from __future__ import annotations

import json
import logging

import pytest

from dialogflowlite.errors import ConfigError
from dialogflowlite.stores.redis import (
    DEFAULT_KEY_PREFIX,
    RedisTrackerStore,
    _glob_escaped,
    rasa_tracker_events,
    tracker_key_prefix,
)
from dialogflowlite.stores.stored_events import UndecodableEvent

pytest.importorskip("redis")


@pytest.mark.parametrize(("given", "prefix"), [
    # Rasa: a prefix of letters and digits is a name space before its `tracker:`
    ("myapp", "myapp:tracker:"),
    ("myapp123", "myapp123:tracker:"),
    (42, "42:tracker:"),  # YAML reads `key_prefix: 42` as a number
    # any other prefix is taken as it is (Rasa would ignore it)
    ("dfl:tracker:", "dfl:tracker:"),
    ("tracker:", "tracker:"),
    ("my-app", "my-app"),
    (None, DEFAULT_KEY_PREFIX),
    ("", DEFAULT_KEY_PREFIX),
])
def test_key_prefix_as_rasa_builds_it(given: object, prefix: str) -> None:
    assert tracker_key_prefix(given) == prefix


@pytest.mark.parametrize("given", [True, ["myapp"], {"name": "myapp"}])
def test_a_key_prefix_that_is_not_text_is_a_config_error(given: object) -> None:
    with pytest.raises(ConfigError, match="key_prefix"):
        tracker_key_prefix(given)


def test_the_keys_of_a_rasa_deployment() -> None:
    store = RedisTrackerStore(url="localhost", key_prefix="myapp")
    assert store._key("alice") == "myapp:tracker:alice"
    assert store._senders == "myapp:tracker::senders"
    # the default keys stay where they were
    default = RedisTrackerStore(url="localhost")
    assert default._key("alice") == "dfl:tracker:alice"
    assert default._senders == "dfl:tracker::senders"


def test_endpoints_yml_key_prefix_reaches_the_keys() -> None:
    from dialogflowlite.stores.factory import create_tracker_store

    store = create_tracker_store({"type": "redis", "url": "localhost", "key_prefix": "myapp"})
    assert isinstance(store, RedisTrackerStore)
    assert store._key("+15550100") == "myapp:tracker:+15550100"


def test_the_prefix_is_matched_literally_when_scanning() -> None:
    assert _glob_escaped("a*b?c[d]\\e:") == "a\\*b\\?c\\[d\\]\\\\e:"


def test_rasa_tracker_text_gives_its_events() -> None:
    events = [{"event": "action", "name": "action_listen", "timestamp": 1700000000.123456},
              {"event": "user", "text": "hi", "timestamp": 1700000001.5}]
    text = json.dumps({"events": events, "name": "alice"})
    assert rasa_tracker_events(text) == events


@pytest.mark.parametrize("text", ["not json", '["a list"]', '{"events": "none"}'])
def test_a_string_that_is_no_rasa_tracker_is_one_undecodable_event(text: str,
                                                                   caplog) -> None:
    read = rasa_tracker_events(text)
    assert len(read) == 1 and isinstance(read[0], UndecodableEvent)
    assert read[0].text == text
    store = RedisTrackerStore(url="localhost")
    with caplog.at_level(logging.WARNING):
        tracker = store.tracker_from_events("alice", read)
    assert list(tracker.events) == []
    assert "alice" in caplog.text


@pytest.mark.parametrize(("given", "prefix"), [
    # Rasa's RedisLockStore: letters and digits are a name space before its `lock:`
    ("myapp", "myapp:lock:"),
    (7, "7:lock:"),
    # any other prefix as it is (Rasa would use `lock:`), as the tracker store's
    ("dfl:lock:", "dfl:lock:"),
    ("my-app:", "my-app:"),
    (None, "dfl:lock:"),
    ("", "dfl:lock:"),
])
def test_lock_key_prefix_as_rasa_builds_it(given: object, prefix: str) -> None:
    from dialogflowlite.stores.redis import lock_key_prefix

    assert lock_key_prefix(given) == prefix


def test_the_lock_keys_follow_the_key_prefix_of_endpoints_yml() -> None:
    from dialogflowlite.stores.factory import create_lock_store
    from dialogflowlite.stores.redis import RedisLockStore

    locks = create_lock_store({"type": "redis", "url": "localhost", "key_prefix": "myapp"})
    assert isinstance(locks, RedisLockStore)
    # one key_prefix keeps a bot's conversations and its locks in one name space
    assert locks._keys("alice") == ("myapp:lock:alice:next", "myapp:lock:alice:serving",
                                    "myapp:lock:alice:alive:")
    assert RedisLockStore(url="localhost")._keys("bob")[0] == "dfl:lock:bob:next"
    with pytest.raises(ConfigError, match="lock_store: key_prefix must be text"):
        create_lock_store({"type": "redis", "url": "localhost", "key_prefix": ["myapp"]})
