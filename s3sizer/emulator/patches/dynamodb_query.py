"""DynamoDB: a Query reads one partition, and a page of it only the items moto's query looks at.

moto sorts the whole table on every Query (its `all_items`), then walks the queried partition
from its first item to the page's start key and on to the page's end: paging through a
partition cost the square of its size. Inside a Query of a table's own key, `all_items` is
handed that partition's items only; with a key condition on string sort keys, only the items
its page looks at, found in a sorted index of the partition: the first item past the start
key that would stop the page before anything is taken, else those that meet the condition up
to one past the limit, and the item after them that ends the page. moto's query then runs as
ever on them, so its answers and its errors are its own. moto checks the size of every item
after the page's last one too (each could end it): a page with room for the largest item moto
stores skips that walk (reconcile's Queries of key items spent half their time there).
"""

from __future__ import annotations

import bisect
import functools
import operator
import threading
import weakref

from . import dynamodb_sizes, hooks
from .dynamodb_answers import AS_STORED
from .hooks import PatchSet, Target

_TABLE = "moto.dynamodb.models.table"
TARGETS = {
    "query": Target("a query reads one partition", _TABLE, "Table", "query",
                    ("self", "hash_key", "range_comparison", "range_objs", "limit",
                     "exclusive_start_key", "scan_index_forward", "projection_expressions",
                     "index_name", "consistent_read", "filter_expression",
                     "hash_key_conditions", "range_key_conditions", "filter_kwargs")),
    "all_items": Target("a query reads one partition", _TABLE, "Table", "all_items", ("self",)),
    "item_size": Target("a query counts each item's size once", "moto.dynamodb.models.dynamo_type",
                        "Item", "size", ("self",)),
    "call_action": Target("a query reads one partition", "moto.dynamodb.responses",
                          "DynamoHandler", "call_action", ("self",)),
}  # fmt: skip
ONE_PARTITION = "dynamodb: a query read one partition"
ONE_PAGE = "dynamodb: a query read its page of the partition"
NO_STOP_WALK = "dynamodb: a page with room for any item walked no further"
SIZE_KNOWN = "dynamodb: a query took an item's size as counted before"
NO_MATCH_WALK = "dynamodb: a page that found none of the condition's items walked no further"
_partition = threading.local()


def install(patches: PatchSet) -> None:
    patches.replace(TARGETS["query"], _query)
    patches.replace(TARGETS["all_items"], _all_items)
    patches.replace(TARGETS["call_action"], _call_action)
    patches.replace(TARGETS["item_size"], _item_size)
    dynamodb_sizes.forget()
    _indexes.clear()


def _call_action(original):
    @functools.wraps(original)
    def call_action(self):
        action = self._get_action() or ""
        if action not in _NO_ITEM_CHANGED and not action.startswith(("Describe", "List")):
            dynamodb_sizes.forget_updated(self, action)  # it may change stored items in place
        with dynamodb_sizes.storing(action):
            return original(self)

    return call_action


# The requests that change no stored item in place: reads, and writes that store new items
# (moto's put_item builds a new Item; deleting drops one). DynamoDB requests run one at a time
# in the emulator, so a size counted for an item holds until another request starts.
_NO_ITEM_CHANGED = frozenset(
    {"Query", "GetItem", "BatchGetItem", "Scan", "PutItem", "BatchWriteItem", "DeleteItem"}
)


def _query(original):
    @functools.wraps(original)  # __wrapped__: moto's own query, which the contract test compares
    def query(self, hash_key, *args, **kwargs):
        asked = _query_arguments(hash_key, *args, **kwargs)
        if asked["index_name"] is not None or not self.range_key_attr or hash_key is None:
            return original(self, hash_key, *args, **kwargs)
        previous = getattr(_partition, "key", None)
        _partition.key = (self, hash_key, _page(self, hash_key, asked))
        try:
            if asked["projection_expressions"]:
                return original(self, hash_key, *args, **kwargs)
            with hooks.flag(AS_STORED):  # nothing changes the items: see dynamodb_answers
                return original(self, hash_key, *args, **kwargs)
        finally:
            _partition.key = previous

    return query


def _item_size(original):
    """Inside a Query of one partition, an item's size as ``_size`` keeps it: moto's query asks
    each item it takes twice (does it fit the page, then how much it adds), and each answer
    walks every attribute. Anywhere else, moto's own: a request that changes items may ask
    between two changes."""

    @functools.wraps(original)  # __wrapped__: moto's own, which the contract test compares
    def size(self):
        if getattr(_partition, "key", None) is None:
            return original(self)
        hooks.FAST_PATHS[SIZE_KNOWN] += 1
        return dynamodb_sizes.size(self)

    return size


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
        index = None if scope[2] is None else _sorted_index(self, scope[1], partition)
        if index is None:
            return list(partition.values())
        hooks.FAST_PATHS[ONE_PAGE] += 1
        return _one_page(partition, index, *scope[2])

    return all_items


# Per table, held weakly: a deleted table's indexes go with it (a strong reference kept each
# torn-down stack's items alive, 30,000 a baseline). Per hash key: (partition, keys, items,
# (values, items)), the partition as it was last indexed.
_indexes: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_INDEXES_KEPT = 1024  # partitions indexed per table, at most


def _sorted_index(table, hash_key, partition):
    """The partition's string sort keys in order with their items, rebuilt only when a key or
    an item is not the one it was (checked at C speed), or None if a key is not a string."""
    keys, items = list(partition), list(partition.values())
    kept = _indexes.setdefault(table, {})
    entry = kept.get(hash_key)
    if (
        entry is not None
        and entry[0] is partition
        and entry[1] == keys  # keys of equal value sort alike
        and len(entry[2]) == len(items)
        and all(map(operator.is_, entry[2], items))
    ):
        return entry[3]
    if not all(_is_string(key) for key in keys):
        return None
    # The values are unique, so the items are never compared.
    pairs = sorted(zip((key.value for key in keys), items, strict=True))
    index = ([value for value, _ in pairs], [item for _, item in pairs])
    if len(kept) >= _INDEXES_KEPT:
        _forget_gone(table, kept)
    kept[hash_key] = (partition, keys, items, index)
    return index


def _forget_gone(table, kept: dict) -> None:
    """Drop the indexes of partitions the table no longer holds (a bucket untracked), and all
    of them if that leaves too many."""
    for hash_key in [k for k, entry in kept.items() if table.items.get(k) is not entry[0]]:
        del kept[hash_key]
    if len(kept) >= _INDEXES_KEPT:
        kept.clear()


def _is_string(key) -> bool:
    return getattr(key, "type", None) == "S" and type(key.value) is str


def _one_page(partition, index, test, start, forward, limit, seek):
    """The items moto's query looks at for one page, and no others. moto sorts the partition,
    skips to the start key, then for each item stops (with a LastEvaluatedKey) once the limit is
    reached or the item would take the page past its size limit, and takes the item if it meets
    the key condition. The items that meet it lie side by side in sort order, at or past `seek`;
    of those it walks past without taking, only one that would stop the page is handed on."""
    from moto.dynamodb.models.table import RESULT_SIZE_LIMIT

    values, items = index
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
    stop = _first_stop((items[i] for i in before), 0, RESULT_SIZE_LIMIT)
    if stop:
        return stop  # moto stops there, before taking anything
    taken, size, after = [], 0, None
    for at, i in enumerate(walk):
        item = items[i]
        if not test(values[i]):
            if taken:
                after = walk[at:]
                break
            if seek is not None:
                # The walk began where the condition's items begin (a key condition holds an
                # interval of sort keys): the first that fails, before any was taken, is past
                # them all. moto walks on, and stops only at an item over its 1 MB page, which
                # no stored item is (400 KB at most). A gap between a range's stretches asks
                # such an empty page of each of 16 key partitions.
                hooks.FAST_PATHS[NO_MATCH_WALK] += 1
                return []
            if dynamodb_sizes.size(item) > RESULT_SIZE_LIMIT:
                return [item]  # moto stops there, before taking anything
            continue  # not yet at the items that meet the condition
        taken.append(item)
        if limit is not None and len(taken) > limit:
            return taken
        size += dynamodb_sizes.size(item)
    if after is None:
        return taken  # the partition ends here
    rest = (items[i] for i in after)
    if len(taken) == limit:
        return [*taken, next(rest)]
    return taken + _first_stop(rest, size, RESULT_SIZE_LIMIT)


def _first_stop(items, size, size_limit) -> list:
    """The first of items that would take a page of `size` bytes past moto's size limit. None
    can while the page has room for the largest item moto stores: then the walk, through the
    rest of the partition (every item counted again after each write), is not needed."""
    if size + dynamodb_sizes.ITEM_SIZE_LIMIT <= size_limit:
        hooks.FAST_PATHS[NO_STOP_WALK] += 1
        return []
    return next(([item] for item in items if size + dynamodb_sizes.size(item) > size_limit), [])
