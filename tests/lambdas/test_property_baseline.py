"""Exact after a baseline too: setup or reconcile lists a quiet bucket mid-history.

Before the listing, any subset of the records is delivered (the others are lost: the
notification was not configured yet), in any order, duplicated. Then ``reset_from_listing``
records the model's listing (ListObjectVersions' order). Afterwards duplicates of what was
delivered before and every later record arrive in any order; the totals, the prefix totals and
each key's current version must equal the model's listing.
"""

from __future__ import annotations

import uuid

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from s3sizer.lambdas.history import History, ListedVersion
from s3sizer.lambdas.size_tracking import apply_event

from .conftest import TABLE
from .test_property import MODES, OPERATIONS, ModelBucket, by_prefix, deliver


def listing_of(model: ModelBucket) -> list[ListedVersion]:
    out = []
    for key in sorted(model.stacks):
        stack = model.stacks[key]
        if model.mode == "unversioned":
            if stack:
                out.append(ListedVersion(key, None, stack[-1][2], True, False))
            continue
        for i, (vid, kind, size) in enumerate(reversed(stack)):
            out.append(ListedVersion(key, vid, size, i == 0, kind == "marker"))
    return out


def test_totals_equal_the_listing_after_a_baseline(ddb, clock):
    check_baselines(ddb, clock, examples=25)


@pytest.mark.heavy
def test_totals_equal_the_listing_after_many_more_baselines(ddb, clock):
    check_baselines(ddb, clock, examples=150)


def check_baselines(ddb, clock, examples: int) -> None:
    @settings(
        max_examples=examples,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(
        before=OPERATIONS,
        after=OPERATIONS,
        mode=st.sampled_from(MODES),
        eventbridge=st.booleans(),
        data=st.data(),
    )
    def check(before, after, mode, eventbridge, data):
        bucket = f"b-{uuid.uuid4().hex}"
        model = ModelBucket(bucket, mode, eventbridge)
        hist = History(TABLE, ddb, now=clock, prefix_depth=2)
        early = [b for op in before if (b := model.play(*op)) is not None]
        delivered = data.draw(st.lists(st.sampled_from(early), unique_by=id)) if early else []
        for batch in deliver(delivered, data.draw):
            apply_event(hist, batch)

        hist.reset_from_listing(bucket, listing_of(model))

        late = [b for op in after if (b := model.play(*op)) is not None]
        again = data.draw(st.lists(st.sampled_from(delivered), max_size=4)) if delivered else []
        for batch in deliver(late + again, data.draw):
            assert apply_event(hist, batch)["failed"] == []

        listing = model.listing()
        totals = hist.totals(bucket)
        assert (totals.total_size, totals.object_count) == (sum(listing.values()), len(listing))
        recorded = {p.prefix: (p.total_size, p.object_count) for p in hist.prefix_totals(bucket)}
        assert recorded == {p: t for p, t in by_prefix(listing, 2).items() if t[1] > 0}
        assert {s.key: s.size for s in hist.keys(bucket) if s.exists} == listing

    check()
