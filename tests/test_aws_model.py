"""The AWS model's invariants: every event is accounted for, the queue loses none, every AWS
figure it uses is cited, and a seed gives the same figures. Its numbers are never checked here:
they are the model's output, reported in benchmarks/RESULTS.md."""

from __future__ import annotations

import dataclasses

import pytest

from benchmarks import aws_limits, aws_model
from benchmarks.aws_engine import Scenario

# Small scenarios, so that the whole file runs in a few seconds.
SETTLED = [
    Scenario("direct", 20, seconds=5),
    Scenario("queue", 200, seconds=5),
    Scenario("queue", 200, seconds=5, totals="journal"),
    Scenario("queue", 200, seconds=5, key_spread=1, max_concurrency=2),
]
# A table that accepts one write unit a second: every write is throttled, every attempt fails.
STARVED = 1.0


@pytest.mark.parametrize("scenario", SETTLED, ids=lambda s: f"{s.label}@{s.rate}")
def test_every_event_sent_is_applied_lost_or_pending(scenario):
    # GIVEN a scenario the tracker keeps up with, run until everything settles
    outcome = aws_model.run(scenario, horizon=600)

    # THEN every event is accounted for exactly once, and all of them were applied
    assert outcome.sent == scenario.rate * scenario.seconds
    assert outcome.applied + outcome.lost + outcome.pending == outcome.sent
    assert outcome.applied == outcome.sent


def test_events_the_model_stops_on_are_counted_as_pending():
    # GIVEN a direct burst far beyond what one totals item absorbs, stopped early
    outcome = aws_model.run(Scenario("direct", 2_000, seconds=2), horizon=5)

    # THEN the events not yet settled are pending, not lost and not forgotten
    assert outcome.pending > 0
    assert outcome.applied + outcome.lost + outcome.pending == outcome.sent


def test_the_direct_route_loses_events_after_lambdas_retries():
    # GIVEN a table that throttles every write: each invocation fails, and so do both retries
    outcome = aws_model.run(Scenario("direct", 5, seconds=2, warm_wru=STARVED), horizon=900)

    # THEN every event is lost, after three invocations each
    assert outcome.lost == outcome.sent > 0
    assert outcome.lambda_requests == 3 * outcome.sent
    assert outcome.applied + outcome.lost + outcome.pending == outcome.sent


@pytest.mark.parametrize("totals", ["chunk", "journal"])
def test_the_queue_route_loses_nothing_even_when_every_write_fails(totals):
    # GIVEN the same throttled table behind the queue
    scenario = Scenario("queue", 5, seconds=2, warm_wru=STARVED, totals=totals)
    outcome = aws_model.run(scenario, horizon=3_600)

    # THEN nothing is lost: after five receives each message waits in the dead-letter queue
    assert outcome.lost == 0
    assert outcome.dead_lettered == outcome.sent == outcome.pending
    assert outcome.applied + outcome.lost + outcome.pending == outcome.sent


def test_a_seed_gives_the_same_figures():
    scenario = Scenario("queue", 500, seconds=3)
    first, second = aws_model.run(scenario), aws_model.run(scenario)
    assert dataclasses.asdict(first) == dataclasses.asdict(second)


def test_the_documented_limits_are_cited_with_their_figures():
    # The figures the model must take from AWS's documentation, with the values it read there.
    expected = {
        "PARTITION_WCU": 1_000, "PARTITION_RCU": 3_000, "TRANSACTION_FACTOR": 2,
        "TRANSACTION_ITEMS": 100, "NEW_TABLE_WRU": 4_000, "NEW_TABLE_RRU": 12_000,
        "ASYNC_RETRIES": 2, "ASYNC_RETRY_WAITS": 60, "ASYNC_MAX_AGE": 6 * 3600,
        "ACCOUNT_CONCURRENCY": 1_000, "ESM_START": 5, "ESM_RAMP": 300, "ESM_MAX": 1_000,
        "ESM_MAX_CONCURRENCY_FLOOR": 2, "S3_PREFIX_RATE": 3_500, "SQS_BATCH": 10,
        "PRICE_LAMBDA_REQUESTS": 0.20, "PRICE_LAMBDA_GB_SECOND": 0.0000166667,
        "PRICE_WRU": 0.625, "PRICE_RRU": 0.125, "PRICE_SQS": 0.40,
    }  # fmt: skip
    for name, value in expected.items():
        limit = getattr(aws_limits, name)
        assert limit.value == pytest.approx(value), name
        assert limit in aws_limits.LIMITS, name
    for limit in aws_limits.LIMITS:
        assert limit.url.startswith("https://"), limit.name
        assert len(limit.quote) > 20, limit.name
    # Every cited figure is in the table RESULTS.md prints, with its source.
    table = aws_limits.limits_markdown()
    assert all(limit.url in table and limit.quote in table for limit in aws_limits.LIMITS)
