"""DynamoDB: transactions that cost what they write, and AWS's one-hour rule on TTL changes.

- TransactWriteItems backs up only the items it writes, not whole tables: moto deep-copies every
  table a transaction touches, which makes each write cost as much as the table is large. The
  `copy` module moto's DynamoDB models use is swapped for one that, inside a transaction, hands
  back the table itself; the emulator restores the written items when the transaction fails.
- UpdateTimeToLive twice within an hour on a table is refused, as AWS refuses it.
- Reads, and BatchWriteItem, answer in plain JSON: moto's generic response serializer walks
  the service model for every attribute of every item, which made a Query of a few thousand
  items take seconds.
- Query reads one partition, and a page only what moto's query looks at: see dynamodb_query.
- An item is checked against DynamoDB's size limit once as it is built: moto adds up the sizes
  of all the attributes set so far at each attribute it sets, which made every write cost the
  square of its item's attributes. The check, its limit and its error are moto's own.
- BatchWriteItem refuses two requests on one item, as AWS does (a put and a delete of one key,
  or two puts of it with other attributes); moto compared whole requests dumped to JSON.
"""

from __future__ import annotations

import copy
import functools
import json
import threading
import time

from . import dynamodb_sizes, hooks
from .hooks import PatchSet, Target

_MODELS = "moto.dynamodb.models"
_TABLE = "moto.dynamodb.models.table"
TARGETS = {
    "transact_write_items": Target("transactions back up only the items they write", _MODELS,
                                   "DynamoDBBackend", "transact_write_items",
                                   ("self", "transact_items")),
    "copy": Target("transactions back up only the items they write", _MODELS, None, "copy", None),
    "query_response": Target("reads answer in plain JSON", "moto.dynamodb.responses",
                             "DynamoHandler", "query", ("self",)),
    "get_item_response": Target("reads answer in plain JSON", "moto.dynamodb.responses",
                                "DynamoHandler", "get_item", ("self",)),
    "batch_get_response": Target("reads answer in plain JSON", "moto.dynamodb.responses",
                                 "DynamoHandler", "batch_get_item", ("self",)),
    "item_init": Target("an item's size is added up once", "moto.dynamodb.models.dynamo_type",
                        "Item", "__init__", ("self", "hash_key", "range_key", "attrs")),
    "batch_write_item": Target("a batch refuses two requests on one item",
                               "moto.dynamodb.responses", "DynamoHandler", "batch_write_item",
                               ("self",)),
    "update_time_to_live": Target("one TTL change per table per hour", _MODELS,
                                  "DynamoDBBackend", "update_time_to_live",
                                  ("self", "table_name", "ttl_spec")),
}  # fmt: skip
# Only where moto dumps a batch's requests with this function (5.2.0 does it otherwise, and
# keeps its own cost): installed when it fits, and not one of the TARGETS every moto must fit.
DUPLICATES_DUMP = Target(
    "a batch whose keys differ is not dumped whole to find duplicates",
    "moto.dynamodb.responses", None, "dynamo_json_dump", ("dynamo_object",),
)  # fmt: skip
TTL_CHANGE_INTERVAL_SECONDS = 3600
TTL_TOO_SOON = "Time to live has been modified multiple times within a fixed interval"
IN_TRANSACTION = "in_transaction"
NO_TABLE_COPY = "dynamodb: transaction kept the table instead of copying it"
PLAIN_JSON = "dynamodb: a read or a batch write answered in plain JSON"
ITEM_SIZE_ONCE = "dynamodb: an item's size added up once"
KEYS_CHECKED = "dynamodb: a batch's duplicates found by their keys"
_KEYS_DISTINCT = "dynamodb_batch_keys_distinct"
_DUPLICATES = "Provided list of item keys contains duplicates"

_ttl_changes: dict[tuple[str, str, str], float] = {}  # (account, region, table) -> monotonic time
_ttl_lock = threading.Lock()


def install(patches: PatchSet) -> None:
    from moto.dynamodb.models import Table

    _ttl_changes.clear()
    patches.replace(TARGETS["transact_write_items"], _transact_write_items)
    patches.replace(TARGETS["copy"], lambda original: _CopyKeepingTablesInTransactions(Table))
    patches.replace(TARGETS["update_time_to_live"], _update_time_to_live)
    patches.replace(TARGETS["item_init"], _item_init)
    # Its answer in plain JSON too: moto's serializer cost a tenth of a batch of key items.
    patches.replace(TARGETS["batch_write_item"], lambda own: _batch_write_item(_plain_json(own)))
    if DUPLICATES_DUMP.problem() is None:
        patches.replace(DUPLICATES_DUMP, _dump_unless_keys_distinct)
    for name in ("query_response", "get_item_response", "batch_get_response"):
        patches.replace(TARGETS[name], _plain_json)


def _plain_json(original):
    @functools.wraps(original)
    def read(self):
        result = original(self)
        body = getattr(result, "result", None)
        if isinstance(body, dict):
            try:
                text = json.dumps(body)
            except (TypeError, ValueError):
                return result  # not plain JSON (binary attributes): moto's own serializer
            hooks.FAST_PATHS[PLAIN_JSON] += 1
            return text
        return result

    return read


def _item_init(original):
    from moto.dynamodb.exceptions import ItemSizeTooLarge
    from moto.dynamodb.models.dynamo_type import DynamoType, LimitedSizeDict
    from moto.dynamodb.models.utilities import bytesize

    @functools.wraps(original)
    def __init__(self, hash_key, range_key, attrs):
        self.hash_key = hash_key
        self.range_key = range_key
        # moto's LimitedSizeDict refuses, at each attribute set, a running total over 405,000
        # bytes; sizes are never negative, so a running sum checked at each step says the same.
        values, total = {}, 0
        for key, value in attrs.items():
            typed = DynamoType(value)
            total += bytesize(key) + dynamodb_sizes.moto_size(typed, bytesize)
            if total > dynamodb_sizes.ITEM_SIZE_LIMIT:
                raise ItemSizeTooLarge
            values[key] = typed
        self.attrs = LimitedSizeDict()
        dict.update(self.attrs, values)  # later sets still go through moto's own check
        hooks.FAST_PATHS[ITEM_SIZE_ONCE] += 1
        dynamodb_sizes.built(self, total)  # moto's Item.size(): a query need not count it

    return __init__


class _CopyKeepingTablesInTransactions:
    """Stands in for the `copy` module inside moto.dynamodb.models."""

    def __init__(self, table_class: type):
        self.table_class = table_class

    def deepcopy(self, value, memo=None):
        if hooks.flagged(IN_TRANSACTION) and isinstance(value, self.table_class):
            hooks.FAST_PATHS[NO_TABLE_COPY] += 1
            return value
        return copy.deepcopy(value, memo)

    def __getattr__(self, name: str):
        return getattr(copy, name)


def _transact_write_items(original):
    def transact_write_items(self, transact_items):
        backups = [_backup(self, item) for item in transact_items]
        try:
            with hooks.flag(IN_TRANSACTION):
                return original(self, transact_items)
        except Exception:
            for backup in reversed(backups):
                if backup is not None:
                    _restore(*backup)
            raise

    return transact_write_items


def _backup(backend, transact_item):
    """(table, hash key, range key, a copy of the item or None), or None if it names no item."""
    try:
        _, operation = next(iter(transact_item.items()))
        table = backend.get_table(operation["TableName"])
        attributes = operation.get("Key") or operation["Item"]
        hash_key, range_key = backend.get_keys_value(table, attributes)
    except Exception:
        return None  # moto rejects this operation before it writes anything
    return table, hash_key, range_key, copy.deepcopy(table.get_item(hash_key, range_key))


def _restore(table, hash_key, range_key, item) -> None:
    """Put one item back as it was, without a stream record: the transaction never happened."""
    if range_key is None:
        if item is None:
            table.items.pop(hash_key, None)
        else:
            table.items[hash_key] = item
    elif item is None:
        table.items.get(hash_key, {}).pop(range_key, None)
    else:
        table.items[hash_key][range_key] = item


def _update_time_to_live(original):
    def update_time_to_live(self, table_name, ttl_spec):
        from moto.dynamodb.exceptions import MockValidationException

        key = (self.account_id, self.region_name, table_name)
        with _ttl_lock:
            last = _ttl_changes.get(key)
            if last is not None and time.monotonic() - last < TTL_CHANGE_INTERVAL_SECONDS:
                raise MockValidationException(TTL_TOO_SOON)
            result = original(self, table_name, ttl_spec)
            _ttl_changes[key] = time.monotonic()
        return result

    return update_time_to_live


def _batch_write_item(original):
    """AWS refuses a BatchWriteItem with two requests on one item (two puts, or a put and a
    delete, of one key); moto compares whole requests, puts with puts and deletes with deletes,
    by dumping each to JSON. Here the keys are compared first; when they all differ, so do the
    whole requests, and moto's dumps (a tenth of a batch of key items) are skipped."""
    from moto.dynamodb.exceptions import MockValidationException
    from moto.dynamodb.models.dynamo_type import DynamoType

    @functools.wraps(original)
    def batch_write_item(self):
        seen, duplicate = set(), False
        try:
            for table_name, requests in self.body["RequestItems"].items():
                table = self.dynamodb_backend.get_table(table_name)
                names = [table.hash_key_attr]
                if table.range_key_attr:
                    names.append(table.range_key_attr)
                for request in requests:
                    ((kind, body),) = request.items()
                    attrs = body["Item"] if kind == "PutRequest" else body["Key"]
                    key = (table_name, *(_key_part(attrs[name], DynamoType) for name in names))
                    duplicate = duplicate or key in seen  # hashed here: an odd key is moto's
                    seen.add(key)
        except Exception:
            return original(self)  # moto's own reading of a request it may refuse, and its error
        if duplicate:
            raise MockValidationException(_DUPLICATES)
        hooks.FAST_PATHS[KEYS_CHECKED] += 1
        with hooks.flag(_KEYS_DISTINCT):
            return original(self)  # its own check of whole requests finds nothing more

    return batch_write_item


def _key_part(raw: dict, typed: type) -> tuple:
    """A key value as the batch's duplicates are found by: a string by itself (two strings are
    one key exactly when equal), anything else as moto compares it (numbers by their value)."""
    ((kind, value),) = raw.items()
    if kind == "S" and type(value) is str:
        return kind, value
    return "typed", typed(raw)


def _dump_unless_keys_distinct(original):
    @functools.wraps(original)
    def dynamo_json_dump(dynamo_object):
        if hooks.flagged(_KEYS_DISTINCT):  # moto's duplicate check: each request is its own
            return object()
        return original(dynamo_object)

    return dynamo_json_dump
