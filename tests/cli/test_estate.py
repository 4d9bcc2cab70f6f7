"""track, untrack and the reads of one bucket among many, through the CLI."""

from __future__ import annotations

import json

import boto3

from .conftest import DEFAULT_BUCKET


def _buckets(*names: str) -> None:
    s3 = boto3.client("s3", region_name="us-east-1")
    for name in names:
        s3.create_bucket(Bucket=name)


def test_track_shows_its_plan_and_status_lists_every_bucket(cli, aws):
    cli("setup")
    cli("deploy", "--no-layer")
    _buckets("logs-bucket", "media-bucket")
    boto3.client("s3").put_object(Bucket="media-bucket", Key="x/y", Body=b"1234")

    dry = cli("track", "logs-bucket", "media-bucket", "media-bucket", "--dry-run")
    assert "track of logs-bucket, media-bucket in stack" in dry.stdout  # each bucket once
    assert "put bucket notification: media-bucket" in dry.stdout
    cli("track", "logs-bucket", "media-bucket", "--prefix-depth", "2")

    status = json.loads(cli("status", "--json").stdout)
    assert status["bucket"] == DEFAULT_BUCKET and status["baseline"] == {"state": "complete"}
    rows = {row["bucket"]: row for row in status["buckets"]}
    assert list(rows) == [DEFAULT_BUCKET, "logs-bucket", "media-bucket"]
    assert (rows["media-bucket"]["total_size"], rows["media-bucket"]["object_count"]) == (4, 1)
    assert rows["media-bucket"]["prefix_depth"] == 2 and rows["media-bucket"]["delivery"] == "sqs"
    one = json.loads(cli("status", "--json", "--bucket", "media-bucket").stdout)
    assert one["bucket"] == "media-bucket" and one["total_size"] == 4
    prefixes = json.loads(cli("status", "--by-prefix", "--json", "--bucket", "media-bucket").stdout)
    assert [{k: p[k] for k in ("prefix", "total_size", "object_count")} for p in prefixes] == [
        {"prefix": "x/", "total_size": 4, "object_count": 1}
    ]
    assert "media-bucket" in cli("status").stdout
    assert json.loads(cli("history", "--json", "--bucket", "media-bucket").stdout)
    drift = json.loads(
        cli("reconcile", "--json", "--bucket", "media-bucket", "--workers", "2").stdout
    )
    assert drift["drift_bytes"] == 0


def test_a_key_named_like_s3sizer_s_own_counts_in_any_bucket_but_the_first(cli, aws):
    cli("setup")
    _buckets("media-bucket")
    s3 = boto3.client("s3")
    for bucket in (DEFAULT_BUCKET, "media-bucket"):  # s3sizer writes its plot to the first only
        s3.put_object(Bucket=bucket, Key=".s3sizer/plot.png", Body=b"png-bytes")

    cli("track", "media-bucket")

    rows = {r["bucket"]: r for r in json.loads(cli("status", "--json").stdout)["buckets"]}
    assert (rows["media-bucket"]["total_size"], rows["media-bucket"]["object_count"]) == (9, 1)
    assert (rows[DEFAULT_BUCKET]["total_size"], rows[DEFAULT_BUCKET]["object_count"]) == (0, 0)
    drift = json.loads(cli("reconcile", "--json", "--bucket", "media-bucket").stdout)
    assert (drift["total_size"], drift["drift_bytes"]) == (9, 0)


def test_a_deeper_prefix_of_another_bucket_is_offered_by_track_not_setup(cli, aws):
    cli("setup")
    _buckets("media-bucket")
    cli("track", "media-bucket")

    other = cli("history", "--bucket", "media-bucket", "--prefix", "a/b/", code=1).stderr
    assert "Run `s3sizer track media-bucket --prefix-depth 2`" in other
    # The command line is well formed; the bucket's settings refuse it: exit 1, not 2.
    deeper = cli("status", "--by-prefix", "--depth", "2", "--bucket", "media-bucket", code=1)
    assert "Bucket 'media-bucket' is tracked to prefix depth 1, not 2" in deeper.stderr
    assert "`s3sizer track media-bucket --prefix-depth 2`" in deeper.stderr
    first = cli("history", "--prefix", "a/b/", code=1).stderr
    assert "Run `s3sizer setup --prefix-depth 2`" in first


def test_untrack_refusals_are_one_line_and_change_nothing(cli, aws):
    cli("setup")
    _buckets("other-bucket")

    first = cli("untrack", DEFAULT_BUCKET, code=1)
    assert "teardown" in first.stderr and len(first.stderr.strip().splitlines()) == 1
    assert "not tracked" in cli("untrack", "other-bucket", code=1).stderr
    assert "does not exist" in cli("track", "missing-bucket-here", code=1).stderr
    assert "Invalid bucket name" in cli("track", "Bad_Name", code=2).stderr
    cli("untrack", code=2)  # a bucket is required
    refused = cli("status", "--bucket", "other-bucket", code=1).stderr
    assert f"is not tracked by stack 's3sizer', which tracks {DEFAULT_BUCKET}. Pick one" in refused
    assert "`s3sizer track other-bucket`" in refused
    # `track` is offered only where it would work: not for a bad name, nor a missing bucket.
    bad = cli("history", "--bucket", "Bad_Name", code=2).stderr
    assert "'Bad_Name' is not a bucket name" in bad
    missing = cli("plot", "--local", "--bucket", "missing-bucket-here", code=1).stderr
    assert "Bucket 'missing-bucket-here' does not exist; stack 's3sizer' tracks" in missing
    assert "s3sizer track" not in missing
    assert [r["bucket"] for r in json.loads(cli("status", "--json").stdout)["buckets"]] == [
        DEFAULT_BUCKET
    ]


def test_an_untrack_stopped_by_ctrl_c_leaves_no_bucket_tracked_without_its_route(
    cli, aws, monkeypatch
):
    """Ctrl-C right after the first of two buckets is untracked: the second is still tracked
    and still routed (its route was not restored ahead of its turn), and the same command run
    again names what is left."""
    from s3sizer.stack.apply import Executor

    cli("setup")
    cli("deploy", "--no-layer")
    _buckets("one-bucket", "two-bucket")
    cli("track", "one-bucket", "two-bucket")
    real, forgotten = Executor.execute, []

    def execute(self, step):
        if forgotten:
            raise KeyboardInterrupt
        real(self, step)
        if type(step).__name__ == "ForgetBucket":
            forgotten.append(step.bucket)

    monkeypatch.setattr(Executor, "execute", execute)
    cli("untrack", "one-bucket", "two-bucket", code=130)
    monkeypatch.setattr(Executor, "execute", real)

    assert forgotten == ["one-bucket"]
    routed = boto3.client("s3").get_bucket_notification_configuration(Bucket="two-bucket")
    assert routed.get("QueueConfigurations")
    again = cli("untrack", "one-bucket", "two-bucket", code=1).stderr
    assert "Run `s3sizer untrack two-bucket` for the others" in again
    cli("untrack", "two-bucket")
    assert [r["bucket"] for r in json.loads(cli("status", "--json").stdout)["buckets"]] == [
        DEFAULT_BUCKET
    ]


def test_an_untrack_stopped_while_deleting_items_is_named_by_status_and_finished_by_untrack(
    cli, aws, monkeypatch
):
    from s3sizer import interrupts
    from s3sizer.stack import forget

    # A stopped sweep's command exits at once, without joining threads: not pytest's process.
    monkeypatch.setattr(interrupts, "threads_may_run", lambda: False)
    cli("setup")
    _buckets("logs-bucket")
    s3 = boto3.client("s3")
    for i in range(60):
        s3.put_object(Bucket="logs-bucket", Key=f"d{i % 4}/{i}", Body=b"x")
    cli("track", "logs-bucket", "--prefix-depth", "1")
    real = forget.delete_partition

    def stopping(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(forget, "delete_partition", stopping)
    stopped = cli("untrack", "logs-bucket", code=130)
    monkeypatch.setattr(forget, "delete_partition", real)
    assert "ending the deletions under way first (Ctrl-C again to stop now)" in stopped.stderr

    shown = cli("status")
    assert "the untrack of bucket 'logs-bucket' stopped" in shown.stderr
    assert "run `s3sizer untrack logs-bucket` to finish it" in shown.stderr
    status = json.loads(cli("status", "--json").stdout)
    assert status["unfinished_untracks"] == ["logs-bucket"]
    assert [r["bucket"] for r in status["buckets"]] == [DEFAULT_BUCKET]

    cli("untrack", "logs-bucket")

    assert json.loads(cli("status", "--json").stdout)["unfinished_untracks"] == []
    items = boto3.client("dynamodb").scan(TableName="S3-object-size-history")["Items"]
    assert not [i for i in items if "logs-bucket" in i["pk"]["S"] + i["sk"]["S"]]


def test_untrack_then_teardown_leave_the_buckets_as_they_were(cli, aws):
    cli("setup")
    cli("deploy", "--no-layer")
    _buckets("logs-bucket")
    cli("track", "logs-bucket")

    cli("untrack", "logs-bucket")

    got = boto3.client("s3").get_bucket_notification_configuration(Bucket="logs-bucket")
    assert {k: v for k, v in got.items() if k != "ResponseMetadata"} == {}
    assert [r["bucket"] for r in json.loads(cli("status", "--json").stdout)["buckets"]] == [
        DEFAULT_BUCKET
    ]
    cli("teardown", "--yes")
    names = [b["Name"] for b in boto3.client("s3").list_buckets()["Buckets"]]
    assert "logs-bucket" in names


def test_status_of_one_bucket_shows_that_bucket_s_route(cli, aws):
    """A bucket whose event types another destination takes goes through the rule: its status
    says eventbridge, while the first bucket's says sqs."""
    cli("setup")
    cli("deploy", "--no-layer")
    _buckets("taken-bucket")
    foreign = {
        "Id": "theirs",
        "QueueArn": "arn:aws:sqs:us-east-1:123456789012:theirs",
        "Events": ["s3:ObjectCreated:*", "s3:ObjectRemoved:*"],
    }
    boto3.client("s3").put_bucket_notification_configuration(
        Bucket="taken-bucket",
        NotificationConfiguration={"QueueConfigurations": [foreign]},
        SkipDestinationValidation=True,
    )
    cli("track", "taken-bucket")

    first = json.loads(cli("status", "--json").stdout)
    taken = json.loads(cli("status", "--json", "--bucket", "taken-bucket").stdout)
    text = cli("status", "--bucket", "taken-bucket").stdout

    assert (first["delivery"], taken["delivery"]) == ("sqs", "eventbridge")
    assert "eventbridge" in text


def test_status_warns_of_a_bucket_whose_entry_was_replaced_and_deploy_routes_it_again(cli, aws):
    """Another tool's PutBucketNotificationConfiguration replaces the whole configuration:
    s3sizer's entry goes, and the bucket's events with it. status says which bucket; deploy
    puts the entry back and takes a baseline, which counts what changed meanwhile."""
    cli("setup")
    cli("deploy", "--no-layer")
    _buckets("media-bucket")
    cli("track", "media-bucket")
    s3 = boto3.client("s3")
    theirs = {
        "Id": "theirs",
        "TopicArn": "arn:aws:sns:us-east-1:123456789012:theirs",
        "Events": ["s3:ObjectRestore:*"],
    }
    s3.put_bucket_notification_configuration(
        Bucket="media-bucket",
        NotificationConfiguration={"TopicConfigurations": [theirs]},
        SkipDestinationValidation=True,
    )
    s3.put_object(Bucket="media-bucket", Key="unseen", Body=b"12345")

    rows = {r["bucket"]: r for r in json.loads(cli("status", "--json").stdout)["buckets"]}
    text = cli("status")

    assert (rows[DEFAULT_BUCKET]["routed"], rows["media-bucket"]["routed"]) == (True, False)
    assert "Warning: bucket 'media-bucket' no longer sends its events" in " ".join(
        text.stderr.split()
    )
    assert DEFAULT_BUCKET not in text.stderr
    assert "put bucket notification: media-bucket" in cli("deploy", "--dry-run").stdout

    cli("deploy", "--no-layer")

    rows = {r["bucket"]: r for r in json.loads(cli("status", "--json").stdout)["buckets"]}
    assert rows["media-bucket"]["routed"] is True
    assert (rows["media-bucket"]["total_size"], rows["media-bucket"]["object_count"]) == (5, 1)
    kept = s3.get_bucket_notification_configuration(Bucket="media-bucket")["TopicConfigurations"]
    assert [e["Id"] for e in kept] == ["theirs"]
    assert "Warning" not in cli("status").stderr


def test_a_queue_policy_rewritten_by_hand_unroutes_the_buckets_it_dropped(cli, aws):
    """S3 drops the events a queue's policy does not let it send: status names the buckets the
    policy lost, and deploy writes the policy back with a baseline of each."""
    cli("setup")
    cli("deploy", "--no-layer")
    _buckets("media-bucket")
    cli("track", "media-bucket")
    sqs = boto3.client("sqs")
    url = sqs.get_queue_url(QueueName="s3sizer-events")["QueueUrl"]
    policy = json.loads(sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["Policy"])[
        "Attributes"]["Policy"])  # fmt: skip
    (senders,) = [
        s for s in policy["Statement"] if s["Principal"] == {"Service": "s3.amazonaws.com"}
    ]
    senders["Condition"]["ArnEquals"]["aws:SourceArn"] = [f"arn:aws:s3:::{DEFAULT_BUCKET}"]
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps(policy)})
    boto3.client("s3").put_object(Bucket="media-bucket", Key="dropped", Body=b"1234567")

    rows = {r["bucket"]: r for r in json.loads(cli("status", "--json").stdout)["buckets"]}
    plan = cli("deploy", "--dry-run").stdout.splitlines()

    assert (rows[DEFAULT_BUCKET]["routed"], rows["media-bucket"]["routed"]) == (True, False)
    _buckets("other-bucket")
    refused = cli("track", "other-bucket", code=1)  # it would write the policy back, unbaselined
    assert "Bucket 'media-bucket' no longer sends its events" in refused.stderr
    assert "Run `s3sizer deploy` first" in refused.stderr and refused.stderr.count("\n") == 1
    # Tracking the storage classes writes the rule and the policy again: refused the same way.
    assert "Bucket 'media-bucket'" in cli("setup", "--storage-classes", code=1).stderr
    assert any("record baseline" in line and "media-bucket" in line for line in plan)
    assert not any("record baseline" in line and DEFAULT_BUCKET in line for line in plan)
    cli("deploy", "--no-layer")
    rows = {r["bucket"]: r for r in json.loads(cli("status", "--json").stdout)["buckets"]}
    assert rows["media-bucket"]["routed"] is True
    assert (rows["media-bucket"]["total_size"], rows["media-bucket"]["object_count"]) == (7, 1)
    assert "Nothing to do" in cli("deploy", "--no-layer").stdout
    cli("track", "other-bucket")


def test_a_check_aws_refuses_leaves_that_bucket_s_route_unknown_and_status_answers(
    cli, aws, monkeypatch
):
    from botocore.exceptions import ClientError

    from s3sizer.stack.state import Stack

    cli("setup")
    cli("deploy", "--no-layer")
    _buckets("media-bucket")
    cli("track", "media-bucket")
    real = Stack.notification_configuration

    def throttled(self, bucket):
        if bucket == "media-bucket":
            error = {"Error": {"Code": "SlowDown", "Message": "Please reduce your request rate"}}
            raise ClientError(error, "GetBucketNotificationConfiguration")
        return real(self, bucket)

    monkeypatch.setattr(Stack, "notification_configuration", throttled)
    text = cli("status")
    rows = {r["bucket"]: r for r in json.loads(cli("status", "--json").stdout)["buckets"]}

    assert (rows[DEFAULT_BUCKET]["routed"], rows["media-bucket"]["routed"]) == (True, None)
    assert "Warning" not in text.stderr


def test_a_wildcard_in_a_queue_policy_lets_the_buckets_it_matches_send():
    from s3sizer.stack import routing

    policy = json.dumps({"Statement": [{
        "Effect": "Allow", "Principal": {"Service": "s3.amazonaws.com"},
        "Action": "sqs:SendMessage", "Resource": "arn:aws:sqs:us-east-1:123456789012:q",
        "Condition": {"ArnLike": {"aws:SourceArn": "arn:aws:s3:::media-*"}},
    }]})  # fmt: skip

    assert routing.sends_from(policy, "s3.amazonaws.com", "arn:aws:s3:::media-bucket")
    assert not routing.sends_from(policy, "s3.amazonaws.com", "arn:aws:s3:::logs-bucket")
    assert not routing.sends_from(policy, "events.amazonaws.com", "arn:aws:s3:::media-bucket")
    assert not routing.sends_from(None, "s3.amazonaws.com", "arn:aws:s3:::media-bucket")
