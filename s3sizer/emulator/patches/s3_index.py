"""S3 listings read from a sorted index of each bucket's key names, as S3 reads its own.

moto answers every ListObjectsV2 request by walking all of the bucket's keys, sorting them and
skipping to the page: a bucket of 30,000 keys costs about 50 ms of one core a request, whatever
the page holds. So a listing of n keys costs O(n^2 / page), and the one-key requests that decide
where a baseline splits cost as much as a page each. S3 answers from an index: a request costs
what its page holds.

- ListObjectsV2 pages start at a binary search of the bucket's names, sorted once and kept
  until a name is added or removed, and a folder's keys are stepped over in one search. The key
  store's own writes (a new name stored, a name's versions replaced or popped) drop the sorted
  names; a request only checks that they are there and that their count is the store's, which
  also catches a name removed by a plain dict method. (Comparing the whole set of names on each
  request cost 2.6 ms of a one-key request at 30,000 names: a split probe cost as much as a
  page.)
- A common prefix is listed only if it holds a current object, as S3 lists it; moto lists one
  whose keys are all delete markers too.
- ListObjectVersions (s3_listing.py) starts its pages the same way.

The answer is moto's own in every other respect (tests/emulator/test_patch_contract.py compares
them page by page): the same keys, order, truncation and continuation tokens.
"""

from __future__ import annotations

import bisect
import functools

from . import hooks
from .hooks import PatchSet, Target

_MODELS = "moto.s3.models"
INDEXED = "s3: a listing page read from the sorted key index"
_CACHE = "_s3sizer_sorted_names"  # on a bucket's key store: its names, sorted
_UTILS = "moto.s3.utils"

TARGETS = {
    "list_objects_v2": Target(
        "ListObjectsV2 pages read from a sorted index of the bucket's keys", _MODELS,
        "S3Backend", "list_objects_v2",
        ("self", "bucket", "prefix", "delimiter", "continuation_token", "start_after", "max_keys"),
    ),
    "store": Target(
        "a key store drops its sorted names when a name is stored", _UTILS,
        "_VersionedKeyStore", "__setitem__", ("self", "key", "value"),
    ),
    "setlist": Target(
        "a key store drops its sorted names when a name's versions are set", _UTILS,
        "_VersionedKeyStore", "setlist", ("self", "key", "list_"),
    ),
    "pop": Target(
        "a key store drops its sorted names when a name is popped", _UTILS,
        "_VersionedKeyStore", "pop", ("self", "key"),
    ),
}  # fmt: skip


def install(patches: PatchSet) -> None:
    patches.replace(TARGETS["list_objects_v2"], _indexed)
    patches.replace(TARGETS["store"], _dropping_names_when_new)
    patches.replace(TARGETS["setlist"], _dropping_names_when_new)
    patches.replace(TARGETS["pop"], _dropping_names)


def sorted_names(keys) -> list[str]:
    """A bucket's key names (``bucket.keys``), sorted: kept on the store until a name comes or
    goes."""
    held = keys.__dict__.get(_CACHE)
    if held is not None and len(held) == len(keys):
        return held
    ordered = sorted(keys)
    keys.__dict__[_CACHE] = ordered
    return ordered


def _dropping_names_when_new(original):
    @functools.wraps(original)
    def write(self, key, *args):
        if key not in self:  # a name that was not there: the sorted names no longer hold
            self.__dict__.pop(_CACHE, None)
        return original(self, key, *args)

    return write


def _dropping_names(original):
    @functools.wraps(original)
    def remove(self, key, *args):
        self.__dict__.pop(_CACHE, None)
        return original(self, key, *args)

    return remove


def first_at(names: list[str], prefix: str, after: str | None = None) -> int:
    """Where the names under ``prefix`` begin, past ``after`` (a name itself excluded)."""
    at = bisect.bisect_left(names, prefix)
    return max(at, bisect.bisect_right(names, after)) if after else at


def past_all(names: list[str], at: int, folder: str) -> int:
    """The first position after every name that starts with ``folder``: ``folder`` with its last
    character one higher bounds them all (no character follows U+10FFFF: step through)."""
    if ord(folder[-1]) < 0x10FFFF:
        return bisect.bisect_left(names, folder[:-1] + chr(ord(folder[-1]) + 1), at)
    while at < len(names) and names[at].startswith(folder):
        at += 1
    return at


def _indexed(original):
    from moto.s3.models import FakeDeleteMarker

    @functools.wraps(original)
    def list_objects_v2(self, bucket, prefix, delimiter, continuation_token, start_after, max_keys):
        limit = (
            self._pagination_tokens.get(continuation_token) if continuation_token else start_after
        )
        if (type(bucket).__name__ != "FakeBucket" or max_keys is None or max_keys <= 0
                or (continuation_token and limit is None)):  # fmt: skip
            return original(
                self, bucket, prefix, delimiter, continuation_token, start_after, max_keys
            )
        hooks.FAST_PATHS[INDEXED] += 1
        prefix = prefix or ""
        names = sorted_names(bucket.keys)
        at, entries, latest = first_at(names, prefix, limit), [], bucket.keys.get
        while at < len(names) and len(entries) <= max_keys:
            name = names[at]
            if not name.startswith(prefix):
                break
            rest = name[len(prefix) :]
            if delimiter and delimiter in rest:
                folder = prefix + rest.split(delimiter)[0] + delimiter
                end = past_all(names, at, folder)
                current = (latest(names[i]) for i in range(at, end))
                if (not limit or folder > limit) and any(
                    key is not None and not isinstance(key, FakeDeleteMarker) for key in current
                ):
                    entries.append(folder)
                at = end
                continue
            key = latest(name)
            if key is not None and not isinstance(key, FakeDeleteMarker):
                entries.append(key)
            at += 1
        return self._truncate_result(entries, max_keys)

    return list_objects_v2
