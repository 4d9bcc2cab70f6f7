"""The direct route: the original S3 -> Lambda entry, the tracker invoked asynchronously once per
event, with an on-failure destination to the DLQ. It is all or nothing: every bucket of a stack
on it is on it, since its buckets need no queue. The queue's mapping, where a route before left
one, stays to apply what is still in the queue: nothing is stranded there."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from s3sizer.errors import StackError
from s3sizer.output import still_waiting
from s3sizer.stack import steps as st
from s3sizer.stack.model import StackConfig
from s3sizer.stack.routes import letters
from s3sizer.stack.routes.base import Route, grant
from s3sizer.stack.routes.queue import queue_mappings

if TYPE_CHECKING:
    from s3sizer.context import StackContext
    from s3sizer.stack.iam import Arns
    from s3sizer.stack.state import Stack

DIRECT_RETRY = {"MaximumRetryAttempts": 2, "MaximumEventAgeInSeconds": 21600}
# Long enough for one batch of invocations (the tracker's timeout is far shorter than 10 of
# these); a letter this process fails on is released at once instead of waiting it out.
REINVOKE_VISIBILITY_SECONDS = 60
# Lambda sends what it gives up on to the on-failure destination with the tracker's role.
DESTINATION_ACTIONS = ["sqs:SendMessage"]


@dataclass(frozen=True)
class DirectRoute(Route):
    def entry_target(self, arns: Arns) -> str:
        return arns.function("size-tracking")

    def redrives_to(self) -> str:
        return "tracker"

    def imposed_on_buckets(self) -> str | None:
        return self.name

    def mapping_steps(self, stack: Stack, config: StackConfig, arns: Arns) -> list:
        """The queue's mapping is kept, never deleted here. Events that reached the queue before
        the entries moved here, and those S3 still sends there while its new configuration
        takes effect (AWS: typically within five minutes), must be applied: a baseline takes a
        change it saw recorded as newer than its listing, and counts on the changes after it
        arriving. A queue that holds messages with no mapping (one deleted on the move here)
        gets its mapping back."""
        from s3sizer.stack.routes import SQS

        if queue_mappings(stack, arns.queue(stack.names.queue)):
            return []
        url = stack.queue_url(stack.names.queue)
        if url is None or not stack.messages_held(url):
            return []
        return SQS.mapping_steps(stack, config, arns)

    def tracker_grants(self, arns: Arns) -> list[dict]:
        dlq_arn = arns.queue(arns.names.dead_letter_queue)
        return [grant("FailedEventsToDeadLetterQueue", DESTINATION_ACTIONS, dlq_arn)]

    def invoke_config_steps(self, stack: Stack, arns: Arns) -> list:
        """Events Lambda gives up on go to the DLQ instead of vanishing."""
        settings = {
            **DIRECT_RETRY,
            "DestinationConfig": {
                "OnFailure": {"Destination": arns.queue(stack.names.dead_letter_queue)}
            },
        }
        have = stack.event_invoke_config("size-tracking")
        if have and all(have.get(k) == v for k, v in settings.items()):
            return []
        return [st.PutEventInvokeConfig(stack.names.function("size-tracking"), settings)]

    def invoke_permission_steps(self, stack: Stack, buckets: list[str], arns: Arns) -> list:
        """For one bucket, that bucket's ARN and account; for several, any bucket of the account
        (``aws:SourceAccount`` alone), as the queue's policy falls back to: a statement per
        bucket would outgrow the function's 20 KB resource policy, and the tracker ignores the
        events of a bucket it does not track. A new statement is added before any entry needs
        it, and none is removed while the route stays, so no event meets a function S3 may not
        invoke."""
        if not buckets:
            return []
        names, account = stack.names, stack.aws.account_id
        if len(buckets) == 1:
            sid, source = names.permission_sid, f"arn:{arns.partition}:s3:::{buckets[0]}"
        else:
            sid, source = names.account_permission_sid, ""
        if stack.has_invoke_permission(sid):
            return []
        return [st.AddPermission(names.function("size-tracking"), sid, source, account)]

    def redrive(self, ctx: StackContext, dlq_url: str, sleep: Callable[[float], None]) -> int:
        """Each letter is a failure record holding the event Lambda gave up on: its original
        event is given to the tracker again, and the letter deleted once applied. One that
        fails again stays in the DLQ, at once receivable by the next redrive."""
        sqs, functions = ctx.client("sqs"), ctx.client("lambda")
        moved = 0
        while True:
            messages = sqs.receive_message(
                QueueUrl=dlq_url,
                MaxNumberOfMessages=10,
                WaitTimeSeconds=1,
                VisibilityTimeout=REINVOKE_VISIBILITY_SECONDS,
            ).get("Messages", [])
            if not messages:
                return moved
            for index, message in enumerate(messages):
                try:
                    failed = _applied_again(ctx, functions, message)
                except BaseException:
                    letters.release(sqs, dlq_url, messages[index:])
                    raise
                if failed:
                    # This letter and the rest of the batch go back now, not in a minute: the
                    # next redrive (after the fix) finds every one of them.
                    letters.release(sqs, dlq_url, messages[index:])
                    left = letters.dead_letters(ctx, dlq_url)
                    raise StackError(
                        f"The tracker failed again on a dead letter ({failed}) after applying "
                        f"{moved}; {still_waiting(left, 'dead letter')}",
                        "see `s3sizer logs size-tracking`, fix the cause (`s3sizer deploy` puts "
                        "the functions back), then run redrive again",
                    )
                sqs.delete_message(QueueUrl=dlq_url, ReceiptHandle=message["ReceiptHandle"])
                moved += 1

    def status_rows(self, queued: int | None, dead_letters: int | None) -> dict:
        """What Lambda's asynchronous queue holds cannot be counted: ``queued`` is null, or
        the messages still in the stack's queue from a route before, which its mapping
        applies."""
        return super().status_rows(queued or None, dead_letters)


def _applied_again(ctx: StackContext, functions, message: dict) -> str:
    """Invoke the tracker with the letter's original event: '' when applied, else the error."""
    record = json.loads(message["Body"])
    payload = record.get("requestPayload", record)
    response = functions.invoke(
        FunctionName=ctx.names.function("size-tracking"), Payload=json.dumps(payload).encode()
    )
    return letters.function_error(response) if response.get("FunctionError") else ""
