"""A prefix's history: its own points, and the fold steps' bucket points that carry it.

Every writer but the fold writes a prefix's points into the prefix's own partition. A fold step
carries the prefixes of its bucket's row inside the bucket's point (fold_prefixes.py), and gives
a prefix an own point only at a shard's first step of it and then at most every
``PREFIX_POINT_SECONDS``; that own point and the bucket's point of the same step share their
sort key, so the two sources are merged by it. Hence:

- the points of a span are the prefix's own points there and the bucket points there that
  carry it;
- the last point at or before a time ``t`` is either the last own point at or before ``t``
  (at ``t0``) or a bucket point that carries the prefix in ``(t0, t]``. Every fold step of a
  prefix comes at most ``PREFIX_POINT_SECONDS`` after an own point of the same shard and
  prefix, and an own point is itself such a step, so only ``(t0, t0 + PREFIX_POINT_SECONDS]``
  needs reading: a bounded span of the bucket's points, whatever ``t``.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from . import layout as lay
from . import rows
from .fold_prefixes import PREFIX_POINT_SECONDS, READS, carried

# Each side, for the clocks of the containers that wrote the points.
MARGIN = timedelta(seconds=5)


def merged(own: Iterable[dict], bucket_points: Iterable[dict], prefix: str) -> list[dict]:
    """The prefix's point items, oldest first, from its own and the bucket's points."""
    found = {item["sk"]["S"]: item for item in own}
    for point in bucket_points:
        item = carried(point, prefix)
        if item is not None:
            found.setdefault(item["sk"]["S"], item)
    return [found[sk] for sk in sorted(found)]


def points(h, bucket: str, prefixes: list[str], since_seconds) -> dict[str, list]:
    """Each prefix's points, oldest first: the bucket's points, which carry the fold's steps,
    are read once for them all."""
    carriers = list(h._point_items(lay.bucket_pk(bucket), since_seconds))
    out = {}
    for prefix in prefixes:
        own = h._point_items(lay.prefix_points_pk(bucket, prefix), since_seconds)
        out[prefix] = [lay.point_from(i) for i in merged(own, carriers, prefix)]
    return out


def at_or_before(h, bucket: str, prefix: str, when: datetime) -> dict | None:
    """The prefix's last point item at or before ``when`` (None: its history begins after)."""
    bounds = {":a": {"S": lay.POINT_PREFIX}, ":b": {"S": f"{lay.POINT_PREFIX}{lay.iso_ms(when)}~"}}
    own = h._query_one(
        lay.prefix_points_pk(bucket, prefix), "sk BETWEEN :a AND :b", bounds, newest_first=True
    )
    if own is None:
        return None
    since = lay.parse_iso(own["ts"]["S"])
    until = min(when, since + timedelta(seconds=PREFIX_POINT_SECONDS) + MARGIN)
    span = h._query_points(lay.bucket_pk(bucket), since - MARGIN, until)
    later = [i for i in merged([own], span, prefix) if i["sk"]["S"] <= bounds[":b"]["S"]]
    return later[-1]


def prefix_items(h, bucket: str) -> list[dict]:
    """Every prefix's item, its own rows and the bucket's rows' entries of it added into one.

    A compaction, or prefixes leaving a row, between the read of the rows and the read of the
    prefix partition would count them twice (fold_prefixes.figures_before): the rows are read
    again after the partition, and everything again while a prefix has left a row of the first
    read."""
    condition, values = "begins_with(sk, :t)", {":t": {"S": rows.TOTALS_ROWS}}
    held = list(h._query(lay.bucket_pk(bucket), condition, values))
    for _ in range(READS):
        own = list(h._query(lay.prefix_pk(bucket)))
        if not held:  # no fold rows (the transaction path): nothing to compact meanwhile
            break
        again = list(h._query(lay.bucket_pk(bucket), condition, values))
        if not rows.prefixes_moved_out(held, again):
            break
        held = again
    else:  # the partition and the last rows would miss what left between them
        raise RuntimeError(
            f"prefixes of bucket {bucket!r} kept leaving the fold's rows across {READS} reads;"
            " run it again"
        )
    return rows.sum_prefix_items([*own, *rows.row_prefix_items(bucket, held)])
