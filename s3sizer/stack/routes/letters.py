"""Counting the DLQ's letters, for redrive on every route; what the redrives that invoke a
function again share."""

from __future__ import annotations

import contextlib
import json
from typing import TYPE_CHECKING

from s3sizer.errors import StackError
from s3sizer.output import plural, still_waiting

if TYPE_CHECKING:
    from s3sizer.context import StackContext


def dead_letters(ctx: StackContext, dlq_url: str, *, held_only: bool = False) -> int:
    attributes = ctx.stack.queue_attributes(dlq_url)
    held = int(attributes.get("ApproximateNumberOfMessagesNotVisible", 0))
    return held if held_only else held + int(attributes.get("ApproximateNumberOfMessages", 0))


def check_none_left(ctx: StackContext, dlq_url: str, moved: int, announced: int) -> None:
    """Fewer moved than announced: fine if none is left (the count was approximate), else say."""
    left = dead_letters(ctx, dlq_url)
    if left == 0:
        return
    held = dead_letters(ctx, dlq_url, held_only=True)
    why = (
        f"{held} of them are held by another receiver (an earlier redrive, or a reader of the "
        "queue) until their visibility timeout ends"
        if held
        else "they arrived or became visible while it ran"
    )
    raise StackError(
        f"Redrive moved {moved} of {plural(announced, 'dead letter')}; "
        f"{still_waiting(left, 'dead letter')}: {why}",
        "run `s3sizer redrive` again in a minute",
    )


def release(sqs, dlq_url: str, messages: list[dict]) -> None:
    """Make letters this process received visible again at once (visibility timeout 0)."""
    for start in range(0, len(messages), 10):
        chunk = messages[start : start + 10]
        sqs.change_message_visibility_batch(
            QueueUrl=dlq_url,
            Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": 0}
                for i, m in enumerate(chunk)
            ],
        )


def function_error(response: dict) -> str:
    """What a synchronous invocation that answered a FunctionError says went wrong."""
    body = response.get("Payload")
    detail = body.read().decode(errors="replace") if body is not None else ""
    with contextlib.suppress(ValueError, AttributeError):  # not JSON, or not an error object
        detail = json.loads(detail).get("errorMessage", detail)
    return str(detail)[:200] or response["FunctionError"]
