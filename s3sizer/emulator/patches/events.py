"""EventBridge: S3's events reach the default bus, whose rules route them to their targets.

moto's own S3 → EventBridge events carry a fixed sequencer, `eTag`, the wrong reason and sizes
on deletes; the emulator builds them itself (s3_events.eventbridge_event) and routes them here.
A rule's SQS target gets the event JSON as the message body; a Lambda target is invoked
asynchronously. When delivery to an SQS target fails (say the queue is gone), the event goes to
the target's DeadLetterConfig queue with the attributes EventBridge adds, or is dropped.
No moto function is replaced: this module only reads rules and sends to queues.
"""

from __future__ import annotations

import json
import logging
import uuid

from .. import s3_events
from .lambda_ import submit_async

logger = logging.getLogger("s3sizer.emulator")


def send_s3_event(change: s3_events.ObjectChange) -> None:
    """Put S3's event for this change on the default bus of the bucket's account and region."""
    from moto.events.models import events_backends

    event = s3_events.eventbridge_event(change, str(uuid.uuid4()))
    if event is None:
        return
    backend = events_backends[change.account_id][change.region]
    bus = backend.event_buses.get("default")
    if bus is None:
        return
    for rule in list(bus.rules.values()):
        # A rule of a schedule alone has no pattern, which moto takes to match every event;
        # EventBridge sends it only its schedule's.
        pattern = rule.event_pattern.get_pattern()
        if rule.state != "ENABLED" or not pattern or not rule.event_pattern.matches_event(event):
            continue
        for target in list(rule.targets):
            deliver(rule, target, event)


def deliver(rule, target: dict, event: dict) -> None:
    """Send an event to one of a rule's targets: its `Input` if set, else the part of the event
    its `InputPath` names, else the whole event."""
    arn = target["Arn"]
    if "Input" in target:
        payload = target["Input"]
    elif target.get("InputPath"):
        payload = json.dumps(_at_path(event, target["InputPath"]))
    else:
        payload = json.dumps(event)
    service = arn.split(":")[2]
    try:
        if service == "sqs":
            _send_to_queue(arn, payload, target.get("SqsParameters", {}).get("MessageGroupId"))
        elif service == "lambda":
            submit_async(arn.split(":")[4], arn.split(":")[3], arn, json.loads(payload))
        else:
            logger.warning("EventBridge target %s is not supported here; event dropped", arn)
    except Exception as error:
        _dead_letter(rule, target, payload, error)


def _at_path(event: dict, path: str):
    """The value a simple JSONPath (`$`, `$.detail`, `$.detail.name`) names, or null."""
    found = event
    for name in filter(None, path.strip().removeprefix("$").split(".")):
        found = found.get(name) if isinstance(found, dict) else None
    return found


def _send_to_queue(queue_arn: str, body: str, group_id: str | None, attributes=None) -> None:
    from moto.sqs.models import sqs_backends

    account_id, region, name = (
        queue_arn.split(":")[4],
        queue_arn.split(":")[3],
        queue_arn.split(":")[5],
    )
    sqs_backends[account_id][region].send_message(
        queue_name=name, message_body=body, message_attributes=attributes, group_id=group_id
    )


def _dead_letter(rule, target: dict, payload: str, error: Exception) -> None:
    """As EventBridge does: the event goes to the target's DLQ with why it failed, or is lost."""
    dlq = (target.get("DeadLetterConfig") or {}).get("Arn")
    code = type(error).__name__
    if not dlq:
        logger.warning(
            "EventBridge could not deliver to %s (%s); event dropped", target["Arn"], code
        )
        return

    def attribute(value: str) -> dict:
        return {"DataType": "String", "StringValue": value}

    attributes = {
        "RULE_ARN": attribute(rule.arn),
        "TARGET_ARN": attribute(target["Arn"]),
        "ERROR_CODE": attribute(code),
        "ERROR_MESSAGE": attribute(str(error)[:256] or code),
    }
    try:
        _send_to_queue(dlq, payload, None, attributes)
    except Exception:
        logger.warning("EventBridge could not deliver to %s nor to its DLQ %s", target["Arn"], dlq)
