"""Object Lock reads moto lacks.

- GetObjectRetention answers the Mode and RetainUntilDate that PutObjectRetention (or the
  bucket's default retention) set, and `NoSuchObjectLockConfiguration` (404) for an object
  without one; `InvalidRequest` (400) on a bucket without Object Lock, as S3. moto had no route
  for it and answered 500, so a client could not read back what it had set.
- PutObjectLockConfiguration is checked as S3 checks it: versioning must be enabled (409
  `InvalidBucketState`), `ObjectLockEnabled` must be `Enabled` and the mode GOVERNANCE or
  COMPLIANCE (`MalformedXML`), and Days or Years must be positive (`InvalidRetentionPeriod`).
- PutObjectRetention refuses a mode other than GOVERNANCE or COMPLIANCE (`MalformedXML`), and
  without `x-amz-bypass-governance-retention` a shorter date or a change of mode of a retained
  object (403 `AccessDenied`; never for COMPLIANCE). PutObjectLegalHold refuses a status other
  than ON or OFF (`MalformedXML`); GetObjectLegalHold on a bucket without Object Lock answers
  `InvalidRequest`.
- DeleteObjects names the `VersionId` of each version it could not delete (one under retention
  or legal hold), as S3 does; moto gave only the key, so a client could not tell which version
  of a key was kept.
- Versioning of a bucket with Object Lock cannot be suspended (409 `InvalidBucketState`).
- GetObjectLockConfiguration names only the period that was set (moto added `Years: 0`).
"""

from __future__ import annotations

import re
from xml.sax.saxutils import escape

from .hooks import PatchSet, Target

_RESPONSES = "moto.s3.responses"
XMLNS = "http://s3.amazonaws.com/doc/2006-03-01/"

TARGETS = {
    "key_get": Target("GetObjectRetention", _RESPONSES, "S3Response", "_key_response_get",
                      ("self", "query", "key_name")),
    "key_put": Target("PutObjectRetention and PutObjectLegalHold checked as S3", _RESPONSES,
                      "S3Response", "_key_response_put", ("self", "query", "key_name")),
    "bucket_put": Target("PutObjectLockConfiguration and PutBucketVersioning checked as S3",
                         _RESPONSES, "S3Response", "_bucket_response_put",
                         ("self", "request", "bucket_name", "querystring")),
    "delete_keys": Target("DeleteObjects names the version of each error", _RESPONSES,
                          "S3Response", "_bucket_response_delete_keys",
                          ("self", "bucket_name", "authenticated")),
    "get_config": Target("GetObjectLockConfiguration without an unset period", _RESPONSES,
                         "S3Response", "get_object_lock_configuration", ("self",)),
}  # fmt: skip


def install(patches: PatchSet) -> None:
    patches.replace(TARGETS["key_get"], _key_response_get)
    patches.replace(TARGETS["bucket_put"], _bucket_response_put)
    patches.replace(TARGETS["key_put"], _key_response_put)
    patches.replace(TARGETS["delete_keys"], _bucket_response_delete_keys)
    patches.replace(TARGETS["get_config"], _get_object_lock_configuration)


def _error(status: int, code: str, message: str):
    """An S3 error with a status moto's error model does not give that code."""
    body = (
        '<?xml version="1.0" encoding="UTF-8"?><Error>'
        f"<Code>{code}</Code><Message>{escape(message)}</Message></Error>"
    )
    return status, {"content-type": "application/xml"}, body


def _retention(response, query, key_name: str):
    from moto.s3.exceptions import MissingKey, MissingVersion

    bucket = response.backend.get_bucket(response.bucket_name)
    if not bucket.object_lock_enabled:
        return _error(400, "InvalidRequest", "Bucket is missing Object Lock Configuration")
    version_id = (query.get("versionId") or [None])[0]
    key = response.backend.get_object(response.bucket_name, key_name, version_id=version_id)
    if key is None:
        raise MissingVersion() if version_id else MissingKey(key=key_name)
    if not key.lock_mode or not key.lock_until:
        return _error(
            404,
            "NoSuchObjectLockConfiguration",
            "The specified object does not have a ObjectLock configuration",
        )
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
        if (
            "legal-hold" in query
            and not self.backend.get_bucket(self.bucket_name).object_lock_enabled
        ):
            return _error(400, "InvalidRequest", "Bucket is missing Object Lock Configuration")
        return original(self, query, key_name)

    return key_response_get


def _lock_configuration_problem(body: bytes):
    import xmltodict

    try:
        config = xmltodict.parse(body or b"")["ObjectLockConfiguration"] or {}
    except Exception:
        return _error(400, "MalformedXML", "The XML you provided was not well-formed")
    if config.get("ObjectLockEnabled") != "Enabled":
        return _error(400, "MalformedXML", "The XML you provided was not well-formed")
    retention = (config.get("Rule") or {}).get("DefaultRetention")
    if retention is None:
        return None
    periods = [retention.get(name) for name in ("Days", "Years") if name in retention]
    if retention.get("Mode") not in ("GOVERNANCE", "COMPLIANCE") or len(periods) != 1:
        return _error(400, "MalformedXML", "The XML you provided was not well-formed")
    try:
        positive = int(periods[0]) > 0
    except (TypeError, ValueError):
        positive = False
    if not positive:
        return _error(
            400,
            "InvalidRetentionPeriod",
            "Default retention period must be a positive integer value",
        )
    return None


def _bucket_response_put(original):
    def bucket_response_put(self, request, bucket_name, querystring):
        body = self.body.encode() if isinstance(self.body, str) else (self.body or b"")
        if "object-lock" in querystring:
            bucket = self.backend.get_bucket(bucket_name)
            if bucket.versioning_status != "Enabled":
                return _error(
                    409,
                    "InvalidBucketState",
                    "Versioning must be 'Enabled' on the bucket to apply a Object Lock configuration",
                )
            problem = _lock_configuration_problem(body)
            if problem:
                return problem
        elif (
            "versioning" in querystring
            and b"Suspended" in body
            and self.backend.get_bucket(bucket_name).object_lock_enabled
        ):
            return _error(
                409,
                "InvalidBucketState",
                "An Object Lock configuration is present on this bucket, so the versioning "
                "state cannot be changed.",
            )
        return original(self, request, bucket_name, querystring)

    return bucket_response_put


def _get_object_lock_configuration(original):
    def get_object_lock_configuration(self):
        status, headers, body = original(self)
        text = body.decode() if isinstance(body, bytes) else body
        text = re.sub(r"<(Days|Years)>0</\1>", "", text)
        headers = {k: v for k, v in headers.items() if k.lower() != "content-length"}
        return status, headers, text.encode() if isinstance(body, bytes) else text

    return get_object_lock_configuration


MALFORMED = (400, "MalformedXML", "The XML you provided was not well-formed")


def _retention_change_problem(response, query, key_name: str):
    import xmltodict

    try:
        retention = xmltodict.parse(response.body or b"")["Retention"] or {}
    except Exception:
        return _error(*MALFORMED)
    mode, until = retention.get("Mode"), retention.get("RetainUntilDate")
    if mode not in ("GOVERNANCE", "COMPLIANCE"):
        return _error(*MALFORMED)
    version_id = (query.get("versionId") or [None])[0]
    key = response.backend.get_object(response.bucket_name, key_name, version_id=version_id)
    if key is None or not key.lock_mode or not key.lock_until:
        return None
    bypass = response.headers.get("x-amz-bypass-governance-retention", "").lower() == "true"
    if key.lock_mode == "GOVERNANCE" and bypass:
        return None
    shorter = _instant(until) < _instant(key.lock_until)
    if shorter or mode != key.lock_mode:
        return _error(403, "AccessDenied", "Access Denied because object protected by object lock.")
    return None


def _instant(value) -> float:
    import datetime

    text = str(value).replace("Z", "+00:00")
    try:
        moment = datetime.datetime.fromisoformat(text)
    except ValueError:
        return 0.0
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.UTC)
    return moment.timestamp()


def _key_response_put(original):
    def key_response_put(self, query, key_name):
        if "retention" in query:
            problem = _retention_change_problem(self, query, key_name)
            if problem:
                return problem
        elif "legal-hold" in query:
            import xmltodict

            try:
                status = xmltodict.parse(self.body or b"")["LegalHold"]["Status"]
            except Exception:
                status = None
            if status not in ("ON", "OFF"):
                return _error(*MALFORMED)
        return original(self, query, key_name)

    return key_response_put


def _requested_versions(body) -> list[tuple[str, str]]:
    import xmltodict

    try:
        objects = (xmltodict.parse(body or b"")["Delete"] or {}).get("Object", [])
    except Exception:
        return []
    objects = objects if isinstance(objects, list) else [objects]
    return [(o.get("Key") or "", o["VersionId"]) for o in objects if o and o.get("VersionId")]


def _bucket_response_delete_keys(original):
    def bucket_response_delete_keys(self, bucket_name, authenticated=True):
        from xml.sax.saxutils import unescape

        status, headers, body = original(self, bucket_name, authenticated)
        text = body.decode() if isinstance(body, bytes) else body
        pending = _requested_versions(self.body)
        if "<Error>" not in text or not pending:
            return status, headers, body
        deleted = set(re.findall(r"<Deleted><Key>(.*?)</Key><VersionId>(.*?)</VersionId>", text))
        pending = [(k, v) for k, v in pending if (escape(k), v) not in deleted]

        def with_version(match: re.Match) -> str:
            inner = match.group(1)
            key = re.search(r"<Key>(.*?)</Key>", inner, flags=re.DOTALL)
            if key is None or "<VersionId>" in inner:
                return match.group(0)
            for index, (name, version) in enumerate(pending):
                if name == unescape(key.group(1)):
                    del pending[index]
                    tag = f"<VersionId>{escape(version)}</VersionId>"
                    return f"<Error>{inner.replace('</Key>', '</Key>' + tag, 1)}</Error>"
            return match.group(0)

        text = re.sub(r"<Error>(.*?)</Error>", with_version, text, flags=re.DOTALL)
        headers = {k: v for k, v in headers.items() if k.lower() != "content-length"}
        return status, headers, text.encode() if isinstance(body, bytes) else text

    return bucket_response_delete_keys
