"""Untrack overtaking a tracker chunk or an uploads poll: a chunk that read the bucket's
settings just before untrack deleted them, and commits after untrack swept the bucket's
partitions, leaves nothing behind, and its records are counted ``ignored``.

The race is played deterministically: the table's client runs untrack (forget.forget_bucket)
right before the chunk's (or the poll's) first write reaches DynamoDB.
"""

from __future__ import annotations

import boto3
import pytest

from s3sizer.lambdas import history, size_tracking
from s3sizer.lambdas import uploads as lambda_uploads
from s3sizer.stack.estate import settings_items
from s3sizer.stack.forget import forget_bucket
from s3sizer.stack.model import BucketSettings
from tests.lambdas import events
from tests.stack.helpers import tracker_history

TABLE = "race-history"
BUCKET = "leaving"


class UntrackFirst:
    """The table's client, except that untrack runs once, just before the first write."""

    def __init__(self, client, bucket: str):
        self._client, self._bucket, self.untracked = client, bucket, False

    def __getattr__(self, name):
        return getattr(self._client, name)

    def transact_write_items(self, **kwargs):
        if not self.untracked:
            self.untracked = True
            forget_bucket(self._client, TABLE, self._bucket, sleep=lambda seconds: None)
        return self._client.transact_write_items(**kwargs)


class Recording:
    """The table's client, keeping each transaction it sends."""

    def __init__(self, client):
        self._client, self.writes = client, []

    def __getattr__(self, name):
        return getattr(self._client, name)

    def transact_write_items(self, **kwargs):
        self.writes.append(kwargs)
        return self._client.transact_write_items(**kwargs)


@pytest.fixture
def hist():
    with tracker_history(TABLE) as found:
        found.backoff = lambda attempt: None
        for name in (BUCKET, "staying"):
            for item in settings_items(BucketSettings(name, 1), "s3sizer"):
                found.client.put_item(TableName=TABLE, Item=item)
        yield found


def items_of(client, bucket: str) -> list[tuple[str, str]]:
    items = client.scan(TableName=TABLE)["Items"]
    return sorted(
        (i["pk"]["S"], i["sk"]["S"])
        for i in items
        if i["pk"]["S"].startswith(f"B#{bucket}") or i["sk"]["S"] == f"BUCKET#{bucket}"
    )


def apply(hist, *records) -> dict:
    outcome = size_tracking.apply_event(hist, events.sqs(events.envelope(*records)))
    assert outcome["failed"] == []
    return outcome["counts"]


def racing(hist) -> history.History:
    raced = hist.at_depth(hist.prefix_depth)
    raced.client = UntrackFirst(hist.client, BUCKET)
    return raced


def test_a_chunk_that_read_before_untrack_and_commits_after_leaves_nothing(hist):
    apply(hist, events.created(BUCKET, "a/x", 5, events.sequencer(1)))
    apply(hist, events.created("staying", "a/x", 7, events.sequencer(1)))
    assert items_of(hist.client, BUCKET)  # totals, a point, a key item, a prefix and its point

    # A new version of a recorded key, a new key, a new prefix: every kind of item.
    counts = apply(
        racing(hist),
        events.created(BUCKET, "a/x", 9, events.sequencer(2)),
        events.created(BUCKET, "b/y", 3, events.sequencer(3)),
    )

    assert counts["ignored"] == 2 and counts["applied"] == 0
    assert items_of(hist.client, BUCKET) == []
    assert hist.totals("staying").total_size == 7  # the other bucket is untouched


def test_the_first_chunk_of_a_bucket_never_written_leaves_no_totals(hist):
    counts = apply(racing(hist), events.created(BUCKET, "a/x", 5, events.sequencer(1)))

    assert counts["ignored"] == 1
    assert items_of(hist.client, BUCKET) == []


def test_a_chunk_that_writes_key_items_only_leaves_none(hist):
    apply(hist, events.created(BUCKET, "a/x", 5, events.sequencer(1)))
    # A delete of a version never recorded moves no total: only its key item is written.
    gone = events.removed(BUCKET, "ghost", events.sequencer(2), version_id="v1")
    plain = hist.at_depth(1)
    plain.client = Recording(hist.client)
    apply(plain, gone)
    kinds = [sorted(w) for item in plain.client.writes for w in item["TransactItems"]]
    assert ["Put"] in kinds and ["ConditionCheck"] in kinds  # a key item, under the settings

    counts = apply(
        racing(hist), events.removed(BUCKET, "ghost2", events.sequencer(3), version_id="v2")
    )

    assert counts["ignored"] == 1
    assert items_of(hist.client, BUCKET) == []


def test_a_scheduled_uploads_poll_overtaken_by_untrack_leaves_no_uploads_item(hist):
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket=BUCKET)
    s3.create_multipart_upload(Bucket=BUCKET, Key="big")
    apply(hist, events.created(BUCKET, "a/x", 5, events.sequencer(1)))

    ddb = UntrackFirst(hist.client, BUCKET)
    lambda_uploads.poll_bucket(s3, ddb, TABLE, BUCKET, while_tracked=True)

    assert ddb.untracked
    assert items_of(hist.client, BUCKET) == []


def test_a_scheduled_uploads_poll_of_a_tracked_bucket_writes_as_before(hist):
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket=BUCKET)
    s3.create_multipart_upload(Bucket=BUCKET, Key="big")

    polled = lambda_uploads.poll_bucket(s3, hist.client, TABLE, BUCKET, while_tracked=True)

    assert polled.uploads == 1
    assert (f"B#{BUCKET}", "UPLOADS") in items_of(hist.client, BUCKET)
