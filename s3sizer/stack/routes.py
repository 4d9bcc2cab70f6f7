"""The three ways S3 events reach the tracker, each one object: what the bucket's notification
configuration carries for it, whether it passes through the stack's queue, how its dead letters
go back, and how many buckets it serves. The planners, redrive and status ask the route instead
of comparing its name."""

from __future__ import annotations

from dataclasses import dataclass

from s3sizer.stack.model import CLASS_EVENTS, TRACKED_EVENTS


@dataclass(frozen=True)
class Route:
    name: str
    # The notification entry it writes into the bucket's configuration (kind, and the ARN's
    # key in it), or None: EventBridge delivery instead, which no other entry can overlap.
    entry_kind: str | None
    entry_arn_key: str | None
    # Events pass through the stack's queue: an event source mapping, a `queued` count, and
    # dead letters that SQS moves back (StartMessageMoveTask); else Lambda is invoked directly,
    # with an on-failure destination, S3's invoke permission, and letters invoked again.
    via_queue: bool
    eventbridge: bool = False

    @property
    def coexists(self) -> bool:
        """It can share a bucket with another entry for the same event types."""
        return self.entry_kind is None

    def entry(self, arns, own_id: str, storage_classes: bool = False) -> dict | None:
        """The bucket's notification entry this route needs, or None; with the bucket's
        storage classes tracked, its lifecycle transitions too."""
        if self.entry_kind is None:
            return None
        target = arns.queue(arns.names.queue) if self.via_queue else arns.function("size-tracking")
        events = list(TRACKED_EVENTS) + (list(CLASS_EVENTS) if storage_classes else [])
        return {"Id": own_id, self.entry_arn_key: target, "Events": events}


SQS = Route("sqs", "QueueConfigurations", "QueueArn", via_queue=True)
EVENTBRIDGE = Route("eventbridge", None, None, via_queue=True, eventbridge=True)
DIRECT = Route(
    "direct",
    "LambdaFunctionConfigurations",
    "LambdaFunctionArn",
    via_queue=False,
)
ROUTES = {route.name: route for route in (SQS, EVENTBRIDGE, DIRECT)}
# When the bucket's event types are free, and when another entry takes them.
DEFAULT, WHEN_TAKEN = SQS, EVENTBRIDGE


def route(name: str | None) -> Route | None:
    return ROUTES[name] if name else None
