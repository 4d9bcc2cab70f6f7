"""A create that SQS delivers again long after its key's newer versions were deleted for good.

SQS delivers at least once: a copy of an S3 notification can come back after its message was
processed (or a batch comes back after its visibility timeout, or an operator redrives a dead
letter). Here a versioned bucket on the SQS route gets V0 of a hot key, deleted for good, then
39 newer versions, each deleted for good too; the tracker's item of the key keeps only its
newest 32 tombstones, so V0's is gone. A copy of V0's create, as S3 sent it, then reaches the queue: the tracker
asks S3 which versions of the key it holds, and counts nothing.
"""

from __future__ import annotations

import json

from s3sizer.lambdas import layout as lay
from s3sizer.stack.model import Names
from tests.e2e.conftest import poll
from tests.lambdas import events
from tests.reliability.workload import drained_status, listing_totals

KEY = "hot/k 1+2%é"


def test_a_create_delivered_again_after_its_key_s_capped_tombstones_counts_nothing(stack_cli):
    cli = stack_cli
    cli("setup")
    s3 = cli.aws.client("s3")
    s3.put_bucket_versioning(Bucket=cli.bucket, VersioningConfiguration={"Status": "Enabled"})
    cli("deploy")  # the SQS route, which knows the bucket is versioned now
    s3.put_object(Bucket=cli.bucket, Key="other/keep", Body=b"k" * 100)
    v0 = s3.put_object(Bucket=cli.bucket, Key=KEY, Body=b"0" * 1752)["VersionId"]
    drained_status(cli)
    names = Names(cli.stack)
    item = cli.aws.client("dynamodb").get_item(
        TableName=names.table, Key=lay.key_address(cli.bucket, KEY), ConsistentRead=True
    )["Item"]
    sequencer = item["versions"]["M"][v0]["M"]["q"]["S"]  # as the tracker recorded S3's
    s3.delete_object(Bucket=cli.bucket, Key=KEY, VersionId=v0)
    for _ in range(39):
        newer = s3.put_object(Bucket=cli.bucket, Key=KEY, Body=b"n" * 7)["VersionId"]
        s3.delete_object(Bucket=cli.bucket, Key=KEY, VersionId=newer)
    assert drained_status(cli)["object_count"] == 1 == listing_totals(cli)[1]

    def batch_lines() -> list[str]:
        logs = cli("logs", "size-tracking").stdout.splitlines()
        return [line for line in logs if "batch:" in line]

    before = len(batch_lines())
    copy = events.created(cli.bucket, KEY, 1752, sequencer, version_id=v0)
    sqs = cli.aws.client("sqs")
    queue = sqs.get_queue_url(QueueName=names.queue)["QueueUrl"]
    sqs.send_message(QueueUrl=queue, MessageBody=json.dumps(events.envelope(copy)))

    def copy_handled() -> list[str]:  # S3 was asked, and holds no V0: the copy is stale
        return [line for line in batch_lines()[before:] if "lookups=1" in line]

    (line,) = poll(copy_handled, timeout=60, interval=0.5)
    assert "stale=1" in line and "applied=0" in line
    status = json.loads(cli("status", "--json").stdout)
    assert (status["total_size"], status["object_count"]) == listing_totals(cli) == (100, 1)
    reconciled = json.loads(cli("reconcile", "--json").stdout)
    assert (reconciled["drift_bytes"], reconciled["drift_objects"]) == (0, 0)
    cli("teardown", "--yes")
