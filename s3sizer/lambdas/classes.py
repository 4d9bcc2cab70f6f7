"""The storage class of one object version, for buckets whose classes the tracker follows.

S3's event records carry no storage class, so each version a record creates is looked up once:
HeadObject, which needs only ``s3:GetObject`` (and ``s3:GetObjectVersion`` with a version id),
where GetObjectAttributes needs ``s3:GetObjectAttributes`` (or ``s3:GetObjectVersionAttributes``)
on top of them (AWS's HeadObject and GetObjectAttributes API references, "Permissions").
HeadObject names the class in ``x-amz-storage-class``, and leaves it out for STANDARD.
"""

from __future__ import annotations

from collections.abc import Callable

from botocore.exceptions import ClientError

# A version deleted before its lookup: 404 (NoSuchKey, NoSuchVersion; HEAD has no body, so
# botocore names it by its status), or 405 when the id is now a delete marker's.
_GONE = {"404", "405", "NoSuchKey", "NoSuchVersion", "NotFound", "MethodNotAllowed"}


def head_class(s3) -> Callable[[str, str, str], str | None]:
    """(bucket, key, version id) -> the version's class now, or None when it is gone. A
    version id of None (a bucket never versioned) asks for the object itself."""

    def class_of(bucket: str, key: str, version_id: str | None) -> str | None:
        named = {} if version_id is None else {"VersionId": version_id}
        try:
            # "null" names the version a write made while versioning was suspended.
            head = s3.head_object(Bucket=bucket, Key=key, **named)
        except ClientError as err:
            error = err.response.get("Error", {})
            status = str(err.response.get("ResponseMetadata", {}).get("HTTPStatusCode", ""))
            if error.get("Code") in _GONE or status in _GONE:
                return None
            raise
        return head.get("StorageClass") or "STANDARD"

    return class_of
