"""Where a flat level's keys split, so that a pool of workers lists them side by side.

S3 lists a prefix's keys in order, one page after another: a level of many keys and no
folders (a flat bucket, or hashed or numbered names) would be listed by one worker, however many
there are. Before its baseline begins, a top level with more than a page of keys is split by the
characters its keys start with: each stretch of keys that start alike (``obj-0003``, or ``a7``)
becomes a range of its own, and the top level's own range lists only what lies between them
(``Span.skip``). The stretches are found with ListObjectsV2 requests of one key each (S3 lists no
counts): the first key after a name gives the next character used there. Their count and the
requests spent are bounded, and what no stretch holds, including keys written afterwards with
new first characters, stays with the top level's range, so every key still has one range.
"""

from __future__ import annotations

from collections import deque

from s3sizer.lambdas.baseline_keys import PAST
from s3sizer.stack import listing

# Requests spent looking for stretches, at most: enough to pass a long common beginning
# (`logs-2026-12-04T`) and then split one or two characters further.
PROBES = 200
# Pages of the top level's own keys, at least, to be worth splitting: a page takes about 0.15 s
# on AWS (docs/scaling.md), so a level of fewer is listed by one worker in under 15 s.
SPLIT_AT_PAGES = 100


def top_level(s3, bucket: str, workers: int) -> list[str]:
    """The top level's stretches for ``workers`` to list side by side, or none: unless its own
    keys (not its folders) fill more than a page, and the stretches its first page spans put
    it at ``SPLIT_AT_PAGES`` pages or more, one worker lists it about as fast, and each range
    costs requests of its own (its recorded keys are read by 16 Queries)."""
    if workers < 2:
        return []
    size = listing.PAGE_SIZE
    page = s3.list_objects_v2(Bucket=bucket, Delimiter="/", MaxKeys=size)
    keys = [item["Key"] for item in page.get("Contents", [])]
    if not page.get("IsTruncated") or len(keys) <= size // 2:
        return []
    stretches = split_level(s3, bucket, "", workers)
    spanned = {s for s in stretches for key in keys if key.startswith(s)}
    # The first page's keys, over the share of the stretches they lie in: an estimate of the
    # level's keys, low when its keys are spread evenly (its last stretch may be only begun).
    estimate = len(keys) * len(stretches) / max(1, len(spanned))
    return stretches if estimate >= SPLIT_AT_PAGES * size else []


def split_level(s3, bucket: str, prefix: str, ranges: int) -> list[str]:
    """About ``ranges`` stretches of the level's keys (or [] when it does not split), named by
    their first characters after ``prefix``, in key order. None holds another, and none is a
    folder: whatever a name holds besides its stretches (the name itself as a key, its folders,
    names not reached) stays with the level's own range."""
    leaves: set[str] = {prefix}
    flat: deque[str] = deque([prefix])  # names whose first entry is a key: split further
    spent = [0]

    def first_after(start: str | None, within: str) -> tuple[str, bool] | None:
        """The first name listed after ``start``, and whether it is a key (not a folder)."""
        spent[0] += 1
        since = {"StartAfter": start} if start is not None else {}
        page = s3.list_objects_v2(Bucket=bucket, Prefix=within, Delimiter="/", MaxKeys=1, **since)
        found = [(c["Key"], True) for c in page.get("Contents", [])]
        found += [(p["Prefix"], False) for p in page.get("CommonPrefixes", [])]
        return min(found) if found else None

    def children(name: str) -> list[tuple[str, bool]]:
        out: list[tuple[str, bool]] = []
        start = None
        while spent[0] < PROBES and (first := first_after(start, name)) is not None:
            entry, is_key = first
            child = name + entry[len(name)] if len(entry) > len(name) else None
            if child is None or (out and child == out[-1][0]):
                start = entry  # the name itself, or a key with U+10FFFF after the child's name
                continue
            if not child.endswith("/"):  # a folder is a range already
                out.append((child, is_key))
            start = child + PAST
        return out

    while flat and len(leaves) < ranges and spent[0] < PROBES:
        # Breadth first, and only where keys lie: a name whose first entry is a folder (`p` of
        # `p00/`, `p01/`, ...) keeps its stretch whole rather than spend requests on folders.
        name = flat.popleft()
        found = children(name)
        if not found:
            continue
        leaves.discard(name)
        leaves.update(child for child, _ in found)
        flat.extend(child for child, is_key in found if is_key)
    out = sorted(leaves - {prefix})
    return out if len(out) > 1 else []
