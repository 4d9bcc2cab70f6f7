"""The queue routes: events pass through the stack's queue, an event source mapping feeds the
tracker in batches, and SQS moves dead letters back (StartMessageMoveTask). `sqs` is the one
whose bucket entry points at the queue; `eventbridge` (eventbridge.py) reaches it by a rule."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from s3sizer.errors import StackError
from s3sizer.stack import routing
from s3sizer.stack import steps as st
from s3sizer.stack.model import StackConfig
from s3sizer.stack.routes.base import Route, grant

if TYPE_CHECKING:
    from s3sizer.context import StackContext
    from s3sizer.stack.iam import Arns
    from s3sizer.stack.state import Stack

BATCHING_WINDOW_SECONDS = 1
# The event source mapping polls the queue with the tracker's role.
POLL_ACTIONS = [
    "sqs:ReceiveMessage",
    "sqs:DeleteMessage",
    "sqs:ChangeMessageVisibility",
    "sqs:GetQueueAttributes",
]


@dataclass(frozen=True)
class QueueRoute(Route):
    def mapping_steps(self, stack: Stack, config: StackConfig, arns: Arns) -> list:
        """The mapping created, or brought to the settings asked for and enabled."""
        function = stack.names.function("size-tracking")
        queue_arn = arns.queue(stack.names.queue)
        settings = {
            "BatchSize": config.batch_size,
            "MaximumBatchingWindowInSeconds": BATCHING_WINDOW_SECONDS,
            "FunctionResponseTypes": ["ReportBatchItemFailures"],
            "ScalingConfig": {"MaximumConcurrency": config.mapping_concurrency},
        }
        mappings = queue_mappings(stack, queue_arn)
        if not mappings:
            return [st.CreateEventSourceMapping(function, queue_arn, settings)]
        mapping = mappings[0]
        have = {key: mapping.get(key) for key in settings}
        if have != settings or mapping.get("State") in ("Disabled", "Disabling"):
            return [
                st.UpdateEventSourceMapping(
                    mapping["UUID"], function, {**settings, "Enabled": True}
                )
            ]
        return []

    def mapping_stopped(self, stack: Stack, config: StackConfig) -> bool:
        mappings = queue_mappings(stack, stack.arns(config).queue(stack.names.queue))
        return not any(m.get("State") in RUNNING for m in mappings)

    def tracker_grants(self, arns: Arns) -> list[dict]:
        return [grant("PollQueue", POLL_ACTIONS, arns.queue(arns.names.queue))]

    def unrouted(self, stack: Stack, buckets: list[str], arns: Arns) -> list[str]:
        """Those of ``buckets`` that the queue's policy no longer lets S3 send from (a policy
        rewritten by hand): S3 drops what it may not deliver. All of them when the queue is
        gone. A Deny statement is not read."""
        if not buckets:
            return []
        url = stack.queue_url(stack.names.queue)
        if url is None:
            return list(buckets)
        policy = stack.queue_attributes(url).get("Policy")
        return [
            b
            for b in buckets
            if not routing.sends_from(policy, "s3.amazonaws.com", f"arn:{arns.partition}:s3:::{b}")
        ]

    def cleanup_steps(self, stack: Stack) -> list:
        """Off the direct route, none of it stays: the asynchronous invoke configuration (its
        on-failure destination) and S3's permission to invoke the tracker."""
        function = stack.names.function("size-tracking")
        out: list = []
        if stack.event_invoke_config("size-tracking") is not None:
            out.append(st.DeleteEventInvokeConfig(function))
        for sid in (stack.names.permission_sid, stack.names.account_permission_sid):
            if stack.has_invoke_permission(sid):
                out.append(st.RemovePermission(function, sid))
        return out

    def redrive(self, ctx: StackContext, dlq_url: str, sleep: Callable[[float], None]) -> int:
        return move_task(ctx, sleep)


@dataclass(frozen=True)
class SqsRoute(QueueRoute):
    """The bucket's QueueConfigurations entry sends its events to the stack's queue."""

    def entry_target(self, arns: Arns) -> str:
        return arns.queue(arns.names.queue)

    def queue_statements(
        self, queue_arn: str, buckets: list[str], arns: Arns, account: str
    ) -> list[dict]:
        return [routing.bucket_senders(queue_arn, buckets, arns, account)] if buckets else []


# A mapping in these states reads its source, or is about to (a deploy's change under way).
RUNNING = ("Creating", "Enabling", "Enabled", "Updating")


def queue_mappings(stack: Stack, queue_arn: str) -> list[dict]:
    """The tracker's event source mappings from the stack's queue."""
    return [
        m
        for m in stack.event_source_mappings("size-tracking")
        if m.get("EventSourceArn") == queue_arn
    ]


def move_task(ctx: StackContext, sleep: Callable[[float], None]) -> int:
    """SQS itself moves the letters into the stack's queue (StartMessageMoveTask, as the
    console's "DLQ redrive" does), where the mapping applies them."""
    sqs, arns = ctx.client("sqs"), ctx.stack.arns(ctx.config)
    source = arns.queue(ctx.names.dead_letter_queue)
    # Named explicitly: letters from the EventBridge target's DLQ never came from a source queue.
    handle = sqs.start_message_move_task(
        SourceArn=source, DestinationArn=arns.queue(ctx.names.queue)
    )["TaskHandle"]
    while True:
        tasks = sqs.list_message_move_tasks(SourceArn=source, MaxResults=10).get("Results", [])
        task = next((t for t in tasks if t.get("TaskHandle") == handle), tasks[0] if tasks else {})
        if task.get("Status") in ("COMPLETED", "FAILED", "CANCELLED"):
            break
        sleep(1.0)
    if task.get("Status") != "COMPLETED":
        raise StackError(
            f"The DLQ redrive ended {task.get('Status')}: {task.get('FailureReason', '')}",
            "run `s3sizer redrive` again",
        )
    return int(task.get("ApproximateNumberOfMessagesMoved", 0))
