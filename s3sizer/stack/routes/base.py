"""What every route answers: the planners, redrive and status ask the route instead of comparing
its name. Each method's default is what a route that does not need that part does: nothing."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from s3sizer.stack.model import CLASS_EVENTS, TRACKED_EVENTS, BucketSettings, StackConfig

if TYPE_CHECKING:
    from s3sizer.context import StackContext
    from s3sizer.stack.iam import Arns
    from s3sizer.stack.state import Stack


@dataclass(frozen=True)
class Route:
    name: str
    # The notification entry it writes into the bucket's configuration (kind, and the ARN's
    # key in it), or None: EventBridge delivery instead, which no other entry can overlap.
    entry_kind: str | None = None
    entry_arn_key: str | None = None

    # Choosing the route.

    def fits(self, taken: dict | None) -> bool:
        """It can be a bucket's route while ``taken`` (another entry for one of our event
        types, or None) stays: S3 refuses a second entry on overlapping event types."""
        return self.entry_kind is None or taken is None

    def imposed_on_buckets(self) -> str | None:
        """The route every bucket of a stack on this one takes, or None: each bucket chooses."""
        return None

    def owns_eventbridge(self, owned_before: bool, current: dict) -> bool:
        """Whether s3sizer owns the bucket's EventBridge delivery on this route: only while the
        route uses it, so that a later one the user turns on stays the user's."""
        return False

    def mapping_stopped(self, stack: Stack, config: StackConfig) -> bool:
        """Whether the tracker's event source mapping on this route is gone or disabled (its
        events then wait unapplied): a route without one has none to stop."""
        return False

    # The bucket's notification configuration.

    def entry(self, arns: Arns, own_id: str, storage_classes: bool = False) -> dict | None:
        """The bucket's notification entry this route needs, or None; with the bucket's
        storage classes tracked, its lifecycle transitions too."""
        if self.entry_kind is None:
            return None
        events = list(TRACKED_EVENTS) + (list(CLASS_EVENTS) if storage_classes else [])
        return {"Id": own_id, self.entry_arn_key: self.entry_target(arns), "Events": events}

    def entry_target(self, arns: Arns) -> str:
        raise NotImplementedError(self.name)

    def notifications(self, arns: Arns, own_id: str, storage_classes: bool) -> dict:
        """What this route adds to the bucket's notification configuration."""
        entry = self.entry(arns, own_id, storage_classes)
        return {self.entry_kind: [entry]} if entry is not None else {}

    # What the buckets on this route share: the queues' senders, the rule.

    def queue_statements(
        self, queue_arn: str, buckets: list[str], arns: Arns, account: str
    ) -> list[dict]:
        """The statements of the stack's queue's policy that let this route's senders in."""
        return []

    def dead_letter_statements(self, dlq_arn: str, buckets: list[str], arns: Arns) -> list[dict]:
        """The statements of the DLQ's policy that let this route's senders in."""
        return []

    def shared_steps(self, stack: Stack, buckets: list[BucketSettings], arns: Arns, tags) -> list:
        """What the buckets on this route share besides the queues, for exactly ``buckets``
        (every tracked bucket; the route picks its own): created, brought up to date, or
        removed once none is on it."""
        return []

    def unrouted(self, stack: Stack, buckets: list[str], arns: Arns) -> list[str]:
        """Those of ``buckets`` (on this route) whose events what they share no longer carries;
        their own entries are checked apart (delivery.routes_in_place)."""
        return []

    # The stack's route (the first bucket's), which the tracker's own settings follow.

    def mapping_steps(self, stack: Stack, config: StackConfig, arns: Arns) -> list:
        """The event source mapping from the stack's queue to the tracker."""
        return []

    def invoke_config_steps(self, stack: Stack, arns: Arns) -> list:
        """The tracker's asynchronous invoke configuration (its on-failure destination)."""
        return []

    def invoke_permission_steps(self, stack: Stack, buckets: list[str], arns: Arns) -> list:
        """S3's permission to invoke the tracker for ``buckets``."""
        return []

    def cleanup_steps(self, stack: Stack) -> list:
        """What another route left that this one does not use, once no entry needs it."""
        return []

    def teardown_steps(self, stack: Stack) -> list:
        """What only this route created, removed with the stack (before its functions)."""
        return []

    # The tracker's role.

    def tracker_grants(self, arns: Arns) -> list[dict]:
        """The statements of the tracker's role that AWS acts with on this route."""
        return []

    # Operating it.

    def redrive(self, ctx: StackContext, dlq_url: str, sleep: Callable[[float], None]) -> int:
        """Send the DLQ's letters back to be applied; how many went."""
        raise NotImplementedError(self.name)

    def redrives_to(self) -> str:
        """Where redrive sends the letters: ``queue`` (the tracker applies them as it is
        polled) or ``tracker`` (each applied before redrive ends)."""
        return "queue"

    def status_rows(self, queued: int | None, dead_letters: int | None) -> dict:
        """Status's rows for the route: the messages waiting in its queue, and in the DLQ."""
        return {"queued": queued, "dead_letters": dead_letters or 0}


def grant(sid: str, actions: list[str], resource: str) -> dict:
    return {"Sid": sid, "Effect": "Allow", "Action": actions, "Resource": [resource]}
