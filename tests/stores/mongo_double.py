"""pymongo's ``AsyncMongoClient`` played by mongomock (no MongoDB server here).

mongomock implements pymongo's blocking API against an in-memory server,
with MongoDB's update operators, projections and index rules; this wraps the
few calls the tracker store makes in coroutines, as ``AsyncMongoClient`` has
them. Clients made with the same :class:`mongomock.store.ServerStore` see the
same data, like two workers on one server.
"""

from __future__ import annotations

from typing import Any

import mongomock


class AsyncMongomockClient:
    """What the store uses of ``pymongo.AsyncMongoClient``."""

    def __init__(self, url: str, *, server: Any, **options: Any) -> None:
        self.url = url
        self.options = options
        self.closed = False
        self._client = mongomock.MongoClient(_store=server)

    def __getitem__(self, name: str) -> _Database:
        return _Database(self._client[name])

    async def close(self) -> None:
        self.closed = True


class _Database:
    def __init__(self, database: Any) -> None:
        self._database = database

    def __getitem__(self, name: str) -> _Collection:
        return _Collection(self._database[name])


class _Collection:
    def __init__(self, collection: Any) -> None:
        self.blocking = collection

    async def create_index(self, *args: Any, **kwargs: Any) -> Any:
        return self.blocking.create_index(*args, **kwargs)

    async def find_one(self, *args: Any, **kwargs: Any) -> Any:
        return self.blocking.find_one(*args, **kwargs)

    async def find_one_and_update(self, *args: Any, **kwargs: Any) -> Any:
        return self.blocking.find_one_and_update(*args, **kwargs)

    async def delete_many(self, *args: Any, **kwargs: Any) -> Any:
        return self.blocking.delete_many(*args, **kwargs)

    async def distinct(self, *args: Any, **kwargs: Any) -> Any:
        return self.blocking.distinct(*args, **kwargs)

    async def aggregate(self, pipeline: list[dict[str, Any]]) -> _Cursor:
        return _Cursor(list(self.blocking.aggregate(pipeline)))


class _Cursor:
    def __init__(self, documents: list[dict[str, Any]]) -> None:
        self._documents = documents

    async def to_list(self, length: int | None = None) -> list[dict[str, Any]]:
        return self._documents if length is None else self._documents[:length]
