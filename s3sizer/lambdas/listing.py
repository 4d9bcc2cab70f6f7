"""What a listing of the bucket says, and how far the recorded totals were from it.

Apart from the baseline code, so that the functions' zips, which never list, can leave it out.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ListedVersion:
    """One entry of a listing: ListObjectVersions' (a version or a delete marker), or, for an
    unversioned bucket, ListObjectsV2's as ``ListedVersion(key, None, size, True, False)``."""

    key: str
    version_id: str | None
    size: int
    is_latest: bool
    delete_marker: bool
    # When S3 answered the page that listed it (its Date header, s since the epoch); 0: unknown,
    # which a baseline takes to mean the bucket was quiet.
    listed_at: float = 0.0
    storage_class: str | None = None  # as the listing names it (None: a delete marker)


# The breakdown's figures a reconcile reports the drift of (layout.BREAKDOWN's keys at the
# live-version cap are a warning, not a figure a listing shows).
REPORTED_BREAKDOWN = ("noncurrent_bytes", "noncurrent_versions", "delete_markers")


@dataclass(frozen=True)
class Drift:
    """What a full listing found, and how far the recorded totals were off (listing - recorded)."""

    total_size: int
    object_count: int
    drift_bytes: int
    drift_objects: int
    # The run resumed an interrupted one: the drift counts what that one found, and mended, too.
    resumed: bool = False
    # How far the recorded breakdown was off, as listing - recorded: layout.BREAKDOWN's figures
    # (noncurrent bytes and versions, delete markers, keys at the live-version cap).
    breakdown: tuple[int, ...] = (0, 0, 0, 0)

    def report(self) -> dict:
        """reconcile's answer: the figures, their drift, and the breakdown's drift by name
        (``drift_noncurrent_bytes`` and so on)."""
        from .layout import BREAKDOWN

        figures = dict(zip(BREAKDOWN, self.breakdown, strict=True))
        return {
            "total_size": self.total_size,
            "object_count": self.object_count,
            "drift_bytes": self.drift_bytes,
            "drift_objects": self.drift_objects,
            **{f"drift_{name}": figures[name] for name in REPORTED_BREAKDOWN},
            "resumed": self.resumed,
        }
