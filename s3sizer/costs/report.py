"""The breakdown, dollars and growth that `status` adds to a stack's totals (docs/costs.md)."""

from __future__ import annotations

from pathlib import Path

from s3sizer import growth
from s3sizer.costs import prices as price_table
from s3sizer.costs import storage as st


def load_prices(ctx, path: Path | None) -> price_table.RegionPrices:
    """Read (and check) the prices first: a bad table stops the command before any request."""
    return price_table.load(ctx.config.region, path)


def bucket_money(history, bucket: str, items: dict, prices) -> dict:
    """`storage` and `growth` of one bucket: its items (read beforehand, in one batch) and
    two to three one-item Queries of its history."""
    totals, uploads = items.get("TOTALS"), items.get("UPLOADS")
    size_now = st.number(totals, "total_size")
    per_day = growth.rates(history, bucket, size_now)
    week = per_day[7]
    added = 0 if week is None else round(growth.PROJECTION_DAYS * week)
    usage = st.usage_of(totals, uploads)
    return {
        "storage": st.storage(totals, uploads, prices),
        "growth": {
            "bytes_per_day_1d": per_day[1],
            "bytes_per_day_7d": week,
            "projected_size_30d": growth.projected_size(size_now, week),
            "projected_monthly_cost_usd_30d": None
            if week is None
            else st.projected_cost(usage, prices, added),
        },
    }


def usage_of(ctx) -> dict:
    """The stack's bucket's raw ``TOTALS`` and ``UPLOADS`` items (None when absent)."""
    from s3sizer.lambdas.usage import usage_items

    return usage_items(ctx.history.history, [ctx.bucket])[ctx.bucket]


def status_fields(ctx, prices, items: dict) -> dict:
    """What `status --json` gains for the stack's bucket (``items``: ``usage_of``, read once
    with its row): `storage` and `growth`."""
    return bucket_money(ctx.history.history, ctx.bucket, items, prices)


def prefix_fields(ctx, entries: list[dict]) -> list[dict]:
    """`status --by-prefix` entries gain `noncurrent_bytes` and `bytes_per_day_7d`: one Query
    of the prefixes' items, and two one-item Queries per prefix listed."""
    history = ctx.history.history
    noncurrent = {
        item["prefix"]["S"]: st.number(item, "noncurrent_bytes")
        for item in history.prefix_items(ctx.bucket)
    }
    for entry in entries:
        entry["noncurrent_bytes"] = noncurrent.get(entry["prefix"], 0)
        week = growth.rates(
            history, ctx.bucket, entry["total_size"], prefix=entry["prefix"], days=(7,)
        )
        entry["bytes_per_day_7d"] = week[7]
    return entries
