"""Counting the DLQ's letters, for redrive on every route."""

from __future__ import annotations

from typing import TYPE_CHECKING

from s3sizer.errors import StackError
from s3sizer.output import plural

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
        f"{plural(left, 'dead letter')} still wait: {why}",
        "run `s3sizer redrive` again in a minute",
    )
