"""S3 lifecycle: what the lifecycle engine (emulator/lifecycle.py) needs that moto does not keep.

- Each stored rule keeps the rule as the request carried it (RAW_RULE), since moto's model drops
  NoncurrentVersionExpiration's NewerNoncurrentVersions and the ObjectSizeGreaterThan /
  ObjectSizeLessThan filters.
- Day counts that are not positive integers are refused with InvalidArgument and S3's message
  (moto accepts `Expiration: {Days: 0}`).
- Each multipart upload records when it was initiated (INITIATED, naive UTC like moto's times),
  which moto does not, for AbortIncompleteMultipartUpload.
"""

from __future__ import annotations

import copy

from .hooks import PatchSet, Target

RAW_RULE = "s3sizer_raw_rule"
INITIATED = "s3sizer_initiated"

_MODELS = "moto.s3.models"
TARGETS = {
    "set_lifecycle": Target("lifecycle rules kept as sent", _MODELS, "FakeBucket",
                            "set_lifecycle", ("self", "rules")),
    "create_multipart": Target("multipart uploads' initiation time", _MODELS, "S3Backend",
                               "create_multipart_upload",
                               ("self", "bucket_name", "key_name", "metadata", "storage_type",
                                "tags", "acl", "sse_encryption", "kms_key_id")),
}  # fmt: skip


def install(patches: PatchSet) -> None:
    patches.replace(TARGETS["set_lifecycle"], _set_lifecycle)
    patches.replace(TARGETS["create_multipart"], _create_multipart_upload)


# (action, field) → S3's message for a value that is not a positive integer.
POSITIVE_DAYS = {
    ("Expiration", "Days"): "'Days' for Expiration action must be a positive integer",
    ("NoncurrentVersionExpiration", "NoncurrentDays"):
        "'NoncurrentDays' for NoncurrentVersionExpiration action must be a positive integer",
    ("AbortIncompleteMultipartUpload", "DaysAfterInitiation"):
        "'DaysAfterInitiation' for AbortIncompleteMultipartUpload action must be a positive integer",
}  # fmt: skip


def _refuse_days_below_one(rules) -> None:
    from moto.s3.exceptions import InvalidArgumentError

    for rule in rules:
        for (action, name), message in POSITIVE_DAYS.items():
            value = (rule.get(action) or {}).get(name)
            if value is None:
                continue
            try:
                positive = int(value) >= 1
            except (TypeError, ValueError):
                positive = False
            if not positive:
                raise InvalidArgumentError(message, name, str(value))


def _set_lifecycle(original):
    def set_lifecycle(self, rules):
        _refuse_days_below_one(rules)
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
