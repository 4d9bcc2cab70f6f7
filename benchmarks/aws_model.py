"""A discrete-event model of the size tracker on AWS: where each write path saturates, and what
one event costs with every per-event charge counted.

    python benchmarks/aws_model.py           # readable tables (section 7 of RESULTS.md)
    python benchmarks/aws_model.py --json    # one JSON object per scenario

The write paths (benchmarks/aws_designs.py) meet the same S3 events (a constant mean rate for
`seconds`, spread over ten busy first-level prefixes) through the same delivery
(benchmarks/aws_delivery.py: the SQS event source mapping's pollers, batching window and
MaximumConcurrency, or S3's direct asynchronous invocation), against DynamoDB's documented
capacity (benchmarks/aws_engine.py). Every AWS figure is a `Limit` in benchmarks/aws_limits.py,
with its page and that page's words; what AWS does not document (latencies, line and item sizes)
is `ASSUMED` there. One seeded generator supplies every random draw, so every run gives the
same figures.

The scenarios:
- **ceiling**: each design offered 1,000 to 50,000 events/s for 60 s, one bucket, at the settings
  the burst goal needs (MaximumConcurrency 50, warm throughput at the table quota of 40,000
  WRU/s), and at the shipped defaults (MaximumConcurrency 2, a new table) at 20,000/s;
- **ordinary rates**: 1 to 500 events/s at the shipped defaults, batches as the mapping forms
  them;
- **latency**: each design at 20,000/s with every assumed latency x0.5, x1, x2, x3;
- **goals** (issue 16): "burst" is 20,000/s for 60 s; "full", "5" and "1" force every batch to 100,
  5 and 1 records at the shipped defaults (1,000/s for 20 s, 20/s for 5 minutes, 2/s for 10
  minutes: long enough for a steady state), unversioned and versioned keys; beside them, what
  the goals would take (stream-fold at MaximumConcurrency 20 and 30 with 22,000 WRU/s, and with
  a 30 s fold window), and the eventbridge and direct routes.
"""

from __future__ import annotations

import json
import sys
from dataclasses import replace
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `benchmarks` importable from the checkout
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.aws_delivery import run
from benchmarks.aws_engine import Outcome, Scenario
from benchmarks.aws_limits import (
    ASSUMED,
    ESM_IDLE_BATCHES,
    NEW_TABLE_WRU,
    PRICE_SQS,
    SQS_LONG_POLL_WAIT,
    TABLE_QUOTA_WRU,
    limits_markdown,
)
from benchmarks.measure import Section, Table

DESIGNS = ("shipped", "stream-fold", "journaled", "sharded-totals", "lean-fold")
BUILT = ("shipped", "stream-fold")  # the others are candidates the model compares
SETTLE = (
    300.0  # five minutes after the offered traffic ends: what is not settled by then is "never"
)
BURST = {"max_concurrency": 50, "warm_wru": TABLE_QUOTA_WRU.value}
RATES = (1_000, 2_000, 5_000, 10_000, 20_000, 50_000)
# batch, rate, seconds: long enough for the steady state, so that a new stack's one-off writes
# (on stream-fold, each shard's first row with its settings check, and each prefix's first own
# point from each shard: 88 write units at ten prefixes and four shards) weigh little.
GOALS = {"full": (100, 1_000, 20.0), "5": (5, 20, 300.0), "1": (1, 2, 600.0)}
TARGETS = {"full": 1.30, "5": 1.80, "1": 2.50}
HOURS_PER_MONTH = 730
WHAT_IF_FOLD_WINDOW = 30.0
FOLDING = ("stream-fold", "lean-fold")  # the designs a stream's fold function totals
ORDINARY_RATES = (1, 5, 50, 500)
LEAN_FOLD_BUCKET_PREFIXES = (100, 1_000)  # what-ifs: a bucket of many more prefixes than busy
# What-ifs: more busy prefixes than stream-fold's row holds (about 11 of short names)
STREAM_FOLD_BUSY_PREFIXES = (20, 50)
LEAST_WARM_WRU = 22_000  # stream-fold's key writes take 20,000 WRU/s at 20,000 events/s
# The queue mapping's MaximumConcurrency on the fold path (s3sizer/stack/model.py): the
# transaction path's 2 caps it near 1,400 events/s.
FOLD_MAX_CONCURRENCY = 30
AS_FIRST_SHIPPED = 2  # the fold path's concurrency before this release: what-ifs
PREFIX_RATES = (3_500, 5_000)  # S3's PUTs a second per prefix, and more


def design_defaults(design: str) -> dict:
    """What a design brings with it: stream-fold's layout spreads key items over 32 partition
    keys (16 cannot take 20,000 single-unit writes a second at 1,000 each) and folds behind a
    4 s window, which keeps the totals' lag under about 5 s; its mapping runs 30 batches at
    once."""
    if design in FOLDING:
        return {"key_shards": 32, "fold_window": 4.0, "max_concurrency": FOLD_MAX_CONCURRENCY}
    return {}


def scenarios() -> list[Scenario]:
    out = []
    for design in DESIGNS:
        own = design_defaults(design)
        folding = design in FOLDING
        # The sweep at MaximumConcurrency 50 and the table at its quota: each design's ceiling.
        # A fold design meets the burst goal at its own concurrency, with the table warmed to
        # what its key writes take; the others only come nearest it at the sweep's settings.
        out += [
            Scenario(design, rate=r, goal="burst" if r == 20_000 and not folding else None,
                     **{**own, **BURST})
            for r in RATES
        ]  # fmt: skip
        if folding:
            out.append(Scenario(design, rate=20_000, goal="burst", warm_wru=LEAST_WARM_WRU, **own))
        out.append(Scenario(design, rate=20_000, **own))  # the shipped defaults, a new table
        out += [
            Scenario(design, rate=20_000, latency_factor=f, **{**own, **BURST})
            for f in (0.5, 2.0, 3.0)
        ]
        for goal, (batch, rate, seconds) in GOALS.items():
            for versioned in (False, True):
                out.append(
                    Scenario(design, rate=rate, seconds=seconds, forced_batch=batch,
                             versioned=versioned, goal=None if versioned else goal, **own)
                )  # fmt: skip
    for rate in ORDINARY_RATES:  # batches as they form at the shipped defaults
        for design in ("shipped", "stream-fold"):
            out.append(Scenario(design, rate=rate, **design_defaults(design)))
    # What-ifs: the fold path at the transaction path's concurrency, as it first shipped, against
    # the 30 it ships with: the ordinary rates, one prefix at S3's 3,500 PUTs a second, and more.
    for concurrency in (AS_FIRST_SHIPPED, FOLD_MAX_CONCURRENCY):
        fold = {**design_defaults("stream-fold"), "max_concurrency": concurrency}
        rates = (*ORDINARY_RATES, 20_000) if concurrency == AS_FIRST_SHIPPED else ()
        out += [Scenario("stream-fold", rate=r, **fold) for r in (*rates, *PREFIX_RATES)]
    # Less concurrency than ships: about the least the burst goal needs (the goal's own row
    # runs at the shipped 30).
    out.append(Scenario("stream-fold", rate=20_000, warm_wru=LEAST_WARM_WRU,
                        **{**design_defaults("stream-fold"), "max_concurrency": 20}))  # fmt: skip
    for goal in ("5", "1"):  # what the cost goals would need: a longer fold window
        batch, rate, seconds = GOALS[goal]
        out.append(Scenario("stream-fold", rate=rate, seconds=seconds, forced_batch=batch,
                            **{**design_defaults("stream-fold"),
                               "fold_window": WHAT_IF_FOLD_WINDOW}))  # fmt: skip
    for busy in STREAM_FOLD_BUSY_PREFIXES:  # the busy prefixes past the row keep rows of their own
        for goal in ("5", "1"):
            batch, rate, seconds = GOALS[goal]
            out.append(Scenario("stream-fold", rate=rate, seconds=seconds, forced_batch=batch,
                                busy_prefixes=busy, **design_defaults("stream-fold")))  # fmt: skip
    for held in LEAN_FOLD_BUCKET_PREFIXES:  # lean-fold's rows grow with the bucket's prefixes
        for goal in ("5", "1"):
            batch, rate, seconds = GOALS[goal]
            out.append(Scenario("lean-fold", rate=rate, seconds=seconds, forced_batch=batch,
                                bucket_prefixes=held, **design_defaults("lean-fold")))  # fmt: skip
    out.append(Scenario("shipped", route="eventbridge", rate=500))
    out.append(
        Scenario("stream-fold", route="eventbridge", rate=500, **design_defaults("stream-fold"))
    )
    out.append(Scenario("shipped", route="direct", rate=50, seconds=20))
    out.append(
        Scenario(
            "stream-fold", route="direct", rate=50, seconds=20, **design_defaults("stream-fold")
        )
    )
    return out


def idle_usd_per_stack_month() -> float:
    """An idle queue: five pollers (MaximumConcurrency set), each one long poll per 20 s."""
    receives = ESM_IDLE_BATCHES.value * 3600 / SQS_LONG_POLL_WAIT.value * HOURS_PER_MONTH
    return receives * PRICE_SQS.value / 1e6


def warm_usd_once(s: Scenario) -> float:
    raised = max(0.0, s.table_wru - NEW_TABLE_WRU.value)
    return raised * ASSUMED["warm throughput price: provisioned WCU-hour per unit raised, once ($)"]


def record(o: Outcome) -> dict:
    s = o.scenario
    caught = o.caught_up
    lag = o.lag_p99
    return {
        "design": s.design,
        "built": s.design in BUILT,
        "route": s.route,
        "offered_per_s": s.rate,
        "seconds": float(s.seconds),
        "prefix_depth": s.prefix_depth,
        "bucket_prefixes": s.bucket_prefixes or s.busy_prefixes,
        "busy_prefixes": s.busy_prefixes,
        "latency_factor": float(s.latency_factor),
        "records_per_batch": round(o.records_per_batch, 2),
        "applied_per_s": round(o.applied_in_burst / s.seconds, 1),
        "lost": o.lost,
        "caught_up_s": None if caught is None else round(caught, 1),
        "usd_per_million": round(o.usd_per_million, 3),
        "goal": s.goal,
        "versioned": s.versioned,
        "max_concurrency": s.max_concurrency,
        "batch_size": s.forced_batch or s.batch_size,
        "window_s": s.window,
        "table_wru_per_s": s.table_wru,
        "key_partitions": s.key_shards,
        "fold_window_s": s.fold_window if s.design in FOLDING else None,
        "totals_lag_p99_s": None if lag is None else round(lag, 2),
        "conflicts_per_1000": round(1000 * o.conflicts / o.sent, 1) if o.sent else 0.0,
        "dead_lettered": o.dead_lettered,
        "still_pending": o.pending - o.dead_lettered,
        "sent": o.sent,
        "usd_per_million_by_service": {
            k: round(v / o.applied * 1e6, 4) if o.applied else 0.0 for k, v in o.cost.items()
        },
        "warm_throughput_usd_once": round(warm_usd_once(s), 2),
        "idle_usd_per_stack_month": round(idle_usd_per_stack_month(), 3),
    }


def run_all(chosen: list[Scenario] | None = None) -> list[dict]:
    return [record(run(s, s.seconds + SETTLE)) for s in (chosen or scenarios())]


# -- readable tables ---------------------------------------------------------------------------
def _design(r: dict) -> str:
    return r["design"] if r["built"] else f"{r['design']} (not built)"


def _caught(r: dict) -> str:
    if r["caught_up_s"] is None:
        return f"never ({r['still_pending'] + r['dead_lettered']:,} left)"
    return "< 1 s" if r["caught_up_s"] < 1 else f"{r['caught_up_s']:,.0f} s"


def _settings(r: dict) -> str:
    if r["route"] == "direct":
        return f"direct (S3 invokes), table {r['table_wru_per_s']:,.0f} WRU/s"
    return ("EventBridge rule to the queue, " if r["route"] == "eventbridge" else "") + (f"MaxConc {r['max_concurrency']}, table {r['table_wru_per_s']:,.0f} WRU/s"
            + (f", x{r['latency_factor']:g} latency" if r["latency_factor"] != 1 else ""))  # fmt: skip


def throughput_table(rows: list[dict]) -> Table:
    t = Table(["design", "settings", "offered/s", "applied/s", "lost", "caught up after",
               "conflicts per 1,000", "totals lag p99", "$ per million"])  # fmt: skip
    for r in rows:
        lag = r["totals_lag_p99_s"]
        t.add(_design(r), _settings(r), f"{r['offered_per_s']:,}", f"{r['applied_per_s']:,.0f}",
              f"{r['lost']:,}", _caught(r), f"{r['conflicts_per_1000']:g}",
              "-" if lag is None else f"{lag:.1f} s", f"{r['usd_per_million']:.2f}")  # fmt: skip
    return t


def batch_table(rows: list[dict]) -> Table:
    names = list(rows[0]["usd_per_million_by_service"])
    t = Table(["design", "offered/s", "records per batch (mean)", *names, "$ per million",
               "totals lag p99"])  # fmt: skip
    for r in rows:
        by, lag = r["usd_per_million_by_service"], r["totals_lag_p99_s"]
        t.add(_design(r), f"{r['offered_per_s']:,}", f"{r['records_per_batch']:g}",
              *[f"{by[n]:.3f}" for n in names], f"{r['usd_per_million']:.2f}",
              "-" if lag is None else f"{lag:.1f} s")  # fmt: skip
    return t


def cost_table(rows: list[dict]) -> Table:
    names = list(rows[0]["usd_per_million_by_service"])
    t = Table(["design", "fold window", "goal (records per batch)", "keys", "busy prefixes",
               "bucket's prefixes",
               "records per batch (mean)", *names, "total $ per million", "target",
               "totals lag p99"])  # fmt: skip
    for r in rows:
        goal = next(g for g, (b, _, _) in GOALS.items() if b == r["batch_size"])
        by = r["usd_per_million_by_service"]
        ok = r["usd_per_million"] <= TARGETS[goal]
        lag = r["totals_lag_p99_s"]
        window = "-" if r["fold_window_s"] is None else f"{r['fold_window_s']:g} s"
        t.add(_design(r), window, goal, "versioned" if r["versioned"] else "unversioned",
              f"{r['busy_prefixes']:,}", f"{r['bucket_prefixes']:,}", f"{r['records_per_batch']:g}", *[f"{by[n]:.3f}" for n in names],
              f"{r['usd_per_million']:.2f}",
              "-" if r["versioned"] else
              f"{'' if r['goal'] else '(what-if) '}<= {TARGETS[goal]:.2f}: {'met' if ok else 'missed'}",
              "-" if lag is None else f"{lag:.1f} s")  # fmt: skip
    return t


def tables(rows: list[dict]) -> dict[str, Table]:
    def pick(**want) -> list[dict]:
        return [r for r in rows if all(r[k] == v for k, v in want.items())]

    sqs = [r for r in rows if r["route"] == "sqs"]
    # Each fold design at what it ships (the others run at the shipped 2 unless a table asks
    # for more): not the what-ifs at the fold path's concurrency before this release.
    shipped = [
        r for r in sqs if r["design"] not in FOLDING or r["max_concurrency"] != AS_FIRST_SHIPPED
    ]
    sweep = [r for r in sqs if r["goal"] in (None, "burst") and r["batch_size"] == 100
             and r["latency_factor"] == 1 and r["max_concurrency"] == 50]  # fmt: skip
    return {
        "goals: 20,000 events/s for 60 s, one bucket": throughput_table(pick(goal="burst")),
        "ceiling sweep (MaximumConcurrency 50, table at its 40,000 WRU/s quota)": throughput_table(
            sweep
        ),
        "ordinary rates at the shipped defaults: batches as the mapping forms them": batch_table(
            [
                r
                for r in shipped
                if r["offered_per_s"] in ORDINARY_RATES
                and r["goal"] is None
                and r["batch_size"] == 100
                and r["seconds"] == 60
            ]
        ),
        "the fold path at MaximumConcurrency 2 (as it first shipped) against 30 (what ships)": (
            throughput_table(
                [
                    r
                    for r in sqs
                    if r["design"] == "stream-fold"
                    and r["table_wru_per_s"] == NEW_TABLE_WRU.value
                    and r["batch_size"] == 100
                    and r["latency_factor"] == 1
                    and (
                        r["max_concurrency"] == AS_FIRST_SHIPPED
                        or r["offered_per_s"] in PREFIX_RATES
                    )
                ]
            )
        ),
        "20,000/s: the least settings stream-fold needs": throughput_table(
            [
                r
                for r in sqs
                if r["design"] == "stream-fold" and r["table_wru_per_s"] == LEAST_WARM_WRU
            ]
        ),
        "20,000/s at the shipped defaults (a new table; MaximumConcurrency 2, on the fold "
        f"designs {FOLD_MAX_CONCURRENCY})": throughput_table(
            [
                r
                for r in shipped
                if r["offered_per_s"] == 20_000
                and r["table_wru_per_s"] == NEW_TABLE_WRU.value
                and r["latency_factor"] == 1
            ]
        ),
        "latency sensitivity at 20,000/s": throughput_table(
            [
                r
                for r in sqs
                if r["offered_per_s"] == 20_000
                and r["max_concurrency"] == 50
                and r["goal"] in (None, "burst")
            ]
        ),
        "cost goals (sqs route, prefix depth 1, shipped defaults)": cost_table(
            [
                r
                for r in sqs
                if r["batch_size"] in (1, 5)
                or (r["batch_size"] == 100 and r["offered_per_s"] == 1_000 and r["seconds"] == 20)
            ]
        ),
        "other routes": throughput_table([r for r in rows if r["route"] != "sqs"]),
    }


def section() -> Section:
    rows = run_all()
    burst = {r["design"]: r for r in rows if r["goal"] == "burst"}
    shown = tables(rows)
    order = "; ".join(f"({i}) {title}" for i, title in enumerate(shown, 1))
    return Section(
        "7. AWS model: the write paths against the goals",
        __doc__.split("\n\n", 2)[2] + f"\n\nThe tables, in order: {order}.",
        tables=list(shown.values()),
        notes=[
            f"Idle cost of one stack's queue: ${idle_usd_per_stack_month():.2f} a month (empty "
            "receives of five long-polling pollers).",
            "The figures the model runs on:\n\n" + limits_markdown(),
        ],
        highlights=[
            "AWS model, 20,000 events/s for 60 s: "
            + "; ".join(
                f"{d} {r['applied_per_s']:,.0f}/s applied, caught up {_caught(r)}"
                for d, r in burst.items()
            )
        ],
    )


def main(argv: list[str]) -> int:
    rows = run_all()
    if "--json" in argv:
        print(json.dumps(rows, indent=1))
        return 0
    for title, table in tables(rows).items():
        print(f"### {title}\n\n{table.markdown()}\n")
    print(f"Idle cost per stack: ${idle_usd_per_stack_month():.2f} a month.")
    return 0


def quick(design: str, **kw) -> dict:
    """One scenario's record, for a look from the shell."""
    s = replace(Scenario(design), **{**design_defaults(design), **kw})
    return record(run(s, s.seconds + SETTLE))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
