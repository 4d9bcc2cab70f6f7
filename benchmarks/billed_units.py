"""DynamoDB request units per S3 event, as AWS bills them, for both write paths.

The tracker (and, on the fold path, the fold function) runs in this process against moto with
the emulator's DynamoDB and stream patches. A meter sees every DynamoDB call and prices it by
AWS's rules (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/read-write-operations.html
and .../transaction-apis.html#transaction-capacity-handling):

- a write (PutItem, UpdateItem, DeleteItem, each BatchWriteItem request) costs 1 write unit per
  started KB of the larger of the item before and after it, a failed condition included;
- an item of TransactWriteItems (ConditionCheck included) costs 2 units per started KB;
- a strongly consistent GetItem, or each key of BatchGetItem, costs 1 read unit per started
  4 KB of the item (1 when there is none); a Query, 1 per started 4 KB of all the items it read
  (1 at least).

Item sizes follow DynamoDB's rules (attribute names and values; rows.item_size). Sizes before
and after a write are read with a second, unmetered client. Reads of DynamoDB Streams by a
Lambda trigger are not billed; the fold function's own DescribeStream is not either.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import os
from collections import Counter

from benchmarks.measure import Section, Table, ratio
from benchmarks.s3_records import envelope, record
from s3sizer.lambdas.rows import item_size

FIRST_SEQUENCER = 0x0055AED6DCD90000
BATCHES = (1, 10, 100)
WRITES = ("PutItem", "UpdateItem", "DeleteItem")


class Meter:
    """Write and read units of every DynamoDB call made through ``client``."""

    def __init__(self, client, quiet_client):
        self.units: Counter[str] = Counter()
        self._quiet = quiet_client
        client.meta.events.register("before-parameter-build.dynamodb.*", self._before)
        client.meta.events.register("after-call.dynamodb.*", self._after)
        client.meta.events.register("after-call-error.dynamodb.*", self._after)

    def _size(self, table: str, key: dict) -> int:
        got = self._quiet.get_item(TableName=table, Key=key, ConsistentRead=True)
        return item_size(got["Item"]) if "Item" in got else 0

    def _targets(self, name: str, params: dict) -> list[tuple[str, dict, int]]:
        """(table, key, multiplier) of every item a write touches."""
        if name in WRITES:
            key = params.get("Key") or {k: params["Item"][k] for k in ("pk", "sk")}
            return [(params["TableName"], key, 1)]
        if name == "TransactWriteItems":
            out = []
            for entry in params["TransactItems"]:
                ((_, op),) = entry.items()
                key = op.get("Key") or {k: op["Item"][k] for k in ("pk", "sk")}
                out.append((op["TableName"], key, 2))
            return out
        if name == "BatchWriteItem":
            out = []
            for table, requests in params["RequestItems"].items():
                for request in requests:
                    ((_, op),) = request.items()
                    key = op.get("Key") or {k: op["Item"][k] for k in ("pk", "sk")}
                    out.append((table, key, 1))
            return out
        return []

    def _before(self, model, params, context, **_) -> None:
        targets = self._targets(model.name, params)
        context["billed_before"] = [(t, k, m, self._size(t, k)) for t, k, m in targets]
        context["billed_params"] = params

    def _after(self, model, context, parsed=None, **_) -> None:
        name, parsed = model.name, parsed or {}
        params = context.get("billed_params", {})
        for table, key, times, before in context.get("billed_before", []):
            after = self._size(table, key)
            self.units["write"] += times * max(1, math.ceil(max(before, after) / 1024))
        if name == "GetItem":
            self.units["read"] += max(1, math.ceil(item_size(parsed.get("Item", {})) / 4096))
        elif name == "BatchGetItem":
            asked = sum(len(r["Keys"]) for r in params["RequestItems"].values())
            found = [i for items in parsed.get("Responses", {}).values() for i in items]
            self.units["read"] += sum(math.ceil(item_size(i) / 4096) for i in found)
            self.units["read"] += (
                asked
                - len(found)
                - sum(len(r.get("Keys", [])) for r in parsed.get("UnprocessedKeys", {}).values())
            )
        elif name == "Query":
            total = sum(item_size(i) for i in parsed.get("Items", []))
            self.units["read"] += max(1, math.ceil(total / 4096))

    def take(self) -> Counter[str]:
        taken, self.units = self.units, Counter()
        return taken


def workload(count: int) -> list[tuple[str, int | None]]:
    """Keys under 10 first-level prefixes: of every four events, two new keys, an overwrite of
    the first of them and a delete of the second."""
    changes: list[tuple[str, int | None]] = []
    for i in range(count):
        base = i - i % 4
        key = f"p{base % 10}/obj-{base + min(i % 4, 1) - (i % 4 == 2):06d}"
        changes.append((key, None if i % 4 == 3 else 64 + i))
    return changes


def _sqs(bodies: list[dict]) -> dict:
    return {
        "Records": [
            {"messageId": f"m{i}", "body": json.dumps(b), "eventSource": "aws:sqs"}
            for i, b in enumerate(bodies)
        ]
    }


def run(events: int = 400) -> list[dict]:
    """Per write path and batch size: write and read units per event."""
    import boto3
    from moto import mock_aws

    from s3sizer.emulator.patches import dynamodb, stream_records
    from s3sizer.emulator.patches.hooks import PatchSet

    # Newer botocore addresses DynamoDB Streams at <account>.streams-ddb.<region>, which moto
    # in-process does not route: the regional address.
    os.environ["AWS_ACCOUNT_ID_ENDPOINT_MODE"] = "disabled"
    out = []
    runs = [("transaction", size, 0) for size in BATCHES]
    runs += [("fold", size, fold) for size in BATCHES for fold in (size, 100)]
    for path, size, fold_batch in dict.fromkeys(runs):  # (100, 100) once
        with mock_aws():  # a fresh moto for each measurement: nothing carries over
            patches = PatchSet()
            dynamodb.install(patches)
            stream_records.install(patches)
            try:
                client = boto3.client("dynamodb", region_name="us-east-1")
                quiet = boto3.client("dynamodb", region_name="us-east-1")
                out.append(_measure(path, size, events, client, quiet, fold_batch))
            finally:
                patches.undo()
    return out


def _measure(path: str, size: int, events: int, client, quiet, fold_batch: int = 0) -> dict:
    import boto3

    from s3sizer.lambdas import fold, history, key_writes, size_tracking, tracked
    from s3sizer.lambdas import layout as lay

    table = f"billed-{path}-{size}-{fold_batch}"
    fold._SHARDS.clear()
    # moto in-process is not thread-safe (the emulator serves it under a lock): concurrent
    # PutItems could number two stream records alike. One writer; the units are the same.
    key_writes.WRITERS = 1
    stream = {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}
    arn = client.create_table(**history.table_definition(table), StreamSpecification=stream)[
        "TableDescription"
    ]["LatestStreamArn"]
    bucket = "billed-bucket"
    settings = {**lay.settings_address(bucket), "prefix_depth": lay.n(1)}
    settings[tracked.UNMARKED_DEPTH] = lay.n(1)
    quiet.put_item(TableName=table, Item=settings)
    hist = history.History(table, client, prefix_depth=1)
    hist.settings_required = True
    hist.write_path = path
    streams = boto3.client("dynamodbstreams", region_name="us-east-1")
    reader = _StreamReader(streams, arn)
    reader.read()  # the settings item's record
    meter = Meter(client, quiet)
    changes = workload(events)
    fold_batches = 0
    with contextlib.redirect_stdout(io.StringIO()):  # the metric lines
        for start in range(0, events, size):
            bodies = [
                envelope(record(bucket, key, f"{FIRST_SEQUENCER + start + j:016X}", bytes_))
                for j, (key, bytes_) in enumerate(changes[start : start + size])
            ]
            size_tracking.apply_event(hist, _sqs(bodies))
            if path != "fold":
                continue
            # The fold mapping's batch: what ``fold_batch`` events' tracker batches wrote (its
            # window gathers them), or what is left at the end.
            last = start + size >= events
            if (start + size) % fold_batch == 0 or last:
                records = reader.read()
                if records:
                    fold.fold_event(hist, streams, {"Records": records})
                    fold_batches += 1
    units = meter.take()
    totals = hist.totals(bucket)
    return {
        "path": path,
        "batch": size,
        "write_per_event": units["write"] / events,
        "read_per_event": units["read"] / events,
        "fold_batch": fold_batch,
        "fold_batches": fold_batches,
        "objects": totals.object_count,
    }


class _StreamReader:
    def __init__(self, streams, arn: str):
        self.streams, self.arn = streams, arn
        shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]
        self.iterator = streams.get_shard_iterator(
            StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]

    def read(self) -> list[dict]:
        out = []
        while True:
            got = self.streams.get_records(ShardIterator=self.iterator, Limit=1000)
            self.iterator = got.get("NextShardIterator") or self.iterator
            if not got.get("Records"):
                return out
            for r in got["Records"]:
                data = dict(r["dynamodb"])
                data["ApproximateCreationDateTime"] = 0.0
                out.append({**r, "dynamodb": data, "eventSourceARN": self.arn})


def section(figures: list[dict], events: int) -> Section:
    table = Table(
        ["tracker batch", "write path", "fold batch", "write units per event",
         "read units per event", "write units against transaction"]
    )  # fmt: skip
    by = {f["batch"]: f for f in figures if f["path"] == "transaction"}
    for f in figures:
        base = by[f["batch"]]
        table.add(
            f["batch"], f["path"], f"{f['fold_batch']} event{'s' * (f['fold_batch'] != 1)}" if f["fold_batch"] else "-",
            f"{f['write_per_event']:.2f}", f"{f['read_per_event']:.2f}",
            ratio(f["write_per_event"], base["write_per_event"]),
        )  # fmt: skip
    method = f"""
{events:,} S3 events (half new keys, a quarter overwrites, a quarter deletes of them, under 10
first-level prefixes, prefix depth 1) through the tracker in SQS batches of 1, 10 and 100, on
each write path. On the fold path the fold function then folds the table's stream in batches of
what one tracker batch wrote (no batching window: its most expensive case) or of what 100 events
wrote (its 4 s window at 25 events/s or more). Units as AWS bills them
(`benchmarks/billed_units.py`: 1 KB per write unit, 2 units per KB in a transaction, 4 KB per
strongly consistent read unit, failed conditions included), counted on every DynamoDB call.
"""
    result = Section("11. DynamoDB request units per event, as billed", method, [table])
    full = {(f["path"], f["fold_batch"]): f for f in figures if f["batch"] == 100}
    tx, fo = full[("transaction", 0)], full[("fold", 100)]
    result.highlights.append(
        f"DynamoDB units per event at batches of 100: the transaction path "
        f"{tx['write_per_event']:.2f} write and {tx['read_per_event']:.2f} read units, the fold "
        f"path {fo['write_per_event']:.2f} and {fo['read_per_event']:.2f}."
    )
    return result


def main() -> None:
    figures = run()
    print(section(figures, 400).markdown())


if __name__ == "__main__":
    main()
