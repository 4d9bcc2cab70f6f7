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
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from botocore.exceptions import ClientError

from . import batch, classes, tracked
from . import layout as lay
from .records import Change

# Concurrent PutItems of one chunk (boto3's clients are thread-safe; size_tracking gives the
# client as many connections).
WRITERS = 16
_CONDITION_FAILED = "ConditionalCheckFailedException"


def apply_chunk(h, bucket: str, changes: list[Change]) -> batch.ChunkResult:
    keys = {c.key for c in changes}
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
    pending = sorted(changes, key=lambda c: (c.time, c.seq))
    result = batch.ChunkResult()
    looked_up: dict = {}  # (key, version id) -> class, once each
    for attempt in range(batch.MAX_ATTEMPTS):
        plan = batch._plan(h, bucket, pending, stored, looked_up, unmarked)
        while plan.need:  # the classes of versions created (or moved) here: one lookup each
            looked_up |= classes.look_up(h, bucket, sorted(plan.need))
            result.lookups += len(plan.need)
            plan = batch._plan(h, bucket, pending, stored, looked_up, unmarked)
        mark = tracked.fold_mark(settings)
        puts = {name[1]: _marked(write, mark) for name, write in plan.writes if name[0] == "K"}
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


def _marked(write: dict, mark: dict) -> dict:
    """The plan's Put of a key item, marked for the fold to count."""
    put = dict(write["Put"])
    put["Item"] = {**put["Item"], **mark}
    return put


def _put_all(h, puts: list[dict], names: list) -> set:
    """Each PutItem, concurrently; the names of those whose condition failed. Any other error
    is raised once every put has ended (those that landed stay: their changes come back as
    duplicates when the chunk is retried)."""

    def put(request: dict):
        try:
            h.client.put_item(**request)
        except ClientError as err:
            if err.response.get("Error", {}).get("Code") == _CONDITION_FAILED:
                return False
            return err
        return True

    if len(puts) <= 1 or WRITERS <= 1:
        outcomes = [put(request) for request in puts]
    else:
        with ThreadPoolExecutor(min(WRITERS, len(puts))) as pool:
            outcomes = list(pool.map(put, puts))
    errors = [o for o in outcomes if isinstance(o, Exception)]
    if errors:
        raise errors[0]
    return {name for name, landed in zip(names, outcomes, strict=True) if landed is False}
