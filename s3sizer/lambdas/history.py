"""The history table: the only code that reads or writes it (layout in layout.py).

For one tracked bucket (docs/architecture.md, "The history table", is binding):

- ``B#<bucket>`` / ``TOTALS``: the running totals, with ``max_size`` and a ``version``;
- ``B#<bucket>`` / ``H#<ts>#<version:012d>``: one point per applied chunk of changes;
- ``B#<bucket>#K<shard>`` / ``K#<key>``: one key's versions (see versions.py);
- ``B#<bucket>#P`` / ``P#<prefix>``: one tracked prefix's totals, and its points under
  ``B#<bucket>#P#<prefix>``;
- on the fold path, rows of each stream shard beside the totals and the prefixes' items, which
  every read here adds up (rows.py).

Applying a chunk of changes costs one BatchGetItem and one TransactWriteItems whatever the
bucket's size and the chunk's (up to 100 items); see batch.py.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from . import layout as lay
from . import prefix_history, rows
from . import versions as v
from .layout import (  # noqa: F401  (the public names of the table's schema)
    EMPTY_TOTALS,
    KEY_SCHEMA,
    TTL_ATTRIBUTE,
    KeyState,
    Point,
    PrefixTotals,
    Totals,
    iso_ms,
    parse_iso,
    table_definition,
)
from .listing import Drift, ListedVersion
from .records import Change, compare_sequencers, is_sequencer  # noqa: F401

if TYPE_CHECKING:
    from . import batch

APPLIED, DUPLICATE, STALE = v.APPLIED, v.DUPLICATE, v.STALE
MAX_PREFIX_DEPTH = 5
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Window:
    bucket: str
    start: datetime
    end: datetime
    seconds: float
    points: list[Point]
    start_size: int
    start_count: int
    totals: Totals
    prefix: str | None = None  # a tracked prefix's window; None: the bucket's
    # When the bucket's history begins inside the window (it was tracked then): its first
    # point's time, before which nothing is known, so nothing is drawn. None: it began before.
    began: datetime | None = None


class History:
    """One table's history, for any number of buckets. Clients and clock are injected."""

    def __init__(
        self,
        table_name: str,
        client,
        *,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        ttl_days: float = 0,
        sleep: Callable[[float], None] = time.sleep,
        prefix_depth: int = 1,
    ):
        if type(prefix_depth) is not int or not 0 <= prefix_depth <= MAX_PREFIX_DEPTH:
            raise ValueError(
                f"the prefix depth must be 0 to {MAX_PREFIX_DEPTH}, not {prefix_depth!r}"
            )
        self.table_name = table_name
        self.client = client
        self.prefix_depth = prefix_depth
        # The deployed tracker reads each bucket's settings item along with each chunk, and
        # ignores the buckets without one (batch.apply_chunk); off, every bucket is tracked at
        # ``prefix_depth``.
        self.settings_required = False
        # On the fold path, what the baseline adds to each key item it writes (tracked.fold_mark
        # of the bucket's settings: the mark and the tracking generation).
        self.fold_mark: dict | None = None
        # (bucket, key, version id) -> the version's storage class now, None when it is gone:
        # the tracker's lookup for buckets whose classes it tracks (classes.head_class).
        self.class_of: Callable[[str, str, str], str | None] | None = None
        # (bucket, key) -> the ids S3 holds of the key's versions (late_creates.py).
        self.versions_of: Callable[[str, str], set[str]] | None = None
        # "transaction": a chunk writes its key items, the totals and the points in one
        # transaction; "fold": only the key items, which the fold function counts (key_writes.py).
        self.write_path = "transaction"
        # Where a quiet baseline sends its BatchWriteItems side by side (a concurrent.futures
        # Executor shared by the run's ranges); None: one after another.
        self.write_pool = None
        self._now = now
        self.ttl_seconds = int(ttl_days * 86400)
        self._sleep = sleep

    def at_depth(self, depth: int) -> History:
        """The same table, client and settings, with prefix totals to ``depth``."""
        import copy

        other = copy.copy(self)
        other.prefix_depth = depth
        return other

    # -- writing ------------------------------------------------------------------------------

    def apply_changes(self, bucket: str, changes: list[Change]) -> batch.ChunkResult:
        """Apply one chunk of one bucket's changes (see ``batch.items_needed`` for its size): in
        one transaction (batch.py), or on the fold path its key items only (key_writes.py)."""
        # The writing half: only the tracker's zip holds it (see model.py).
        from . import batch, key_writes

        writer = key_writes if self.write_path == "fold" else batch
        return writer.apply_chunk(self, bucket, changes)

    def apply(self, bucket, key, sequencer, size, *, event, version_id=None, time=0.0) -> str:
        """Apply one S3 record: ``size`` None means a delete (a marker when ``event`` says so).

        Returns "applied", "duplicate" or "stale".
        """
        if not is_sequencer(sequencer):
            raise ValueError(f"sequencer {sequencer!r} is not hexadecimal")
        if size is not None and (isinstance(size, bool) or not isinstance(size, int) or size < 0):
            raise ValueError(f"size {size!r} is not a byte count")
        if size is not None:
            kind = v.OBJECT
        else:
            kind = v.MARKER if event.endswith("DeleteMarkerCreated") else v.GONE
        change = Change(
            bucket, key, version_id or v.NULL_VERSION, kind, v.normalise(sequencer), size or 0,
            event, time,
        )  # fmt: skip
        counts = self.apply_changes(bucket, [change]).counts
        return next(outcome for outcome, count in counts.items() if count)

    def next_timestamp(self, previous: str | None) -> str:
        """Now, but always at least 1 ms after the previous write of the same totals.

        Points and metric datapoints then never go back in time, even when a concurrent batch
        or a clock behind another container's wrote the totals last.
        """
        now = self._now()
        if previous is not None:
            now = max(now, parse_iso(previous) + timedelta(milliseconds=1))
        return iso_ms(now)

    def backoff(self, attempt: int) -> None:
        from . import batch

        self._sleep(batch.jittered(attempt))

    # -- reads --------------------------------------------------------------------------------

    def totals(self, bucket: str) -> Totals:
        return lay.totals_from(self.totals_item(bucket))

    def totals_item(self, bucket: str) -> dict | None:
        """The bucket's totals as one raw item: the base ``TOTALS`` and the fold's rows added up
        (rows.py); one Query, which reads one item when the fold never wrote the bucket."""
        condition, values = "begins_with(sk, :t)", {":t": {"S": lay.TOTALS_SK}}
        return rows.sum_totals(list(self._query(lay.bucket_pk(bucket), condition, values)))

    def key_state(self, bucket: str, key: str) -> KeyState | None:
        item = self._get(lay.key_address(bucket, key))
        return lay.key_state_from(item) if item else None

    def keys(self, bucket: str) -> Iterator[KeyState]:
        """Every recorded key (reconcile's comparison; grows with the bucket, as a listing does)."""
        for pk in lay.key_partitions(bucket):
            yield from (lay.key_state_from(i) for i in self._query(pk))

    def window(self, bucket: str, seconds: float) -> Window:
        """The points of the last ``seconds``, with the size carried in from before them."""
        totals = self.totals(bucket)
        start, end = self._bounds(seconds)
        items = list(self._query_points(lay.bucket_pk(bucket), start, end))
        points = [lay.point_from(i) for i in items]
        began = None
        if items:
            start_size = int(items[0]["prev_total_size"]["N"])
            start_count = int(items[0]["prev_object_count"]["N"])
            if self.point_at_or_before(bucket, start) is None:  # one Query of one item
                began = points[0].time
        else:
            start_size, start_count = totals.total_size, totals.object_count
        return Window(
            bucket, start, end, seconds, points, start_size, start_count, totals, began=began
        )

    def prefix_windows(
        self, bucket: str, seconds: float, top: int = 5, depth: int = 1
    ) -> list[Window]:
        """The windows of the ``top`` largest prefixes of at most ``depth`` slashes, largest
        first: one query of the prefixes and one of the bucket's points, then one per prefix
        shown."""
        start, end = self._bounds(seconds)
        windows = []
        shown = self.prefix_totals(bucket, depth=depth, top=top)
        carriers = list(self._query_points(lay.bucket_pk(bucket), start, end)) if shown else []
        for p in shown:
            own = self._query_points(lay.prefix_points_pk(bucket, p.prefix), start, end)
            items = prefix_history.merged(own, carriers, p.prefix)
            first = items[0] if items else None
            start_size = int(first["prev_total_size"]["N"]) if first else p.total_size
            start_count = int(first["prev_object_count"]["N"]) if first else p.object_count
            totals = Totals(p.total_size, p.object_count, 0, None, 0)
            points = [lay.point_from(i) for i in items]
            windows.append(
                Window(
                    bucket, start, end, seconds, points, start_size, start_count, totals, p.prefix
                )
            )
        return windows

    def points(self, bucket: str, since_seconds: float | None = None) -> list[Point]:
        """Every point (or those of the last ``since_seconds``), oldest first."""
        return self._points(lay.bucket_pk(bucket), since_seconds)

    def prefix_points(self, bucket: str, prefix: str, since_seconds=None) -> list[Point]:
        """The points of one tracked prefix, oldest first (prefix_history.py)."""
        return self.prefixes_points(bucket, [prefix], since_seconds)[prefix]

    def prefixes_points(self, bucket: str, prefixes: list[str], since_seconds=None) -> dict:
        """Each prefix's points, oldest first, the bucket's read once for them all."""
        return prefix_history.points(self, bucket, prefixes, since_seconds)

    def prefix_totals(self, bucket: str, depth=None, top=None, *, billed: bool = False):
        """The tracked prefixes holding at least one object (``billed``: or an older version or
        a delete marker, which S3 bills too), largest first.

        ``depth`` keeps prefixes of at most that many slashes, ``top`` the largest K. One query of
        the prefixes' partition: it grows with the number of prefixes, never with the objects.
        """
        found = []
        for item in self.prefix_items(bucket):
            count = int(item["object_count"]["N"])
            held = count > 0 or (billed and any(lay.breakdown_from(item)[1:3]))
            if not held or (depth is not None and item["prefix"]["S"].count("/") > depth):
                continue
            found.append(PrefixTotals(item["prefix"]["S"], int(item["total_size"]["N"]), count))
        found.sort(key=lambda p: (-p.total_size, -p.object_count, p.prefix))
        return found if top is None else found[: max(top, 0)]

    # -- what the bill counts and how fast it grows (docs/costs.md) --------------------------

    def prefix_items(self, bucket: str) -> Iterator[dict]:
        """The raw items of the tracked prefixes (their breakdown counters with them), each
        prefix's own item and the fold's rows of it (its own, and the bucket's rows that hold
        it) added up into one (rows.py)."""
        return iter(prefix_history.prefix_items(self, bucket))

    def point_at_or_before(self, bucket: str, when: datetime, prefix: str | None = None):
        """The last point at or before ``when`` (None: the history begins after it); one
        Query of one item (a prefix's: and of a bounded span of the bucket's points)."""
        if prefix is not None:
            item = prefix_history.at_or_before(self, bucket, prefix, when)
            return lay.point_from(item) if item else None
        pk = lay.bucket_pk(bucket)
        bounds = {
            ":a": {"S": lay.POINT_PREFIX},
            ":b": {"S": f"{lay.POINT_PREFIX}{iso_ms(when)}~"},
        }
        items = self._query_one(pk, "sk BETWEEN :a AND :b", bounds, newest_first=True)
        return lay.point_from(items) if items else None

    def first_point(self, bucket: str, prefix: str | None = None) -> tuple[Point, int] | None:
        """The oldest point kept, with the size just before it; one Query of one item."""
        pk = lay.bucket_pk(bucket) if prefix is None else lay.prefix_points_pk(bucket, prefix)
        item = self._query_one(
            pk, "begins_with(sk, :p)", {":p": {"S": lay.POINT_PREFIX}}, newest_first=False
        )
        if item is None:
            return None
        point = lay.point_from(item)
        if item.get("event", {}).get("S") in lay.BASELINE_EVENTS:  # listed, not grown, since then
            return point, point.total_size
        return point, int(item.get("prev_total_size", {"N": "0"})["N"])

    def _query_one(self, pk: str, sk_condition: str, values: dict, *, newest_first: bool):
        page = self.client.query(
            TableName=self.table_name,
            KeyConditionExpression=f"pk = :pk AND {sk_condition}",
            ExpressionAttributeValues={":pk": {"S": pk}, **values},
            ScanIndexForward=not newest_first,
            Limit=1,
            ConsistentRead=True,
        )
        items = page.get("Items", [])
        return items[0] if items else None

    def _points(self, pk: str, since_seconds) -> list[Point]:
        return [lay.point_from(i) for i in self._point_items(pk, since_seconds)]

    def _point_items(self, pk: str, since_seconds) -> Iterator[dict]:
        if since_seconds is None:
            return self._query(pk, "begins_with(sk, :p)", {":p": {"S": lay.POINT_PREFIX}})
        return self._query_points(pk, *self._bounds(since_seconds))

    def _bounds(self, seconds: float) -> tuple[datetime, datetime]:
        ok = isinstance(seconds, int | float) and not isinstance(seconds, bool)
        if not ok or not 0 < seconds < float("inf"):
            raise ValueError(f"the window must be a positive number of seconds, not {seconds!r}")
        end = self._now()
        try:
            return max(end - timedelta(seconds=seconds), _EPOCH), end
        except OverflowError:  # a window longer than the calendar: everything
            return _EPOCH, end

    def _get(self, address: dict) -> dict | None:
        # Strongly consistent: the driver polls right after a write and must see it.
        got = self.client.get_item(TableName=self.table_name, Key=address, ConsistentRead=True)
        return got.get("Item")

    def _query_points(self, pk: str, start: datetime, end: datetime) -> Iterator[dict]:
        # "~" sorts after "#", so the upper bound takes every version of the end's millisecond.
        bounds = {
            ":a": {"S": f"{lay.POINT_PREFIX}{iso_ms(start)}"},
            ":b": {"S": f"{lay.POINT_PREFIX}{iso_ms(end)}~"},
        }
        return self._query(pk, "sk BETWEEN :a AND :b", bounds)

    def _query(
        self, pk: str, sk_condition: str | None = None, values=None, page_items: int | None = None
    ) -> Iterator[dict]:
        for items in self._query_pages(pk, sk_condition, values, page_items):
            items.reverse()
            while items:  # each item is let go as it is taken
                yield items.pop()

    def _query_pages(
        self, pk: str, sk_condition: str | None = None, values=None, page_items=None, first=None
    ) -> Iterator[list[dict]]:
        """The items of each page in turn (the first ``first`` long, if given); a caller that
        empties a list lets its items go."""
        condition = "pk = :pk" + (f" AND {sk_condition}" if sk_condition else "")
        kwargs = {
            "TableName": self.table_name,
            "KeyConditionExpression": condition,
            "ExpressionAttributeValues": {":pk": {"S": pk}, **(values or {})},
            "ConsistentRead": True,
        }
        limit = first or page_items
        while True:
            page = self.client.query(**kwargs, **({"Limit": limit} if limit else {}))
            yield page.pop("Items", [])
            if "LastEvaluatedKey" not in page:
                return
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
            limit = page_items

    # -- starting totals and reconcile -----------------------------------------------------------

    def reset_from_listing(
        self, bucket: str, listing: Iterable[ListedVersion], *, prefix_depth: int | None = None
    ) -> Drift:
        """Make the keys, the totals and the prefix totals match one full listing; the drift.

        ``listing`` is ListObjectVersions' order (each key's versions newest first), or one
        ``ListedVersion(key, None, size, True, False)`` per object of an unversioned bucket.
        """
        depth = self.prefix_depth if prefix_depth is None else prefix_depth
        if type(depth) is not int or not 0 <= depth <= MAX_PREFIX_DEPTH:
            raise ValueError(f"the prefix depth must be 0 to {MAX_PREFIX_DEPTH}, not {depth!r}")
        # Imported here: the baseline runs in the CLI (setup, deploy, reconcile), never in a
        # function, so the functions' zips leave it out (they hold what is imported at the top).
        from . import baseline

        return baseline.reset(self, bucket, listing, depth)
