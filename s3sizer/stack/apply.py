"""Runs a plan's steps in order; the only place that mutates AWS resources."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from pathlib import Path

from s3sizer.errors import StackError
from s3sizer.stack import sweep
from s3sizer.stack.iam import LAMBDA_TRUST
from s3sizer.stack.model import RESERVED_PREFIX, TAG_KEY, TRACKED_EVENTS, StackConfig
from s3sizer.stack.package import DIRECT_UPLOAD_LIMIT
from s3sizer.stack.plan import NEW_LAYER, Plan, Step
from s3sizer.stack.state import Stack, config_item

LOG_RETENTION_DAYS = 30


class Executor:
    """Interprets steps against AWS. `sleep` is injectable so retries are tested without waiting."""

    def __init__(
        self,
        stack: Stack,
        *,
        sleep: Callable[[float], None] = time.sleep,
        layer_path: Path | None = None,
    ):
        self.stack = stack
        self.names = stack.names
        self.sleep = sleep
        self.layer_path = layer_path
        self.layer_arn: str | None = None

    def run(self, plan: Plan, on_step: Callable[[Step], None] = lambda step: None) -> None:
        for step in plan.steps:
            on_step(step)
            getattr(self, step.action)(step)

    def client(self, service: str):
        return self.stack.client(service)

    @property
    def tags(self) -> dict[str, str]:
        return {TAG_KEY: self.names.stack}

    # setup
    def create_table(self, step: Step) -> None:
        from s3sizer.lambdas.history import table_definition

        ddb = self.client("dynamodb")
        tags = [{"Key": k, "Value": v} for k, v in self.tags.items()]
        ddb.create_table(**table_definition(step.target), Tags=tags)
        ddb.get_waiter("table_exists").wait(
            TableName=step.target, WaiterConfig={"Delay": 1, "MaxAttempts": 120}
        )

    def put_config(self, step: Step) -> None:
        self.client("dynamodb").put_item(
            TableName=step.target, Item=config_item(step.params["config"])
        )
        self.stack.forget_config()

    def create_bucket(self, step: Step) -> None:
        s3, bucket, region = self.client("s3"), step.params["bucket"], self.stack.aws.region
        kwargs = (
            {}
            if region == "us-east-1"
            else {"CreateBucketConfiguration": {"LocationConstraint": region}}
        )
        s3.create_bucket(Bucket=bucket, **kwargs)
        # Tag first: the tag is what proves the bucket is ours if setup dies right here.
        s3.put_bucket_tagging(
            Bucket=bucket,
            Tagging={"TagSet": [{"Key": k, "Value": v} for k, v in self.tags.items()]},
        )
        s3.put_public_access_block(
            Bucket=bucket,
            PublicAccessBlockConfiguration={
                "BlockPublicAcls": True,
                "IgnorePublicAcls": True,
                "BlockPublicPolicy": True,
                "RestrictPublicBuckets": True,
            },
        )
        s3.put_bucket_encryption(
            Bucket=bucket,
            ServerSideEncryptionConfiguration={
                "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
            },
        )

    def create_role(self, step: Step) -> None:
        import json

        self.client("iam").create_role(
            RoleName=step.target,
            AssumeRolePolicyDocument=json.dumps(LAMBDA_TRUST),
            Description=f"Execution role of {self.names.function(step.params['short'])}",
            Tags=[{"Key": k, "Value": v} for k, v in self.tags.items()],
        )

    def put_role_policy(self, step: Step) -> None:
        import json

        short = step.params["short"]
        self.client("iam").put_role_policy(
            RoleName=self.names.role(short),
            PolicyName=step.target,
            PolicyDocument=json.dumps(step.params["document"]),
        )

    def set_history_ttl(self, step: Step) -> None:
        from s3sizer.lambdas.history import TTL_ATTRIBUTE

        ddb, enabled = self.client("dynamodb"), step.params["days"] > 0
        current = ddb.describe_time_to_live(TableName=step.target)["TimeToLiveDescription"]
        if (current.get("TimeToLiveStatus") in {"ENABLED", "ENABLING"}) == enabled:
            return
        ddb.update_time_to_live(
            TableName=step.target,
            TimeToLiveSpecification={"Enabled": enabled, "AttributeName": TTL_ATTRIBUTE},
        )

    def record_baseline(self, step: Step) -> None:
        config: StackConfig = step.params["config"]
        self.stack.history(config).reset_from_listing(
            config.bucket, self.stack.list_objects(config.bucket)
        )

    # deploy
    def publish_layer(self, step: Step) -> None:
        config: StackConfig = step.params["config"]
        if self.layer_path is None:
            raise StackError("The layer was not built", "run deploy without --dry-run")
        data = self.layer_path.read_bytes()
        content: dict
        if len(data) > DIRECT_UPLOAD_LIMIT:
            key = f"{RESERVED_PREFIX}layers/{self.layer_path.name}"
            self.client("s3").upload_file(str(self.layer_path), config.bucket, key)
            content = {"S3Bucket": config.bucket, "S3Key": key}
        else:
            content = {"ZipFile": data}
        response = self.client("lambda").publish_layer_version(
            LayerName=step.target,
            Description="matplotlib for the s3sizer plotting function",
            Content=content,
            CompatibleRuntimes=[config.runtime],
            CompatibleArchitectures=[config.architecture],
        )
        self.layer_arn = response["LayerVersionArn"]

    def create_log_group(self, step: Step) -> None:
        logs = self.client("logs")
        with contextlib.suppress(logs.exceptions.ResourceAlreadyExistsException):
            logs.create_log_group(logGroupName=step.target, tags=self.tags)
        logs.put_retention_policy(logGroupName=step.target, retentionInDays=LOG_RETENTION_DAYS)

    def _settings(self, step: Step) -> dict:
        settings = dict(step.params["settings"])
        if settings["Layers"] == [NEW_LAYER]:
            settings["Layers"] = [self.layer_arn]
        return settings

    def create_function(self, step: Step) -> None:
        config: StackConfig = step.params["config"]
        client = self.client("lambda")
        kwargs = dict(
            FunctionName=step.target,
            Code={"ZipFile": step.params["zip"]},
            Architectures=[config.architecture],
            Tags=self.tags,
            Description=f"s3sizer {step.params['short']} function of stack {self.names.stack}",
            **self._settings(step),
        )
        # A role created seconds ago is not yet assumable by Lambda: retry on that error only.
        delay = 1.0
        for attempt in range(8):
            try:
                client.create_function(**kwargs)
                break
            except client.exceptions.InvalidParameterValueException as exc:
                if "cannot be assumed" not in str(exc) or attempt == 7:
                    raise
                self.sleep(delay)
                delay = min(delay * 2, 10.0)
        self.wait_active(step.target)

    def update_function_code(self, step: Step) -> None:
        self.client("lambda").update_function_code(
            FunctionName=step.target, ZipFile=step.params["zip"]
        )
        self.wait_active(step.target)

    def update_function_configuration(self, step: Step) -> None:
        self.client("lambda").update_function_configuration(
            FunctionName=step.target, **self._settings(step)
        )
        self.wait_active(step.target)

    def wait_active(self, name: str, deadline: float = 300.0) -> None:
        client, waited = self.client("lambda"), 0.0
        while True:
            state = client.get_function_configuration(FunctionName=name)
            if (
                state.get("State", "Active") == "Active"
                and state.get("LastUpdateStatus", "Successful") != "InProgress"
            ):
                return
            if state.get("State") == "Failed" or state.get("LastUpdateStatus") == "Failed":
                raise StackError(
                    f"Function {name} failed to become active: {state.get('StateReason')}",
                    "see `s3sizer logs`",
                )
            if waited >= deadline:
                raise StackError(f"Function {name} is still not active", "run deploy again later")
            self.sleep(1.0)
            waited += 1.0

    def add_invoke_permission(self, step: Step) -> None:
        config: StackConfig = step.params["config"]
        arns = self.stack.arns(config)
        self.client("lambda").add_permission(
            FunctionName=step.target,
            StatementId=self.names.permission_sid,
            Action="lambda:InvokeFunction",
            Principal="s3.amazonaws.com",
            SourceArn=arns.bucket_arn,
            SourceAccount=self.stack.aws.account_id,
        )

    def put_notification(self, step: Step) -> None:
        config: StackConfig = step.params["config"]
        entry = {
            "Id": self.names.notification_id,
            "LambdaFunctionArn": self.stack.arns(config).function("size-tracking"),
            "Events": list(TRACKED_EVENTS),
        }
        sweep.merge_notification(
            self.client("s3"), config.bucket, self.names.notification_id, entry
        )

    # teardown
    def remove_notification(self, step: Step) -> None:
        sweep.merge_notification(
            self.client("s3"), step.params["bucket"], self.names.notification_id, None
        )

    def delete_function(self, step: Step) -> None:
        client = self.client("lambda")
        with contextlib.suppress(client.exceptions.ResourceNotFoundException):
            client.delete_function(FunctionName=step.target)

    def delete_layer_version(self, step: Step) -> None:
        self.client("lambda").delete_layer_version(
            LayerName=self.names.layer, VersionNumber=step.params["version"]
        )

    def delete_log_group(self, step: Step) -> None:
        logs = self.client("logs")
        with contextlib.suppress(logs.exceptions.ResourceNotFoundException):
            logs.delete_log_group(logGroupName=step.target)

    def delete_role(self, step: Step) -> None:
        sweep.delete_role(self.client("iam"), step.target)

    def delete_bucket(self, step: Step) -> None:
        sweep.empty_bucket(self.client("s3"), step.params["bucket"])
        self.client("s3").delete_bucket(Bucket=step.params["bucket"])

    def delete_own_objects(self, step: Step) -> None:
        sweep.delete_keys(self.client("s3"), step.params["bucket"], step.params["keys"])

    def delete_table(self, step: Step) -> None:
        ddb = self.client("dynamodb")
        try:
            ddb.delete_table(TableName=step.target)
        except ddb.exceptions.ResourceNotFoundException:
            return
        ddb.get_waiter("table_not_exists").wait(
            TableName=step.target, WaiterConfig={"Delay": 1, "MaxAttempts": 120}
        )
