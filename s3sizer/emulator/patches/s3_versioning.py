"""S3 versioning as S3 does it where moto does not: suspended versioning and delete markers.

moto treats a versioning-suspended bucket as one that was never versioned (its `is_versioned` is
False once suspended), so a PUT dropped every earlier version and a DELETE every version of the
key. S3 keeps them
(https://docs.aws.amazon.com/AmazonS3/latest/userguide/DeletingObjectsfromVersioningSuspendedBuckets.html):

- A PUT under suspension replaces only the key's `null` version; its event carries versionId
  `null`.
- A DELETE without a version id, under suspension, replaces the `null` version with a `null`
  delete marker; on a versioning-enabled bucket it adds a marker even for a key that never
  existed. Both answer `x-amz-delete-marker: true` and send `ObjectRemoved:DeleteMarkerCreated`.
- A DELETE of a specific version removes that version only, on enabled and suspended buckets
  alike, and its `ObjectRemoved:Delete` carries that version id.
- HEAD and GET of a key whose current version is a delete marker answer 404 with
  `x-amz-delete-marker: true` and the marker's `x-amz-version-id`; naming the marker's own version
  id answers 405 with its Last-Modified. A HEAD that finds neither object nor marker says
  `x-amz-delete-marker: false`, as ceph/s3-tests expects of S3.
- HEAD and GET with a version id work under suspension, and with versionId=null on a bucket that
  was never versioned (every object of such a bucket is its null version).
"""

from __future__ import annotations

from types import SimpleNamespace

from ..wsgi import S3_WRITE_LOCK, service_lock
from . import hooks, s3_keys
from .hooks import PatchSet, Target
from .s3 import publish

_MODELS, _RESPONSES = "moto.s3.models", "moto.s3.responses"
NULL = "null"
# Set while moto may treat a suspended bucket as versioned: its versions stay readable.
_VERSIONS_VISIBLE = "s3_versions_visible"
# Set while moto writes a PUT under suspension: the key's other versions are kept.
_KEEP_OTHER_VERSIONS = "s3_keep_other_versions"

TARGETS = {
    "is_versioned": Target("versions of a versioning-suspended bucket stay readable", _MODELS,
                           "FakeBucket", "is_versioned", None),
    "setlist": Target("a PUT under suspended versioning replaces only the null version",
                      "moto.s3.utils", "_VersionedKeyStore", "setlist", ("self", "key", "list_")),
    "put_object": Target("serialized S3 writes, suspended versioning and key length", _MODELS,
                         "S3Backend", "put_object", None),
    "copy_object": Target("serialized S3 writes; a source overwritten meanwhile is copied as it "
                          "now stands", _MODELS, "S3Backend", "copy_object", None),
    "delete_object": Target("deletes and delete markers as S3 makes them", _MODELS, "S3Backend",
                            "delete_object", ("self", "bucket_name", "key_name", "version_id",
                                              "bypass")),
    # moto 5.2.6 dropped get_object's part_number: what follows version_id is passed on.
    "get_object": Target("versionId=null on an unversioned bucket", _MODELS, "S3Backend",
                         "get_object", ("self", "bucket_name", "key_name", "version_id"),
                         leading=True),
    "get_response": Target("GET of a delete marker answers as S3 does", _RESPONSES, "S3Response",
                           "get_object", ("self",)),
    "head_object": Target("HEAD of a version on unversioned and suspended buckets", _RESPONSES,
                          "S3Response", "head_object", ("self", "bucket_name", "query",
                                                        "key_name", "headers")),
}  # fmt: skip


def install(patches: PatchSet) -> None:
    patches.replace(TARGETS["is_versioned"], lambda original: property(_is_versioned))
    patches.replace(TARGETS["setlist"], _setlist)
    patches.replace(TARGETS["put_object"], _put_object)
    patches.replace(TARGETS["copy_object"], _copy_object)
    patches.replace(TARGETS["delete_object"], _delete_object)
    patches.replace(TARGETS["get_object"], _get_object)
    patches.replace(TARGETS["get_response"], _get_object_response)
    patches.replace(TARGETS["head_object"], _head_object)


def _is_versioned(bucket) -> bool:
    status = bucket.versioning_status
    return status == "Enabled" or (status == "Suspended" and hooks.flagged(_VERSIONS_VISIBLE))


def _setlist(original):
    def setlist(self, key, list_):
        if hooks.flagged(_KEEP_OTHER_VERSIONS):
            kept = [v for v in self.getlist(key, []) if str(v.version_id) != NULL]
            list_ = kept + (list(list_) if isinstance(list_, (list, tuple)) else [list_])
        return original(self, key, list_)  # disposes of the null version it no longer holds

    return setlist


def _copy_object(original):
    """moto looks the source up before it takes the lock: a PUT or DELETE of the source between
    the two disposes of what it found, and the copy then read a closed file (an error 500). S3
    copies the source as it stands when the copy runs, or answers NoSuchKey when it is gone."""

    def copy_object(self, src_key, *args, **kwargs):
        with service_lock(S3_WRITE_LOCK):
            if getattr(src_key, "disposed", False):
                from moto.s3.exceptions import MissingKey

                # The version it named ("null" included: the current one of an unversioned or
                # suspended bucket, or a versioned bucket's null version, which may be gone).
                found = self.get_object(
                    src_key.bucket_name, src_key.name, version_id=src_key.version_id
                )
                if found is None:
                    raise MissingKey(key=src_key.name)
                src_key = found
            return original(self, src_key, *args, **kwargs)

    return copy_object


def _put_object(original):
    def put_object(self, bucket_name, key_name, *args, **kwargs):
        s3_keys.refuse_long_key(key_name)
        with service_lock(S3_WRITE_LOCK):
            if self.get_bucket(bucket_name).versioning_status != "Suspended":
                key = original(self, bucket_name, key_name, *args, **kwargs)
            else:
                with hooks.flag(_KEEP_OTHER_VERSIONS):
                    key = original(self, bucket_name, key_name, *args, **kwargs)
            # moto computes the ETag when it is first read: for the response, after the lock,
            # by when another PUT of the key may have disposed of this one's body (an error 500).
            _ = key.etag if key is not None else None
            return key

    return put_object


def _delete_object(original):
    def delete_object(self, bucket_name, key_name, version_id=None, bypass=False):
        with service_lock(S3_WRITE_LOCK):
            bucket = self.get_bucket(bucket_name)
            status = bucket.versioning_status

            def removed(event_name: str, version: str | None, etag: str | None = None) -> None:
                publish(self.account_id, event_name, bucket, key_name, None, etag, version)

            if status is not None and version_id is None:
                meta = _add_delete_marker(bucket, key_name, null=status == "Suspended")
                removed("s3:ObjectRemoved:DeleteMarkerCreated", meta["version-id"])
                return True, meta
            removed_key = _version(bucket, key_name, version_id)
            # Read before moto's delete closes the object's value (moto computes ETags lazily).
            # A delete marker has no ETag: deleting one names none.
            etag = getattr(removed_key, "etag", None)
            etag = etag.strip('"') if etag else None
            with hooks.quiet(), hooks.flag(_VERSIONS_VISIBLE):
                deleted, meta = original(
                    self, bucket_name, key_name, version_id=version_id, bypass=bypass
                )
            if status is None:
                removed("s3:ObjectRemoved:Delete", None, etag)  # even for an absent key, as AWS
            elif deleted:
                # S3 answers x-amz-delete-marker: true exactly when the version was a marker.
                meta.pop("delete-marker", None)
                if is_delete_marker(removed_key):
                    meta["delete-marker"] = "true"
                removed("s3:ObjectRemoved:Delete", version_id, etag)
            return deleted, meta

    return delete_object


def is_delete_marker(version) -> bool:
    from moto.s3.models import FakeDeleteMarker

    return isinstance(version, FakeDeleteMarker)


def _add_delete_marker(bucket, key_name: str, null: bool) -> dict:
    """A delete marker as the key's current version: under suspension it replaces the null
    version and is itself the null version; a key that never existed gets one too."""
    from moto.s3.models import FakeDeleteMarker

    current = bucket.keys.get(key_name)
    marker = FakeDeleteMarker(
        key=current if current is not None else SimpleNamespace(name=key_name)
    )
    if null:
        marker._version_id = NULL
        kept = [v for v in bucket.keys.getlist(key_name, []) if str(v.version_id) != NULL]
        bucket.keys.setlist(key_name, [*kept, marker])  # disposes of the replaced null version
    else:
        bucket.keys[key_name] = marker  # appended: the newest version
    return {"version-id": marker.version_id, "delete-marker": "true"}


def _version(bucket, key_name: str, version_id: str | None):
    if version_id is None:
        return bucket.keys.get(key_name)
    for version in bucket.keys.getlist(key_name, default=[]):
        if str(version.version_id) == str(version_id):
            return version
    return None


def _never_versioned(backend, bucket_name: str) -> bool:
    try:
        return backend.get_bucket(bucket_name).versioning_status is None
    except Exception:
        return False


def _get_object(original):
    def get_object(self, bucket_name, key_name, version_id=None, *args, **kwargs):
        if version_id == NULL and _never_versioned(self, bucket_name):
            version_id = None  # every object of such a bucket is its "null" version
        return original(self, bucket_name, key_name, version_id, *args, **kwargs)

    return get_object


def _head_object(original):
    def head_object(self, bucket_name, query, key_name, headers):
        if query.get("versionId") == [NULL] and _never_versioned(self.backend, bucket_name):
            query = {name: value for name, value in query.items() if name != "versionId"}
        with hooks.flag(_VERSIONS_VISIBLE):  # moto refuses a version id if not "versioned"
            status, response_headers, body = original(self, bucket_name, query, key_name, headers)
        if status == 405:  # a delete marker named by its version id: S3 sends its Last-Modified
            marker = self.backend.get_object(
                bucket_name, key_name, query["versionId"][0], return_delete_marker=True
            )
            response_headers["last-modified"] = _rfc_1123(marker.last_modified)
        elif status == 404 and "x-amz-delete-marker" not in response_headers:
            # No object and no marker: ceph/s3-tests expects S3 to say so in the header too.
            response_headers = {**response_headers, "x-amz-delete-marker": "false"}
        return status, response_headers, body

    return head_object


def _get_object_response(original):
    def get_object(self):
        from moto.core.responses import ActionResult
        from moto.s3.exceptions import MissingKey, MissingVersion, S3ClientError

        try:
            return original(self)
        except (MissingKey, MissingVersion):
            version_id = self.querystring.get("versionId", [None])[0]
            marker = self.backend.get_object(
                self.bucket_name, self.parse_key_name(), version_id, return_delete_marker=True
            )
            if not is_delete_marker(marker):
                raise
        if version_id is None:
            error = MissingKey(key=self.parse_key_name())
        else:
            error = S3ClientError(
                "MethodNotAllowed", "The specified method is not allowed against this resource."
            )
        status, headers, body = self.serialized(ActionResult(error))
        headers.update({"x-amz-delete-marker": "true", "x-amz-version-id": marker.version_id})
        if version_id is not None:
            status, headers["allow"] = 405, "DELETE"
            headers["last-modified"] = _rfc_1123(marker.last_modified)
        return status, headers, body

    return get_object


def _rfc_1123(moment) -> str:
    from moto.core.utils import rfc_1123_datetime

    return rfc_1123_datetime(moment)
