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
from collections.abc import Callable

from s3sizer.lambdas import batch
from s3sizer.lambdas.baseline import ListingStopped
from s3sizer.lambdas.baseline_keys import PAST, Span
from s3sizer.stack import listing

# Requests spent looking for stretches, at most (and as many on the estimate before it):
# enough to pass a long common beginning (`logs-2026-12-04T`) and split one or two further.
PROBES = 200
# Pages of a level's own keys, at least, to be worth splitting. On AWS a page takes about
# 0.15 s and a one-key request about 0.02 s (docs/scaling.md): one worker lists 20 pages in 3 s,
# a split spends its requests (about 40 for numbered keys, 0.8 s) and 16 workers list the rest
# in a fifth of a second. At 100, as first shipped, a flat level of 30,000 keys was listed by
# one worker: `setup` took 1.6x the time of `aws s3 ls` on the local AWS, against 1.4x split.
SPLIT_AT_PAGES = 20


def top_level(s3, bucket: str, workers: int) -> list[str]:
    """The top level's stretches for ``workers`` to list side by side (its folders are ranges
    of their own already), or none."""
    return level(s3, bucket, "", workers, direct=True)


def level(
    s3, bucket: str, prefix: str, workers: int, *, direct: bool, page: dict | None = None,
    stop: Callable[[], bool] = lambda: False,
) -> list[str]:  # fmt: skip
    """Stretches of the keys under ``prefix`` for ``workers`` to list side by side (``direct``:
    only its own keys, not its folders'), or none: unless those keys fill more than a page,
    and about ``SPLIT_AT_PAGES`` pages or more, one worker lists them about as fast, and each
    range costs requests of its own (its recorded keys are read by 16 Queries). ``page``: the
    level's first page, read already (of its keys or of their versions). ``stop()``: the run
    stops, and the requests with it (baseline.ListingStopped)."""
    if workers < 2:
        return []
    size = listing.PAGE_SIZE
    if page is None:
        folders = {"Delimiter": "/"} if direct else {}
        page = s3.list_objects_v2(Bucket=bucket, Prefix=prefix, MaxKeys=size, **folders)
    keys = sorted(
        {
            item["Key"]
            for part in ("Contents", "Versions", "DeleteMarkers")
            for item in page.get(part, [])
        }
    )
    if not page.get("IsTruncated") or len(keys) <= size // 2:
        return []
    probe = _Probe(s3, bucket, direct, stop)
    enough = SPLIT_AT_PAGES * size
    names = [child for child, _ in probe.children(prefix)]
    if not any(key.startswith(name) for key in keys for name in names):
        # The first page lies where one-key requests see nothing (keys with only versions and
        # delete markers): only the split's stretches tell how far the level goes.
        stretches = probe.split(prefix, workers)
        return stretches if probe.estimate(keys, stretches) >= enough else []
    # Otherwise the estimate first: it spends a few requests a character of the keys' common
    # beginning, where a split would spend up to PROBES on a level then found too short.
    if probe.estimate(keys, names) < enough:
        return []
    probe.spent = 0  # the split's own PROBES: a level of 200 first characters spent them all
    return probe.split(prefix, workers)


def split_level(s3, bucket: str, prefix: str, ranges: int, *, direct: bool = True) -> list[str]:
    """About ``ranges`` stretches of the level's keys (or [] when it does not split), named by
    their first characters after ``prefix``, in key order. None holds another. Of a direct
    level, none is a folder: whatever a name holds besides its stretches (the name itself as
    a key, its folders, names not reached) stays with the level's own range."""
    return _Probe(s3, bucket, direct).split(prefix, ranges)


class _Probe:
    """ListObjectsV2 requests of one entry each, PROBES at most."""

    def __init__(self, s3, bucket: str, direct: bool, stop: Callable[[], bool] = lambda: False):
        self.s3, self.bucket, self.spent, self.stop = s3, bucket, 0, stop
        # A direct level's folders are ranges already; a folder's own sub-folders are not.
        self.folders = {"Delimiter": "/"} if direct else {}
        self._children: dict[str, list[tuple[str, bool]]] = {}  # the estimate's, for the split

    def _first_after(self, start: str | None, within: str) -> tuple[str, bool] | None:
        """The first name listed after ``start``, and whether it is a key (not a folder)."""
        if self.stop():  # up to PROBES requests: a Ctrl-C does not wait for them
            raise ListingStopped
        self.spent += 1
        since = {"StartAfter": start} if start is not None else {}
        page = self.s3.list_objects_v2(
            Bucket=self.bucket, Prefix=within, MaxKeys=1, **self.folders, **since
        )
        found = [(c["Key"], True) for c in page.get("Contents", [])]
        found += [(p["Prefix"], False) for p in page.get("CommonPrefixes", [])]
        return min(found) if found else None

    def children(self, name: str, after: str | None = None) -> list[tuple[str, bool]]:
        """The names one character longer that keys under ``name`` start with (not folders),
        each with whether its first entry is a key; only those with a key after ``after``."""
        if after is None and name in self._children:
            return self._children[name]
        out: list[tuple[str, bool]] = []
        start = after
        while self.spent < PROBES and (first := self._first_after(start, name)) is not None:
            entry, is_key = first
            child = name + entry[len(name)] if len(entry) > len(name) else None
            if child is None or (out and child == out[-1][0]):
                start = entry  # the name itself, or a key with U+10FFFF after the child's name
                continue
            if not (self.folders and child.endswith("/")):  # a folder is a range already
                out.append((child, is_key))
            start = child + PAST
        if after is None and self.spent < PROBES:  # complete: not cut short by the budget
            self._children[name] = out
        return out

    def split(self, prefix: str, ranges: int) -> list[str]:
        leaves = self.widen({prefix}, deque([prefix]), ranges)
        out = sorted(leaves - {prefix})
        return out if len(out) > 1 else []

    def widen(self, leaves: set[str], flat: deque[str], ranges: int) -> set[str]:
        """``leaves`` split further until about ``ranges``: breadth first, and only where keys
        lie (``flat``: the names whose first entry is a key). A name whose first entry is a
        folder (`p` of `p00/`, `p01/`, ...) stays one stretch rather than spend requests on
        folders."""
        while flat and len(leaves) < ranges and self.spent < PROBES:
            name = flat.popleft()
            found = self.children(name)
            if found:
                leaves.discard(name)
                leaves.update(child for child, _ in found)
                flat.extend(child for child, is_key in found if is_key)
        return leaves

    def estimate(self, keys: list[str], names: list[str]) -> float:
        """The level's keys, from where its first page (``keys``) lies: the page's keys, times
        the ``names`` at each step down over those the page reaches, followed down while the
        page lies under one name. From a level's first names, against an in-memory listing, pages of 1,000:
        3,000,000 for 3,000,000 numbered keys (`obj-0000000000`...) in 62 requests, 30,000 for
        30,000 in 44, and 292,571 for 300,000 hashed ones in 51."""
        times = 1.0  # the names beside each one the page lay under, multiplied
        while names:
            reached = [n for n in names if any(key.startswith(n) for key in keys)]
            spread = times * len(keys) * len(names) / max(1, len(reached))
            if len(reached) > 1 and self.spent < PROBES:
                # The page ends inside its last name: a few keys before it (150 `a...` before
                # 24,000 `obj-...`) would put the level at two names' worth of a page. How far
                # the last name's own keys go is the better guess, followed down the same way.
                under = [key for key in keys if key.startswith(reached[-1])]
                children = [child for child, _ in self.children(reached[-1])]
                deeper = len(keys) - len(under) + self.estimate(under, children)
                return max(spread, times * deeper)
            if len(reached) != 1 or self.spent >= PROBES:
                return spread
            times *= len(names)
            names = [child for child, _ in self.children(reached[0])]
        return times * len(keys)


def split_after(
    s3, bucket: str, prefix: str, cursor: str, ranges: int, *, direct: bool = False,
    stop: Callable[[], bool] = lambda: False,
) -> list[str]:  # fmt: skip
    """About ``ranges`` stretches of the keys under ``prefix`` that sort after ``cursor`` (a
    range's last merged key), for idle workers to take from the range that lists them: every
    key under each lies after the cursor. Found down the names that hold the cursor (`k0123`
    gives `k013`...`k019`, then `k02`...`k09`, then `k1`...), then breadth first as
    ``split_level`` does (of a ``direct`` level, no folder is a stretch)."""
    probe = _Probe(s3, bucket, direct, stop)
    leaves: set[str] = set()
    flat: deque[str] = deque()  # stretches whose first entry is a key: split further
    holding = prefix  # the name that holds the cursor, one character longer each step
    while holding is not None and len(leaves) < ranges and probe.spent < PROBES:
        found, holding = probe.children(holding, after=cursor), None
        for child, is_key in found:
            if cursor.startswith(child):
                holding = child  # its keys after the cursor are one level further down
            elif child > cursor:
                leaves.add(child)
                if is_key:
                    flat.append(child)
    return sorted(probe.widen(leaves, flat, ranges))


def split_folder(
    h, s3, bucket: str, span: Span, workers: int, item_of, page: dict,
    stop: Callable[[], bool] = lambda: False,
) -> list[Span]:  # fmt: skip
    """A folder's range split into stretches, when it is large (``level``, from ``page``, its
    first): the stretches' range items and the folder's, now skipping them, put in one
    transaction, so a run stopped before it lists the folder whole, and one stopped after
    finds the stretches. ``item_of``: a span's range item, not started. The stretches, for the
    caller to run ([]: no split)."""
    names = level(s3, bucket, span.prefix, workers, direct=False, page=page, stop=stop)
    names = names[: batch.TRANSACTION_ITEMS - 1]  # one transaction, with the folder's own item
    if not names:
        return []
    stretches = [Span(name) for name in names]
    items = [item_of(s) for s in (*stretches, Span(span.prefix, skip=tuple(names)))]
    h.client.transact_write_items(
        TransactItems=[{"Put": {"TableName": h.table_name, "Item": item}} for item in items]
    )
    return stretches
