"""One stack, five buckets, from outside: one bucket's events already go to a queue of its own,
so its events come through EventBridge; clients write to all of them; every row of
`status --json` equals its bucket's listing; untrack and teardown leave every bucket, object
and notification configuration as it was."""

from __future__ import annotations

import json
import random
from concurrent.futures import ThreadPoolExecutor

from tests.emulator.helpers import poll
from tests.reliability.workload import listing_totals


def notifications(s3, bucket: str) -> dict:
    got = s3.get_bucket_notification_configuration(Bucket=bucket)
    got.pop("ResponseMetadata", None)
    return got


def objects(s3, bucket: str) -> list[tuple[str, int, str]]:
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket)
    return [(o["Key"], o["Size"], o["ETag"]) for p in pages for o in p.get("Contents", [])]


def write(s3, bucket: str, seed: int, operations: int = 40) -> None:
    rng = random.Random(seed)
    for _ in range(operations):
        key = f"{rng.choice(['logs/', 'logs/deep/', 'media/', ''])}{rng.randrange(12)}.bin"
        if rng.random() < 0.25:
            s3.delete_object(Bucket=bucket, Key=key)
        else:
            s3.put_object(Bucket=bucket, Key=key, Body=rng.randbytes(rng.randrange(1, 2000)))


def their_queue(stack_cli) -> str:
    """The ARN of a queue of the user's own, whose policy lets S3 send to it."""
    sqs = stack_cli.aws.client("sqs")
    theirs = sqs.create_queue(QueueName=f"{stack_cli.stack}-theirs")["QueueUrl"]
    their_arn = sqs.get_queue_attributes(QueueUrl=theirs, AttributeNames=["QueueArn"])
    their_arn = their_arn["Attributes"]["QueueArn"]
    allow_s3 = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "s3.amazonaws.com"},
                "Action": "sqs:SendMessage",
                "Resource": their_arn,
            }
        ],
    }
    sqs.set_queue_attributes(QueueUrl=theirs, Attributes={"Policy": json.dumps(allow_s3)})
    return their_arn


def test_five_buckets_tracked_exactly_then_each_restored(stack_cli):
    s3 = stack_cli.aws.client("s3")
    stack_cli("setup")
    stack_cli("deploy")
    others = [f"{stack_cli.stack}-estate-{i}" for i in range(4)]
    for name in others:
        s3.create_bucket(Bucket=name)
        s3.put_object(Bucket=name, Key="logs/before.txt", Body=b"there before tracking")
    entry = {
        "Id": "their-own",
        "QueueArn": their_queue(stack_cli),
        "Events": ["s3:ObjectCreated:*"],
    }
    s3.put_bucket_notification_configuration(
        Bucket=others[3],
        NotificationConfiguration={"QueueConfigurations": [entry]},
        SkipDestinationValidation=True,
    )
    before = {name: notifications(s3, name) for name in others}

    stack_cli("track", *others, "--prefix-depth", "2")
    buckets = [stack_cli.bucket, *others]
    with ThreadPoolExecutor(len(buckets)) as pool:
        list(pool.map(lambda n: write(s3, buckets[n], seed=n), range(len(buckets))))

    def rows_match():
        status = json.loads(stack_cli("status", "--json").stdout)
        rows = {row["bucket"]: row for row in status["buckets"]}
        found = {b: (rows[b]["total_size"], rows[b]["object_count"]) for b in buckets}
        return found == {b: listing_totals(stack_cli, b) for b in buckets} and rows

    rows = poll(rows_match, timeout=60, interval=0.5)
    assert rows[others[3]]["delivery"] == "eventbridge"
    assert {rows[b]["delivery"] for b in others[:3]} == {"sqs"}
    assert {rows[b]["prefix_depth"] for b in others} == {2}
    assert {rows[b]["routed"] for b in buckets} == {True}  # the rule's bucket too

    stored = {name: objects(s3, name) for name in others}
    stack_cli("untrack", others[1])
    assert notifications(s3, others[1]) == before[others[1]]
    stack_cli("teardown", "--yes")

    assert {name: notifications(s3, name) for name in others} == before
    assert {name: objects(s3, name) for name in others} == stored


def test_a_rule_deleted_by_hand_unroutes_its_bucket_and_deploy_brings_it_back_exact(stack_cli):
    """The stack's EventBridge rule deleted (a cleanup script): the bucket on that route sends
    its events nowhere. status says so; deploy puts the rule back and takes that bucket's
    baseline, which counts what changed meanwhile; its events flow again."""
    s3, events = stack_cli.aws.client("s3"), stack_cli.aws.client("events")
    stack_cli("setup")
    stack_cli("deploy")
    taken = f"{stack_cli.stack}-taken"
    s3.create_bucket(Bucket=taken)
    entry = {
        "Id": "their-own",
        "QueueArn": their_queue(stack_cli),
        "Events": ["s3:ObjectCreated:*", "s3:ObjectRemoved:*"],
    }
    s3.put_bucket_notification_configuration(
        Bucket=taken,
        NotificationConfiguration={"QueueConfigurations": [entry]},
        SkipDestinationValidation=True,
    )
    stack_cli("track", taken)  # its event types are taken: it goes through the stack's rule
    (rule,) = [
        r["Name"]
        for r in events.list_rules(NamePrefix=stack_cli.stack)["Rules"]
        if "aws.s3" in r.get("EventPattern", "")
    ]
    targets = [t["Id"] for t in events.list_targets_by_rule(Rule=rule)["Targets"]]
    events.remove_targets(Rule=rule, Ids=targets)
    events.delete_rule(Name=rule)
    write(s3, taken, seed=7)  # while nothing carries its events

    rows = {r["bucket"]: r for r in json.loads(stack_cli("status", "--json").stdout)["buckets"]}
    warned = stack_cli("status").stderr
    plan = stack_cli("deploy", "--dry-run").stdout

    assert (rows[stack_cli.bucket]["routed"], rows[taken]["routed"]) == (True, False)
    assert f"bucket '{taken}' no longer sends its events" in " ".join(warned.split())
    assert any("record baseline" in line and taken in line for line in plan.splitlines()), plan
    stack_cli("deploy")
    write(s3, taken, seed=8)

    def exact():
        row = next(
            r for r in json.loads(stack_cli("status", "--json").stdout)["buckets"]
            if r["bucket"] == taken
        )  # fmt: skip
        return row["routed"] and (row["total_size"], row["object_count"]) == listing_totals(
            stack_cli, taken
        )

    assert poll(exact, timeout=60, interval=0.5)
    # Disabled by hand: deploy enables it again, with the bucket's baseline, once.
    events.disable_rule(Name=rule)
    assert json.loads(stack_cli("status", "--json", "--bucket", taken).stdout)["routed"] is False
    stack_cli("deploy")
    assert events.describe_rule(Name=rule)["State"] == "ENABLED"
    assert "Nothing to do" in stack_cli("deploy").stdout
    write(s3, taken, seed=9)
    assert poll(exact, timeout=60, interval=0.5)
