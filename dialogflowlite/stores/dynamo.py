"""DynamoDB tracker store (``pip install 'dialogflowlite[dynamo]'``), Rasa's ``type: dynamo``.

Each conversation is one item of the table (default ``states``), as Rasa
keeps it: the partition key ``sender_id`` (a string, the table's only key)
and ``events``, the list of its events in Rasa's JSON. So a table that Rasa
filled is read as it is, and Rasa reads what this store writes. Appending is
one ``UpdateItem`` that extends the list, atomic on the server, so concurrent
writers never lose events. The same update also adds one to a counter
attribute, ``dfl_version``, which lets a store skip reading a conversation
nothing else wrote to since it last read it
(:meth:`~dialogflowlite.stores.base.TrackerStore.stored_version`). Rasa does
not increment it: while Rasa and this framework write to one table at the
same time, set ``recent_conversations`` to 0 on the class (no cache).

The version before an append comes back with the write. UpdateItem returns
every attribute it changed, the whole old list of events included, so when
the store holds the conversation's events in memory it appends on the
condition that the counter is still the one it holds, and asks for nothing
back; only when that condition fails (another process wrote) or it holds
nothing does the write read the old values back.

DynamoDB has no floating-point type: numbers are stored as decimals and read
back as the ``int`` or ``float`` that JSON would give, so what this store
returns equals what the other stores return. An item holds at most 400 KB,
which bounds how long one conversation can grow here (as it does in Rasa).

The table is created on first use when it does not exist (billed per
request); an existing one is used as it is. Credentials come from boto3's
usual chain (environment variables, ``~/.aws``, an instance or task role),
never from endpoints.yml.

endpoints.yml (Rasa's keys, and two of this store's)::

    tracker_store:
      type: dynamo
      table_name: states
      region: us-east-1
      endpoint_url: http://localhost:8000   # optional: DynamoDB Local and the like
      timeout: 10                           # optional: seconds per request
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Hashable
from decimal import Decimal
from typing import TYPE_CHECKING, Any, TypeVar

from dialogflowlite.errors import ConfigError, TrackerStoreError
from dialogflowlite.stores.base import StoredVersion, TrackerStore, dump_events, lasting

if TYPE_CHECKING:
    from dialogflowlite.shared.domain import Domain

logger = logging.getLogger(__name__)

#: the counter attribute each write increments
VERSION_FIELD = "dfl_version"

#: the partition key, Rasa's; the table's only key
KEY_FIELD = "sender_id"

#: the one update that appends: atomic on the server, so no writer's events are lost
APPEND = (f"SET events = list_append(if_not_exists(events, :empty), :new) "
          f"ADD {VERSION_FIELD} :one")
REPLACE = f"SET events = :new ADD {VERSION_FIELD} :one"

#: seconds between checks, and how many, while a new table becomes active
TABLE_WAIT = {"Delay": 2, "MaxAttempts": 90}

_HINT = ("check the AWS credentials (environment, ~/.aws or the instance's role), the region "
         "and endpoint_url in endpoints.yml, and that they may read and write the table")

T = TypeVar("T")


def _boto3() -> Any:
    try:
        import boto3
    except ImportError as e:  # pragma: no cover - depends on the installation
        raise ConfigError("the DynamoDB tracker store needs the `boto3` package",
                          hint="pip install 'dialogflowlite[dynamo]'") from e
    return boto3


def _aws_errors() -> tuple[type[Exception], ...]:
    """What boto3 raises when AWS (or the way to it) fails: its errors and the service's."""
    from botocore.exceptions import BotoCoreError, ClientError

    return BotoCoreError, ClientError


def _error_code(error: Exception) -> str:
    return str(getattr(error, "response", {}).get("Error", {}).get("Code", ""))


def _failed(what: str, error: Exception, hint: str = _HINT) -> TrackerStoreError:
    return TrackerStoreError(f"DynamoDB {what} failed: {type(error).__name__}: {error}",
                             hint=hint)


def _is_too_large(error: Exception) -> bool:
    """Whether DynamoDB refused a write because the item would pass its 400 KB limit."""
    message = str(getattr(error, "response", {}).get("Error", {}).get("Message", ""))
    return _error_code(error) == "ValidationException" and "maximum allowed size" in message


def _too_large(sender_id: str, table: str) -> TrackerStoreError:
    return lasting(TrackerStoreError(
        f"conversation {sender_id!r} is too large for one DynamoDB item (400 KB at most) in "
        f"table {table!r}: the new events were not stored, the ones stored before are kept",
        hint="DynamoDB keeps a conversation in one item, as Rasa does; for conversations "
             "this long use another tracker store (postgres, mongo, redis), or delete or "
             "replace old conversations"))


def _as_stored(sender_id: str, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The events as DynamoDB takes them: checked to be JSON (as every store checks them),
    then read back with every non-whole number as a Decimal, since DynamoDB refuses floats."""
    return [json.loads(text, parse_float=Decimal, parse_constant=Decimal)
            for text in dump_events(sender_id, events)]


def _json_number(number: Decimal) -> int | float:
    """The number as JSON would read its text: a float when written with a point or
    an exponent, else an int."""
    text = str(number)
    return float(text) if any(mark in text for mark in ".eE") else int(text)


def _as_json(value: Any) -> Any:
    """A value read from DynamoDB with its Decimals turned back into JSON's numbers."""
    if isinstance(value, Decimal):
        return _json_number(value)
    if isinstance(value, dict):
        return {key: _as_json(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_as_json(item) for item in value]
    return value


def _check_key(description: dict[str, Any]) -> None:
    """Refuse a table whose key is not ``sender_id`` alone (old Rasa tables added a sort key)."""
    key = [(part["AttributeName"], part["KeyType"]) for part in description.get("KeySchema", [])]
    if key != [(KEY_FIELD, "HASH")]:
        raise TrackerStoreError(
            f"DynamoDB table {description.get('TableName')!r} has the key {key}; the tracker "
            f"store needs {KEY_FIELD!r} as its only (partition) key",
            hint="give the store another table_name (it creates a table with the right key), "
                 "or copy the conversations into such a table")


class DynamoTrackerStore(TrackerStore):
    """Conversations as DynamoDB items of events (Rasa's layout)."""

    def __init__(self, domain: Domain | None = None, *, table_name: str = "states",
                 region: str = "us-east-1", endpoint_url: str | None = None,
                 timeout: float = 10.0) -> None:
        super().__init__(domain)
        self.table_name = str(table_name)
        self.client = self._make_client(region, endpoint_url, float(timeout))
        from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

        self._serializer = TypeSerializer()
        self._deserializer = TypeDeserializer()
        self._table_ready = False

    @staticmethod
    def _make_client(region: str, endpoint_url: str | None, timeout: float) -> Any:
        """A DynamoDB client of its own session: clients, unlike boto3's resources and the
        default session, may be shared by the threads the calls run in."""
        boto3 = _boto3()
        from botocore.config import Config

        try:
            return boto3.session.Session().client(
                "dynamodb", region_name=region, endpoint_url=endpoint_url,
                config=Config(connect_timeout=timeout, read_timeout=timeout))
        except ValueError as e:  # botocore's errors for both settings are ValueErrors too
            raise ConfigError(f"endpoints.yml tracker_store: DynamoDB region {region!r} or "
                              f"endpoint_url {endpoint_url!r} is not usable: {e}",
                              hint="write the region as e.g. us-east-1, and endpoint_url "
                                   "with its scheme, e.g. http://localhost:8000") from e

    # ------------------------------------------------------------ calls and conversions

    async def _call(self, what: str, operation: Callable[..., T], **arguments: Any) -> T:
        """One boto3 call in a worker thread (boto3 blocks), on the table made ready first;
        AWS failures become a :class:`TrackerStoreError` naming ``what`` failed."""
        await self._ready_table()
        try:
            return await asyncio.to_thread(operation, TableName=self.table_name, **arguments)
        except _aws_errors() as e:
            raise _failed(what, e) from e

    def _key(self, sender_id: str) -> dict[str, Any]:
        return {KEY_FIELD: {"S": sender_id}}

    def _values(self, values: dict[str, Any], sender_id: str) -> dict[str, Any]:
        """Expression values in DynamoDB's wire format; a number it cannot hold (NaN,
        infinity, more than 38 digits) is refused like any value that is not JSON."""
        try:
            return {name: self._serializer.serialize(value) for name, value in values.items()}
        except (TypeError, ValueError, ArithmeticError) as e:
            raise lasting(TrackerStoreError(
                f"an event of {sender_id!r} holds a value DynamoDB cannot store: {e}",
                hint="events may hold only JSON values, and numbers of at most 38 digits")) from e

    def _read(self, attributes: dict[str, Any]) -> dict[str, Any]:
        return {name: _as_json(self._deserializer.deserialize(value))
                for name, value in attributes.items()}

    async def _item(self, sender_id: str, *fields: str) -> dict[str, Any] | None:
        """The conversation's item with ``fields`` (and its key, so that an item without
        them still shows), read consistently: the latest write is always seen."""
        names = {f"#{number}": field for number, field in enumerate((KEY_FIELD, *fields))}
        found = await self._call("read", self.client.get_item, Key=self._key(sender_id),
                                 ConsistentRead=True, ProjectionExpression=", ".join(names),
                                 ExpressionAttributeNames=names)
        item = found.get("Item")
        return None if item is None else self._read(item)

    # ------------------------------------------------------------ the table

    async def _ready_table(self) -> None:
        """Check the table on first use, creating it when it does not exist. A failure is
        an error, and the table is checked again on the next use."""
        if not self._table_ready:
            description = await asyncio.to_thread(self._describe_or_create_table)
            _check_key(description)
            self._table_ready = True

    def _describe_or_create_table(self) -> dict[str, Any]:
        try:
            description = self.client.describe_table(TableName=self.table_name)["Table"]
        except _aws_errors() as e:
            if _error_code(e) != "ResourceNotFoundException":
                raise _failed("table check", e) from e
            return self._create_table()
        if description.get("TableStatus") == "CREATING":  # another worker just created it
            return self._wait_for_table()
        return description

    def _create_table(self) -> dict[str, Any]:
        logger.info("DynamoDB: creating the tracker store table %r", self.table_name)
        try:
            self.client.create_table(
                TableName=self.table_name, BillingMode="PAY_PER_REQUEST",
                KeySchema=[{"AttributeName": KEY_FIELD, "KeyType": "HASH"}],
                AttributeDefinitions=[{"AttributeName": KEY_FIELD, "AttributeType": "S"}])
        except _aws_errors() as e:
            # another worker creating it at the same moment is no failure: wait for theirs
            if _error_code(e) != "ResourceInUseException":
                raise _failed("table creation", e, hint="let the credentials create tables "
                              "(dynamodb:CreateTable), or create the table beforehand with "
                              f"{KEY_FIELD!r} (string) as its only key") from e
        return self._wait_for_table()

    def _wait_for_table(self) -> dict[str, Any]:
        try:
            self.client.get_waiter("table_exists").wait(TableName=self.table_name,
                                                        WaiterConfig=TABLE_WAIT)
            return self.client.describe_table(TableName=self.table_name)["Table"]
        except _aws_errors() as e:
            raise _failed("table creation", e) from e

    # ------------------------------------------------------------ the store

    async def load_events(self, sender_id: str) -> list[dict[str, Any]] | None:
        """The conversation's events (an item without ``events`` has none), or None."""
        item = await self._item(sender_id, "events")
        return None if item is None else list(item.get("events") or [])

    async def load_versioned_events(
            self, sender_id: str) -> tuple[list[dict[str, Any]] | None, Hashable | None]:
        """The events and the counter, from one read (0 for an item only Rasa wrote)."""
        item = await self._item(sender_id, "events", VERSION_FIELD)
        if item is None:
            return None, None
        return list(item.get("events") or []), int(item.get(VERSION_FIELD, 0))

    async def stored_version(self, sender_id: str) -> Hashable | None:
        """The counter alone, without the events (0 for an item only Rasa wrote)."""
        item = await self._item(sender_id, VERSION_FIELD)
        return None if item is None else int(item.get(VERSION_FIELD, 0))

    async def count_events(self, sender_id: str) -> int:
        """How many events are stored; the list is read, as DynamoDB cannot count a
        list's elements on the server."""
        return len(await self.load_events(sender_id) or [])

    async def append_events(self, sender_id: str,
                            events: list[dict[str, Any]]) -> StoredVersion:
        """Append ``events`` and count the write, in one atomic UpdateItem."""
        values = {":new": _as_stored(sender_id, events), ":empty": [], ":one": 1}
        expected = self.remembered_version(sender_id)
        if isinstance(expected, int) and expected > 0:
            # the usual case: this store read or wrote the conversation last. On the
            # condition that nothing else wrote since, the write returns nothing
            done = await self._write(sender_id, APPEND, {**values, ":expected": expected},
                                     returns="NONE", condition=f"{VERSION_FIELD} = :expected")
            if done is not None:
                return StoredVersion(expected, expected + 1)
        # the counter's value before the write comes back with it; so does the old list,
        # as UpdateItem cannot leave out an attribute it changed
        before = await self._write(sender_id, APPEND, values, returns="UPDATED_OLD")
        assert before is not None
        if VERSION_FIELD not in before and "events" not in before:
            return StoredVersion(None, 1)  # the conversation was created by this write
        version = int(before.get(VERSION_FIELD, 0))
        return StoredVersion(version, version + 1)

    async def replace_events(self, sender_id: str, events: list[dict[str, Any]]) -> None:
        """Set the whole list to ``events`` and count the write, in one UpdateItem."""
        await self._write(sender_id, REPLACE, {":new": _as_stored(sender_id, events), ":one": 1},
                          returns="NONE")

    async def _write(self, sender_id: str, update: str, values: dict[str, Any], *,
                     returns: str, condition: str | None = None) -> dict[str, Any] | None:
        """One atomic UpdateItem; the attributes it returns, read as JSON, or None when
        ``condition`` did not hold. A refused write changes nothing, so the stored
        events stay as they were."""
        wire_values = self._values(values, sender_id)
        when = {"ConditionExpression": condition} if condition else {}
        await self._ready_table()
        try:
            answer = await asyncio.to_thread(
                self.client.update_item, TableName=self.table_name, Key=self._key(sender_id),
                UpdateExpression=update, ExpressionAttributeValues=wire_values,
                ReturnValues=returns, **when)
        except _aws_errors() as e:
            if condition and _error_code(e) == "ConditionalCheckFailedException":
                return None
            if _is_too_large(e):
                raise _too_large(sender_id, self.table_name) from e
            raise _failed("write", e) from e
        return self._read(answer.get("Attributes") or {})

    async def delete(self, sender_id: str) -> None:
        """Delete the conversation's item (nothing happens for an unknown sender)."""
        await self._call("delete", self.client.delete_item, Key=self._key(sender_id))

    async def keys(self) -> list[str]:
        """Every sender id in the table, sorted, from a scan of the keys alone."""
        senders: list[str] = []
        page: dict[str, Any] = {}
        while True:  # a scan answers at most 1 MB at a time
            found = await self._call("read", self.client.scan, ConsistentRead=True,
                                     ProjectionExpression="#key",
                                     ExpressionAttributeNames={"#key": KEY_FIELD}, **page)
            senders.extend(item[KEY_FIELD]["S"] for item in found.get("Items", []))
            if "LastEvaluatedKey" not in found:
                return sorted(senders)
            page = {"ExclusiveStartKey": found["LastEvaluatedKey"]}

    async def close(self) -> None:
        """Close the client's connections."""
        self.client.close()
