"""The baseline's ranges: cut where the keys branch by one-key listings, never by listing the
bucket whole, and tiling the key space so that every key, however named, is in exactly one."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from s3sizer.lambdas import layout as lay
from s3sizer.lambdas.baseline_keys import PAST
from s3sizer.lambdas.history import History
from s3sizer.stack import listing
from s3sizer.stack.baseline_run import BaselineRun, listing_client

BUCKET = "cut-bucket"


@pytest.fixture
def s3(stack):
    client = stack.client("s3")
    client.create_bucket(Bucket=BUCKET)
    return client


def test_a_flat_bucket_is_cut_into_ranges_without_listing_it_whole(stack, s3, monkeypatch):
    # GIVEN a flat bucket (no "/" in any key), which an earlier cut by top-level prefixes
    # listed twice, once to find none and once as its one range
    keys = [f"obj-{i:05d}" for i in range(300)]
    for i, key in enumerate(keys):
        s3.put_object(Bucket=BUCKET, Key=key, Body=b"z" * (i % 5 + 1))
    ddb = stack.client("dynamodb")
    ddb.create_table(**lay.table_definition(stack.names.table))
    monkeypatch.setattr(listing, "RANGES", 8)
    monkeypatch.setattr(listing, "PAGE_SIZE", 20)
    client = listing_client(stack.aws)
    read = []

    def count(parsed, **_) -> None:
        read.append(len(parsed.get("Contents", [])))

    client.meta.events.register("after-call.s3.ListObjectsV2", count)

    # WHEN its baseline runs
    run = BaselineRun(
        History(stack.names.table, ddb, prefix_depth=1), client, BUCKET,
        versioned=False, depth=1, live=False, workers=4,
    )  # fmt: skip
    run.run()

    # THEN it is cut into about the ranges asked, each key is listed once but for a key or two
    # a range, and the totals are exact
    assert 8 <= run.progress.ranges <= 8 + 10
    requests, listed = len(read), sum(read)
    assert listed <= len(keys) + 2 * run.progress.ranges + listing.MAX_PROBES, (requests, listed)
    assert listed <= len(keys) * 1.25, (requests, listed)
    totals = History(stack.names.table, ddb, prefix_depth=1).totals(BUCKET)
    assert (totals.total_size, totals.object_count) == (sum(i % 5 + 1 for i in range(300)), 300)


KEY = st.text(alphabet="ab/0\u00e9\U0010ffff", min_size=1, max_size=6)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    present=st.sets(KEY, max_size=25), later=st.lists(KEY, max_size=25), ranges=st.integers(1, 9)
)
def test_every_key_is_in_exactly_one_range(stack, s3, monkeypatch, present, later, ranges):
    # GIVEN a bucket of any keys, cut into ranges
    for old in s3.list_objects_v2(Bucket=BUCKET).get("Contents", []):
        s3.delete_object(Bucket=BUCKET, Key=old["Key"])
    for key in present:
        s3.put_object(Bucket=BUCKET, Key=key, Body=b"")
    spans = listing.plan_spans(s3, BUCKET, versioned=False, ranges=ranges)

    # THEN each key there, and each written later, whatever its name, is in exactly one range
    for key in [*present, *later, PAST, "a" + PAST + "b"]:
        assert sum(span.holds(key) for span in spans) == 1, (key, spans)
    # and no prefix of the cut is a prefix of another (the gaps' range relies on it)
    prefixes = [span.prefix for span in spans if not span.direct]
    assert not any(a != b and b.startswith(a) for a in prefixes for b in prefixes)
