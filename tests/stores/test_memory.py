"""The in-memory tracker and lock stores, and the append-only contract of TrackerStore."""

from __future__ import annotations

import asyncio

import pytest
from test_backends import _conversation, _domain

from dialogflowlite.errors import ConfigError, TrackerStoreError
from dialogflowlite.shared.events import (
    Restarted,
    SlotSet,
    UserUttered,
)
from dialogflowlite.shared.tracker import DialogueStateTracker
from dialogflowlite.stores.base import TrackerStore, create_lock_store, create_tracker_store
from dialogflowlite.stores.memory import MemoryLockStore, MemoryTrackerStore


def test_round_trip_rebuilds_an_identical_tracker() -> None:
    domain = _domain()
    store = MemoryTrackerStore(domain)
    tracker = _conversation()

    asyncio.run(store.save(tracker))
    loaded = asyncio.run(store.retrieve("alice"))

    assert loaded is not None and loaded is not tracker
    assert loaded.current_state() == tracker.current_state()
    assert loaded.slots == {"city": "Köln", "count": 1.0}
    assert loaded.active_loop_name == "form"


def test_unknown_sender_is_none_and_keys_list_conversations() -> None:
    store = MemoryTrackerStore(_domain())
    assert asyncio.run(store.retrieve("nobody")) is None
    asyncio.run(store.save(DialogueStateTracker("bob")))
    assert asyncio.run(store.keys()) == ["bob"]
    assert asyncio.run(store.retrieve("bob")).events == []


def test_save_appends_only_the_events_not_stored_yet() -> None:
    domain = _domain()

    class CountingStore(MemoryTrackerStore):
        def __init__(self) -> None:
            super().__init__(domain)
            self.appended: list[list[dict]] = []

        async def append_events(self, sender_id, events):
            self.appended.append(events)
            await super().append_events(sender_id, events)

    store = CountingStore()
    tracker = _conversation()
    asyncio.run(store.save(tracker))
    tracker.update(Restarted())
    asyncio.run(store.save(tracker))
    asyncio.run(store.save(tracker))  # nothing new: nothing appended

    assert [len(batch) for batch in store.appended] == [7, 1]
    assert store.appended[1][0]["event"] == "restart"
    assert len(asyncio.run(store.retrieve("alice")).events) == 8


def test_save_with_ready_made_json_stores_it_as_given() -> None:
    store = MemoryTrackerStore(_domain())
    tracker = DialogueStateTracker("carol")
    tracker.update(UserUttered(text="my mail is a@b.c"))
    masked = [dict(tracker.events[0].as_dict(), text="my mail is [EMAIL]")]

    asyncio.run(store.save(tracker, masked))

    assert asyncio.run(store.retrieve("carol")).latest_message.text == "my mail is [EMAIL]"


def test_a_retrieved_tracker_shares_nothing_with_the_store() -> None:
    store = MemoryTrackerStore(_domain())
    asyncio.run(store.save(_conversation()))
    first = asyncio.run(store.retrieve("alice"))
    first.events[1].parse_data["intent"]["name"] = "changed"
    assert asyncio.run(store.retrieve("alice")).latest_intent == "inform"


def test_replace_and_delete() -> None:
    store = MemoryTrackerStore(_domain())
    asyncio.run(store.save(_conversation()))
    shorter = DialogueStateTracker("alice", events=[SlotSet(name="city", value="Rome")])
    asyncio.run(store.replace(shorter))
    assert asyncio.run(store.retrieve("alice")).slots["city"] == "Rome"
    assert len(asyncio.run(store.retrieve("alice")).events) == 1
    asyncio.run(store.delete("alice"))
    assert asyncio.run(store.retrieve("alice")) is None


def test_saving_a_tracker_shorter_than_the_stored_one_is_an_error() -> None:
    store = MemoryTrackerStore(_domain())
    asyncio.run(store.save(_conversation()))
    with pytest.raises(TrackerStoreError, match="use replace"):
        asyncio.run(store.save(DialogueStateTracker("alice")))


def test_events_that_are_not_json_are_refused() -> None:
    store = MemoryTrackerStore()
    tracker = DialogueStateTracker("dave", events=[SlotSet(name="x", value={1, 2})])
    with pytest.raises(TrackerStoreError, match="not JSON"):
        asyncio.run(store.save(tracker))


@pytest.mark.parametrize("fast", [True, False], ids=["ujson", "json"])
def test_stored_event_text_reads_back_as_the_same_event(
    fast: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    import json

    from dialogflowlite.stores import base

    if not fast:
        monkeypatch.setattr(base, "_ujson", None)
    event = {"event": "user", "timestamp": 1795993778.6041815, "text": "où/é <b>",
             "parse_data": {"intent": {"name": "greet", "confidence": 0.998661994934082},
                            "ranking": [8.553305815439671e-05, 1e-300, 0.1 + 0.2],
                            "text_tokens": [(0, 2), (3, 8)], "ok": True, "none": None}}
    text = base.dump_event(event)
    assert "\n" not in text and ": " not in text and "où/é" in text  # compact, readable
    expected = dict(event, parse_data=dict(event["parse_data"], text_tokens=[[0, 2], [3, 8]]))
    assert json.loads(text) == expected
    with pytest.raises(TrackerStoreError, match=r"'bob'.*not JSON"):
        base.dump_events("bob", [event, {"value": {1, 2}}])


def test_lock_serialises_one_sender_in_arrival_order() -> None:
    locks = MemoryLockStore()
    order: list[str] = []

    async def handle(name: str, sender: str, delay: float) -> None:
        async with locks.lock(sender):
            order.append(f"start {name}")
            await asyncio.sleep(delay)
            order.append(f"end {name}")

    async def main() -> None:
        await asyncio.gather(handle("a1", "a", 0.05), handle("a2", "a", 0.0),
                             handle("b1", "b", 0.01))

    asyncio.run(main())
    assert order.index("end a1") < order.index("start a2")
    assert order.index("start b1") < order.index("end a1")  # other senders do not wait
    assert not locks._locks  # nothing left behind


def test_lock_wait_timeout_is_a_clear_error() -> None:
    locks = MemoryLockStore()

    async def main() -> None:
        async with locks.lock("a"):
            with pytest.raises(TrackerStoreError, match="stayed locked"):
                async with locks.lock("a", wait_timeout=0.01):
                    pass
            assert locks.is_locked("a")

    asyncio.run(main())
    assert not locks._locks


def test_factories_build_memory_stores_and_reject_unknown_types(plugin_manager) -> None:
    assert isinstance(create_tracker_store(None), MemoryTrackerStore)
    assert isinstance(create_tracker_store({"type": "in_memory"}), MemoryTrackerStore)
    assert isinstance(create_lock_store({"type": "memory"}), MemoryLockStore)
    with pytest.raises(ConfigError, match="unknown tracker store type 'cassandra'"):
        create_tracker_store({"type": "cassandra"})
    with pytest.raises(ConfigError, match="unknown lock store type"):
        create_lock_store({"type": "zookeeper"})


def test_stores_registered_by_plugins_are_built_from_their_config(register_plugin) -> None:
    from dialogflowlite import hookimpl

    class ListStore(MemoryTrackerStore):
        def __init__(self, domain=None, prefix: str = "") -> None:
            super().__init__(domain)
            self.prefix = prefix

    class Plugin:
        @hookimpl
        def dfl_register_tracker_stores(self):
            return {"list": ListStore}

    register_plugin(Plugin(), "list-store")
    store = create_tracker_store({"type": "list", "prefix": "x"}, domain=_domain())
    assert isinstance(store, ListStore) and store.prefix == "x" and store.domain is not None
    with pytest.raises(ConfigError, match="ListStore has no setting 'colour'") as error:
        create_tracker_store({"type": "list", "colour": "red"})
    assert error.value.hint == "its settings are: prefix"
    assert issubclass(ListStore, TrackerStore)


def test_a_plugin_store_s_settings_are_checked_like_the_built_in_ones(register_plugin) -> None:
    from dialogflowlite import hookimpl

    class NeedsUrl(MemoryTrackerStore):
        def __init__(self, domain=None, *, url: str, use_ssl: bool = False) -> None:
            super().__init__(domain)
            self.url, self.use_ssl = url, use_ssl

    class TakesAnything(MemoryLockStore):
        def __init__(self, **options) -> None:
            super().__init__()
            self.options = options

    class Plugin:
        @hookimpl
        def dfl_register_tracker_stores(self):
            return {"needs_url": NeedsUrl}

        @hookimpl
        def dfl_register_lock_stores(self):
            return {"anything": TakesAnything}

    register_plugin(Plugin(), "checked-stores")
    with pytest.raises(ConfigError, match="NeedsUrl needs the setting 'url'") as error:
        create_tracker_store({"type": "needs_url"})
    assert error.value.hint == "add `url: ...` to the tracker_store section"
    with pytest.raises(ConfigError, match="has no setting 'ulr'") as error:
        create_tracker_store({"type": "needs_url", "ulr": "x"})
    assert error.value.hint == "did you mean 'url'?"
    # a flag given as text (from ${ENV_VAR}) is read by its meaning
    store = create_tracker_store({"type": "needs_url", "url": "x", "use_ssl": "false"})
    assert (store.url, store.use_ssl) == ("x", False)
    # **options takes any key
    lock = create_lock_store({"type": "anything", "colour": "red"})
    assert lock.options == {"colour": "red"}
