"""What exists now: read-only probes of the account, shared by the planner and the commands."""

from __future__ import annotations

import dataclasses
import functools
import json

from s3sizer.aws import Aws
from s3sizer.errors import StackError
from s3sizer.stack.iam import Arns
from s3sizer.stack.model import TAG_KEY, BucketSettings, Names, StackConfig

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
        client = self.client("dynamodb")
        try:
            item = client.get_item(
                TableName=self.names.table, Key=CONFIG_KEY, ConsistentRead=True
            ).get("Item")
        except client.exceptions.ResourceNotFoundException:
            return None
        except client.exceptions.ClientError as exc:
            if error_code(exc) == "ValidationException":
                self.table_description()  # a table of that name with another schema: say so
            raise
        if not item:
            return None
        return StackConfig.from_stored(json.loads(item["config"]["S"]))

    def forget_config(self) -> None:
        """After the config (or a bucket's settings) was written: the next read fetches it."""
        self.__dict__.pop("config", None)
        self.__dict__.pop("stored_buckets", None)
        self.__dict__.pop("unfinished_untracks", None)

    @functools.cached_property
    def stored_buckets(self) -> dict[str, BucketSettings]:
        """Every bucket with settings items in the table, by name (stack/estate.py)."""
        from s3sizer.stack.estate import stored_settings

        return stored_settings(self.client("dynamodb"), self.names.table)

    @functools.cached_property
    def unfinished_untracks(self) -> list[str]:
        """Buckets whose untrack stopped before their items were all deleted (stack/forget.py)."""
        from s3sizer.stack.forget import unfinished

        return unfinished(self.client("dynamodb"), self.names.table)

    def tracked(self, config: StackConfig | None = None) -> list[BucketSettings]:
        """The tracked buckets, the first one first."""
        from s3sizer.stack.estate import tracked

        config = config or self.require_config()
        return tracked(config, self.stored_buckets)

    def existing_keys(self, bucket: str, keys) -> list[str]:
        """Those of `keys` that the bucket holds (one HeadObject each)."""
        s3, found = self.client("s3"), []
        for key in keys:
            try:
                s3.head_object(Bucket=bucket, Key=key)
            except s3.exceptions.ClientError as exc:
                if error_code(exc) in {"404", "NoSuchKey", "NotFound"}:
                    continue
                raise
            found.append(key)
        return found

    def bucket_versioning(self, bucket: str) -> str:
        """'Enabled', 'Suspended', or '' for a bucket that never had versioning."""
        return self.client("s3").get_bucket_versioning(Bucket=bucket).get("Status", "")

    def tracked_bucket_versioning(self, bucket: str, *, first: bool) -> str:
        """As bucket_versioning, for a bucket the stack tracks: one deleted since is named,
        with the way out (untrack it; the first bucket goes with the stack)."""
        s3 = self.client("s3")
        try:
            return self.bucket_versioning(bucket)
        except s3.exceptions.ClientError as exc:
            if error_code(exc) not in {"NoSuchBucket", "404"}:
                raise
        raise StackError(
            f"Bucket {bucket!r} of stack {self.names.stack!r} is gone",
            "run `s3sizer teardown`, then `s3sizer setup` to start anew"
            if first
            else f"run `s3sizer untrack {bucket}`",
        )

    def bucket_region(self, bucket: str) -> str:
        location = self.client("s3").get_bucket_location(Bucket=bucket).get("LocationConstraint")
        return {None: "us-east-1", "": "us-east-1", "EU": "eu-west-1"}.get(location, location)

    def bucket_kms_key(self, bucket: str) -> str | None:
        """The ARN of the customer-managed KMS key of the bucket's default encryption, if any.

        IAM names a key only by its key ARN (an alias in a policy means the alias, not the key),
        so an id or alias is resolved; AWS's own aws/s3 key needs no grant: its policy lets any
        principal of the account use it through S3.
        """
        s3 = self.client("s3")
        try:
            rules = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]
        except s3.exceptions.ClientError:
            return None
        for rule in rules.get("Rules", []):
            default = rule.get("ApplyServerSideEncryptionByDefault", {})
            key = default.get("KMSMasterKeyID")
            if default.get("SSEAlgorithm", "").startswith("aws:kms") and key:
                found = self.client("kms").describe_key(KeyId=key)["KeyMetadata"]
                return None if found.get("KeyManager") == "AWS" else found["Arn"]
        return None

    def time_to_live_enabled(self) -> bool:
        ddb = self.client("dynamodb")
        found = ddb.describe_time_to_live(TableName=self.names.table)["TimeToLiveDescription"]
        return found.get("TimeToLiveStatus") in {"ENABLED", "ENABLING"}

    def queue_url(self, name: str) -> str | None:
        sqs = self.client("sqs")
        try:
            return sqs.get_queue_url(QueueName=name)["QueueUrl"]
        except sqs.exceptions.QueueDoesNotExist:
            return None
        except sqs.exceptions.ClientError as exc:
            if "NonExistentQueue" in error_code(exc):
                return None
            raise

    def queue_attributes(self, url: str) -> dict[str, str]:
        got = self.client("sqs").get_queue_attributes(QueueUrl=url, AttributeNames=["All"])
        return got.get("Attributes", {})

    def messages_held(self, url: str) -> int:
        """The messages a queue holds: waiting, in flight, or delayed."""
        attributes = self.queue_attributes(url)
        names = ("", "NotVisible", "Delayed")
        return sum(int(attributes.get(f"ApproximateNumberOfMessages{n}", 0)) for n in names)

    def event_source_mappings(self, short: str) -> list[dict]:
        client = self.client("lambda")
        pages = client.get_paginator("list_event_source_mappings").paginate(
            FunctionName=self.names.function(short)
        )
        try:
            return [m for page in pages for m in page.get("EventSourceMappings", [])]
        except client.exceptions.ResourceNotFoundException:
            return []

    def event_invoke_config(self, short: str) -> dict | None:
        client = self.client("lambda")
        try:
            return client.get_function_event_invoke_config(FunctionName=self.names.function(short))
        except client.exceptions.ResourceNotFoundException:
            return None

    def rule(self, name: str | None = None) -> dict | None:
        """The stack's EventBridge rule (with its EventPattern), or another of its rules."""
        events = self.client("events")
        try:
            return events.describe_rule(Name=name or self.names.rule)
        except events.exceptions.ResourceNotFoundException:
            return None

    def rule_targets(self, name: str | None = None) -> list[dict] | None:
        """The targets of the stack's EventBridge rule (or another), None when there is none."""
        events = self.client("events")
        try:  # a rule that does not exist is refused here too, as by DescribeRule
            return events.list_targets_by_rule(Rule=name or self.names.rule).get("Targets", [])
        except events.exceptions.ResourceNotFoundException:
            return None

    def alarm_exists(self, name: str | None = None) -> bool:
        return self.alarm(name) is not None

    def alarm(self, name: str | None = None) -> dict | None:
        alarms = self.client("cloudwatch").describe_alarms(AlarmNames=[name or self.names.alarm])
        return next(iter(alarms.get("MetricAlarms") or []), None)

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

    def table_description(self) -> dict | None:
        """The table, or None; a table of that name with a foreign schema is an error. Read
        once: the table's schema cannot change under one command."""
        if "_table_description" not in self.__dict__:
            self.__dict__["_table_description"] = self._describe_table()
        return self.__dict__["_table_description"]

    def _describe_table(self) -> dict | None:
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

    def has_invoke_permission(self, sid: str | None = None) -> bool:
        """The tracker's resource policy holds S3's permission (or the statement `sid`)."""
        sid = sid or self.names.permission_sid
        client = self.client("lambda")
        try:
            policy = client.get_policy(FunctionName=self.names.function("size-tracking"))
        except client.exceptions.ResourceNotFoundException:
            return False
        statements = json.loads(policy["Policy"]).get("Statement", [])
        return any(s.get("Sid") == sid for s in statements)


def config_item(config: StackConfig) -> dict:
    return {**CONFIG_KEY, "config": {"S": json.dumps(dataclasses.asdict(config), sort_keys=True)}}
