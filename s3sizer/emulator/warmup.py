"""One read-only request to each service, sent by the emulator to itself as it starts.

moto prepares a service at its first request: it imports the service's models, builds its
request routing and its protocol's router, and loads the service's model for the answer. That
is 15 to 80 ms of CPU per service (Lambda the most), paid by whichever client asks first; a
command's first steps (a plan reads six services one after the other) waited on all of it. Sent
from a background thread at start-up, the same requests pay it before any client asks. They are
the listings a client would send, so they change nothing and need no knowledge of moto's insides.
"""

from __future__ import annotations

import logging

logger = logging.getLogger("s3sizer.emulator")

REGION = "us-east-1"  # the region a client that names none is served in
# service -> (operation, parameters): reads that every account and region answers
REQUESTS = {
    "s3": ("list_buckets", {}),
    "dynamodb": ("list_tables", {}),
    "dynamodbstreams": ("list_streams", {}),
    "sqs": ("list_queues", {}),
    "lambda": ("list_functions", {}),
    "events": ("list_rules", {}),
    "cloudwatch": ("describe_alarms", {"AlarmNames": ["s3sizer-emulator-warm-up"]}),
    "logs": ("describe_log_groups", {"limit": 1}),
    "iam": ("list_roles", {"MaxItems": 1}),
    "sts": ("get_caller_identity", {}),
    "scheduler": ("list_schedules", {"MaxResults": 1}),
}


def warm(endpoint_url: str, stopped=lambda: False) -> int:
    """Send each of REQUESTS once; the number answered. A failure is only logged: a client's
    own first request would meet the same failure and report it."""
    import botocore.session
    from botocore.config import Config

    session = botocore.session.get_session()
    config = Config(retries={"max_attempts": 1}, connect_timeout=5, read_timeout=30)
    answered = 0
    for service, (operation, parameters) in REQUESTS.items():
        if stopped():
            break
        try:
            client = session.create_client(
                service, region_name=REGION, endpoint_url=endpoint_url, config=config,
                aws_access_key_id="s3sizer-warm-up", aws_secret_access_key="s3sizer-warm-up",
            )  # fmt: skip
            if stopped():  # a client takes a while to build
                break
            getattr(client, operation)(**parameters)
            answered += 1
        except Exception as error:  # a warm-up must never stop the emulator
            logger.debug("warm-up request %s.%s failed: %s", service, operation, error)
    return answered
