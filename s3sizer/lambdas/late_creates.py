"""Whether S3 still has a version that the key's map cannot place (versions.UNSURE).

A key's map keeps only its newest tombstones. A create delivered later than the deletes of
that many newer versions of the same key (a batch retried after its visibility timeout, a
redrive from the dead-letter queue) may be of a version whose own tombstone was dropped: S3
alone can say. One ListObjectVersions of the key answers for every version of it in a chunk.
It needs ``s3:ListBucketVersions``, which lists names, sizes and ids and reads no object; it
is billed as a LIST request, and asked only on such late deliveries.
"""

from __future__ import annotations

from collections.abc import Callable

from . import classes

ASKED = "present"  # looked_up's keys for these answers: (ASKED, key, version id)


def asked(key: str, version_id: str) -> tuple[str, str, str]:
    return (ASKED, key, version_id)


def version_lister(s3, page_size: int | None = None) -> Callable[[str, str], set[str]]:
    """(bucket, key) -> the ids of the key's versions and delete markers S3 holds now."""
    paging = {} if page_size is None else {"PaginationConfig": {"PageSize": page_size}}

    def versions_of(bucket: str, key: str) -> set[str]:
        found: set[str] = set()
        paginator = s3.get_paginator("list_object_versions")
        pages = paginator.paginate(Bucket=bucket, Prefix=key, **paging)
        for page in pages:
            entries = page.get("Versions", []) + page.get("DeleteMarkers", [])
            ours = [entry["VersionId"] for entry in entries if entry["Key"] == key]
            found.update(ours)
            if len(ours) < len(entries):  # keys list in order: past this key, it is done
                break
        return found

    return versions_of


def look_up(h, bucket: str, doubts: set[tuple[str, str]]) -> dict:
    """{asked(key, version id): whether S3 has that version now}, one listing per key."""
    if h.versions_of is None:
        raise RuntimeError("a late create needs S3's word, and no version lister is set")
    held = {key: h.versions_of(bucket, key) for key in sorted({key for key, _ in doubts})}
    return {asked(key, vid): vid in held[key] for key, vid in doubts}


def ask_s3(h, bucket: str, plan, looked_up: dict) -> int:
    """Asks S3 what the plan needs (versions' classes, late creates' versions) into
    ``looked_up``; how many requests that was (a HEAD per version, a LIST per key)."""
    if plan.need:
        looked_up |= classes.look_up(h, bucket, sorted(plan.need))
    if plan.doubts:
        looked_up |= look_up(h, bucket, plan.doubts)
    return len(plan.need) + len({key for key, _ in plan.doubts})
