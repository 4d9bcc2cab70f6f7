"""A key's current version, and the caps on its map: the shortcuts for small maps give the
answer the full rule gives."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from s3sizer.lambdas import versions as v

KINDS = (v.OBJECT, v.MARKER, v.GONE, v.TRANSIT)


def _by_the_rule(versions):
    live = [(vid, e) for vid, e in versions.items() if e.kind in v.LIVE]
    return max(live, key=lambda t: v.order(t[1])) if live else (None, None)


entries = st.builds(
    v.Entry,
    kind=st.sampled_from(KINDS),
    seq=st.one_of(st.none(), st.text("0123456789ABCDEF", min_size=1, max_size=6)),
    rank=st.one_of(st.none(), st.integers(1, 50)),
    size=st.integers(0, 10**6),
)
maps = st.dictionaries(st.text("abcnul", min_size=1, max_size=4), entries, min_size=0, max_size=40)


@given(maps)
def test_the_current_version_is_the_newest_live_one_whatever_the_map_s_size(versions):
    assert v.current(versions) == _by_the_rule(versions)


def test_a_key_of_one_version_is_current_only_while_that_version_is_live():
    for kind in KINDS:
        versions = {"v1": v.Entry(kind, "A1", None, 5)}
        expected = ("v1", versions["v1"]) if kind in v.LIVE else (None, None)
        assert v.current(versions) == expected


@given(maps)
def test_a_map_under_both_caps_is_kept_whole(versions):
    capped = v._capped(versions)
    gone = sum(1 for e in versions.values() if e.kind not in v.LIVE)
    live = len(versions) - gone
    if gone <= v.MAX_TOMBSTONES and live <= v.MAX_LIVE:
        assert capped == versions
    else:
        assert len(capped) == min(gone, v.MAX_TOMBSTONES) + min(live, v.MAX_LIVE)


def test_a_map_over_the_tombstone_cap_keeps_its_newest_tombstones():
    versions = {f"x{i:02d}": v.Entry(v.GONE, f"{i + 1:02X}", None, 0) for i in range(40)}
    versions["live"] = v.Entry(v.OBJECT, "FF", None, 7)
    capped = v._capped(versions)
    assert len(capped) == v.MAX_TOMBSTONES + 2 and "live" in capped  # and the floor
    assert "x00" not in capped and "x39" in capped
    assert v.dropped_floor(capped) == "08"  # x07's, the newest dropped
    # A create older than it, of a version the map does not know, waits for S3's word.
    assert v.apply(capped, "x03", v.OBJECT, "03", 5)[0] == v.UNSURE
    assert v.apply(capped, "x03", v.OBJECT, "03", 5, present=False)[0] == v.STALE
    assert v.apply(capped, "new", v.OBJECT, "100", 5)[0] == v.APPLIED  # newer: no question
    assert v.apply(capped, "x03", v.GONE, "04", 0)[0] == v.STALE  # its delete, again
