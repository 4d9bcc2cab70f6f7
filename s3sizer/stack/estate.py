"""The buckets one stack tracks: their settings in the table, and who else tracks a bucket.

Each tracked bucket has two items, written together (one transaction):
- ``STACK`` / ``BUCKET#<bucket>``: its settings (``BucketSettings`` as JSON), which the CLI
  lists with one Query of the ``STACK`` partition;
- ``B#<bucket>`` / ``SETTINGS``: ``prefix_depth`` and ``unmarked_depth``, which the tracker
  reads along with each chunk's items, at no extra request. A bucket without it is not tracked:
  its events are ignored.

The first bucket (the driver's and the plot's) is also the stack's config's ``bucket``; its
settings items mirror the config, which stays the place where setup and deploy keep them.
"""

from __future__ import annotations

import dataclasses
import json
import uuid

from s3sizer.errors import StackError
from s3sizer.lambdas import layout as lay
from s3sizer.lambdas.tracked import GENERATION, UNMARKED_DEPTH
from s3sizer.stack.model import DEFAULT_TABLE, BucketSettings, StackConfig, first_bucket_settings

STACK_PK = "STACK"
BUCKET_SK_PREFIX = "BUCKET#"


def registry_address(bucket: str) -> dict:
    return lay.address(STACK_PK, BUCKET_SK_PREFIX + bucket)


def settings_items(
    settings: BucketSettings, stack: str, unmarked_depth: int | None = None
) -> list[dict]:
    """The two items of one tracked bucket."""
    text = json.dumps(dataclasses.asdict(settings), sort_keys=True)
    unmarked = settings.prefix_depth if unmarked_depth is None else unmarked_depth
    return [
        {**registry_address(settings.bucket), "settings": {"S": text}},
        {
            **lay.settings_address(settings.bucket),
            "prefix_depth": lay.n(settings.prefix_depth),
            "stack": {"S": stack},
            UNMARKED_DEPTH: lay.n(unmarked),
            GENERATION: {"S": uuid.uuid4().hex},
            # The tracker's switch is the TOTALS item's (apply.py mirrors it there).
            **({lay.CLASSES_FLAG: {"BOOL": True}} if settings.storage_classes else {}),
        },
    ]


def settings_writes(
    table: str, settings: BucketSettings, stack: str, unmarked_depth: int | None = None
) -> list[dict]:
    """The two items as one transaction's items. The settings item is updated, not replaced:
    its ``unmarked_depth`` is set by its first write only (the depth an earlier release's key
    items, which carry no ``pd``, count at; docs/tracking.md), whatever depths come later, and
    so is its ``generation`` (a new one each time the bucket starts being tracked: the fold
    counts only key items of the current one; lambdas/tracked.py)."""
    registry, tracker = settings_items(settings, stack, unmarked_depth)
    names, values, sets = {}, {}, []
    for i, (name, value) in enumerate(sorted(tracker.items())):
        if name in ("pk", "sk"):
            continue
        names[f"#a{i}"], values[f":v{i}"] = name, value
        if name in (UNMARKED_DEPTH, GENERATION):
            sets.append(f"#a{i} = if_not_exists(#a{i}, :v{i})")
        else:
            sets.append(f"#a{i} = :v{i}")
    expression = "SET " + ", ".join(sets)
    if lay.CLASSES_FLAG not in tracker:
        names["#off"] = lay.CLASSES_FLAG
        expression += " REMOVE #off"
    update = {
        "TableName": table,
        "Key": lay.settings_address(settings.bucket),
        "UpdateExpression": expression,
        "ExpressionAttributeNames": names,
        "ExpressionAttributeValues": values,
    }
    return [{"Put": {"TableName": table, "Item": registry}}, {"Update": update}]


def mirror_storage_classes(client, table: str, settings: BucketSettings) -> None:
    """--storage-classes is read by the tracker (and `status`) on the bucket's TOTALS item:
    the switch is set (or removed) there once the settings say so."""
    from s3sizer.lambdas.history import History
    from s3sizer.lambdas.usage import set_storage_classes

    history = History(table, client)
    totals = history._get(lay.address(lay.bucket_pk(settings.bucket), lay.TOTALS_SK))
    if lay.tracks_classes(totals) != settings.storage_classes:
        set_storage_classes(history, settings.bucket, settings.storage_classes)


def settings_from(item: dict) -> BucketSettings:
    stored = json.loads(item["settings"]["S"])
    known = {f.name for f in dataclasses.fields(BucketSettings)}
    return BucketSettings(**{k: v for k, v in stored.items() if k in known})


def stack_items(client, table: str, sk_prefix: str) -> list[dict]:
    """The items of the ``STACK`` partition whose sort keys start so (one Query, paginated);
    none when the table is gone."""
    kwargs = {
        "TableName": table,
        "KeyConditionExpression": "pk = :pk AND begins_with(sk, :b)",
        "ExpressionAttributeValues": {":pk": {"S": STACK_PK}, ":b": {"S": sk_prefix}},
        "ConsistentRead": True,
    }
    found: list[dict] = []
    while True:
        try:
            page = client.query(**kwargs)
        except client.exceptions.ResourceNotFoundException:
            return []
        found += page.get("Items", [])
        if "LastEvaluatedKey" not in page:
            return found
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def stored_settings(client, table: str) -> dict[str, BucketSettings]:
    """Every bucket with a registry item, by name."""
    found = [settings_from(item) for item in stack_items(client, table, BUCKET_SK_PREFIX)]
    return {settings.bucket: settings for settings in found}


def tracked(config: StackConfig, stored: dict[str, BucketSettings]) -> list[BucketSettings]:
    """The first bucket (from the config), then the others in the order they were adopted."""
    others = [s for name, s in stored.items() if name != config.bucket]
    others.sort(key=lambda s: (s.added_at, s.bucket))
    return [first_bucket_settings(config), *others]


def tracker_mirror_differs(config: StackConfig, stored: dict[str, BucketSettings]) -> bool:
    """The first bucket's items are missing (a stack of an earlier release) or out of date."""
    return stored.get(config.bucket) != first_bucket_settings(config)


def other_stack_tracking(client, own_table: str, bucket: str) -> str | None:
    """The name of another stack of this account and region that tracks the bucket, if any.

    Every stack's table is named after it (model.Names.table) and lists its buckets: the first
    in its config, the others in registry items. One ListTables and two GetItems per stack.
    """
    for table in _stack_tables(client):
        if table == own_table:
            continue
        stack = "s3sizer" if table == DEFAULT_TABLE else table.removesuffix(f"-{DEFAULT_TABLE}")
        try:
            got = client.get_item(TableName=table, Key=registry_address(bucket)).get("Item")
            if got is None:
                config = client.get_item(
                    TableName=table, Key={"pk": {"S": STACK_PK}, "sk": {"S": "CONFIG"}}
                ).get("Item")
                if config is None or json.loads(config["config"]["S"]).get("bucket") != bucket:
                    continue
        except client.exceptions.ClientError:
            continue  # not readable, or not an s3sizer table after all
        return stack
    return None


def refuse_tracked_elsewhere(client, own_table: str, bucket: str) -> None:
    """Two stacks tracking one bucket would fight over its notification configuration."""
    other = other_stack_tracking(client, own_table, bucket)
    if other is not None:
        raise StackError(
            f"Bucket {bucket!r} is tracked by stack {other!r}",
            f"run `s3sizer --stack {other} untrack {bucket}` (or `teardown`, if it is that "
            "stack's first bucket) first, or keep it there",
        )


def _stack_tables(client) -> list[str]:
    names: list[str] = []
    for page in client.get_paginator("list_tables").paginate():
        names += [
            n
            for n in page.get("TableNames", [])
            if n == DEFAULT_TABLE or n.endswith(f"-{DEFAULT_TABLE}")
        ]
    return names
