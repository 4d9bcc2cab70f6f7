"""Object Lock reads moto lacks.

- GetObjectRetention answers the Mode and RetainUntilDate that PutObjectRetention (or the
  bucket's default retention) set, and `NoSuchObjectLockConfiguration` (404) for an object
  without one; `InvalidRequest` (400) on a bucket without Object Lock, as S3. moto had no route
  for it and answered 500, so a client could not read back what it had set.
"""

from __future__ import annotations

from xml.sax.saxutils import escape

from .hooks import PatchSet, Target

_RESPONSES = "moto.s3.responses"
XMLNS = "http://s3.amazonaws.com/doc/2006-03-01/"

TARGETS = {
    "key_get": Target("GetObjectRetention", _RESPONSES, "S3Response", "_key_response_get",
                      ("self", "query", "key_name")),
}  # fmt: skip


def install(patches: PatchSet) -> None:
    patches.replace(TARGETS["key_get"], _key_response_get)


def _retention(response, query, key_name: str):
    from moto.s3.exceptions import MissingKey, MissingVersion, S3ClientError

    bucket = response.backend.get_bucket(response.bucket_name)
    if not bucket.object_lock_enabled:
        raise S3ClientError("InvalidRequest", "Bucket is missing Object Lock Configuration")
    version_id = (query.get("versionId") or [None])[0]
    key = response.backend.get_object(response.bucket_name, key_name, version_id=version_id)
    if key is None:
        raise MissingVersion() if version_id else MissingKey(key=key_name)
    if not key.lock_mode or not key.lock_until:
        # Not in moto's error model, which would make it a 400: written here with S3's 404.
        message = "The specified object does not have a ObjectLock configuration"
        error = (
            '<?xml version="1.0" encoding="UTF-8"?><Error>'
            f"<Code>NoSuchObjectLockConfiguration</Code><Message>{message}</Message></Error>"
        )
        return 404, {"content-type": "application/xml"}, error
    body = (
        f'<?xml version="1.0" encoding="UTF-8"?><Retention xmlns="{XMLNS}">'
        f"<Mode>{escape(key.lock_mode)}</Mode>"
        f"<RetainUntilDate>{escape(str(key.lock_until))}</RetainUntilDate></Retention>"
    )
    headers = {"content-type": "application/xml"}
    if key.version_id and key.version_id != "null":
        headers["x-amz-version-id"] = key.version_id
    return 200, headers, body


def _key_response_get(original):
    def key_response_get(self, query, key_name):
        if "retention" in query and not query.get("uploadId"):
            return _retention(self, query, key_name)
        return original(self, query, key_name)

    return key_response_get
