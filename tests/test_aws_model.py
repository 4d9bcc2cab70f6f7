"""The AWS model's invariants: every event is accounted for, the queue loses none, every AWS
figure it uses is cited, the JSON carries its fields, and a seed gives the same figures. Its
numbers are never checked here: they are the model's output, reported in docs/scaling.md."""

from __future__ import annotations

import dataclasses
import json

import pytest

from benchmarks import aws_engine, aws_limits, aws_model
from benchmarks.aws_delivery import run
from benchmarks.aws_designs import cut_chunks
from benchmarks.aws_engine import Scenario
from s3sizer.lambdas import records, size_tracking, versions

DESIGNS = aws_model.DESIGNS
# A table that holds half a write unit (its bucket holds one second's worth): no write ever
# fits, so every attempt fails. (At one unit a second a lone one-record batch, as five pollers
# form at this rate, got through.)
STARVED = 0.5
FIELDS = {
    "design": str, "route": str, "offered_per_s": int, "seconds": float, "prefix_depth": int,
    "latency_factor": float, "records_per_batch": float, "applied_per_s": float, "lost": int,
    "usd_per_million": float,
}  # fmt: skip


def small(design: str, **kw) -> Scenario:
    """A few seconds of a scenario, with the design's own layout."""
    fields = {"rate": 200, "seconds": 3.0, **aws_model.design_defaults(design), **kw}
    return Scenario(design, **fields)


@pytest.mark.parametrize("design", DESIGNS)
@pytest.mark.parametrize("route", ["sqs", "eventbridge", "direct"])
def test_every_event_sent_is_applied_lost_or_pending(design, route):
    # GIVEN a scenario the tracker keeps up with, run until everything settles
    scenario = small(design, route=route, rate=20 if route == "direct" else 200)
    outcome = run(scenario, horizon=300)

    # THEN every event is accounted for exactly once, and all of them were applied
    assert outcome.sent == scenario.rate * scenario.seconds
    assert outcome.applied + outcome.lost + outcome.pending == outcome.sent
    assert outcome.applied == outcome.sent
    assert outcome.caught_up is not None


@pytest.mark.parametrize("design", DESIGNS)
def test_the_queue_route_loses_nothing_even_when_every_write_fails(design):
    # GIVEN a throttled table behind the queue
    outcome = run(small(design, rate=5, seconds=2, warm_wru=STARVED), horizon=3_600)

    # THEN nothing is lost: after five receives each message waits in the dead-letter queue
    assert outcome.lost == 0
    assert outcome.dead_lettered == outcome.sent == outcome.pending > 0
    assert outcome.caught_up is None


def test_the_direct_route_loses_events_after_lambdas_retries():
    # GIVEN a table that throttles every write: each invocation fails, and so do both retries
    outcome = run(small("shipped", route="direct", rate=5, seconds=2, warm_wru=STARVED), 900)

    # THEN every event is lost, after three invocations each
    assert outcome.lost == outcome.sent > 0
    assert outcome.lambda_requests == 3 * outcome.sent
    assert outcome.applied + outcome.lost + outcome.pending == outcome.sent


@pytest.mark.parametrize("design", DESIGNS)
def test_a_forced_batch_size_is_the_mean_and_one_record_costs_three_sqs_requests(design):
    # GIVEN batches forced to one record each
    outcome = run(small(design, rate=5, seconds=4, forced_batch=1), horizon=300)

    # THEN every batch held one record: one send, one receive and one delete per event
    assert outcome.records_per_batch == 1
    assert outcome.sqs_requests == 3 * outcome.sent
    assert outcome.cost["CloudWatch Logs"] > 0


def test_only_stream_fold_has_a_totals_lag_and_it_follows_its_window():
    folded = run(small("stream-fold", fold_window=1.0), horizon=300)
    shipped = run(small("shipped"), horizon=300)
    assert shipped.lag_p99 is None
    assert 1.0 <= folded.lag_p99 <= 3.0
    assert folded.folds > 0 and folded.unfolded == 0


@pytest.mark.parametrize(
    "per_prefix", [[10] * 10, [9, 11, 10, 10, 10, 10, 10, 10, 10, 10], [1] * 5, [98], [0, 3, 1]]
)
@pytest.mark.parametrize("depth", [0, 1])
def test_the_model_cuts_a_batch_into_chunks_as_the_tracker_does(per_prefix, depth):
    # GIVEN a batch of distinct keys, so many under each first-level prefix
    changes = [
        records.Change(
            "b",
            f"p{q}/k{i:03d}",
            "null",
            versions.OBJECT,
            f"{q:02d}{i:03d}",
            1,
            "ObjectCreated:Put",
        )
        for q, count in enumerate(per_prefix)
        for i in range(count)
    ]
    messages = [records.Message(str(i), [c]) for i, c in enumerate(changes)]

    # WHEN the tracker plans its chunks, and the model cuts the same counts
    shipped = size_tracking.plan_chunks(messages, depth)
    modelled = cut_chunks(per_prefix, depth)

    # THEN both give the same chunks: as many keys, touching as many prefixes
    assert [(len(c.keys), len(c.prefixes)) for c in shipped] == [
        (keys, len(prefixes)) for keys, prefixes in modelled
    ]


def test_a_seed_gives_the_same_figures():
    scenario = small("shipped", rate=500)
    first, second = run(scenario), run(scenario)
    assert dataclasses.asdict(first) == dataclasses.asdict(second)


def test_the_json_lists_one_object_per_scenario_with_its_fields(monkeypatch, capsys):
    # GIVEN three short scenarios instead of the full set (which takes tens of seconds)
    chosen = [small("shipped"), small("stream-fold", goal="burst"), small("journaled", route="direct", rate=10)]  # fmt: skip
    monkeypatch.setattr(aws_model, "scenarios", lambda: chosen)

    assert aws_model.main(["--json"]) == 0
    rows = json.loads(capsys.readouterr().out)

    assert len(rows) == len(chosen)
    for row, scenario in zip(rows, chosen, strict=True):
        for name, kind in FIELDS.items():
            assert isinstance(row[name], kind), name
        assert row["design"] == scenario.design and row["route"] == scenario.route
        assert row["caught_up_s"] is None or row["caught_up_s"] >= 0
        assert row["goal"] in (None, "burst", "full", "5", "1")
    assert rows[1]["goal"] == "burst" and rows[1]["totals_lag_p99_s"] > 0
    # ... and says which designs are built: a candidate's figures are not the product's
    assert [row["built"] for row in rows] == [True, True, False]


def test_the_fold_designs_read_no_unversioned_key_and_lean_fold_writes_less():
    # GIVEN both fold designs at 5 records per batch, 20 events/s, unversioned and versioned keys
    cost = {}
    for design in ("stream-fold", "lean-fold"):
        for versioned in (False, True):
            s = small(design, rate=20, seconds=30.0, forced_batch=5, key_shards=32,
                      fold_window=4.0, versioned=versioned)  # fmt: skip
            cost[design, versioned] = run(s, horizon=300).cost

    # THEN the tracker reads an unversioned key's item in neither (as built: key_writes.py),
    # a versioned one's in both: a strongly consistent read unit an event
    for design in ("stream-fold", "lean-fold"):
        assert cost[design, False]["DynamoDB reads"] < cost[design, True]["DynamoDB reads"] / 2
    # ... and lean-fold's fold, one row and one point outside a transaction (1 unit each), writes
    # less than stream-fold's, the same two in one (2 units each); both far less than the keys
    lean, stream = cost["lean-fold", False], cost["stream-fold", False]
    assert lean["DynamoDB writes"] < stream["DynamoDB writes"] < 1.5 * lean["DynamoDB writes"]
    assert lean["DynamoDB reads"] <= stream["DynamoDB reads"]


def test_stream_fold_s_step_writes_one_row_however_many_prefixes_it_moves():
    # GIVEN stream-fold at 5 records per batch over 1 and over 10 busy prefixes
    writes = {}
    for busy in (1, 10):
        s = small("stream-fold", rate=20, seconds=30.0, forced_batch=5, key_shards=32,
                  fold_window=4.0, busy_prefixes=busy)  # fmt: skip
        writes[busy] = run(s, horizon=300).cost["DynamoDB writes"]

    # THEN ten prefixes cost little more than one: their figures ride in the bucket's row and
    # point (fold_prefixes.py), and only their first own points are extra
    assert writes[1] <= writes[10] < 1.25 * writes[1]


def test_lean_fold_s_writes_grow_with_a_bucket_s_prefixes_only_as_far_as_their_groups():
    # GIVEN lean-fold at 5 records per batch, 20 events/s over ten busy prefixes, in buckets
    # that hold 10, 100 and 1,000 first-level prefixes
    writes = {}
    for held in (10, 100, 1_000):
        s = small("lean-fold", rate=20, seconds=30.0, forced_batch=5, key_shards=32,
                  fold_window=4.0, bucket_prefixes=held)  # fmt: skip
        writes[held] = run(s, horizon=300).cost["DynamoDB writes"]

    # THEN more prefixes cost more (the busy ones fall in more group rows) ...
    assert writes[10] < writes[100] <= writes[1_000]
    # ... but not in proportion: each group row stays within one write unit, so 1,000 prefixes
    # cost about what 100 do, not ten times as much
    assert writes[1_000] < 1.2 * writes[100]


def test_the_scenarios_cover_the_sweep_the_latencies_and_every_goal_per_design():
    every = aws_model.scenarios()
    for design in DESIGNS:
        mine = [s for s in every if s.design == design]
        assert {s.goal for s in mine} >= {"burst", "full", "5", "1"}
        assert {s.rate for s in mine if s.route == "sqs"} >= {1_000, 50_000}
        assert {s.latency_factor for s in mine} == {0.5, 1.0, 2.0, 3.0}
        burst = next(s for s in mine if s.goal == "burst")
        assert (burst.rate, burst.seconds) == (20_000, 60.0)
        for goal, (batch, _, _) in aws_model.GOALS.items():
            cost = next(s for s in mine if s.goal == goal)
            assert cost.forced_batch == batch and cost.route == "sqs" and cost.prefix_depth == 1
            shipped = 30 if design in aws_model.FOLDING else 2
            assert (cost.max_concurrency, cost.batch_size, cost.window) == (shipped, 100, 1.0)
    assert {s.route for s in every} == {"sqs", "eventbridge", "direct"}


def test_the_documented_limits_are_cited_with_their_figures():
    # The figures the model must take from AWS's documentation, with the values it read there.
    expected = {
        "PARTITION_WCU": 1_000, "PARTITION_RCU": 3_000, "TRANSACTION_FACTOR": 2,
        "TRANSACTION_ITEMS": 100, "NEW_TABLE_WRU": 4_000, "NEW_TABLE_RRU": 12_000,
        "TABLE_QUOTA_WRU": 40_000, "WRITE_UNIT_KB": 1, "READ_UNIT_KB": 4,
        "ASYNC_RETRIES": 2, "ASYNC_RETRY_WAITS": 60, "ASYNC_MAX_AGE": 6 * 3600,
        "ACCOUNT_CONCURRENCY": 1_000, "ESM_START": 5, "ESM_RAMP": 300, "ESM_MAX": 1_000,
        "ESM_MAX_CONCURRENCY_FLOOR": 2, "ESM_IDLE_BATCHES": 5, "SQS_LONG_POLL_WAIT": 20,
        "S3_PREFIX_RATE": 3_500, "SQS_BATCH": 10, "SQS_CHUNK_KB": 64,
        "STREAM_GET_RECORDS": 1_000, "STREAM_READS_FREE": 0, "LAMBDA_PLATFORM_LINES": 3,
        "PRICE_LAMBDA_REQUESTS": 0.20, "PRICE_LAMBDA_GB_SECOND": 0.0000166667,
        "PRICE_WRU": 0.625, "PRICE_RRU": 0.125, "PRICE_SQS": 0.40, "PRICE_LOGS_GB": 0.50,
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


def test_the_model_runs_the_mapping_concurrency_each_write_path_ships():
    from s3sizer.stack.model import DEFAULT_MAX_CONCURRENCY

    assert aws_engine.SHIPPED["max_concurrency"] == DEFAULT_MAX_CONCURRENCY["transaction"]
    assert DEFAULT_MAX_CONCURRENCY["fold"] == aws_model.FOLD_MAX_CONCURRENCY
    burst = {s.design: s for s in aws_model.scenarios() if s.goal == "burst"}
    assert burst["stream-fold"].max_concurrency == DEFAULT_MAX_CONCURRENCY["fold"]
    assert burst["stream-fold"].table_wru == aws_model.LEAST_WARM_WRU
