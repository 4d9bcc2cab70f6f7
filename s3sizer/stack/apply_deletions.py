"""The executor's deletions: teardown's and untrack's steps, each tolerant of what is gone."""

from __future__ import annotations

import contextlib

from s3sizer.stack import steps as st
from s3sizer.stack import sweep

WAITER = {"Delay": 1, "MaxAttempts": 300}


class Deletions:
    """Mixed into the Executor, which provides `client`, `stack` and `sleep`."""

    # -- teardown -------------------------------------------------------------------------------
    def _delete_event_source_mapping(self, step: st.DeleteEventSourceMapping) -> None:
        client = self.client("lambda")
        with contextlib.suppress(client.exceptions.ResourceNotFoundException):
            client.delete_event_source_mapping(UUID=step.uuid)

    def _delete_rule(self, step: st.DeleteRule) -> None:
        events = self.client("events")
        if step.target_ids:
            events.remove_targets(Rule=step.name, Ids=list(step.target_ids))
        with contextlib.suppress(events.exceptions.ResourceNotFoundException):
            events.delete_rule(Name=step.name)

    def _delete_queue(self, step: st.DeleteQueue) -> None:
        sqs = self.client("sqs")
        with contextlib.suppress(sqs.exceptions.QueueDoesNotExist):
            sqs.delete_queue(QueueUrl=step.url)

    def _delete_function(self, step: st.DeleteFunction) -> None:
        client = self.client("lambda")
        with contextlib.suppress(client.exceptions.ResourceNotFoundException):
            client.delete_function(FunctionName=step.name)

    def _delete_layer_version(self, step: st.DeleteLayerVersion) -> None:
        self.client("lambda").delete_layer_version(LayerName=step.name, VersionNumber=step.version)

    def _delete_log_group(self, step: st.DeleteLogGroup) -> None:
        logs = self.client("logs")
        with contextlib.suppress(logs.exceptions.ResourceNotFoundException):
            logs.delete_log_group(logGroupName=step.name)

    def _delete_role(self, step: st.DeleteRole) -> None:
        sweep.delete_role(self.client("iam"), step.role)

    def _delete_alarm(self, step: st.DeleteAlarm) -> None:
        self.client("cloudwatch").delete_alarms(AlarmNames=[step.name])

    def _delete_bucket(self, step: st.DeleteBucket) -> None:
        sweep.empty_bucket(self.client("s3"), step.bucket)
        self.client("s3").delete_bucket(Bucket=step.bucket)

    def _delete_objects(self, step: st.DeleteObjects) -> None:
        sweep.delete_keys(self.client("s3"), step.bucket, list(step.keys))

    def _delete_table(self, step: st.DeleteTable) -> None:
        ddb = self.client("dynamodb")
        try:
            ddb.delete_table(TableName=step.table)
        except ddb.exceptions.ResourceNotFoundException:
            return
        ddb.get_waiter("table_not_exists").wait(TableName=step.table, WaiterConfig=WAITER)
