"""The executor's steps of a fold stack's table stream (stack/stream_steps.py)."""

from __future__ import annotations

from s3sizer.errors import StackError
from s3sizer.stack import steps as st
from s3sizer.stack import stream_steps as sst
from s3sizer.stack.apply_deletions import WAITER


class Streams:
    """Mixed into the Executor, which provides `client`, `sleep` and
    `_create_event_source_mapping`."""

    def stream_handlers(self) -> dict:
        return {
            sst.EnableStream: self._enable_stream,
            sst.CreateStreamMapping: self._create_stream_mapping,
        }

    def _enable_stream(self, step: sst.EnableStream) -> None:
        ddb = self.client("dynamodb")
        ddb.update_table(
            TableName=step.table,
            StreamSpecification={"StreamEnabled": True, "StreamViewType": step.view_type},
        )
        self._stream_arn(step.table)

    def _stream_arn(self, table: str) -> str:
        """The table's stream ARN, once the table is ACTIVE again and the stream exists."""
        ddb = self.client("dynamodb")
        for _ in range(WAITER["MaxAttempts"]):
            found = ddb.describe_table(TableName=table)["Table"]
            if found.get("TableStatus") == "ACTIVE" and found.get("LatestStreamArn"):
                return found["LatestStreamArn"]
            self.sleep(WAITER["Delay"])
        raise StackError(
            f"Table {table}'s stream did not become ready", "run the same command again"
        )

    def _create_stream_mapping(self, step: sst.CreateStreamMapping) -> None:
        arn = self._stream_arn(step.table)
        self._create_event_source_mapping(
            st.CreateEventSourceMapping(step.function, arn, step.settings)
        )
