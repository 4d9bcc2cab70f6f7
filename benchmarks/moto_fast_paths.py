"""What section 1 does to moto, in its own process, and why.

Section 1 runs the emulator in-process so that it can preload 100,000 objects without 100,000
HTTP PutObjects (``DirectBucket``). moto's ListObjectsV2 sorts the whole bucket for every page
(then scans it for the continuation token), so that a page costs O(N) where AWS's does not: at
100,000 objects each page would cost about 2.5 times as much, all of it moto's sort.

``install()`` makes the listing page through a sorted key list kept by ``DirectBucket``. Requests
still go through HTTP, moto's parsing and XML rendering, and the emulator's locks.
``as_shipped()`` turns it off, so that section 1 also reports what moto's own listing costs.
This replacement must only ever be used in the benchmark's own process.
"""

from __future__ import annotations

import bisect
import hashlib
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

_enabled = True
_sorted_keys: dict[str, list[str]] = {}  # bucket name -> its keys, for buckets of DirectBucket
_originals: dict = {}


def install() -> None:
    from moto.s3.models import S3Backend

    if _originals:
        return
    _originals["list_objects_v2"] = S3Backend.list_objects_v2
    S3Backend.list_objects_v2 = _list_objects_v2


@contextmanager
def as_shipped() -> Iterator[None]:
    """moto's own ListObjectsV2, for the duration of the block."""
    global _enabled
    _enabled = False
    try:
        yield
    finally:
        _enabled = True


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
            self._put(key, size)
            self._names.append(key)
        self._names[:] = sorted(set(self._names))  # in place: the listing holds this list

    def put(self, key: str, size: int) -> None:
        self._put(key, size)
        index = bisect.bisect_left(self._names, key)
        if index == len(self._names) or self._names[index] != key:
            self._names.insert(index, key)

    def _put(self, key: str, size: int) -> None:
        stored = self._backend.put_object(self.bucket, key, b"x" * size, disable_notification=True)
        # moto computes an ETag lazily from the value; an HTTP PutObject computes it for its
        # response. Compute it now, as that would: the emulator's DeleteObject reads the removed
        # object's ETag (for its event) after moto has closed the value.
        stored.etag  # noqa: B018

    def delete(self, key: str) -> None:
        self._backend.delete_object(self.bucket, key)
        index = bisect.bisect_left(self._names, key)
        if index < len(self._names) and self._names[index] == key:
            del self._names[index]
