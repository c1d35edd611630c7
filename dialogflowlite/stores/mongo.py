"""MongoDB tracker store (``pip install 'dialogflowlite[mongo]'``), Rasa's ``type: mongod``.

Each conversation is one document of the collection (default
``conversations``), as Rasa keeps it: ``sender_id`` and the list of its
``events`` in Rasa's JSON. So a collection that Rasa filled is read as it is,
and Rasa reads what this store writes. Appending is one ``$push`` of the new
events, atomic on the server, so concurrent writers never lose events. Each
write also increments a counter field, ``dfl_version``, which lets a store
skip reading a conversation nothing else wrote to since it last read it
(:meth:`~dialogflowlite.stores.base.TrackerStore.stored_version`). Rasa does
not increment it: while Rasa and this framework write to one collection at
the same time, set ``recent_conversations`` to 0 on the class (no cache).

Unlike Rasa, the document holds nothing but the events and the counter:
Rasa also copies the tracker's latest state (slots, latest message) into
it, for nothing that reads the store here.

endpoints.yml (Rasa's keys)::

    tracker_store:
      type: mongod
      url: mongodb://localhost:27017
      db: rasa
      username: ${MONGO_USER}       # optional
      password: ${MONGO_PASSWORD}   # optional
      auth_source: admin
      collection: conversations
"""

from __future__ import annotations

import json
import logging
from collections.abc import Hashable
from typing import TYPE_CHECKING, Any

from dialogflowlite.errors import ConfigError, TrackerStoreError
from dialogflowlite.stores.base import StoredVersion, TrackerStore, dump_events, lasting

if TYPE_CHECKING:
    from dialogflowlite.shared.domain import Domain

logger = logging.getLogger(__name__)

#: the counter field each write increments
VERSION_FIELD = "dfl_version"


def _async_client_class() -> Any:
    try:
        from pymongo import AsyncMongoClient
    except ImportError as e:  # pragma: no cover - depends on the installation
        raise ConfigError("the MongoDB tracker store needs the `pymongo` package (4.13 or "
                          "later)", hint="pip install 'dialogflowlite[mongo]'") from e
    return AsyncMongoClient


def _failed(what: str, error: Exception) -> TrackerStoreError:
    if isinstance(error, TrackerStoreError):
        return error  # made by _collection() already: wrapping it would say it twice
    return TrackerStoreError(f"MongoDB {what} failed: {type(error).__name__}: {_brief(error)}",
                             hint="check that the MongoDB server in endpoints.yml is reachable "
                                  "and the user may read and write the collection")


def _brief(error: Exception) -> str:
    """pymongo's message without what follows the reason: the timeouts it was configured
    with and, for a server it could not select, a description of the whole topology
    (hundreds of characters, logged at every message while the server is down)."""
    text = str(error)
    for tail in (", Topology Description: ", " (configured timeouts:"):
        text = text.split(tail, 1)[0]
    return text


#: MongoDB's limit on one document (``maxBsonObjectSize``), for the message
MAX_DOCUMENT_MB = 16

#: the server's codes for an update whose document would pass that limit
#: (BSONObjectTooLarge, and the "resulting document after update is larger" of updates)
_TOO_LARGE_CODES = frozenset({10334, 17419})


def _too_large(error: Exception) -> bool:
    """Whether ``error`` says the conversation's document passes MongoDB's size limit:
    pymongo's own DocumentTooLarge (the request itself is too large to send), or
    the server's refusal of an update whose result would be."""
    from pymongo.errors import DocumentTooLarge, OperationFailure

    return isinstance(error, DocumentTooLarge) or (
        isinstance(error, OperationFailure) and error.code in _TOO_LARGE_CODES)


def _too_large_error(sender_id: str, error: Exception) -> TrackerStoreError:
    return lasting(TrackerStoreError(
        f"conversation {sender_id!r} cannot be written to MongoDB: its document would pass "
        f"MongoDB's limit of {MAX_DOCUMENT_MB} MB per document, as the conversation keeps all "
        f"its events in one document ({type(error).__name__}: {error})",
        hint="delete the conversation's document (or its older events) from the collection, "
             "or keep conversations in a store with one row per event (type: SQL or redis)"))


def _as_stored(sender_id: str, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The events as the other stores keep them: checked to be JSON, and JSON's values
    only (a tuple becomes a list), so that what is read back is what any store gives."""
    return [json.loads(text) for text in dump_events(sender_id, events)]


def _check_hosts(address: str) -> None:
    """ValueError for a URL whose host is no host name: pymongo takes `not a url` for
    one, and fails at every message instead."""
    if not address.startswith("mongodb://"):
        return  # mongodb+srv:// names a DNS record, which pymongo looks up itself
    from pymongo.uri_parser import parse_uri

    hosts = [host for host, _ in parse_uri(address)["nodelist"]]
    if any(not host or any(c.isspace() for c in host) for host in hosts):
        raise ValueError(f"{', '.join(map(repr, hosts))} is no host name")


class MongoTrackerStore(TrackerStore):
    """Conversations as MongoDB documents of events (Rasa's layout)."""

    def __init__(self, domain: Domain | None = None, *,
                 url: str = "mongodb://localhost:27017", db: str = "rasa",
                 username: str | None = None, password: str | None = None,
                 auth_source: str = "admin", collection: str = "conversations",
                 timeout: float = 10.0) -> None:
        super().__init__(domain)
        credentials: dict[str, Any] = {}
        if username is not None:
            credentials = {"username": username, "password": password,
                           "authSource": auth_source}
        milliseconds = int(float(timeout) * 1000)
        client_class = _async_client_class()
        from pymongo.errors import ConfigurationError

        address = url if "://" in url else f"mongodb://{url}"
        try:
            _check_hosts(address)
            self.client = client_class(
                address, serverSelectionTimeoutMS=milliseconds, socketTimeoutMS=milliseconds,
                **credentials)
        except (ValueError, TypeError, ConfigurationError) as e:  # (InvalidURI is one too)
            raise ConfigError(f"endpoints.yml tracker_store: MongoDB url {url!r} or its "
                              f"settings are not usable: {e}",
                              hint="write url as mongodb://host:27017 (or host:port), with "
                                   "username and password as their own settings") from e
        self.conversations = self.client[db][collection]
        self._indexed = False

    async def _collection(self) -> Any:
        """The collection, with its index on ``sender_id`` made on first use.

        The server refusing the index (Rasa's own non-unique index on the field,
        or documents that already repeat a sender) is a warning, once; a server
        that cannot be reached is an error, and the index is tried again on the
        next use.
        """
        if not self._indexed:
            from pymongo.errors import OperationFailure

            try:
                await self.conversations.create_index("sender_id", unique=True)
            except OperationFailure as e:
                logger.warning("MongoDB: no unique index on sender_id (%s); reads stay "
                               "indexed, and one document per conversation then rests on the "
                               "lock store", e)
            except Exception as e:
                raise _failed("connection", e) from e
            self._indexed = True
        return self.conversations

    async def load_events(self, sender_id: str) -> list[dict[str, Any]] | None:
        try:
            document = await (await self._collection()).find_one(
                {"sender_id": sender_id}, {"_id": 0, "events": 1})
        except Exception as e:
            raise _failed("read", e) from e
        return None if document is None else list(document.get("events") or [])

    async def load_versioned_events(
            self, sender_id: str) -> tuple[list[dict[str, Any]] | None, Hashable | None]:
        try:
            document = await (await self._collection()).find_one(
                {"sender_id": sender_id}, {"_id": 0, "events": 1, VERSION_FIELD: 1})
        except Exception as e:
            raise _failed("read", e) from e
        if document is None:
            return None, None
        return list(document.get("events") or []), int(document.get(VERSION_FIELD, 0))

    async def stored_version(self, sender_id: str) -> Hashable | None:
        try:
            document = await (await self._collection()).find_one(
                {"sender_id": sender_id}, {"_id": 0, VERSION_FIELD: 1})
        except Exception as e:
            raise _failed("read", e) from e
        return None if document is None else int(document.get(VERSION_FIELD, 0))

    async def count_events(self, sender_id: str) -> int:
        try:
            cursor = await (await self._collection()).aggregate([
                {"$match": {"sender_id": sender_id}},
                {"$project": {"_id": 0, "count": {"$size": {"$ifNull": ["$events", []]}}}},
            ])
            found = await cursor.to_list(1)
        except Exception as e:
            raise _failed("read", e) from e
        return int(found[0]["count"]) if found else 0

    async def append_events(self, sender_id: str,
                            events: list[dict[str, Any]]) -> StoredVersion:
        stored = _as_stored(sender_id, events)
        return await self._write(sender_id, {"$push": {"events": {"$each": stored}}})

    async def replace_events(self, sender_id: str, events: list[dict[str, Any]]) -> None:
        await self._write(sender_id, {"$set": {"events": _as_stored(sender_id, events)}})

    async def _write(self, sender_id: str, change: dict[str, Any]) -> StoredVersion:
        from pymongo import ReturnDocument

        try:
            before = await (await self._collection()).find_one_and_update(
                {"sender_id": sender_id}, {**change, "$inc": {VERSION_FIELD: 1}},
                projection={"_id": 0, VERSION_FIELD: 1}, upsert=True,
                return_document=ReturnDocument.BEFORE)
        except Exception as e:
            if _too_large(e):
                raise _too_large_error(sender_id, e) from e
            raise _failed("write", e) from e
        if before is None:  # the conversation was created by this write
            return StoredVersion(None, 1)
        version = int(before.get(VERSION_FIELD, 0))
        return StoredVersion(version, version + 1)

    async def delete(self, sender_id: str) -> None:
        try:
            await (await self._collection()).delete_many({"sender_id": sender_id})
        except Exception as e:
            raise _failed("delete", e) from e

    async def keys(self) -> list[str]:
        try:
            senders = await (await self._collection()).distinct("sender_id")
        except Exception as e:
            raise _failed("read", e) from e
        return sorted(str(sender) for sender in senders)

    async def close(self) -> None:
        await self.client.close()
