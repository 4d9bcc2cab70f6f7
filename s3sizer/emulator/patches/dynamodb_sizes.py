"""DynamoDB items' sizes as moto counts them (``Item.size()``), counted once an item.

moto counts an item's size by walking every attribute, and copies each map value (and so
everything beneath it) on the way down: as it builds an item (the 400 KB limit), and twice for
each item a Query takes (does it fit the page, then how much it adds). The emulator counts it
without the copies, as it builds an item, and keeps the count for the queries that follow.
A request that may change stored items in place drops the counts of the items it names (an
UpdateItem's key, a transaction's updates), or every count when it names none (PartiQL, say).
DynamoDB requests run one at a time in the emulator (wsgi.py), so a count kept holds until a
request drops it.
"""

from __future__ import annotations

import functools
import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager

from . import hooks

SIZE_AT_WRITE = "dynamodb: an item stored by a put kept the size counted when it was built"
KEPT_PAST_UPDATE = "dynamodb: an update dropped only its own item's size"
# The requests whose new items moto stores as built: a TransactWriteItems may update in place an
# item it put, and an UpdateItem changes the item it builds.
_STORING = frozenset({"PutItem", "BatchWriteItem"})
_writing = threading.local()
_sizes: dict[int, tuple[weakref.ref, int]] = {}  # id(item) -> (its weak reference, Item.size())
_SIZES_KEPT = 1_000_000


ITEM_SIZE_LIMIT = 405000  # moto's LimitedSizeDict: AWS's 400 KB, measured at 409-410 KB
_SETS = frozenset({"SS", "NS", "BS"})


@functools.cache
def number_size_function():
    """moto's size of a number: its significant digits since moto 5.2.6, as DynamoDB counts
    them; its characters before."""
    try:
        from moto.dynamodb.models.utilities import number_size
    except ImportError:
        return len
    return number_size


def moto_size(typed, bytesize) -> int:
    """moto's DynamoType.size(), step for step, without the copy it makes of each map value
    (and so of everything beneath it) on the way down."""
    kind, value = typed.type, typed.value
    if kind == "N":
        return number_size_function()(str(value))
    if kind in _SETS:
        if kind == "NS":
            return sum(number_size_function()(str(v)) for v in value)
        return sum(1 if isinstance(v, bool) else bytesize(v) for v in value)
    if kind == "L":
        return sum(moto_size(v, bytesize) for v in value)
    if kind == "M":
        return sum(bytesize(k) + moto_size(v, bytesize) for k, v in value.items())
    return 1 if isinstance(value, bool) else bytesize(value)


def size(item) -> int:
    """moto's Item.size(), counted once between two requests that may change items."""
    from moto.dynamodb.models.utilities import bytesize

    known = _sizes.get(id(item))
    if known is not None and known[0]() is item:
        return known[1]
    counted = sum(bytesize(key) + moto_size(value, bytesize) for key, value in item.attrs.items())
    _keep(item, counted)
    return counted


def built(item, counted: int) -> None:
    """An item built with its size counted: kept when the request only stores new items."""
    if getattr(_writing, "stores", False):
        hooks.FAST_PATHS[SIZE_AT_WRITE] += 1
        _keep(item, counted)


@contextmanager
def storing(action: str) -> Iterator[None]:
    """Around one DynamoDB request: the sizes of the items it builds are kept if it only stores
    them."""
    _writing.stores = action in _STORING
    try:
        yield
    finally:
        _writing.stores = False


def forget() -> None:
    _sizes.clear()


def forget_updated(handler, action: str) -> None:
    """Before a request that may change stored items in place: the counts of the items it
    updates go, or every count when it is not an UpdateItem or a TransactWriteItems."""
    params = getattr(handler, "params", None) or {}
    if action == "UpdateItem":
        named = [params]
    elif action == "TransactWriteItems":
        named = [i["Update"] for i in params.get("TransactItems", []) if "Update" in i]
    else:
        named = None
    try:
        items = [_stored(handler, n["TableName"], n["Key"]) for n in named or []]
    except Exception:  # a request moto will refuse, naming no item it stores: drop every count
        items = None
    if named is None or items is None:
        _sizes.clear()
        return
    hooks.FAST_PATHS[KEPT_PAST_UPDATE] += 1
    for item in items:
        _sizes.pop(id(item), None)


def _stored(handler, table_name: str, key: dict):
    from moto.dynamodb.models.dynamo_type import DynamoType

    table = handler.dynamodb_backend.get_table(table_name)
    ranged = DynamoType(key[table.range_key_attr]) if table.range_key_attr else None
    return table.get_item(DynamoType(key[table.hash_key_attr]), ranged)


def _keep(item, counted: int) -> None:
    """The count, held by a weak reference: an item deleted from its table is freed, and its
    count with it (held strongly, the counts kept every item ever written alive, gigabytes in
    an emulator that tracked and untracked buckets of tens of thousands of objects)."""
    if len(_sizes) >= _SIZES_KEPT:
        _sizes.clear()
    key = id(item)
    _sizes[key] = (weakref.ref(item, lambda _, key=key: _forget_one(key)), counted)


def _forget_one(key: int) -> None:
    """The count of an item that died: popped before its id can be another item's."""
    _sizes.pop(key, None)
