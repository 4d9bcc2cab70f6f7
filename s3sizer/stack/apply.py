"""Runs a plan's steps in order; the only place that mutates AWS resources.

A plain interpreter: each kind of step has one handler, a step of an unknown kind is refused,
and no handler decides anything the planner has not written into the step.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable

from s3sizer import interrupts
from s3sizer.errors import StackError
from s3sizer.stack import steps as st
from s3sizer.stack.apply_baselines import Baselines
from s3sizer.stack.apply_deletions import WAITER, Deletions
from s3sizer.stack.apply_streams import Streams
from s3sizer.stack.change_lease import confirm_held
from s3sizer.stack.iam import LAMBDA_TRUST
from s3sizer.stack.state import Stack, config_item


def retry(call, *, retry_on: Callable[[Exception], bool], sleep, attempts: int = 8):
    """call() until it succeeds, sleeping 1, 2, 4... (at most 10) s after each retryable error."""
    delay = 1.0
    for attempt in range(attempts):
        try:
            return call()
        except Exception as exc:
            if not retry_on(exc) or attempt == attempts - 1:
                raise
            sleep(delay)
            delay = min(delay * 2, 10.0)
    raise AssertionError("unreachable")


class Executor(Deletions, Streams, Baselines):
    """Interprets steps against AWS. `sleep` is injectable so retries are tested without waiting."""

    def __init__(
        self,
        stack: Stack,
        *,
        sleep: Callable[[float], None] = time.sleep,
        workers: int | None = None,
    ):
        self.stack = stack
        self.sleep = sleep
        # The baseline's pool of listing workers: a setting of the run, not of the plan.
        self.workers = workers
        self.layer_arn: str | None = None
        self._route_changed_at = 0.0
        self._handlers: dict[type, Callable] = {
            st.CreateTable: self._create_table,
            st.PutConfig: self._put_config,
            st.PutBucket: self._put_bucket,
            st.ForgetBucket: self._forget_bucket,
            st.CreateBucket: self._create_bucket,
            st.CreateRole: self._create_role,
            st.PutRolePolicy: self._put_role_policy,
            st.SetHistoryTtl: self._set_history_ttl,
            st.PutAlarm: self._put_alarm,
            st.PutDashboard: self._put_dashboard,
            st.DeleteDashboard: self._delete_dashboard,
            st.CreateQueue: self._create_queue,
            st.SetQueueAttributes: self._set_queue_attributes,
            st.CreateEventSourceMapping: self._create_event_source_mapping,
            st.UpdateEventSourceMapping: self._update_event_source_mapping,
            st.PutRule: self._put_rule,
            st.PutTarget: self._put_target,
            st.PutEventInvokeConfig: self._put_event_invoke_config,
            st.PutNotification: self._put_notification,
            st.AddPermission: self._add_permission,
            st.DeleteEventInvokeConfig: self._delete_event_invoke_config,
            st.RemovePermission: self._remove_permission,
            st.PollUploads: self._poll_uploads,
            st.PublishLayer: self._publish_layer,
            st.CreateLogGroup: self._create_log_group,
            st.CreateFunction: self._create_function,
            st.UpdateFunctionCode: self._update_function_code,
            st.UpdateFunctionConfiguration: self._update_function_configuration,
            st.DeleteEventSourceMapping: self._delete_event_source_mapping,
            st.DeleteRule: self._delete_rule,
            st.DeleteQueue: self._delete_queue,
            st.DeleteFunction: self._delete_function,
            st.DeleteLayerVersion: self._delete_layer_version,
            st.DeleteLogGroup: self._delete_log_group,
            st.DeleteRole: self._delete_role,
            st.DeleteAlarm: self._delete_alarm,
            st.DeleteBucket: self._delete_bucket,
            st.DeleteObjects: self._delete_objects,
            st.DeleteTable: self._delete_table,
            **self.stream_handlers(),
            **self.baseline_handlers(),
        }

    def run(self, plan: st.Plan, on_step: Callable[[st.Step], None] = lambda step: None) -> None:
        for step in plan.steps:
            interrupts.raise_if_pending()  # a Ctrl-C that Python swallowed stops here
            confirm_held()
            on_step(step)
            self.execute(step)

    def execute(self, step: st.Step) -> None:
        handler = self._handlers.get(type(step))
        if handler is None:
            raise StackError(f"Unknown step {step!r}", "this is a bug in s3sizer; please report it")
        handler(step)

    def client(self, service: str):
        return self.stack.client(service)

    def _resolve(self, value):
        if isinstance(value, st.NewLayerArn):
            if self.layer_arn is None:
                raise StackError("The new layer version was not published", "run deploy again")
            return self.layer_arn
        return value

    def _settings(self, settings: dict) -> dict:
        return {**settings, "Layers": [self._resolve(arn) for arn in settings["Layers"]]}

    # -- setup ----------------------------------------------------------------------------------
    def _create_table(self, step: st.CreateTable) -> None:
        from s3sizer.lambdas.history import table_definition

        ddb = self.client("dynamodb")
        ddb.create_table(**table_definition(step.table), Tags=_tag_list(step.tags))
        ddb.get_waiter("table_exists").wait(TableName=step.table, WaiterConfig=WAITER)

    def _put_config(self, step: st.PutConfig) -> None:
        self.client("dynamodb").put_item(TableName=step.table, Item=config_item(step.config))
        self.stack.forget_config()

    def _put_bucket(self, step: st.PutBucket) -> None:
        from s3sizer.stack.estate import mirror_storage_classes, settings_writes

        writes = settings_writes(step.table, step.settings, step.stack, step.unmarked_depth)
        client = self.client("dynamodb")
        # The tracker's transactions check the settings item too: one in flight cancels this.
        retry(
            lambda: client.transact_write_items(TransactItems=writes),
            retry_on=lambda exc: "TransactionConflict" in str(exc),
            sleep=self.sleep,
        )
        mirror_storage_classes(self.client("dynamodb"), step.table, step.settings)
        self.stack.forget_config()

    def _forget_bucket(self, step: st.ForgetBucket) -> None:
        from s3sizer.progress import deletion_bar
        from s3sizer.stack.forget import SWEEP_WORKERS, forget_bucket

        ddb = self.client("dynamodb")
        with deletion_bar(step.bucket) as on_deleted:
            forget_bucket(
                ddb, step.table, step.bucket, sleep=self.sleep,
                workers=self.workers or SWEEP_WORKERS, on_deleted=on_deleted,
            )  # fmt: skip
        self.stack.forget_config()

    def _create_bucket(self, step: st.CreateBucket) -> None:
        s3, bucket = self.client("s3"), step.bucket
        location = (
            {}
            if step.region == "us-east-1"
            else {"CreateBucketConfiguration": {"LocationConstraint": step.region}}
        )
        s3.create_bucket(Bucket=bucket, **location)
        # Tag first: the tag is what proves the bucket is ours if setup dies right here.
        s3.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": _tag_list(step.tags)})
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

    def _create_role(self, step: st.CreateRole) -> None:
        self.client("iam").create_role(
            RoleName=step.role,
            AssumeRolePolicyDocument=json.dumps(LAMBDA_TRUST),
            Description=step.description,
            Tags=_tag_list(step.tags),
        )

    def _put_role_policy(self, step: st.PutRolePolicy) -> None:
        self.client("iam").put_role_policy(
            RoleName=step.role, PolicyName=step.policy, PolicyDocument=json.dumps(step.document)
        )

    def _set_history_ttl(self, step: st.SetHistoryTtl) -> None:
        self.client("dynamodb").update_time_to_live(
            TableName=step.table,
            TimeToLiveSpecification={"Enabled": step.enabled, "AttributeName": step.attribute},
        )

    def _put_alarm(self, step: st.PutAlarm) -> None:
        self.client("cloudwatch").put_metric_alarm(AlarmName=step.name, **step.params)

    def _put_dashboard(self, step: st.PutDashboard) -> None:
        self.client("cloudwatch").put_dashboard(DashboardName=step.name, DashboardBody=step.body)

    def _delete_dashboard(self, step: st.DeleteDashboard) -> None:
        self.client("cloudwatch").delete_dashboards(DashboardNames=[step.name])

    # -- delivery -------------------------------------------------------------------------------
    def _create_queue(self, step: st.CreateQueue) -> None:
        self.client("sqs").create_queue(
            QueueName=step.name, Attributes=step.attributes, tags=step.tags
        )

    def _set_queue_attributes(self, step: st.SetQueueAttributes) -> None:
        if "Policy" in step.attributes:  # who may send: a baseline after it counts from here
            self._route_changed_at = time.time()
        self.client("sqs").set_queue_attributes(QueueUrl=step.url, Attributes=step.attributes)

    def _create_event_source_mapping(self, step: st.CreateEventSourceMapping) -> None:
        client = self.client("lambda")
        # The role's queue permissions, granted seconds ago, may not be visible to Lambda yet.
        retry(
            lambda: client.create_event_source_mapping(
                FunctionName=step.function, EventSourceArn=step.queue_arn, **step.settings
            ),
            retry_on=lambda exc: (
                "permission" in str(exc).lower()
                and isinstance(exc, client.exceptions.InvalidParameterValueException)
            ),
            sleep=self.sleep,
        )

    def _update_event_source_mapping(self, step: st.UpdateEventSourceMapping) -> None:
        self.client("lambda").update_event_source_mapping(UUID=step.uuid, **step.settings)

    def _put_rule(self, step: st.PutRule) -> None:
        if not step.schedule:  # the rule that carries S3's events
            self._route_changed_at = time.time()
        what = (
            {"ScheduleExpression": step.schedule}
            if step.schedule
            else {"EventPattern": json.dumps(step.pattern)}
        )
        self.client("events").put_rule(
            Name=step.name,
            **what,
            State="ENABLED",
            Description=step.description,
            Tags=_tag_list(step.tags),
        )

    def _put_target(self, step: st.PutTarget) -> None:
        response = self.client("events").put_targets(Rule=step.rule, Targets=[step.target_spec])
        if response.get("FailedEntryCount"):
            failed = response["FailedEntries"][0]
            raise StackError(
                f"EventBridge refused the target of {step.rule}: {failed.get('ErrorMessage')}",
                "check the queue and run deploy again",
            )

    def _put_event_invoke_config(self, step: st.PutEventInvokeConfig) -> None:
        self.client("lambda").put_function_event_invoke_config(
            FunctionName=step.function, **step.settings
        )

    def _put_notification(self, step: st.PutNotification) -> None:
        self._route_changed_at = time.time()
        # S3 validates every destination of the configuration. Ours has its queue policy or
        # invoke permission from the steps before, but SQS says a new policy can take up to a
        # minute to be seen: a refusal is tried again, a few times.
        s3 = self.client("s3")
        retry(
            lambda: s3.put_bucket_notification_configuration(
                Bucket=step.bucket,
                NotificationConfiguration=step.configuration,
                SkipDestinationValidation=step.skip_validation,
            ),
            retry_on=lambda exc: "Unable to validate" in str(exc),
            sleep=self.sleep,
            attempts=5,
        )

    def _add_permission(self, step: st.AddPermission) -> None:
        self.client("lambda").add_permission(
            FunctionName=step.function,
            StatementId=step.statement_id,
            Action="lambda:InvokeFunction",
            Principal=step.principal,
            **({"SourceArn": step.source_arn} if step.source_arn else {}),
            **({"SourceAccount": step.source_account} if step.source_account else {}),
        )

    def _poll_uploads(self, step: st.PollUploads) -> None:
        from s3sizer.lambdas.uploads import poll_bucket

        poll_bucket(self.client("s3"), self.client("dynamodb"), step.table, step.bucket)

    def _delete_event_invoke_config(self, step: st.DeleteEventInvokeConfig) -> None:
        client = self.client("lambda")
        with contextlib.suppress(client.exceptions.ResourceNotFoundException):
            client.delete_function_event_invoke_config(FunctionName=step.function)

    def _remove_permission(self, step: st.RemovePermission) -> None:
        client = self.client("lambda")
        with contextlib.suppress(client.exceptions.ResourceNotFoundException):
            client.remove_permission(FunctionName=step.function, StatementId=step.statement_id)

    # -- functions ------------------------------------------------------------------------------
    def _publish_layer(self, step: st.PublishLayer) -> None:
        if step.path is None:
            raise StackError("The layer was not built", "run deploy without --dry-run")
        if step.via_bucket:
            self.client("s3").upload_file(str(step.path), step.via_bucket, step.via_key)
            content = {"S3Bucket": step.via_bucket, "S3Key": step.via_key}
        else:
            content = {"ZipFile": step.path.read_bytes()}
        response = self.client("lambda").publish_layer_version(
            LayerName=step.name,
            Description="matplotlib for the s3sizer plotting function",
            Content=content,
            CompatibleRuntimes=[step.runtime],
            CompatibleArchitectures=[step.architecture],
        )
        self.layer_arn = response["LayerVersionArn"]
        if step.via_bucket:  # Lambda has copied it; the upload is s3sizer's, not the user's
            self.client("s3").delete_object(Bucket=step.via_bucket, Key=step.via_key)

    def _create_log_group(self, step: st.CreateLogGroup) -> None:
        logs = self.client("logs")
        with contextlib.suppress(logs.exceptions.ResourceAlreadyExistsException):
            logs.create_log_group(logGroupName=step.name, tags=step.tags)
        logs.put_retention_policy(logGroupName=step.name, retentionInDays=step.retention_days)

    def _create_function(self, step: st.CreateFunction) -> None:
        client = self.client("lambda")
        kwargs = dict(
            FunctionName=step.name,
            Code={"ZipFile": step.zip},
            Architectures=[step.architecture],
            Tags=step.tags,
            Description=step.description,
            **self._settings(step.settings),
        )
        # A role created seconds ago is not yet assumable by Lambda: retry on that error only.
        retry(
            lambda: client.create_function(**kwargs),
            retry_on=lambda exc: (
                isinstance(exc, client.exceptions.InvalidParameterValueException)
                and "cannot be assumed" in str(exc)
            ),
            sleep=self.sleep,
        )
        self._wait(step.name, "function_active_v2")

    def _update_function_code(self, step: st.UpdateFunctionCode) -> None:
        self.client("lambda").update_function_code(
            FunctionName=step.name, ZipFile=step.zip, Architectures=[step.architecture]
        )
        self._wait(step.name, "function_updated_v2")

    def _update_function_configuration(self, step: st.UpdateFunctionConfiguration) -> None:
        self.client("lambda").update_function_configuration(
            FunctionName=step.name, **self._settings(step.settings)
        )
        self._wait(step.name, "function_updated_v2")

    def _wait(self, name: str, waiter: str) -> None:
        import botocore.exceptions

        try:
            self.client("lambda").get_waiter(waiter).wait(FunctionName=name, WaiterConfig=WAITER)
        except botocore.exceptions.WaiterError as exc:
            reason = (exc.last_response or {}).get("Configuration", {}).get("StateReason") or exc
            raise StackError(
                f"Function {name} did not become ready: {reason}", "see `s3sizer logs`"
            ) from None


def _tag_list(tags: dict[str, str]) -> list[dict[str, str]]:
    return [{"Key": k, "Value": v} for k, v in tags.items()]
