"""What section 1 does to moto, in its own process, and why.

Section 1 runs the emulator in-process so that it can preload 100,000 objects without 100,000
HTTP PutObjects (``DirectBucket``). Two of moto's internals cost O(N) per request, where AWS's
cost per request does not depend on N; left alone they would time moto, not the trackers, and a
full run would take hours:

- TransactWriteItems deep-copies the whole table, once per item of the transaction, to be able
  to roll back (3 copies per tracker event: about 1.4 s per event at 10,000 items);
- each ListObjectsV2 page sorts the whole bucket, then scans it for the continuation token.

``install()`` replaces both: the transaction saves and restores only the items it touches, and
the listing pages through a sorted key list kept by ``DirectBucket``. Requests still go through
HTTP, moto's parsing, its conditions and its XML/JSON rendering, and the emulator's locks.
``as_shipped()`` turns both off, so that section 1 also reports what moto costs without them.
These replacements must only ever be used in the benchmark's own process.
"""

from __future__ import annotations

import bisect
import copy
import hashlib
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

_state = threading.local()  # .copying_skipped: inside a transaction that saved its own items
_enabled = True
_sorted_keys: dict[str, list[str]] = {}  # bucket name -> its keys, for buckets of DirectBucket
_originals: dict = {}


def install() -> None:
    import moto.dynamodb.models as dynamodb_models
    from moto.dynamodb.models import DynamoDBBackend
    from moto.s3.models import S3Backend

    if _originals:
        return
    _originals["transact_write_items"] = DynamoDBBackend.transact_write_items
    _originals["list_objects_v2"] = S3Backend.list_objects_v2
    DynamoDBBackend.transact_write_items = _transact_write_items
    S3Backend.list_objects_v2 = _list_objects_v2
    # moto calls copy.deepcopy(table) through its module's `copy`: that one name is redirected.
    dynamodb_models.copy = _CopyUnlessSkipped()


@contextmanager
def as_shipped() -> Iterator[None]:
    """moto's own TransactWriteItems and ListObjectsV2, for the duration of the block."""
    global _enabled
    _enabled = False
    try:
        yield
    finally:
        _enabled = True


class _CopyUnlessSkipped:
    """The `copy` module, except that deepcopy of a Table is skipped while a transaction that
    saved its own items runs (the emulator serializes DynamoDB requests, so one at a time)."""

    def __getattr__(self, name):
        return getattr(copy, name)

    @staticmethod
    def deepcopy(value, memo=None):
        from moto.dynamodb.models.table import Table

        if getattr(_state, "copying_skipped", False) and isinstance(value, Table):
            return value
        return copy.deepcopy(value, memo)


def _transact_write_items(self, transact_items):
    original = _originals["transact_write_items"]
    if not _enabled:
        return original(self, transact_items)
    saved = [snapshot for item in transact_items if (snapshot := _save(self, item))]
    _state.copying_skipped = True
    try:
        return original(self, transact_items)
    except Exception:
        # moto rolls back on every failure it raises; with the copy skipped, its "restore"
        # puts back the live table, so the touched items are restored here instead.
        for table, hash_key, range_key, item in reversed(saved):
            _restore(table, hash_key, range_key, item)
        raise
    finally:
        _state.copying_skipped = False


def _save(backend, transact_item: dict):
    """(table, hash key, range key, a copy of the item or None) for one item of a transaction."""
    _, op = next(iter(transact_item.items()))
    table = backend.tables.get(op.get("TableName"))
    if table is None:
        return None
    attrs = op.get("Key") or op.get("Item") or {}
    if table.hash_key_attr not in attrs or (
        table.has_range_key and table.range_key_attr not in attrs
    ):
        return None  # moto rejects this item before it writes anything
    hash_key, range_key = backend.get_keys_value(table, attrs)
    return table, hash_key, range_key, copy.deepcopy(table.get_item(hash_key, range_key))


def _restore(table, hash_key, range_key, item) -> None:
    if range_key is None:
        if item is None:
            table.items.pop(hash_key, None)
        else:
            table.items[hash_key] = item
    elif item is None:
        table.items[hash_key].pop(range_key, None)
    else:
        table.items[hash_key][range_key] = item


def _list_objects_v2(
    self, bucket, prefix, delimiter, continuation_token, start_after, max_keys
):  # fmt: skip
    names = _sorted_keys.get(bucket.name)
    if not _enabled or names is None or prefix or delimiter or max_keys <= 0:
        return _originals["list_objects_v2"](
            self, bucket, prefix, delimiter, continuation_token, start_after, max_keys
        )
    after = self._pagination_tokens.get(continuation_token) if continuation_token else start_after
    start = bisect.bisect_right(names, after) if after else 0
    page = names[start : start + max_keys]
    truncated = start + max_keys < len(names)
    token = None
    if truncated:  # the same token moto would give: the md5 of the page's last key
        token = hashlib.md5(page[-1].encode(), usedforsecurity=False).hexdigest()
        self._pagination_tokens[token] = page[-1]
    return [bucket.keys[name] for name in page], truncated, token


class DirectBucket:
    """Writes objects straight into moto's S3 backend (no HTTP), keeping the sorted key list
    that the listing above pages through. The bucket must exist and have no notifications."""

    def __init__(self, bucket: str):
        from moto.core import DEFAULT_ACCOUNT_ID
        from moto.s3.models import s3_backends

        self.bucket = bucket
        self._backend = s3_backends[DEFAULT_ACCOUNT_ID]["aws"]
        self._backend.get_bucket(bucket)  # fail now if it does not exist
        self._names = _sorted_keys.setdefault(bucket, [])

    def put_many(self, objects: Iterable[tuple[str, int]]) -> None:
        for key, size in objects:
            self._backend.put_object(self.bucket, key, b"x" * size, disable_notification=True)
            self._names.append(key)
        self._names[:] = sorted(set(self._names))  # in place: the listing holds this list

    def put(self, key: str, size: int) -> None:
        self._backend.put_object(self.bucket, key, b"x" * size, disable_notification=True)
        index = bisect.bisect_left(self._names, key)
        if index == len(self._names) or self._names[index] != key:
            self._names.insert(index, key)

    def delete(self, key: str) -> None:
        self._backend.delete_object(self.bucket, key)
        index = bisect.bisect_left(self._names, key)
        if index < len(self._names) and self._names[index] == key:
            del self._names[index]
