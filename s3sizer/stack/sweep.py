"""Careful deletions: one notification entry, a role with its policies, a bucket's versions."""

from __future__ import annotations

import os


def merge_notification(s3, bucket: str, entry_id: str, entry: dict | None) -> None:
    """Replace (or, with None, remove) one Lambda entry, keeping every other entry as it was.

    PutBucketNotificationConfiguration replaces the whole configuration, so read, merge, write.
    """
    config = s3.get_bucket_notification_configuration(Bucket=bucket)
    config.pop("ResponseMetadata", None)
    lambdas = [e for e in config.get("LambdaFunctionConfigurations", []) if e.get("Id") != entry_id]
    if entry is not None:
        lambdas.append(entry)
    if lambdas:
        config["LambdaFunctionConfigurations"] = lambdas
    else:
        config.pop("LambdaFunctionConfigurations", None)
    # Another entry's destination may be gone; validating it would block adding or removing ours.
    s3.put_bucket_notification_configuration(
        Bucket=bucket, NotificationConfiguration=config, SkipDestinationValidation=True
    )


def delete_role(iam, role: str) -> None:
    try:
        names = iam.list_role_policies(RoleName=role)["PolicyNames"]
    except iam.exceptions.NoSuchEntityException:
        return
    for name in names:
        iam.delete_role_policy(RoleName=role, PolicyName=name)
    for attached in iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"]:
        iam.detach_role_policy(RoleName=role, PolicyArn=attached["PolicyArn"])
    iam.delete_role(RoleName=role)


def empty_bucket(s3, bucket: str) -> None:
    """Delete every object version and delete marker, 1,000 per request."""
    _delete_versions(s3, bucket, "", lambda key: True)


def delete_keys(s3, bucket: str, keys: list[str]) -> None:
    """Delete every version of exactly these keys, and of nothing else."""
    wanted = set(keys)
    prefix = os.path.commonprefix(keys)  # noqa: RUF071 - S3 prefixes are strings, not paths
    _delete_versions(s3, bucket, prefix, wanted.__contains__)


def _delete_versions(s3, bucket: str, prefix: str, chosen) -> None:
    pages = s3.get_paginator("list_object_versions").paginate(Bucket=bucket, Prefix=prefix)
    for page in pages:
        doomed = [
            {"Key": item["Key"], "VersionId": item["VersionId"]}
            for kind in ("Versions", "DeleteMarkers")
            for item in page.get(kind, [])
            if chosen(item["Key"])
        ]
        if doomed:
            s3.delete_objects(Bucket=bucket, Delete={"Objects": doomed, "Quiet": True})
