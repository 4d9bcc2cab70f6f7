"""The `storage` breakdown of a bucket, from its raw TOTALS and UPLOADS items, with its dollars.

Items written before the breakdown counters existed have none: an absent counter reads as 0.
"""

from __future__ import annotations

from dataclasses import dataclass

from s3sizer.costs import billing
from s3sizer.costs.prices import RegionPrices


def number(item: dict | None, name: str) -> int:
    return int((item or {}).get(name, {"N": "0"})["N"])


def text(item: dict | None, name: str) -> str | None:
    value = (item or {}).get(name)
    return value["S"] if value and "S" in value else None


@dataclass(frozen=True)
class Usage:
    """What a bucket holds, as the bill counts it: per class, and its unfinished uploads."""

    by_class: dict[str, billing.ClassUsage]
    upload_bytes: int
    basis: str  # "classes" when storage classes are tracked, else "standard"

    def billed(self, extra_standard_bytes: int = 0) -> dict[str, int]:
        return billing.billable_by_class(self.by_class, self.upload_bytes + extra_standard_bytes)


def classes_of(totals: dict | None) -> dict[str, dict] | None:
    """The per-class counters when classes are tracked (the TOTALS item's switch), else None.

    The item holds one flat attribute per class and figure for the classes other than STANDARD
    (docs/tracking.md); STANDARD holds what they do not: every version looked up in no other
    class, or not looked up at all, is in S3's default class.
    """
    from s3sizer.lambdas import layout as lay
    from s3sizer.lambdas.versions import CLASS_FIGURES

    if not lay.tracks_classes(totals):
        return None
    others = {c: f for c, f in lay.classes_from(totals).items() if any(f)}
    held = [
        number(totals, name)
        for name in ("total_size", "noncurrent_bytes", "object_count", "noncurrent_versions")
    ]
    standard = [h - sum(f[i] for f in others.values()) for i, h in enumerate(held)] + [0]
    found = {"STANDARD": standard, **others}
    return {
        c: {name: {"N": str(x)} for name, x in zip(CLASS_FIGURES, f, strict=True)}
        for c, f in found.items()
    }


def usage_of(totals: dict | None, uploads: dict | None) -> Usage:
    classes = classes_of(totals)
    upload_bytes = number(uploads, "bytes")
    if classes is None:
        held = billing.ClassUsage(
            bytes=number(totals, "total_size") + number(totals, "noncurrent_bytes"),
            objects=number(totals, "object_count") + number(totals, "noncurrent_versions"),
        )
        return Usage({"STANDARD": held}, upload_bytes, "standard")
    by_class = {
        name: billing.ClassUsage(
            bytes=number(c, "current_bytes") + number(c, "noncurrent_bytes"),
            objects=number(c, "objects") + number(c, "noncurrent_versions"),
            padding=number(c, "padding_bytes"),
        )
        for name, c in classes.items()
    }
    return Usage(by_class, upload_bytes, "classes")


def storage(totals: dict | None, uploads: dict | None, prices: RegionPrices) -> dict:
    """The `storage` object of `status --json` (README, "What you pay for")."""
    usage = usage_of(totals, uploads)
    billed = usage.billed()
    classes = classes_of(totals)
    return {
        "current": {
            "bytes": number(totals, "total_size"),
            "objects": number(totals, "object_count"),
        },
        "noncurrent": {
            "bytes": number(totals, "noncurrent_bytes"),
            "versions": number(totals, "noncurrent_versions"),
        },
        "delete_markers": number(totals, "delete_markers"),
        "incomplete_uploads": {
            "bytes": usage.upload_bytes,
            "uploads": number(uploads, "uploads"),
            "oldest": text(uploads, "oldest"),
            "checked_at": text(uploads, "checked_at"),
        },
        "by_class": None
        if classes is None
        else {
            name: {
                "current_bytes": number(c, "current_bytes"),
                "noncurrent_bytes": number(c, "noncurrent_bytes"),
                "objects": number(c, "objects"),
            }
            for name, c in sorted(classes.items())
        },
        "billable_bytes": sum(billed.values()),
        "monthly_cost_usd": billing.usd(billing.monthly_cost(billed, prices)),
        "prices": {"region": prices.region, "as_of": prices.as_of, "basis": usage.basis},
    }


def projected_cost(usage: Usage, prices: RegionPrices, extra_bytes: int) -> float:
    """The monthly cost with ``extra_bytes`` more (or fewer) held: new objects land in
    STANDARD unless a request says otherwise, so a growth is priced as STANDARD."""
    billed = usage.billed()
    billed["STANDARD"] = max(billed.get("STANDARD", 0) + extra_bytes, 0)
    return billing.usd(billing.monthly_cost(billed, prices))
