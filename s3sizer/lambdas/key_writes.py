"""Applying a chunk of one bucket's changes on the fold path: key items only, one PutItem each.

The chunk is read and planned as on the transaction path (batch.py): one BatchGetItem of its
keys with the bucket's settings item (whose storage-classes switch says whether versions'
classes are looked up; no totals, no baseline state), then the same plan. Of that plan only the
key items are written, each by its own PutItem under the condition on its revision, marked
``f`` = 1 (rows.FOLDED): the fold function counts the change from the table's stream, so no
totals, prefix totals or points are written here, and no metric line is printed.

A key whose condition failed was written meanwhile by another invocation (or a baseline): only
those keys are read again and their changes planned again on top. A key already written is not
written twice: the sequencer rule would find its changes duplicates anyway, but they must count
as applied once. A single PutItem cannot also check the bucket's settings item, as the
transaction path's does: the fold ignores the changes of a bucket without one.

**An unversioned key is written without being read** (its one change in the chunk, storage
classes off). Its state is one entry, version "null", and the record with the newest sequencer
decides it alone (versions.apply): whatever older entry the item holds, the result is the entry
this record makes. So one PutItem writes that entry under a condition that says exactly when
that is so: no item, or an item of the one "null" entry recorded from a record (a sequencer,
not a listing's rank) older than this one, counted at this depth, of this tracking. Anything
else (a duplicate, a stale record, a listed entry, another version, a depth or a generation of
its own) fails the condition, and that key is read and planned as above. That saves the read
of most keys: half a read unit an event at full batches, more at small ones (docs/scaling.md).
"""

from __future__ import annotations

import contextlib
from concurrent.futures import ThreadPoolExecutor

from botocore.exceptions import ClientError

from . import batch, late_creates, tracked
from . import layout as lay
from . import versions as v
from .records import Change

# Concurrent PutItems of one chunk (boto3's clients are thread-safe; size_tracking gives the
# client as many connections).
WRITERS = 16
_CONDITION_FAILED = "ConditionalCheckFailedException"


def apply_chunk(h, bucket: str, changes: list[Change]) -> batch.ChunkResult:
    unread = _unread_candidates(h, changes)
    keys = {c.key for c in changes} - {c.key for c in unread}
    addresses = {("K", k): lay.key_address(bucket, k) for k in keys}
    # Read along, one unit each per chunk: the settings item, which also holds the bucket's
    # storage-classes switch. Without per-bucket settings (a tracker of one bucket), the base
    # TOTALS item holds the switch. Whether a baseline runs is the fold's to know (it prints
    # the metric lines), not this function's.
    if h.settings_required:
        along = {("S", ""): lay.settings_address(bucket)}
    else:
        along = {("T", ""): lay.address(lay.bucket_pk(bucket), lay.TOTALS_SK)}
    stored = batch.read_items(h, addresses | along)
    unmarked = h.prefix_depth
    settings = None
    if h.settings_required:
        settings = stored.pop(("S", ""), None)
        verdict = batch._settings_verdict(h, settings, changes)
        if verdict is not None:
            return verdict
        unmarked = tracked.unmarked_depth(settings, h.prefix_depth)
        if lay.tracks_classes(settings):  # as the plan reads it from the totals
            zero = {name: lay.n(0) for name in ("total_size", "object_count", "version")}
            stored[("T", "")] = {**zero, lay.CLASSES_FLAG: {"BOOL": True}}
    result = batch.ChunkResult()
    mark = tracked.fold_mark(settings)
    if unread and not lay.tracks_classes(settings):  # with classes, each version is looked up
        failed, swept = _write_unread(h, bucket, unread, mark)
        if swept:  # the bucket is no longer tracked: nothing more is written
            result.counts["ignored"] = len(changes)
            result.counts["applied"] = 0
            return result
        result.counts["applied"] += len(unread) - len(failed)
        unread = failed
    if unread:  # read now, and planned with the rest
        again = {("K", c.key): lay.key_address(bucket, c.key) for c in unread}
        addresses |= again
        stored |= batch.read_items(h, again)
    written = {c.key for c in changes} - {key for _, key in addresses}
    pending = sorted((c for c in changes if c.key not in written), key=lambda c: (c.time, c.seq))
    if not pending:
        return result
    looked_up: dict = {}  # (key, version id) -> class, once each
    for attempt in range(batch.MAX_ATTEMPTS):
        plan = batch._plan(h, bucket, pending, stored, looked_up, unmarked)
        while plan.need or plan.doubts:  # what only S3 can say, asked once each
            result.lookups += late_creates.ask_s3(h, bucket, plan, looked_up)
            plan = batch._plan(h, bucket, pending, stored, looked_up, unmarked)
        puts = {
            name[1]: _marked(write, mark, plan.passing.get(name[1]))
            for name, write in plan.writes
            if name[0] == "K"
        }
        failed = _put_all(h, list(puts.values()), [("K", key) for key in puts])
        done = [c for c in pending if ("K", c.key) not in failed]
        counted = plan if not failed else batch._plan(h, bucket, done, stored, looked_up, unmarked)
        for outcome, count in counted.counts.items():
            result.counts[outcome] = result.counts.get(outcome, 0) + count
        if not failed:
            return result
        if attempt == batch.MAX_ATTEMPTS - 1:
            break
        h.backoff(attempt)  # before reading again, so that what is read goes out at once
        pending = [c for c in pending if ("K", c.key) in failed]
        again = {name: addresses[name] for name in failed}
        for name in again:
            stored.pop(name, None)  # gone since (untrack swept it): absent, not as read before
        if h.settings_required:  # and is the bucket still tracked?
            again[("S", "")] = lay.settings_address(bucket)
        stored |= batch.read_items(h, again)
        if h.settings_required and stored.pop(("S", ""), None) is None:
            result.counts["ignored"] = result.counts.get("ignored", 0) + len(pending)
            return result  # untracked meanwhile: its swept keys are not written again
        result.retries += 1
    raise RuntimeError(
        f"the key items of {bucket} could not be written in {batch.MAX_ATTEMPTS} attempts"
    )


def _unread_candidates(h, changes: list[Change]) -> list[Change]:
    """The changes whose key can be written without a read: an unversioned key's only change
    in the chunk (a put or a delete), where the settings item says the depth and generation."""
    if not h.settings_required:
        return []
    per_key: dict[str, int] = {}
    for c in changes:
        per_key[c.key] = per_key.get(c.key, 0) + 1
    return [
        c
        for c in changes
        if per_key[c.key] == 1 and c.version_id == v.NULL_VERSION and c.kind in (v.OBJECT, v.GONE)
    ]


def _write_unread(h, bucket: str, changes: list[Change], mark: dict) -> tuple[list, int]:
    """One conditional PutItem per change, concurrently: the changes whose condition failed
    (to be read and planned), and how many of the others the bucket's untracking had swept
    meanwhile. Any other error is raised once every write has ended."""
    requests = [_unread_put(h, bucket, c, mark) for c in changes]
    created: list[int] = []
    failed = _send_all(h, requests, list(range(len(requests))), created=created)
    if created and h._get(lay.settings_address(bucket)) is None:
        # Untracked since the settings were read: a key created now may be one the untracking
        # swept (an item absent looks the same), and none is left behind; as the read path,
        # which finds its item gone, its change is ignored.
        for i in created:
            _delete_created(h, requests[i])
        return [changes[i] for i in sorted(failed)], len(created)
    return [changes[i] for i in sorted(failed)], 0


def _delete_created(h, request: dict) -> None:
    """The item ``request`` created, unless something wrote it since."""
    written = request["Item"]
    condition = lay.rev_condition(written, lay.UNREAD_REV, written)
    with contextlib.suppress(ClientError):
        key = lay.address(written["pk"]["S"], written["sk"]["S"])
        h.client.delete_item(TableName=request["TableName"], Key=key, **condition)


def _unread_put(h, bucket: str, c: Change, mark: dict) -> dict:
    """The key item the record makes on its own, under the condition that what the item holds
    is nothing or an older recorded entry of the one "null" version (module docstring). Its
    revision is lay.UNREAD_REV: the one revision no read can have seen before it, since its
    sequencer, which only grows, is part of what a condition on it checks (layout.rev_condition)."""
    time_ms = round(c.time * 1000) or None
    _, versions = v.apply({}, v.NULL_VERSION, c.kind, c.seq, c.size, time_ms)
    item = {**lay.key_item(bucket, c.key, versions, lay.UNREAD_REV, h.prefix_depth), **mark}
    generation = mark.get(tracked.ITEM_GENERATION)
    names = {"#v": "versions", "#n": v.NULL_VERSION, "#q": "q", "#b": "b", "#k": "k",
             "#d": "pd", "#g": tracked.ITEM_GENERATION}  # fmt: skip
    values = {":seq": {"S": c.seq}, ":one": lay.n(1), ":t": {"S": v.TRANSIT}, ":d": item["pd"]}
    same_generation = "attribute_not_exists(#g)"
    if generation is not None:
        values[":g"] = generation
        same_generation = "#g = :g"
    condition = (
        "attribute_not_exists(pk) OR (size(#v) = :one AND #v.#n.#q < :seq"
        " AND attribute_not_exists(#v.#n.#b) AND #v.#n.#k <> :t"
        f" AND #d = :d AND {same_generation})"
    )
    return {
        "TableName": h.table_name,
        "Item": item,
        "ReturnValues": "ALL_OLD",  # none: the item is new, or was swept meanwhile
        "ConditionExpression": condition,
        "ExpressionAttributeNames": names,
        "ExpressionAttributeValues": values,
    }


def _marked(write: dict, mark: dict, passing: int | None = None) -> dict:
    """The plan's Put of a key item, marked for the fold to count, with the largest size the
    key passed through inside the chunk when it ends smaller (the fold's peak)."""
    put = dict(write["Put"])
    put["Item"] = {**put["Item"], **mark}
    if passing is not None:
        put["Item"][lay.PASSING_SIZE] = lay.n(passing)
    return put


def _put_all(h, puts: list[dict], names: list) -> set:
    """Each PutItem, concurrently; the names of those whose condition failed. Any other error
    is raised once every put has ended (those that landed stay: their changes come back as
    duplicates when the chunk is retried)."""
    return _send_all(h, puts, names)


def _send_all(h, requests: list[dict], names: list, *, created=None) -> set:
    """As _put_all; ``created`` (a list) gathers the names of the requests that returned no
    old item."""

    def put(request: dict):
        try:
            answer = h.client.put_item(**request)
        except ClientError as err:
            if err.response.get("Error", {}).get("Code") == _CONDITION_FAILED:
                return False
            return err
        return "Attributes" in answer or "new"

    if len(requests) <= 1 or WRITERS <= 1:
        outcomes = [put(request) for request in requests]
    else:
        with ThreadPoolExecutor(min(WRITERS, len(requests))) as pool:
            outcomes = list(pool.map(put, requests))
    errors = [o for o in outcomes if isinstance(o, Exception)]
    if errors:
        raise errors[0]
    if created is not None:
        created += [name for name, o in zip(names, outcomes, strict=True) if o == "new"]
    return {name for name, landed in zip(names, outcomes, strict=True) if landed is False}
