"""What several planner tests share: running a plan at once, and a user's own entry."""

from __future__ import annotations

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
