"""S3 lifecycle: what the lifecycle engine (emulator/lifecycle.py) needs that moto does not keep.

- Each stored rule keeps the rule as the request carried it (RAW_RULE), since moto's model drops
  NoncurrentVersionExpiration's NewerNoncurrentVersions and the ObjectSizeGreaterThan /
  ObjectSizeLessThan filters.
- Rules S3 refuses and moto stores are refused with S3's error: a day count below 1, an ID
  over 255 characters or used twice, a Date that is not a midnight UTC (InvalidArgument), a
  Status other than Enabled or Disabled (MalformedXML). A rule without an ID gets one.
- Each multipart upload records when it was initiated (INITIATED, naive UTC like moto's times),
  which moto does not, for AbortIncompleteMultipartUpload.
- PUT, GET and HEAD of an object that an Expiration rule will expire answer the
  `x-amz-expiration` header, `expiry-date="<HTTP date>", rule-id="<rule ID>"`, as S3 does. Its
  date is counted in real days, also when the emulator's lifecycle day is shorter (Ceph RGW
  does the same in its debug mode, and ceph/s3-tests expect it).
"""

from __future__ import annotations

import base64
import copy
import uuid
from datetime import UTC
from email.utils import format_datetime
from urllib.parse import parse_qs, urlparse

from .. import lifecycle_rules
from .hooks import PatchSet, Target

RAW_RULE = "s3sizer_raw_rule"
INITIATED = "s3sizer_initiated"

_MODELS = "moto.s3.models"
# Requests on an object's subresources, which answer no x-amz-expiration.
SUBRESOURCES = {"acl", "tagging", "legal-hold", "retention", "attributes", "uploadId", "uploads",
                "partNumber", "restore", "select"}  # fmt: skip
TARGETS = {
    "set_lifecycle": Target("lifecycle rules kept as sent", _MODELS, "FakeBucket",
                            "set_lifecycle", ("self", "rules")),
    "create_multipart": Target("multipart uploads' initiation time", _MODELS, "S3Backend",
                               "create_multipart_upload",
                               ("self", "bucket_name", "key_name", "metadata", "storage_type",
                                "tags", "acl", "sse_encryption", "kms_key_id")),
    "key_response": Target("x-amz-expiration on objects a rule expires", "moto.s3.responses",
                           "S3Response", "key_response", ("self", "request", "full_url",
                                                          "headers")),
}  # fmt: skip


def install(patches: PatchSet) -> None:
    patches.replace(TARGETS["set_lifecycle"], _set_lifecycle)
    patches.replace(TARGETS["create_multipart"], _create_multipart_upload)
    patches.replace(TARGETS["key_response"], _key_response)


def stored_rules(bucket) -> list[lifecycle_rules.Rule]:
    """The bucket's lifecycle rules as sent, or none (moto's `rules` is emptied on delete)."""
    raws = (getattr(rule, RAW_RULE, None) for rule in bucket.rules)
    return [lifecycle_rules.parse_rule(raw) for raw in raws if raw is not None]


def version_view(backend, version) -> lifecycle_rules.VersionView:
    from moto.s3.models import FakeDeleteMarker

    if isinstance(version, FakeDeleteMarker):
        return lifecycle_rules.VersionView(str(version.version_id), version.last_modified, None)

    def tags() -> dict[str, str]:
        found = backend.tagger.list_tags_for_resource(version.arn)["Tags"]
        return {tag["Key"]: tag["Value"] for tag in found}

    return lifecycle_rules.VersionView(
        str(version.version_id),
        version.last_modified,
        version.size,
        tags=tags,
        locked=version.is_locked(governance_bypass=False),
        storage_class=version.storage_class or "STANDARD",
    )


# (action, field) → S3's message for a value that is not a positive integer.
POSITIVE_DAYS = {
    ("Expiration", "Days"): "'Days' for Expiration action must be a positive integer",
    ("NoncurrentVersionExpiration", "NoncurrentDays"):
        "'NoncurrentDays' for NoncurrentVersionExpiration action must be a positive integer",
    ("AbortIncompleteMultipartUpload", "DaysAfterInitiation"):
        "'DaysAfterInitiation' for AbortIncompleteMultipartUpload action must be a positive integer",
}  # fmt: skip


def _validate(rules) -> None:
    """What S3 refuses and moto stores; a rule without an ID gets one, as S3 gives it."""
    from moto.s3.exceptions import InvalidArgumentError, MalformedXML

    seen: set[str] = set()
    for rule in rules:
        if rule.get("Status") not in ("Enabled", "Disabled"):
            raise MalformedXML()
        rule_id = rule.get("ID") or ""
        if len(rule_id) > 255:
            raise InvalidArgumentError(
                "ID length should not exceed allowed limit of 255", "ID", rule_id
            )
        if rule_id and rule_id in seen:
            raise InvalidArgumentError(
                "Rule ID must be unique. Found same ID for more than one rule", "ID", rule_id
            )
        seen.add(rule_id)
        if not rule_id:
            rule["ID"] = base64.b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        for (action, name), message in POSITIVE_DAYS.items():
            value = (rule.get(action) or {}).get(name)
            if value is not None and not _positive_integer(value):
                raise InvalidArgumentError(message, name, str(value))
        transitions = rule.get("Transition") or []
        for part in [rule.get("Expiration") or {}] + (
            transitions if isinstance(transitions, list) else [transitions]
        ):
            date = part.get("Date")
            if date is not None and not _midnight(date):
                raise InvalidArgumentError("'Date' must be at midnight GMT", "Date", str(date))


def _positive_integer(value) -> bool:
    try:
        return int(value) >= 1
    except (TypeError, ValueError):
        return False


def _midnight(value) -> bool:
    try:
        moment = lifecycle_rules.parse_date(value)
    except ValueError:
        return False
    return moment == moment.replace(hour=0, minute=0, second=0, microsecond=0)


def _set_lifecycle(original):
    def set_lifecycle(self, rules):
        _validate(rules)
        sent = copy.deepcopy(rules)  # moto normalizes parts of the rules it reads
        original(self, rules)
        for rule, raw in zip(self.rules, sent, strict=True):
            setattr(rule, RAW_RULE, raw)

    return set_lifecycle


def _create_multipart_upload(original):
    def create_multipart_upload(self, *args, **kwargs):
        from moto.core.utils import utcnow

        multipart = original(self, *args, **kwargs)
        setattr(multipart, INITIATED, utcnow())
        return multipart

    return create_multipart_upload


def _key_response(original):
    def key_response(self, request, full_url, headers):
        status, response_headers, body = original(self, request, full_url, headers)
        if status in (200, 206) and request.method in ("GET", "HEAD", "PUT"):
            header = _expiration_header(self, full_url)
            if header:
                response_headers["x-amz-expiration"] = header
        return status, response_headers, body

    return key_response


def _expiration_header(response, full_url: str) -> str | None:
    query = parse_qs(urlparse(full_url).query, keep_blank_values=True)
    if SUBRESOURCES & set(query):
        return None
    try:
        bucket = response.backend.get_bucket(response.bucket_name)
        versions = bucket.keys.getlist(response.parse_key_name(), default=[])
    except Exception:  # no such bucket or key: the answer says so already
        return None
    rules = stored_rules(bucket) if versions else []
    if not rules:
        return None
    current = versions[-1]
    asked = query.get("versionId", [None])[0]
    if asked is not None and asked != str(current.version_id):
        return None  # a noncurrent version: Expiration acts on the current one only
    found = lifecycle_rules.expiration_of(
        current.name, version_view(response.backend, current), rules, lifecycle_rules.REAL_DAYS
    )
    if found is None:
        return None
    due, rule_id = found
    return f'expiry-date="{format_datetime(due.replace(tzinfo=UTC), usegmt=True)}", ' + (
        f'rule-id="{rule_id}"'
    )
