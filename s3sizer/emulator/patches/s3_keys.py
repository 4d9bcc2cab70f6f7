"""S3 keys and bodies checked as S3 checks them.

- A key longer than 1,024 bytes (UTF-8) is refused with KeyTooLongError on PutObject, CopyObject
  (its destination), POST uploads and CreateMultipartUpload; moto stores it.
- A key may hold any character: moto's routes match keys with `.`, so a key with a line break
  answered 404.
- A PUT whose Content-MD5 does not match its body is refused with BadDigest (an unreadable one with
  InvalidDigest) and stores nothing.
- DeleteObjects with more than 1,000 keys is refused with MalformedXML, as S3 refuses it.
- CompleteMultipartUpload on a bucket that is not versioning-enabled answers no x-amz-version-id
  (moto answers `null`), as a PUT does.
"""

from __future__ import annotations

import base64
import hashlib
from types import SimpleNamespace

from .hooks import PatchSet, Target

_MODELS, _RESPONSES = "moto.s3.models", "moto.s3.responses"
MAX_KEY_BYTES = 1024
MAX_KEYS_PER_DELETE = 1000

TARGETS = {
    "create_multipart": Target("keys longer than 1,024 bytes refused", _MODELS, "S3Backend",
                               "create_multipart_upload", None),
    "delete_objects": Target("at most 1,000 keys per DeleteObjects", _MODELS, "S3Backend",
                             "delete_objects", ("self", "bucket_name", "objects",
                                                "bypass_retention")),
    "put_body": Target("a body that does not match its Content-MD5 refused", _RESPONSES,
                       "S3Response", "put_object", ("self",)),
    "key_post": Target("no null version id from CompleteMultipartUpload",
                       _RESPONSES, "S3Response", "_key_response_post",
                       ("self", "request", "body", "bucket_name", "query", "key_name")),
    # moto reloads moto.s3.urls for every app it builds: the routes are widened where it does.
    "routes": Target("keys with line breaks routed", _MODELS, "S3Backend", "_url_module", None),
}  # fmt: skip


def install(patches: PatchSet) -> None:
    patches.replace(TARGETS["create_multipart"], _create_multipart_upload)
    patches.replace(TARGETS["put_body"], _put_object_response)
    patches.replace(TARGETS["delete_objects"], _delete_objects)
    patches.replace(TARGETS["key_post"], _key_response_post)
    patches.replace(TARGETS["routes"], _any_character_routes)


def refuse_long_key(key_name: str) -> None:
    from moto.s3.exceptions import S3ClientError

    if len(key_name.encode("utf-8", "surrogatepass")) > MAX_KEY_BYTES:
        raise S3ClientError("KeyTooLongError", "Your key is too long")


def _create_multipart_upload(original):
    def create_multipart_upload(self, bucket_name, key_name, *args, **kwargs):
        refuse_long_key(key_name)
        return original(self, bucket_name, key_name, *args, **kwargs)

    return create_multipart_upload


def _delete_objects(original):
    def delete_objects(self, bucket_name, objects, bypass_retention=False):
        from moto.s3.exceptions import MalformedXML

        if len(objects) > MAX_KEYS_PER_DELETE:
            raise MalformedXML()
        return original(self, bucket_name, objects, bypass_retention)

    return delete_objects


def _put_object_response(original):
    def put_object(self):
        expected = self.headers.get("Content-MD5")
        if expected is not None:
            _check_md5(expected, self.body or b"")
        return original(self)

    return put_object


def _check_md5(expected: str, body: bytes) -> None:
    from moto.s3.exceptions import S3ClientError

    try:
        digest = base64.b64decode(expected, validate=True)
    except ValueError:
        digest = b""
    if len(digest) != 16:
        raise S3ClientError("InvalidDigest", "The Content-MD5 you specified was invalid.")
    if digest != hashlib.md5(body).digest():
        raise S3ClientError(
            "BadDigest", "The Content-MD5 you specified did not match what we received."
        )


def _key_response_post(original):
    def key_response_post(self, request, body, bucket_name, query, key_name):
        status, headers, content = original(self, request, body, bucket_name, query, key_name)
        # "null" is the version of a bucket never versioned, or of one suspended: S3 names
        # neither (ceph/s3-tests' test_versioning_bucket_multipart_upload_return_version_id).
        if query.get("uploadId") and headers.get("x-amz-version-id") == "null":
            headers = {k: v for k, v in headers.items() if k != "x-amz-version-id"}
        return status, headers, content

    return key_response_post


def _any_character_routes(original: property) -> property:
    """The same routes with `.` widened to every character: S3 keys may hold line breaks."""

    def url_module(self):
        module = original.fget(self)
        paths = {
            path.replace(".+)", r"[\s\S]+)").replace("/.*)", r"/[\s\S]*)"): handler
            for path, handler in module.url_paths.items()
        }
        return SimpleNamespace(url_bases=module.url_bases, url_paths=paths)

    return property(url_module)
