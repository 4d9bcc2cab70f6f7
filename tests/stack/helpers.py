"""What several planner tests share: running a plan at once, a user's own entry, a tracker's history."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from s3sizer.stack import steps as st
from s3sizer.stack.apply import Executor
from s3sizer.stack.state import Stack

# A user's own queue entry that takes the create events a route would want.
FOREIGN = {
    "Id": "theirs",
    "QueueArn": "arn:aws:sqs:us-east-1:123456789012:their-queue",
    "Events": ["s3:ObjectCreated:*"],
}


def run(stack, plan) -> st.Plan:
    """Apply the plan with no waits between retries, on a fresh view of the stack."""
    Executor(Stack(stack.aws), sleep=lambda s: None).run(plan)
    return plan


@contextlib.contextmanager
def tracker_history(table: str) -> Iterator:
    """A deployed tracker's history (each bucket's settings read along) on moto in-process."""
    import boto3
    from moto import mock_aws

    from s3sizer.lambdas import history, size_tracking

    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        client.create_table(**history.table_definition(table))
        found = history.History(table, client, prefix_depth=1)
        found.settings_required = True
        size_tracking.BUCKET_DEPTHS.clear()
        yield found
        size_tracking.BUCKET_DEPTHS.clear()
