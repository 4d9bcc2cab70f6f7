"""The three ways S3 events reach the tracker, each one object that owns its behaviour: the
bucket's notification entry, the queues' senders and the rule, the tracker's mapping, invoke
configuration and permission, what it leaves behind when the stack moves to another route, its
redrive and its status rows. The planners, redrive and status ask the route instead of
comparing its name (docs/architecture.md, "Delivery routes").

- `sqs` (the default): a QueueConfigurations entry sends the bucket's events to the stack's
  queue; an event source mapping feeds the tracker in batches; failures wait in the DLQ.
- `eventbridge`: the bucket's EventBridge delivery (which overlaps no other entry) and a rule
  whose target is the same queue. Chosen when another entry already takes our event types.
- `direct`: the original S3 -> Lambda entry, with an on-failure destination to the DLQ.
"""

from __future__ import annotations

from s3sizer.stack.routes.base import Route
from s3sizer.stack.routes.direct import DirectRoute
from s3sizer.stack.routes.eventbridge import EventBridgeRoute
from s3sizer.stack.routes.queue import SqsRoute

SQS = SqsRoute("sqs", "QueueConfigurations", "QueueArn")
EVENTBRIDGE = EventBridgeRoute("eventbridge")
DIRECT = DirectRoute("direct", "LambdaFunctionConfigurations", "LambdaFunctionArn")
# In this order the queue's policy lists its senders, and plans list the routes' steps.
ROUTES: dict[str, Route] = {route.name: route for route in (SQS, EVENTBRIDGE, DIRECT)}
# When the bucket's event types are free, and when another entry takes them.
DEFAULT, WHEN_TAKEN = SQS, EVENTBRIDGE


def route(name: str | None) -> Route | None:
    return ROUTES[name] if name else None


def tracker_grants(arns) -> list[dict]:
    """Every route's statements for the tracker's role, each once: the role is written before
    a route change's other steps and stays as it is after, and the buckets of one stack may be
    on different routes, so it holds what any route needs, on the stack's own queues only."""
    out: list[dict] = []
    for each in ROUTES.values():
        out += [g for g in each.tracker_grants(arns) if g not in out]
    return out
