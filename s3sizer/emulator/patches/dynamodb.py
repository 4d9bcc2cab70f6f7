"""DynamoDB: transactions that cost what they write, and AWS's one-hour rule on TTL changes.

- TransactWriteItems backs up only the items it writes, not whole tables: moto deep-copies every
  table a transaction touches, which makes each write cost as much as the table is large. The
  `copy` module moto's DynamoDB models use is swapped for one that, inside a transaction, hands
  back the table itself; the emulator restores the written items when the transaction fails.
- UpdateTimeToLive twice within an hour on a table is refused, as AWS refuses it.
- Reads answer in plain JSON: moto's generic response serializer walks the service model for
  every attribute of every item, which made a Query of a few thousand items take seconds.
- Query reads one partition, as DynamoDB does: moto sorts the whole table on every Query (its
  `all_items`); inside a Query of a table's own key, it is handed that partition's items only,
  and for a key condition on string sort keys only the items its page looks at (those past the
  start key that meet the condition, up to one past the limit, and the item that ends the page):
  moto sorted and skipped the whole partition for each page, so paging through it cost the
  square of its size.
- An item is checked against DynamoDB's size limit once as it is built: moto adds up the sizes
  of all the attributes set so far at each attribute it sets, which made every write cost the
  square of its item's attributes. The check, its limit and its error are moto's own.
"""

from __future__ import annotations

import bisect
import copy
import functools
import json
import threading
import time

from . import hooks
from .hooks import PatchSet, Target

_MODELS = "moto.dynamodb.models"
_TABLE = "moto.dynamodb.models.table"
TARGETS = {
    "transact_write_items": Target("transactions back up only the items they write", _MODELS,
                                   "DynamoDBBackend", "transact_write_items",
                                   ("self", "transact_items")),
    "copy": Target("transactions back up only the items they write", _MODELS, None, "copy", None),
    "query": Target("a query reads one partition", _TABLE, "Table", "query",
                    ("self", "hash_key", "range_comparison", "range_objs", "limit",
                     "exclusive_start_key", "scan_index_forward", "projection_expressions",
                     "index_name", "consistent_read", "filter_expression",
                     "hash_key_conditions", "range_key_conditions", "filter_kwargs")),
    "query_response": Target("reads answer in plain JSON", "moto.dynamodb.responses",
                             "DynamoHandler", "query", ("self",)),
    "get_item_response": Target("reads answer in plain JSON", "moto.dynamodb.responses",
                                "DynamoHandler", "get_item", ("self",)),
    "batch_get_response": Target("reads answer in plain JSON", "moto.dynamodb.responses",
                                 "DynamoHandler", "batch_get_item", ("self",)),
    "all_items": Target("a query reads one partition", _TABLE, "Table", "all_items", ("self",)),
    "item_init": Target("an item's size is added up once", "moto.dynamodb.models.dynamo_type",
                        "Item", "__init__", ("self", "hash_key", "range_key", "attrs")),
    "update_time_to_live": Target("one TTL change per table per hour", _MODELS,
                                  "DynamoDBBackend", "update_time_to_live",
                                  ("self", "table_name", "ttl_spec")),
}  # fmt: skip
TTL_CHANGE_INTERVAL_SECONDS = 3600
TTL_TOO_SOON = "Time to live has been modified multiple times within a fixed interval"
IN_TRANSACTION = "in_transaction"
NO_TABLE_COPY = "dynamodb: transaction kept the table instead of copying it"
ONE_PARTITION = "dynamodb: a query read one partition"
ONE_PAGE = "dynamodb: a query read its page of the partition"
PLAIN_JSON = "dynamodb: a read answered in plain JSON"
ITEM_SIZE_ONCE = "dynamodb: an item's size added up once"
_partition = threading.local()

_ttl_changes: dict[tuple[str, str, str], float] = {}  # (account, region, table) -> monotonic time
_ttl_lock = threading.Lock()


def install(patches: PatchSet) -> None:
    from moto.dynamodb.models import Table

    _ttl_changes.clear()
    patches.replace(TARGETS["transact_write_items"], _transact_write_items)
    patches.replace(TARGETS["copy"], lambda original: _CopyKeepingTablesInTransactions(Table))
    patches.replace(TARGETS["update_time_to_live"], _update_time_to_live)
    patches.replace(TARGETS["query"], _query)
    patches.replace(TARGETS["all_items"], _all_items)
    patches.replace(TARGETS["item_init"], _item_init)
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


def _query(original):
    @functools.wraps(original)  # __wrapped__: moto's own query, which the contract test compares
    def query(self, hash_key, *args, **kwargs):
        asked = _query_arguments(hash_key, *args, **kwargs)
        if asked["index_name"] is not None or not self.range_key_attr or hash_key is None:
            return original(self, hash_key, *args, **kwargs)
        previous = getattr(_partition, "key", None)
        _partition.key = (self, hash_key, _page(self, hash_key, asked))
        try:
            return original(self, hash_key, *args, **kwargs)
        finally:
            _partition.key = previous

    return query


def _query_arguments(hash_key, range_comparison=None, range_objs=None, limit=None,
                     exclusive_start_key=None, scan_index_forward=True,
                     projection_expressions=None, index_name=None, consistent_read=False,
                     filter_expression=None, hash_key_conditions=None,
                     range_key_conditions=None, **filter_kwargs):  # fmt: skip
    """Table.query's parameters by name, however they were passed."""
    return locals()


_TESTS = {
    "BETWEEN": lambda low, high: lambda k: low <= k <= high,
    "BEGINS_WITH": lambda start: lambda k: k.startswith(start),
    "=": lambda v: lambda k: k == v,
    "<": lambda v: lambda k: k < v,
    "<=": lambda v: lambda k: k <= v,
    ">": lambda v: lambda k: k > v,
    ">=": lambda v: lambda k: k >= v,
}  # moto's own comparisons (moto.dynamodb.comparisons), on string sort keys


def _page(table, hash_key, asked):
    """(key condition, start, forward, limit) of the page a Query reads, or None when it is not
    one moto's way of reading can be spared for: a query filter (counted before the limit), a
    key condition not on string sort keys, a start key other than one of this partition's."""
    if asked["filter_kwargs"]:
        return None
    test = _key_test(table, asked["range_comparison"], asked["range_objs"],
                     asked["range_key_conditions"])  # fmt: skip
    start = asked["exclusive_start_key"]
    if test is None:
        return None
    if start is not None:
        from moto.dynamodb.models.dynamo_type import DynamoType

        try:
            same_partition = DynamoType(start[table.hash_key_attr]) == hash_key
            sort_key = start[table.range_key_attr]
        except (KeyError, TypeError, AttributeError):
            return None
        if not same_partition or not isinstance(sort_key, dict) or list(sort_key) != ["S"]:
            return None
        start = sort_key["S"]
        if not isinstance(start, str):
            return None
    limit = asked["limit"]
    if limit is not None and (not isinstance(limit, int) or isinstance(limit, bool) or limit < 1):
        return None
    forward = asked["scan_index_forward"] is not False
    return (
        test,
        start,
        forward,
        limit,
        _seek(asked["range_comparison"], asked["range_objs"], forward),
    )


def _seek(comparison, values, forward):
    """(bound, inclusive): where the items meeting the key condition begin in the query's
    direction, or None (at the partition's first item in that direction)."""
    ends = {"BETWEEN": ((0, True), (1, True)), "BEGINS_WITH": ((0, True), None),
            "=": ((0, True), (0, True)), ">": ((0, False), None), ">=": ((0, True), None),
            "<": (None, (0, False)), "<=": (None, (0, True))}.get(comparison)  # fmt: skip
    end = None if ends is None else ends[0 if forward else 1]
    return None if end is None else (values[end[0]].value, end[1])


def _key_test(table, comparison, values, conditions):
    """A test of a string sort key that passes exactly what moto's key condition passes: an
    operator moto knows, spelt as moto spells it, on the sort key, with string operands."""
    if not comparison:
        return lambda key: True  # moto takes every item of the partition
    if conditions and conditions[-1][0] != table.range_key_attr:
        return None
    make = _TESTS.get(comparison)
    operands = [getattr(v, "value", None) for v in values or ()]
    if make is None or make.__code__.co_argcount != len(operands):
        return None
    if any(getattr(v, "type", None) != "S" or not isinstance(v.value, str) for v in values):
        return None
    return make(*operands)


def _all_items(original):
    def all_items(self):
        scope = getattr(_partition, "key", None)
        if scope is None or scope[0] is not self:
            return original(self)
        hooks.FAST_PATHS[ONE_PARTITION] += 1
        # moto keeps a range-keyed table as {hash key: {range key: item}}; its query keeps only
        # the items of the queried hash key and sorts them itself.
        partition = self.items.get(scope[1], {})
        index = None if scope[2] is None else _sorted_index(partition)
        if index is None:
            return list(partition.values())
        hooks.FAST_PATHS[ONE_PAGE] += 1
        return _one_page(partition, index, *scope[2])

    return all_items


_indexes: dict[int, tuple] = {}  # id(partition) -> (partition, its keys, (values, keys) sorted)
_INDEXES_KEPT = 1024


def _sorted_index(partition):
    """The partition's string sort keys in order, rebuilt only when its keys changed (a list
    of the same key objects compares equal at C speed), or None if a key is not a string."""
    keys = list(partition)
    entry = _indexes.get(id(partition))
    if entry is not None and entry[0] is partition and entry[1] == keys:
        return entry[2]
    if not all(_is_string(key) for key in keys):
        return None
    pairs = sorted((key.value, key) for key in keys)  # the values are unique: keys never compared
    index = ([value for value, _ in pairs], [key for _, key in pairs])
    if len(_indexes) >= _INDEXES_KEPT:
        _indexes.clear()
    _indexes[id(partition)] = (partition, keys, index)
    return index


def _is_string(key) -> bool:
    return getattr(key, "type", None) == "S" and type(key.value) is str


def _one_page(partition, index, test, start, forward, limit, seek):
    """The items moto's query looks at for one page, and no others. moto sorts the partition,
    skips to the start key, then for each item stops (with a LastEvaluatedKey) once the limit is
    reached or the item would take the page past its size limit, and takes the item if it meets
    the key condition. The items that meet it lie side by side in sort order, at or past `seek`;
    of those it walks past without taking, only one that would stop the page is handed on."""
    from moto.dynamodb.models.table import RESULT_SIZE_LIMIT

    values, keys = index
    if forward:
        begin = 0 if start is None else bisect.bisect_right(values, start)
        first = begin
        if seek is not None:
            find = bisect.bisect_left if seek[1] else bisect.bisect_right
            first = max(begin, find(values, seek[0]))
        before, walk = range(begin, first), range(first, len(values))
    else:
        end = len(values) if start is None else bisect.bisect_left(values, start)
        last = end
        if seek is not None:
            find = bisect.bisect_right if seek[1] else bisect.bisect_left
            last = min(end, find(values, seek[0]))
        before, walk = range(end - 1, last - 1, -1), range(last - 1, -1, -1)
    stop = _first_stop((partition[keys[i]] for i in before), 0, RESULT_SIZE_LIMIT)
    if stop:
        return stop  # moto stops there, before taking anything
    taken, size, after = [], 0, None
    for at, i in enumerate(walk):
        item = partition[keys[i]]
        if not test(values[i]):
            if taken:
                after = walk[at:]
                break
            if _size(item) > RESULT_SIZE_LIMIT:
                return [item]  # moto stops there, before taking anything
            continue  # not yet at the items that meet the condition
        taken.append(item)
        if limit is not None and len(taken) > limit:
            return taken
        size += _size(item)
    if after is None:
        return taken  # the partition ends here
    rest = (partition[keys[i]] for i in after)
    if len(taken) == limit:
        return [*taken, next(rest)]
    return taken + _first_stop(rest, size, RESULT_SIZE_LIMIT)


def _first_stop(items, size, size_limit) -> list:
    """The first of items that would take a page of `size` bytes past moto's size limit."""
    return next(([item] for item in items if size + _size(item) > size_limit), [])


def _size(item) -> int:
    """moto's Item.size(), with its common cases (string and number attributes) inline."""
    total = 0
    for name, value in item.attrs.items():
        raw = value.value
        if value.type == "S" and type(raw) is str:
            total += len(raw.encode())
        elif value.type == "N":
            total += len(str(raw))
        else:
            total += value.size()
        total += len(name) if isinstance(name, bytes) else len(name.encode())
    return total


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
            total += bytesize(key) + typed.size()
            if total > _ITEM_SIZE_LIMIT:
                raise ItemSizeTooLarge
            values[key] = typed
        self.attrs = LimitedSizeDict()
        dict.update(self.attrs, values)  # later sets still go through moto's own check
        hooks.FAST_PATHS[ITEM_SIZE_ONCE] += 1

    return __init__


_ITEM_SIZE_LIMIT = 405000  # moto's LimitedSizeDict: AWS's 400 KB, measured at 409-410 KB


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
