"""The history table against moto: applying records, reading them back, the table's schema."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from s3sizer.lambdas import history
from s3sizer.lambdas.history import History, ListedVersion, Totals
from s3sizer.lambdas.versions import GONE, Entry

from .conftest import BUCKET, TABLE

PUT, DELETE = "ObjectCreated:Put", "ObjectRemoved:Delete"


def raw_points(ddb, bucket=BUCKET) -> list[dict]:
    items = ddb.query(
        TableName=TABLE,
        KeyConditionExpression="pk = :pk AND begins_with(sk, :h)",
        ExpressionAttributeValues={":pk": {"S": f"B#{bucket}"}, ":h": {"S": "H#"}},
    )["Items"]
    return items


# -- helpers of the schema ------------------------------------------------------------------------


def test_table_definition_matches_the_documented_schema():
    definition = history.table_definition("t")
    assert definition["TableName"] == "t"
    assert definition["KeySchema"] == history.KEY_SCHEMA
    defined = definition["AttributeDefinitions"]
    attributes = {(a["AttributeName"], a["AttributeType"]) for a in defined}
    assert attributes == {("pk", "S"), ("sk", "S")}
    assert definition["BillingMode"] == "PAY_PER_REQUEST"


def test_the_created_table_has_the_key_schema(ddb):
    assert ddb.describe_table(TableName=TABLE)["Table"]["KeySchema"] == history.KEY_SCHEMA


def test_iso_ms_is_fixed_width_utc_with_milliseconds():
    dt = datetime(2026, 11, 24, 21, 6, 5, 123456, tzinfo=UTC)
    assert history.iso_ms(dt) == "2026-11-24T21:06:05.123Z"
    assert history.iso_ms(dt.replace(microsecond=0)) == "2026-11-24T21:06:05.000Z"
    plus_two = dt.astimezone(datetime.now(UTC).astimezone().tzinfo)
    assert history.iso_ms(plus_two) == "2026-11-24T21:06:05.123Z"


def test_parse_iso_gives_aware_utc():
    parsed = history.parse_iso("2026-11-24T21:06:05.123Z")
    assert parsed == datetime(2026, 11, 24, 21, 6, 5, 123000, tzinfo=UTC)
    assert parsed.utcoffset() == timedelta(0)
    assert history.parse_iso("2026-11-24T23:06:05+02:00").hour == 21


# -- applying records ---------------------------------------------------------------------------


def test_an_empty_bucket_has_zero_totals(hist):
    assert hist.totals(BUCKET) == Totals(0, 0, 0, None, 0)
    assert hist.key_state(BUCKET, "nothing") is None
    assert hist.points(BUCKET) == []


def test_the_driver_workload_gives_18_27_0_2(hist, clock):
    for seq, key, size, event in [
        ("01", "assignment1.txt", 18, PUT),
        ("02", "assignment1.txt", 27, PUT),
        ("03", "assignment1.txt", None, DELETE),
        ("01", "assignment2.txt", 2, PUT),
    ]:
        clock.advance(1.5)
        assert hist.apply(BUCKET, key, seq, size, event=event) == "applied"
    assert [p.total_size for p in hist.points(BUCKET)] == [18, 27, 0, 2]
    totals = hist.totals(BUCKET)
    assert (totals.total_size, totals.object_count, totals.max_size) == (2, 1, 27)
    assert totals.version == 4
    assert totals.updated_at == history.iso_ms(clock())


def test_duplicates_and_stale_records_write_nothing(hist):
    assert hist.apply(BUCKET, "k", "0B", 10, event=PUT) == "applied"
    assert hist.apply(BUCKET, "k", "0B", 10, event=PUT) == "duplicate"
    assert hist.apply(BUCKET, "k", "0B00", 10, event=PUT) == "duplicate"  # same once padded
    assert hist.apply(BUCKET, "k", "0A", 99, event=PUT) == "stale"
    assert hist.apply(BUCKET, "k", "0A", None, event=DELETE) == "stale"
    assert hist.totals(BUCKET).total_size == 10
    assert len(hist.points(BUCKET)) == 1


def test_a_delete_delivered_before_its_put_wins(hist):
    assert hist.apply(BUCKET, "k", "0C", None, event=DELETE) == "applied"
    assert hist.apply(BUCKET, "k", "0B", 10, event=PUT) == "stale"
    assert hist.totals(BUCKET) == Totals(0, 0, 0, None, 0)
    state = hist.key_state(BUCKET, "k")
    assert (state.size, state.exists, state.versions) == (0, False, {"null": Entry(GONE, "0C")})
    assert hist.points(BUCKET) == []  # deleting what is not there changes nothing


def test_each_point_records_the_totals_before_and_after(hist, ddb, clock):
    hist.apply(BUCKET, "a", "01", 5, event=PUT)
    clock.advance(1)
    hist.apply(BUCKET, "b", "01", 7, event="ObjectCreated:Copy")
    first, second = raw_points(ddb)
    assert second["sk"]["S"] == f"H#{history.iso_ms(clock())}#{2:012d}"
    assert second["prev_total_size"] == {"N": "5"} and second["total_size"] == {"N": "12"}
    assert second["prev_object_count"] == {"N": "1"} and second["object_count"] == {"N": "2"}
    assert second["key"] == {"S": "b"} and second["event"] == {"S": "ObjectCreated:Copy"}
    assert "expires_at" not in first and "expires_at" not in second


def test_history_ttl_is_set_only_when_configured(ddb, clock):
    kept = History(TABLE, ddb, now=clock, ttl_days=7)
    kept.apply("with-ttl", "k", "01", 1, event=PUT)
    (point,) = raw_points(ddb, "with-ttl")
    assert int(point["expires_at"]["N"]) == int(clock().timestamp()) + 7 * 86400
    forever = History(TABLE, ddb, now=clock)
    forever.apply("without-ttl", "k", "01", 1, event=PUT)
    (point,) = raw_points(ddb, "without-ttl")
    assert "expires_at" not in point


def test_totals_of_one_bucket_do_not_leak_into_another(hist):
    hist.apply("one", "k", "01", 5, event=PUT)
    hist.apply("two", "k", "01", 9, event=PUT)
    assert hist.totals("one").total_size == 5
    assert hist.totals("two").total_size == 9


@pytest.mark.parametrize(("sequencer", "size"), [("zz", 1), ("01", -1), ("01", True), ("01", 1.5)])
def test_apply_refuses_what_it_cannot_apply(hist, sequencer, size):
    with pytest.raises(ValueError):
        hist.apply(BUCKET, "k", sequencer, size, event=PUT)
    assert hist.totals(BUCKET).version == 0


# -- versioned buckets: the size is that of the current versions -------------------------------


def test_deleting_a_noncurrent_version_changes_nothing(hist):
    hist.apply(BUCKET, "k", "01", 10, event=PUT, version_id="v1")
    hist.apply(BUCKET, "k", "02", 30, event=PUT, version_id="v2")
    assert hist.totals(BUCKET).total_size == 30  # v1 is kept, but is not current
    assert hist.apply(BUCKET, "k", "03", None, event=DELETE, version_id="v1") == "applied"
    assert hist.totals(BUCKET).total_size == 30
    assert len(hist.points(BUCKET)) == 2  # no size changed: no point
    assert hist.key_state(BUCKET, "k").version_id == "v2"


def test_deleting_the_current_version_removes_the_key(hist):
    hist.apply(BUCKET, "k", "01", 30, event=PUT, version_id="v2")
    assert hist.apply(BUCKET, "k", "02", None, event=DELETE, version_id="v2") == "applied"
    assert (hist.totals(BUCKET).total_size, hist.totals(BUCKET).object_count) == (0, 0)


@pytest.mark.parametrize(
    "event", ["ObjectRemoved:DeleteMarkerCreated", "LifecycleExpiration:DeleteMarkerCreated"]
)
def test_a_delete_marker_hides_the_current_version(hist, event):
    hist.apply(BUCKET, "k", "01", 30, event=PUT, version_id="v2")
    assert hist.apply(BUCKET, "k", "02", None, event=event, version_id="marker") == "applied"
    assert hist.totals(BUCKET).total_size == 0
    assert not hist.key_state(BUCKET, "k").exists


def test_the_null_version_is_an_unversioned_object(hist):
    hist.apply(BUCKET, "k", "01", 30, event=PUT, version_id="null")
    assert hist.key_state(BUCKET, "k").version_id is None
    assert hist.apply(BUCKET, "k", "02", None, event=DELETE, version_id="null") == "applied"
    assert hist.totals(BUCKET).total_size == 0


# -- reads ----------------------------------------------------------------------------------


def test_window_carries_in_the_size_from_before_it(hist, clock):
    hist.apply(BUCKET, "a", "01", 100, event=PUT)  # t = 0, outside the window
    clock.advance(20)
    hist.apply(BUCKET, "b", "01", 5, event=PUT)  # t = 20
    clock.advance(3)
    hist.apply(BUCKET, "a", "02", None, event=DELETE)  # t = 23
    clock.advance(2)
    window = hist.window(BUCKET, 10)  # [15, 25]
    assert [p.total_size for p in window.points] == [105, 5]
    assert (window.start_size, window.start_count) == (100, 1)
    assert window.end == clock() and window.end - window.start == timedelta(seconds=10)
    assert window.totals.max_size == 105
    assert window.points[0].time == clock() - timedelta(seconds=5)


def test_a_window_says_where_the_history_begins_only_when_it_begins_inside_it(hist, clock):
    clock.advance(100)
    hist.apply(BUCKET, "a", "01", 100, event=PUT)  # the first point: the history begins
    clock.advance(5)
    hist.apply(BUCKET, "b", "01", 5, event=PUT)
    assert hist.window(BUCKET, 60).began == clock() - timedelta(seconds=5)
    assert hist.window(BUCKET, 3).began is None  # a point came before this window


def test_an_empty_window_starts_at_the_current_totals(hist, clock):
    hist.apply(BUCKET, "a", "01", 42, event=PUT)
    clock.advance(3600)
    window = hist.window(BUCKET, 10)
    assert window.points == []
    assert (window.start_size, window.start_count) == (42, 1)


def test_a_window_includes_a_point_at_its_very_end(hist, clock):
    hist.apply(BUCKET, "a", "01", 42, event=PUT)
    assert [p.total_size for p in hist.window(BUCKET, 0.5).points] == [42]


@pytest.mark.parametrize("seconds", [0, -1, float("nan"), float("inf"), "10", True])
def test_window_rejects_a_window_that_is_not_positive(hist, seconds):
    with pytest.raises(ValueError, match="positive number of seconds"):
        hist.window(BUCKET, seconds)


def test_a_window_longer_than_the_calendar_takes_everything(hist):
    hist.apply(BUCKET, "a", "01", 42, event=PUT)
    assert len(hist.window(BUCKET, 1e15).points) == 1


def test_points_since_and_all(hist, clock):
    for i in range(3):
        hist.apply(BUCKET, f"k{i}", "01", i + 1, event=PUT)
        clock.advance(10)
    assert [p.total_size for p in hist.points(BUCKET)] == [1, 3, 6]
    assert [p.total_size for p in hist.points(BUCKET, since_seconds=15)] == [6]


class SmallPages:
    """The real client, but every Query returns at most two items, as a 1 MB page would."""

    def __init__(self, client):
        self._client = client
        self.queries = 0

    def query(self, **kwargs):
        self.queries += 1
        return self._client.query(**{**kwargs, "Limit": min(2, kwargs.get("Limit", 2))})

    def __getattr__(self, name):
        return getattr(self._client, name)


def test_reads_follow_pagination(ddb, clock):
    paged = SmallPages(ddb)
    hist = History(TABLE, paged, now=clock)
    hist.reset_from_listing(
        BUCKET, [ListedVersion(f"k{i}", None, i, True, False) for i in range(5)]
    )
    for i in range(5):
        clock.advance(1)
        hist.apply(BUCKET, f"n{i}", "01", 1, event=PUT)
    keys = sorted(s.key for s in hist.keys(BUCKET))
    assert keys == [f"k{i}" for i in range(5)] + [f"n{i}" for i in range(5)]
    assert len(hist.points(BUCKET)) == 6
    window = hist.window(BUCKET, 3.5)
    assert [p.total_size for p in window.points] == [12, 13, 14, 15]
    assert window.start_size == 11
    assert paged.queries > 6


class Interleaved:
    """The real client, but another writer's apply runs just before our first write lands."""

    def __init__(self, client, other_write):
        self._client = client
        self._other_write = other_write

    def transact_write_items(self, **kwargs):
        other, self._other_write = self._other_write, None
        if other:
            other()
        return self._client.transact_write_items(**kwargs)

    def __getattr__(self, name):
        return getattr(self._client, name)


@pytest.mark.parametrize("other_key", ["other", "same"])
def test_concurrent_writers_both_land_exactly_once(ddb, clock, sleeps, other_key):
    rival = History(TABLE, ddb, now=clock)
    hist = History(
        TABLE,
        Interleaved(ddb, lambda: rival.apply(BUCKET, other_key, "02", 7, event=PUT)),
        now=clock,
        sleep=sleeps.append,
    )
    outcome = hist.apply(BUCKET, "same", "01", 5, event=PUT)
    assert len(sleeps) == 1  # our first transaction was cancelled, and we re-read
    totals = hist.totals(BUCKET)
    if other_key == "other":
        assert outcome == "applied"
        assert (totals.total_size, totals.object_count, totals.version) == (12, 2, 2)
    else:  # the rival wrote a newer record of the same key: ours became stale
        assert outcome == "stale"
        assert (totals.total_size, totals.object_count, totals.version) == (7, 1, 1)
