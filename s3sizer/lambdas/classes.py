"""The storage class of one object version, for buckets whose classes the tracker follows.

S3's event records carry no storage class, so each version a record creates is looked up once:
HeadObject, which needs only ``s3:GetObject`` (and ``s3:GetObjectVersion`` with a version id),
where GetObjectAttributes needs ``s3:GetObjectAttributes`` (or ``s3:GetObjectVersionAttributes``)
on top of them (AWS's HeadObject and GetObjectAttributes API references, "Permissions").
HeadObject names the class in ``x-amz-storage-class``, and leaves it out for STANDARD.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from botocore.exceptions import ClientError

logger = logging.getLogger(__name__)

# A version deleted before its lookup: 404 (NoSuchKey, NoSuchVersion; HEAD has no body, so
# botocore names it by its status), or 405 when the id is now a delete marker's.
_GONE = {"404", "405", "NoSuchKey", "NoSuchVersion", "NotFound", "MethodNotAllowed"}
# An object encrypted with a customer's key (SSE-C) answers HEAD without that key with 400
# (HeadObject's reference): asking again never helps, so its class is not known, and the
# version counts as STANDARD until a listing (reconcile) names its class. Failing the chunk
# instead would hold back every other change in it at each retry.
_UNREADABLE = {"400", "BadRequest"}


# HeadObject's answer without a version id came from a bucket versioned since the record: the
# object it describes may be a later version (or marker) than the "null" one the record made.
_VERSIONED_SINCE = object()


def head_class(s3) -> Callable[[str, str, str], str | None]:
    """(bucket, key, version id) -> the version's class now, or None when it is gone. A
    version id of None (a bucket never versioned) asks for the object itself; should the
    bucket have been versioned since, the "null" version by its id."""

    def class_of(bucket: str, key: str, version_id: str | None) -> str | None:
        if version_id is None:
            found = _head(s3, bucket, key, None)
            if found is not _VERSIONED_SINCE:
                return found
            version_id = "null"  # the version the record made, whatever was written after it
        return _head(s3, bucket, key, version_id)

    return class_of


def _head(s3, bucket: str, key: str, version_id: str | None):
    named = {} if version_id is None else {"VersionId": version_id}
    try:
        # "null" names the version a write made while versioning was suspended (or before it
        # was ever enabled).
        head = s3.head_object(Bucket=bucket, Key=key, **named)
    except ClientError as err:
        error = err.response.get("Error", {})
        metadata = err.response.get("ResponseMetadata", {})
        status = str(metadata.get("HTTPStatusCode", ""))
        if error.get("Code") in _GONE or status in _GONE:
            # A delete marker over the key (S3 names it in x-amz-version-id): the bucket has
            # been versioned, and the "null" version may be under it.
            marker = metadata.get("HTTPHeaders", {}).get("x-amz-delete-marker") == "true"
            return _VERSIONED_SINCE if version_id is None and marker else None
        if error.get("Code") in _UNREADABLE or status in _UNREADABLE:
            logger.warning(
                "class of %r (version %s) not known: HeadObject answered 400 (an object "
                "encrypted with a customer's key?); counted as STANDARD until a reconcile",
                key,
                version_id,
            )
            return None
        raise
    if version_id is None and head.get("VersionId") not in (None, "null"):
        return _VERSIONED_SINCE
    return head.get("StorageClass") or "STANDARD"


LOOKUP_THREADS = 16  # HEADs of one chunk side by side: a chunk waits for the slowest, not all


def look_up(h, bucket: str, versions: list[tuple[str, str, bool]]) -> dict:
    """{(key, version id): class or None} by one lookup each, side by side; a version the
    records did not name (a bucket never versioned) is looked up without its id."""
    from concurrent.futures import ThreadPoolExecutor

    def one(wanted):
        key, version_id, named = wanted
        return h.class_of(bucket, key, version_id if named else None)

    if len(versions) == 1 or LOOKUP_THREADS == 1:
        return {wanted[:2]: one(wanted) for wanted in versions}
    with ThreadPoolExecutor(max_workers=min(LOOKUP_THREADS, len(versions))) as pool:
        found = pool.map(one, versions)
        return {wanted[:2]: cls for wanted, cls in zip(versions, found, strict=True)}
