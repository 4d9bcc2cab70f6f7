"""DynamoDB Streams: one stream record per change, as DynamoDB writes them.

moto writes its records in StreamShard.add, and gets some of them wrong:

- An UpdateItem that creates an item writes two INSERT records (one with the key alone), and a
  PutItem or UpdateItem that changes nothing writes a MODIFY; DynamoDB writes one record per
  change and none for a write that changes nothing.
- A cancelled TransactWriteItems keeps the records of the writes it made before the failing one;
  a transaction that did not happen writes nothing.
- Records say eventVersion 1.0 and region us-east-1 whatever the table's; their SizeBytes is the
  length of their JSON.
- A table whose stream was disabled keeps writing records to it.
- StreamShard.add invokes the functions of the table's event source mappings synchronously and
  then empties the shard. Here it never invokes anything: the emulator's stream pollers read the
  shard (stream_poller.py), and records stay readable through GetRecords.

Records keep moto's numbering (the shard's starting sequence number plus the record's index), so
sequence numbers increase, and each item's changes are recorded in the order they were made
(DynamoDB requests are served one at a time).
"""

from __future__ import annotations

import copy
import functools
import random
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

from . import hooks
from .hooks import PatchSet, Target

_MODELS = "moto.dynamodb.models"
TARGETS = {
    "add": Target("stream records as DynamoDB writes them", "moto.dynamodb.models.table",
                  "StreamShard", "add", ("self", "old", "new")),
    "update_item": Target("one stream record per UpdateItem", _MODELS, "DynamoDBBackend",
                          "update_item",
                          ("self", "table_name", "key", "update_expression",
                           "expression_attribute_names", "expression_attribute_values",
                           "attribute_updates", "expected", "condition_expression",
                           "return_values_on_condition_check_failure")),
    "transact_write_items": Target("a cancelled transaction writes no stream record", _MODELS,
                                   "DynamoDBBackend", "transact_write_items",
                                   ("self", "transact_items")),
    "delete_table": Target("a deleted table's stream lets go of it", _MODELS,
                           "DynamoDBBackend", "delete_table", ("self", "name")),
}  # fmt: skip
EVENT_VERSION = "1.1"
NOT_INVOKED = "dynamodb streams: a write recorded without moto's synchronous invoke"
_pending = threading.local()  # stack of lists of changes held back by an unfinished request
# Event ids as random as uuid4's, without asking the system for randomness each time: that call
# lets go of the interpreter while the table's lock is held, and the write waited to win it back.
_event_ids = random.Random(uuid.uuid4().int)


class StreamRecordEntry:
    """One record of a shard, as moto's GetRecords reads it, and when it arrived."""

    def __init__(self, record: dict, arrival: float):
        self.record = record
        self.arrival = arrival

    def to_json(self) -> dict:
        return self.record


def install(patches: PatchSet) -> None:
    patches.replace(TARGETS["add"], lambda original: _add)
    patches.replace(TARGETS["update_item"], _update_item)
    patches.replace(TARGETS["transact_write_items"], _transact_write_items)
    patches.replace(TARGETS["delete_table"], _delete_table)


def _delete_table(original):
    @functools.wraps(original)
    def delete_table(self, name):
        table = original(self, name)
        shard = getattr(table, "stream_shard", None)
        if shard is not None:
            # moto's table and its shard refer to each other: a deleted table, with all its
            # items and records, waited for a full collection, which a large emulator runs
            # rarely (about 110 MB a torn-down stack on the fold path, measured from outside).
            # Nothing writes to the shard once its table is gone.
            shard.table = None
        return table

    return delete_table


def _add(shard, old, new) -> None:
    """StreamShard.add: the images are copied now, as the item may change later."""
    _emit(shard, _image(old), _image(new))


@contextmanager
def _held_back() -> Iterator[list]:
    """Changes made inside are collected instead of recorded; dropped if the request fails."""
    stack = _pending.__dict__.setdefault("stack", [])
    changes: list = []
    stack.append(changes)
    try:
        yield changes
    finally:
        stack.pop()


def _update_item(original):
    def update_item(self, table_name, key, *args, **kwargs):
        with _held_back() as changes:
            item = original(self, table_name, key, *args, **kwargs)
        if changes:
            # moto first puts the bare key of an item it creates, then updates it: one change.
            _emit(changes[-1][0], changes[0][1], changes[-1][2])
        return item

    return update_item


def _transact_write_items(original):
    def transact_write_items(self, transact_items):
        with _held_back() as changes:
            result = original(self, transact_items)
        for change in changes:
            _emit(*change)
        return result

    return transact_write_items


def _emit(shard, old: dict | None, new: dict | None) -> None:
    stack = getattr(_pending, "stack", None)
    if stack:
        stack[-1].append((shard, old, new))
    else:
        record(shard, old, new)


def record(shard, old: dict | None, new: dict | None) -> None:
    """Append the stream record of one change of an item to its shard, unless nothing changed."""
    table = shard.table
    specification = table.stream_specification or {}
    if old == new or not specification.get("StreamEnabled"):
        return  # a write that changes nothing, or to a table whose stream is off, writes none
    view = specification.get("StreamViewType", "KEYS_ONLY")
    current = new if new is not None else old
    keys = {
        name: current[name]
        for name in (table.hash_key_attr, table.range_key_attr)
        if name is not None and name in current
    }
    dynamodb: dict = {
        "ApproximateCreationDateTime": datetime.now(UTC).replace(microsecond=0),
        "Keys": keys,
    }
    if view in ("NEW_IMAGE", "NEW_AND_OLD_IMAGES") and new is not None:
        dynamodb["NewImage"] = new
    if view in ("OLD_IMAGE", "NEW_AND_OLD_IMAGES") and old is not None:
        dynamodb["OldImage"] = old
    dynamodb["SequenceNumber"] = str(shard.starting_sequence_number + len(shard.items))
    dynamodb["SizeBytes"] = max(
        1, sum(_item_size(dynamodb.get(part) or {}) for part in ("Keys", "NewImage", "OldImage"))
    )
    dynamodb["StreamViewType"] = view
    entry = {
        "eventID": f"{_event_ids.getrandbits(128):032x}",
        "eventName": "INSERT" if old is None else "REMOVE" if new is None else "MODIFY",
        "eventVersion": EVENT_VERSION,
        "eventSource": "aws:dynamodb",
        "awsRegion": table.region_name,
        "dynamodb": dynamodb,
    }
    shard.items.append(StreamRecordEntry(entry, time.time()))
    hooks.FAST_PATHS[NOT_INVOKED] += 1
    if hooks.active():
        sources = hooks.current().stream_sources
        if sources is not None:
            sources.added(shard)


def _image(item) -> dict | None:
    if item is None:
        return None
    return _copied(item.to_json()["Attributes"])


_IMMUTABLE = (str, bytes, int, float, bool, type(None))


def _copied(value):
    """A deep copy of an image's JSON (dicts, lists and strings), without copy.deepcopy's
    bookkeeping, which cost more than the rest of recording the change."""
    kind = type(value)
    if kind is dict:
        return {key: _copied(member) for key, member in value.items()}
    if kind is list:
        return [_copied(member) for member in value]
    if kind in _IMMUTABLE:
        return value
    return copy.deepcopy(value)


def _item_size(attributes: dict) -> int:
    """An item's size by DynamoDB's rules (names plus values), close enough for SizeBytes."""
    return sum(len(name.encode()) + _value_size(value) for name, value in attributes.items())


def _value_size(value: dict) -> int:
    (kind, data), = value.items()  # fmt: skip
    if kind == "S":
        return len(data.encode())
    if kind == "N":
        return (len(data.lstrip("-").replace(".", "")) + 1) // 2 + 1
    if kind == "B":
        return len(data) * 3 // 4
    if kind in ("SS", "NS", "BS"):
        return sum(_value_size({kind[0]: member}) for member in data)
    if kind == "L":
        return 3 + sum(1 + _value_size(member) for member in data)
    if kind == "M":
        return 3 + sum(1 + len(k.encode()) + _value_size(v) for k, v in data.items())
    return 1  # BOOL, NULL
