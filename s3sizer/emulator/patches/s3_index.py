"""S3 listings read from a sorted index of each bucket's key names, as S3 reads its own.

moto answers every ListObjectsV2 request by walking all of the bucket's keys, sorting them and
skipping to the page: a bucket of 30,000 keys costs about 50 ms of one core a request, whatever
the page holds. So a listing of n keys costs O(n^2 / page), and the one-key requests that decide
where a baseline splits cost as much as a page each. S3 answers from an index: a request costs
what its page holds.

- ListObjectsV2 pages start at a binary search of the bucket's names, sorted once and kept
  while the bucket's set of names stays the same (a C-level set comparison, about 1 ms at 30,000
  names, checks that on every request), and a folder's keys are stepped over in one search.
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
_CACHE = "_s3sizer_sorted_names"  # on a bucket's key store: (the names as a set, sorted)

TARGETS = {
    "list_objects_v2": Target(
        "ListObjectsV2 pages read from a sorted index of the bucket's keys", _MODELS,
        "S3Backend", "list_objects_v2",
        ("self", "bucket", "prefix", "delimiter", "continuation_token", "start_after", "max_keys"),
    ),
}  # fmt: skip


def install(patches: PatchSet) -> None:
    patches.replace(TARGETS["list_objects_v2"], _indexed)


def sorted_names(keys) -> list[str]:
    """A bucket's key names (``bucket.keys``), sorted: kept on the store while its names stay."""
    held = getattr(keys, _CACHE, None)
    if held is not None and keys.keys() == held[0]:
        return held[1]
    names = set(keys)
    ordered = sorted(names)
    setattr(keys, _CACHE, (names, ordered))
    return ordered


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
