"""A running baseline's ranges in the table: one ``B#<bucket>#R`` item per range, with its
span, its cursor (the last key merged), what it merged and moved, and whether it is done; and
how far the run got, for `status`."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from botocore.exceptions import ClientError

from s3sizer.errors import StackError
from s3sizer.lambdas import layout as lay
from s3sizer.lambdas.baseline import batch_put, batch_write
from s3sizer.lambdas.baseline_keys import Span
from s3sizer.lambdas.baseline_sums import Sums, settle

QUIET = "quiet"  # on the BASELINE item: the run writes no totals until it ends
RELIST = "relist"  # on it too: the route changed while the run was stopped
DUE = "due"  # on it too: a route change has begun, and not yet reached the bucket's entry


def range_item(
    bucket: str, run_id: str, span: Span, cursor: str | None, sums: Sums | None, *, done: bool
) -> dict:
    item = {
        **lay.range_address(bucket, span.prefix, span.direct),
        "run": {"S": run_id},
        "prefix": {"S": span.prefix},
        "direct": {"BOOL": span.direct},
        "done": {"BOOL": done},
    }
    if span.skip:
        item["skip"] = {"L": [{"S": p} for p in span.skip]}
    if cursor is not None:
        item["cursor"] = {"S": cursor}
    if sums is not None:
        item["sums"] = {"S": sums.to_json()}
    return item


def stored_ranges(history, bucket: str) -> list[dict]:
    """Each recorded range: ``{"span", "cursor", "done", "sums"}``."""
    return [_range_of(item) for item in history._query(lay.range_pk(bucket))]


def stored_range(history, bucket: str, span: Span) -> dict:
    """One recorded range, as ``stored_ranges`` gives it."""
    return _range_of(history._get(lay.range_address(bucket, span.prefix, span.direct)))


def _range_of(item: dict) -> dict:
    span = Span(
        item["prefix"]["S"],
        item["direct"]["BOOL"],
        tuple(p["S"] for p in item.get("skip", {"L": []})["L"]),
    )
    cursor = item["cursor"]["S"] if "cursor" in item else None
    sums = Sums.from_json(item["sums"]["S"]) if "sums" in item else None
    return {"span": span, "cursor": cursor, "done": item["done"]["BOOL"], "sums": sums}


def start(
    history, bucket: str, run_id: str, depth: int, before, *, quiet: bool, due: bool, lease: dict
) -> None:
    """The BASELINE item of a run that starts, put once its ranges are recorded: ``due``, a
    route change in flight (what the run lists first may predate it, so it lists again)."""
    address = lay.address(lay.bucket_pk(bucket), lay.BASELINE_SK)
    # A route change that marked the item while the run split the bucket still counts.
    held = history._get(address) or {}
    due = due or DUE in held
    history.client.put_item(
        TableName=history.table_name,
        Item={
            **address,
            "state": {"S": lay.BASELINE_RUNNING},
            "run": {"S": run_id},
            "depth": lay.n(depth),
            "before_size": lay.n(before.total_size),
            "before_count": lay.n(before.object_count),
            "started_at": {"S": lay.iso_ms(datetime.now(UTC))},
            **({QUIET: {"BOOL": True}} if quiet else {}),
            **({RELIST: {"BOOL": True}} if due else {}),
            **({lay.FIRST_BASELINE: {"BOOL": True}} if lay.FIRST_BASELINE in held else {}),
            **lease,
        },
    )


def resume(history, bucket: str, state: dict, ranges: list[dict], *, settles: bool) -> None:
    """What a run that resumes does first: a live one settles what its ranges still owe the
    totals (a quiet run's moves first become owed: on the fold path too, since the fold counts
    only the key items a live run marks), and a run stopped across a change of route lists
    every range again."""
    run_id = state["run"]["S"]
    if settles:
        if QUIET in state:
            resume_live(history, bucket, run_id, ranges)
        settle_done(history, bucket, run_id, ranges)
    if RELIST in state:
        relist(history, bucket, run_id, ranges, state[RELIST])


def refuse_depth_change_midway(history, bucket: str, depth: int) -> None:
    """Refused before any step: a change of the bucket's prefix depth while one to another
    depth is stopped part-way. That run has marked the keys it passed as counted at its depth,
    but only its end takes them out of the deeper prefixes: a run at a greater depth, started
    afresh, would count them there twice."""
    item = history._get(lay.address(lay.bucket_pk(bucket), lay.BASELINE_SK)) or {}
    stopped = int(item.get("depth", {"N": "-1"})["N"])
    if item.get("state", {}).get("S") == lay.BASELINE_RUNNING and stopped not in (-1, depth):
        raise StackError(
            f"The change of bucket {bucket!r}'s prefix depth to {stopped} stopped part-way",
            f"finish it first (`s3sizer status` shows how far it got): run the same command "
            f"again with --prefix-depth {stopped}, then change the depth",
        )


def quiet_run_left(history, bucket: str) -> bool:
    """Whether a quiet run of the bucket was stopped before its end."""
    item = history._get(lay.address(lay.bucket_pk(bucket), lay.BASELINE_SK)) or {}
    return item.get("state", {}).get("S") == lay.BASELINE_RUNNING and QUIET in item


def resume_live(history, bucket: str, run_id: str, ranges: list[dict]) -> None:
    """A quiet run (setup before the first deploy) resumed by a live one (its deploy, say).

    A quiet run moves no totals as it goes: it sets them at its end from what its ranges
    merged, which a live run cannot do while the tracker moves them too. So what the quiet
    ranges moved becomes their pending moves, settled into the totals as a live range's are
    (settle_done, and each range's own start). Pending is set, not added, and the run is marked
    live only once every range carries it, so a crash in between changes nothing.

    A quiet run stopped while it set the totals whole (a kill, or a lost machine) has set some
    of them already, each stamped with the run (lay.SET_BY_RUN): those owe nothing more.
    """
    counted = _set_by(history, bucket, run_id)
    for r in ranges:
        sums = r["sums"]
        if sums is not None:
            without_counted(sums, counted)
            sums.pending = {name: list(figures) for name, figures in sums.moved.items()}
            sums.pending_classes = {c: list(f) for c, f in sums.classes_moved.items()}
    _rewrite(history, bucket, run_id, ranges, then_remove=QUIET, seen={"BOOL": True})


def without_counted(sums: Sums, counted: set[str]) -> None:
    """What the figures in ``counted`` moved, taken out of a range's sums: a killed quiet run's
    end set them whole (their stamp), and drew the step in their history as it did, so they
    are neither owed nor moved again, and the run's end draws no second step for them. The
    bucket's drift stays, to be reported, marked as drawn. Taking it out twice changes
    nothing more: it runs before the run merges anything again."""
    sums.moved = {name: f for name, f in sums.moved.items() if name not in counted}
    sums.pending = {name: f for name, f in sums.pending.items() if name not in counted}
    if "" in counted:
        sums.classes_moved, sums.pending_classes = {}, {}
        sums.drawn_bytes, sums.drawn_objects = sums.drift_bytes, sums.drift_objects


def _set_by(history, bucket: str, run_id: str) -> set[str]:
    """The figures ``run_id`` set whole: "" for the bucket's totals, and prefixes by name."""
    stamped = lambda item: item.get(lay.SET_BY_RUN, {}).get("S") == run_id  # noqa: E731
    totals = history._get(lay.address(lay.bucket_pk(bucket), lay.TOTALS_SK)) or {}
    counted = {""} if stamped(totals) else set()
    return counted | {i["prefix"]["S"] for i in history._query(lay.prefix_pk(bucket)) if stamped(i)}


def settle_done(history, bucket: str, run_id: str, ranges: list[dict]) -> None:
    """The pending moves of done ranges, settled: a live run's ranges leave none, but those of
    a quiet run resumed live (resume_live) do, and a crash may stop their settling half-way,
    so every live run that resumes settles what is left."""
    for r in ranges:
        if r["done"] and r["sums"] is not None and r["sums"].pending:

            def progress(now: Sums, r: dict = r) -> dict:
                return range_item(bucket, run_id, r["span"], r["cursor"], now, done=True)

            settle(history, bucket, r["sums"], progress)


def _unless_outdated(write, **request) -> bool:
    """A conditional write: False, and no error, when its condition no longer holds."""
    try:
        write(**request)
        return True
    except ClientError as err:
        if err.response["Error"]["Code"] != "ConditionalCheckFailedException":
            raise
        return False


def _update_state(history, bucket: str, **request) -> bool:
    """A conditional update of the bucket's BASELINE item (_unless_outdated)."""
    return _unless_outdated(
        history.client.update_item,
        TableName=history.table_name,
        Key=lay.address(lay.bucket_pk(bucket), lay.BASELINE_SK),
        **request,
    )


def mark_due(history, bucket: str) -> None:
    """The bucket's baseline marked owed, before a change of its route: a BASELINE item in
    progress with no ranges, which `status` shows at 0% and the next run starts afresh. A run
    already in progress is marked to list every range again when it resumes (relist)."""
    names = {"#s": "state", "#r": "run", "#d": "depth", "#l": RELIST, "#u": DUE,
             "#f": lay.FIRST_BASELINE}  # fmt: skip
    running, complete, yes = (
        {"S": lay.BASELINE_RUNNING},
        {"S": lay.BASELINE_COMPLETE},
        {"BOOL": True},
    )
    # Each mark its own: a run that relists removes only the mark it saw (_rewrite), so one
    # that comes while it rewrites its ranges stays, and the next run lists again.
    mark = {"S": uuid.uuid4().hex}
    for update, condition, values in (
        # No run and no depth of one: whatever runs next starts afresh. An update: a lease
        # another command holds on the item stays.
        # A bucket never baselined (tracked now) is marked first: its totals are partial.
        ("SET #s = :running, #r = :due, #d = :none, #u = :yes, #f = :yes",
         "attribute_not_exists(#s)",
         {":running": running, ":due": {"S": "due"}, ":none": lay.n(-1), ":yes": yes}),
        ("SET #s = :running, #r = :due, #d = :none, #u = :yes", "#s = :done",
         {":running": running, ":done": complete, ":due": {"S": "due"}, ":none": lay.n(-1),
          ":yes": yes}),
        ("SET #l = :mark, #u = :yes", "#s = :running", {":running": running, ":mark": mark,
                                                        ":yes": yes}),
    ):  # fmt: skip
        if _update_state(
            history,
            bucket,
            UpdateExpression=update,
            ConditionExpression=condition,
            ExpressionAttributeNames={n: v for n, v in names.items() if n in update + condition},
            ExpressionAttributeValues=values,
        ):
            return


def routed(history, bucket: str) -> None:
    """The bucket's entry changed: a run that starts from now on lists after the change (one
    that started while the mark was there carries ``relist``, and completes only relisted)."""
    _update_state(  # conditional: an update of an item that is not there would make one
        history,
        bucket,
        UpdateExpression="REMOVE #u",
        ConditionExpression="attribute_exists(#u)",
        ExpressionAttributeNames={"#u": DUE},
    )


def relist(history, bucket: str, run_id: str, ranges: list[dict], mark: dict) -> None:
    """A run resumed after a change of route lists every range again from its start: what a
    range listed before may miss changes that no route carried. What it moved stays counted (a
    key merges to itself), and what it still owes the totals stays pending; what it listed and
    merged is counted again. The mark goes once every range is reset, so a crash in between
    resets them again, and nothing is lost."""
    counted = _set_by(history, bucket, run_id)
    for r in ranges:
        earlier, kept = r["sums"], Sums()
        if earlier is not None:
            # A figure a killed quiet run set whole holds what it moved so far; what the run
            # moves from here on is owed on top, so the figure loses its stamp below.
            without_counted(earlier, counted)
            for name in ("drift_bytes", "drift_objects", "drawn_bytes", "drawn_objects",
                         "totals_writes", "pending", "pending_classes", "moved",
                         "classes_moved"):  # fmt: skip
                setattr(kept, name, getattr(earlier, name))
        r["done"], r["cursor"], r["sums"] = False, None, kept
    _rewrite(history, bucket, run_id, ranges, then_remove=RELIST, seen=mark,
             before_unmarking=lambda: _unstamp(history, bucket, run_id, counted))  # fmt: skip


def _unstamp(history, bucket: str, run_id: str, counted: set[str]) -> None:
    """The run's stamps taken off (after the ranges no longer count what the stamped figures
    hold), each with a new version, so that a write that read the item before carries no
    stamp back."""
    for name in sorted(counted):
        address = (
            lay.address(lay.bucket_pk(bucket), lay.TOTALS_SK)
            if name == ""
            else lay.prefix_address(bucket, name)
        )
        _unless_outdated(
            history.client.update_item,
            TableName=history.table_name,
            Key=address,
            UpdateExpression="REMOVE #r ADD #v :one",
            ConditionExpression="#r = :run",
            ExpressionAttributeNames={"#r": lay.SET_BY_RUN, "#v": "version"},
            ExpressionAttributeValues={":run": {"S": run_id}, ":one": lay.n(1)},
        )


def _rewrite(
    history, bucket: str, run_id: str, ranges: list[dict], *, then_remove: str, seen: dict,
    before_unmarking=lambda: None,
) -> None:  # fmt: skip
    """Every range item put as ``ranges`` hold it, then ``before_unmarking()``, and only then
    the mark that asked for it removed from the BASELINE item: a crash in between leaves the
    mark, to do it again. Only the mark ``seen``: one set meanwhile (another change of route)
    stays."""
    items = [range_item(bucket, run_id, r["span"], r["cursor"], r["sums"], done=r["done"])
             for r in ranges]  # fmt: skip
    batch_put(history, items)
    before_unmarking()
    _update_state(
        history,
        bucket,
        UpdateExpression="REMOVE #m",
        ConditionExpression="#m = :seen",
        ExpressionAttributeNames={"#m": then_remove},
        ExpressionAttributeValues={":seen": seen},
    )


def complete(history, bucket: str, run_id: str, depth: int) -> None:
    """The run marked complete and its ranges deleted; unless the route changed while it ran
    (a `deploy` that found it running in another command): it then stays in progress, marked
    to list every range again, which the same `deploy` run again does."""
    if not _unless_outdated(
        history.client.put_item,
        TableName=history.table_name,
        Item={
            **lay.address(lay.bucket_pk(bucket), lay.BASELINE_SK),
            "state": {"S": lay.BASELINE_COMPLETE},
            "run": {"S": run_id},
            "depth": lay.n(depth),
            "finished_at": {"S": lay.iso_ms(datetime.now(UTC))},
        },
        ConditionExpression="attribute_not_exists(#l)",
        ExpressionAttributeNames={"#l": RELIST},
    ):
        # A quiet run has set the totals by now: its moves are counted, and a live run that
        # resumes it must not count them again (resume_live).
        history.client.update_item(
            TableName=history.table_name,
            Key=lay.address(lay.bucket_pk(bucket), lay.BASELINE_SK),
            UpdateExpression="REMOVE #q",
            ExpressionAttributeNames={"#q": QUIET},
        )
        return
    delete_ranges(history, bucket)


def delete_ranges(history, bucket: str) -> None:
    """Every range item of the bucket, 25 to a BatchWriteItem (a bucket may have thousands)."""
    keys = [{"pk": i["pk"], "sk": i["sk"]} for i in history._query(lay.range_pk(bucket))]
    batch_write(history, [{"DeleteRequest": {"Key": key}} for key in keys])


def baseline_state(history, bucket: str) -> dict:
    """``{"state": "complete"}``, or ``{"state": "in_progress", "done": fraction}`` (of the
    objects the bucket held when the run began, merged so far; of a bucket not counted before,
    of the ranges named so far: while the top level's range lists, more may come; at most 0.99
    until the run ends); with ``"owed": true`` when no run has begun since a change of
    route marked it (mark_due)."""
    return baseline_view(history, bucket)[0]


def baseline_view(history, bucket: str) -> tuple[dict, tuple[int, int] | None]:
    """``baseline_state``, and what a first quiet run's ranges have merged so far (bytes,
    objects): such a run writes the totals only at its end, so its partial figures are those.
    None for a complete baseline, a live run (its totals move as its ranges merge), and a
    quiet run over totals a run before it set whole (a reconcile before the first deploy):
    those totals stand until it ends."""
    item = history._get(lay.address(lay.bucket_pk(bucket), lay.BASELINE_SK))
    if item is None or item["state"]["S"] != lay.BASELINE_RUNNING:
        return {"state": lay.BASELINE_COMPLETE}, None
    if item.get("run", {}).get("S") == "due":
        return {"state": lay.BASELINE_RUNNING, "done": 0.0, "owed": True}, None
    ranges = [_range_of(i) for i in history._query(lay.range_pk(bucket))]
    done = sum(1 for r in ranges if r["done"])
    size, objects = merged(ranges)
    before = [int(item.get(name, {"N": "0"})["N"]) for name in ("before_size", "before_count")]
    fraction = done / len(ranges) if ranges else 0.0
    if before[1] and done < len(ranges):
        # A bucket counted before (a reconcile, a change of route or of depth): the objects
        # merged of those it held, so that a large folder is not one step among small ones.
        fraction = min(objects / before[1], 0.99)
    # 1 only once it ends: every range merged, its end (the totals set, or settled) may not be
    state = {"state": lay.BASELINE_RUNNING, "done": round(min(fraction, 0.99), 3)}
    if not item.get(QUIET, {}).get("BOOL") or any(before):
        return state, None
    return state, (size, objects)


def merged(ranges: list[dict]) -> tuple[int, int]:
    """(bytes, objects) the ranges' keys held as merged so far."""
    sums = [r["sums"].merged.get("", [0, 0]) for r in ranges if r["sums"] is not None]
    return sum(s[0] for s in sums), sum(s[1] for s in sums)
