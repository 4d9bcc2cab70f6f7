"""What exists now: read-only probes of the account, shared by the planner and the commands."""

from __future__ import annotations

import dataclasses
import functools
import json

from s3sizer.aws import Aws
from s3sizer.errors import StackError
from s3sizer.stack.iam import Arns
from s3sizer.stack.model import RESERVED_PREFIX, TAG_KEY, Names, StackConfig

CONFIG_KEY = {"pk": {"S": "STACK"}, "sk": {"S": "CONFIG"}}


def error_code(exc: Exception) -> str:
    return getattr(exc, "response", {}).get("Error", {}).get("Code", "")


class Stack:
    """One stack in one account and region: its names, its stored config, and probes."""

    def __init__(self, aws: Aws):
        self.aws = aws
        self.names = Names(aws.settings.stack)

    def client(self, service: str):
        return self.aws.client(service)

    # The config lives in the table, so another machine with the same credentials finds it.
    @functools.cached_property
    def config(self) -> StackConfig | None:
        if self.table_description() is None:
            return None
        item = (
            self.client("dynamodb")
            .get_item(TableName=self.names.table, Key=CONFIG_KEY, ConsistentRead=True)
            .get("Item")
        )
        if not item:
            return None
        stored = json.loads(item["config"]["S"])
        known = {f.name for f in dataclasses.fields(StackConfig)}
        return StackConfig(**{k: v for k, v in stored.items() if k in known})

    def forget_config(self) -> None:
        """After the config was written: the next read fetches it again."""
        self.__dict__.pop("config", None)

    def list_objects(self, bucket: str):
        """(key, size) of every current object, skipping s3sizer's own: one paginated listing."""
        pages = self.client("s3").get_paginator("list_objects_v2").paginate(Bucket=bucket)
        for page in pages:
            for item in page.get("Contents", []):
                if not item["Key"].startswith(RESERVED_PREFIX):
                    yield item["Key"], item["Size"]

    def require_config(self) -> StackConfig:
        if self.config is None:
            raise StackError(
                f"Stack {self.names.stack!r} is not set up in {self.aws.region}",
                "run `s3sizer setup` first (or pass the right --stack / --region)",
            )
        return self.config

    def arns(self, config: StackConfig) -> Arns:
        return Arns(
            self.names, self.aws.partition, self.aws.account_id, config.region, config.bucket
        )

    def history(self, config: StackConfig | None = None):
        from s3sizer.lambdas.history import History

        config = config or self.require_config()
        return History(self.names.table, self.client("dynamodb"), ttl_days=config.history_ttl_days)

    @functools.cache  # noqa: B019 - the table's schema cannot change under one command
    def table_description(self) -> dict | None:
        """The table, or None; a table of that name with a foreign schema is an error."""
        from s3sizer.lambdas.history import KEY_SCHEMA

        client = self.client("dynamodb")
        try:
            table = client.describe_table(TableName=self.names.table)["Table"]
        except client.exceptions.ResourceNotFoundException:
            return None
        found = sorted((k["AttributeName"], k["KeyType"]) for k in table["KeySchema"])
        if found != sorted((k["AttributeName"], k["KeyType"]) for k in KEY_SCHEMA):
            raise StackError(
                f"Table {self.names.table!r} exists with another key schema",
                "delete or rename that table, or choose another --stack",
            )
        return table

    def bucket_state(self, bucket: str) -> str:
        """'missing', 'mine' (exists and this account owns it) or 'foreign'."""
        s3 = self.client("s3")
        try:
            s3.head_bucket(Bucket=bucket, ExpectedBucketOwner=self.aws.account_id)
        except s3.exceptions.ClientError as exc:
            code = error_code(exc)
            if code in {"404", "NoSuchBucket", "NotFound"}:
                return "missing"
            if code in {"403", "AccessDenied", "Forbidden"}:
                return "foreign"
            raise
        # A bucket policy can open another account's bucket to us; only our own are listed.
        listed = s3.list_buckets(Prefix=bucket, MaxBuckets=1000)["Buckets"]
        return "mine" if any(b["Name"] == bucket for b in listed) else "foreign"

    def bucket_tagged_ours(self, bucket: str) -> bool:
        s3 = self.client("s3")
        try:
            tags = s3.get_bucket_tagging(Bucket=bucket)["TagSet"]
        except s3.exceptions.ClientError:
            return False
        return {"Key": TAG_KEY, "Value": self.names.stack} in tags

    def function_configuration(self, short: str) -> dict | None:
        client = self.client("lambda")
        try:
            return client.get_function_configuration(FunctionName=self.names.function(short))
        except client.exceptions.ResourceNotFoundException:
            return None

    def role_policy(self, short: str) -> dict | None:
        """The role's inline policy document; {} for a role without it; None for no role."""
        iam = self.client("iam")
        try:
            iam.get_role(RoleName=self.names.role(short))
        except iam.exceptions.NoSuchEntityException:
            return None
        try:
            document = iam.get_role_policy(
                RoleName=self.names.role(short), PolicyName=self.names.policy(short)
            )["PolicyDocument"]
        except iam.exceptions.NoSuchEntityException:
            return {}
        return json.loads(document) if isinstance(document, str) else document

    def log_group_exists(self, short: str) -> bool:
        name = self.names.log_group(short)
        groups = self.client("logs").describe_log_groups(logGroupNamePrefix=name)["logGroups"]
        return any(group["logGroupName"] == name for group in groups)

    def layer_versions(self) -> list[dict]:
        client = self.client("lambda")
        pages = client.get_paginator("list_layer_versions").paginate(LayerName=self.names.layer)
        try:
            return [version for page in pages for version in page["LayerVersions"]]
        except client.exceptions.ResourceNotFoundException:
            return []

    def notification_configuration(self, bucket: str) -> dict:
        config = self.client("s3").get_bucket_notification_configuration(Bucket=bucket)
        config.pop("ResponseMetadata", None)
        return config

    def notification_entry(self, bucket: str) -> dict | None:
        config = self.notification_configuration(bucket)
        for entry in config.get("LambdaFunctionConfigurations", []):
            if entry.get("Id") == self.names.notification_id:
                return entry
        return None

    def has_invoke_permission(self) -> bool:
        client = self.client("lambda")
        try:
            policy = client.get_policy(FunctionName=self.names.function("size-tracking"))
        except client.exceptions.ResourceNotFoundException:
            return False
        statements = json.loads(policy["Policy"]).get("Statement", [])
        return any(s.get("Sid") == self.names.permission_sid for s in statements)


def config_item(config: StackConfig) -> dict:
    return {**CONFIG_KEY, "config": {"S": json.dumps(dataclasses.asdict(config), sort_keys=True)}}
