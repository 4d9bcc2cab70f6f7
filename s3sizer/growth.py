"""Growth, from the history points s3sizer keeps: bytes per day over the last day and week.

The rate over a period is (size now - size at its start) / its length, per day. The size at
the start is the last point at or before it, which is exact: the size only changes at points.
When the history is shorter than the period, the rate is taken over the history there is
(from the size before its oldest point); with less than an hour of history it is None, as too
short to call a rate. Each rate costs two one-item Queries (the oldest point, read once, and
the point at the period's start), whatever the number of points.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

DAY = 86400
PERIODS = {"bytes_per_day_1d": 1, "bytes_per_day_7d": 7}
MIN_HISTORY_SECONDS = 3600
PROJECTION_DAYS = 30


def rates(
    history,
    bucket: str,
    size_now: int,
    *,
    prefix: str | None = None,
    days: tuple[int, ...] = (1, 7),
    now: datetime | None = None,
) -> dict[int, float | None]:
    """Bytes per day over each of the last ``days`` (None: under an hour of history)."""
    now = now or datetime.now(UTC)
    oldest = history.first_point(bucket, prefix)
    found: dict[int, float | None] = {}
    for period in days:
        start = now - timedelta(days=period)
        if oldest is None:
            found[period] = None  # no point at all: nothing says how long the size has held
            continue
        first, size_before_first = oldest
        if first.time <= start:
            point = history.point_at_or_before(bucket, start, prefix) or first
            start_size, seconds = point.total_size, period * DAY
        else:
            start_size, seconds = size_before_first, (now - first.time).total_seconds()
        if seconds < MIN_HISTORY_SECONDS:
            found[period] = None
        else:
            found[period] = round((size_now - start_size) / seconds * DAY, 1)
    return found


def projected_size(size_now: int, per_day: float | None) -> int | None:
    if per_day is None:
        return None
    return max(round(size_now + PROJECTION_DAYS * per_day), 0)
