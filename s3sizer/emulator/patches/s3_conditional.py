"""Conditional writes (If-Match, If-None-Match on PutObject and CompleteMultipartUpload) as S3
evaluates them, against the key's current version.

- If-Match: `*` or an ETag. No current object (none, or a delete marker on top) answers 404
  NoSuchKey; another ETag answers 412 PreconditionFailed. moto compared `*` as if it were an ETag,
  so `If-Match: *` always failed.
- If-None-Match: `*` or an ETag. A current object (for an ETag: one with that ETag) answers 412.
  moto ignored an ETag here, and on CompleteMultipartUpload honoured only `*`.
- CopyObject's x-amz-copy-source-if-match (and if-unmodified-since, which a matching if-match
  overrides, as S3 documents) refuse with 412 a source that does not meet them; moto checked only
  if-none-match.
- The check and the write run under the S3 write lock, so two conditional writers of one key
  cannot both succeed, as on S3.
"""

from __future__ import annotations

from contextlib import contextmanager

from ..wsgi import S3_WRITE_LOCK, service_lock
from .hooks import PatchSet, Target

_RESPONSES = "moto.s3.responses"
_CONDITIONS = ("if-match", "if-none-match")

TARGETS = {
    "put": Target("PutObject's If-Match and If-None-Match as S3 evaluates them", _RESPONSES,
                  "S3Response", "put_object", ("self",)),
    "complete": Target("CompleteMultipartUpload's If-Match and If-None-Match as S3", _RESPONSES,
                       "S3Response", "_key_response_post",
                       ("self", "request", "body", "bucket_name", "query", "key_name")),
    "copy": Target("CopyObject's x-amz-copy-source-if-match and if-unmodified-since", _RESPONSES,
                   "S3Response", "copy_object", ("self",)),
}  # fmt: skip


def install(patches: PatchSet) -> None:
    patches.replace(TARGETS["put"], _put_object)
    patches.replace(TARGETS["complete"], _key_response_post)
    patches.replace(TARGETS["copy"], _copy_object)


def check_preconditions(backend, bucket_name: str, key_name: str, if_match, if_none_match) -> None:
    from moto.s3.exceptions import MissingKey, PreconditionFailed

    current = backend.get_object(bucket_name, key_name)  # None: no key, or a delete marker
    etag = current.etag.strip('"') if current is not None else None
    if if_match is not None:
        if current is None:
            raise MissingKey(key=key_name)
        if if_match.strip() != "*" and if_match.strip().strip('"') != etag:
            raise PreconditionFailed("If-Match")
    if if_none_match is not None and current is not None:
        wanted = if_none_match.strip()
        if wanted == "*" or wanted.strip('"') == etag:
            raise PreconditionFailed("If-None-Match")


@contextmanager
def _conditions_checked(response, bucket_name: str, key_name: str):
    """Checks the request's conditions, then lets moto write without seeing them."""
    from requests.structures import CaseInsensitiveDict

    headers = response.headers
    if_match, if_none_match = headers.get("If-Match"), headers.get("If-None-Match")
    if if_match is None and if_none_match is None:
        yield
        return
    with service_lock(S3_WRITE_LOCK):
        check_preconditions(response.backend, bucket_name, key_name, if_match, if_none_match)
        response.headers = CaseInsensitiveDict(
            {k: v for k, v in headers.items() if k.lower() not in _CONDITIONS}
        )
        try:
            yield
        finally:
            response.headers = headers


def _put_object(original):
    def put_object(self):
        with _conditions_checked(self, self.bucket_name, self.parse_key_name()):
            return original(self)

    return put_object


def _key_response_post(original):
    def key_response_post(self, request, body, bucket_name, query, key_name):
        if not query.get("uploadId"):
            return original(self, request, body, bucket_name, query, key_name)
        with _conditions_checked(self, bucket_name, key_name):
            return original(self, request, body, bucket_name, query, key_name)

    return key_response_post


def _copy_source(response):
    from urllib.parse import parse_qs, unquote, urlparse

    source = response.headers.get("x-amz-copy-source") or ""
    if isinstance(source, bytes):
        source = source.decode("utf-8")
    parsed = urlparse(source)
    bucket_name, _, key_name = unquote(parsed.path).lstrip("/").partition("/")
    return bucket_name, key_name, parse_qs(parsed.query).get("versionId", [None])[0]


def check_copy_source(response) -> None:
    from moto.core.utils import str_to_rfc_1123_datetime
    from moto.s3.exceptions import PreconditionFailed

    if_match = response.headers.get("x-amz-copy-source-if-match")
    unmodified_since = response.headers.get("x-amz-copy-source-if-unmodified-since")
    if if_match is None and unmodified_since is None:
        return
    bucket_name, key_name, version_id = _copy_source(response)
    source = response.backend.get_object(bucket_name, key_name, version_id=version_id)
    if source is None:
        return  # moto answers NoSuchKey
    if if_match is not None:
        if if_match.strip().strip('"') != source.etag.strip('"'):
            raise PreconditionFailed("x-amz-copy-source-If-Match")
        return  # a matching ETag overrides if-unmodified-since
    try:
        since = str_to_rfc_1123_datetime(unmodified_since)
    except ValueError:
        return  # S3 ignores a date it cannot read
    if source.last_modified.replace(microsecond=0) > since:
        raise PreconditionFailed("x-amz-copy-source-If-Unmodified-Since")


def _copy_object(original):
    def copy_object(self):
        check_copy_source(self)
        return original(self)

    return copy_object
