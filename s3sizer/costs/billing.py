"""S3's documented storage billing rules, applied to byte and object counts.

- STANDARD_IA, ONEZONE_IA and GLACIER_IR bill an object smaller than 128 KB as 128 KB.
- GLACIER and DEEP_ARCHIVE add, per object, 8 KB billed at STANDARD's rate (its name and
  metadata) and 32 KB at the class's own rate (its index).
- The parts of an unfinished multipart upload are billed as STANDARD.
- Storage is billed per GB-month with GB = 2^30 bytes; a tiered class is priced by the bytes
  up to each tier's bound (here per bucket: AWS applies the tiers to the account's total).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from s3sizer.costs.prices import RegionPrices, Tier

KB, GB = 1024, 2**30
MIN_BILLABLE_SIZE = 128 * KB
MIN_SIZE_CLASSES = ("STANDARD_IA", "ONEZONE_IA", "GLACIER_IR")
ARCHIVE_CLASSES = ("GLACIER", "DEEP_ARCHIVE")
ARCHIVE_STANDARD_OVERHEAD = 8 * KB
ARCHIVE_CLASS_OVERHEAD = 32 * KB


@dataclass(frozen=True)
class ClassUsage:
    """What one storage class holds: its bytes, its objects (every version counts), and the
    bytes the minimum billable size adds to its small objects (0 when not known)."""

    bytes: int
    objects: int = 0
    padding: int = 0


def billable_object(storage_class: str, size: int) -> dict[str, int]:
    """The bytes one object (or version) is billed for, by the class whose rate applies."""
    if storage_class in MIN_SIZE_CLASSES:
        return {storage_class: max(size, MIN_BILLABLE_SIZE)}
    if storage_class in ARCHIVE_CLASSES:
        return {
            storage_class: size + ARCHIVE_CLASS_OVERHEAD,
            "STANDARD": ARCHIVE_STANDARD_OVERHEAD,
        }
    return {storage_class: size}


def padding_of(storage_class: str, size: int) -> int:
    """What the minimum billable size adds to one object (a tracker keeps the sum per class)."""
    return max(MIN_BILLABLE_SIZE - size, 0) if storage_class in MIN_SIZE_CLASSES else 0


def billable_by_class(usage: Mapping[str, ClassUsage], upload_bytes: int = 0) -> dict[str, int]:
    """The billable bytes of each class's rate: the bytes, the minimum sizes' padding, the
    archive classes' per-object overhead, and the unfinished uploads' parts at STANDARD."""
    billed: dict[str, int] = {}

    def add(storage_class: str, amount: int) -> None:
        billed[storage_class] = billed.get(storage_class, 0) + amount

    for storage_class, held in usage.items():
        add(storage_class, held.bytes)
        if storage_class in MIN_SIZE_CLASSES:
            add(storage_class, held.padding)
        if storage_class in ARCHIVE_CLASSES:
            add(storage_class, held.objects * ARCHIVE_CLASS_OVERHEAD)
            add("STANDARD", held.objects * ARCHIVE_STANDARD_OVERHEAD)
    add("STANDARD", upload_bytes)
    return billed


def monthly_cost(billed: Mapping[str, int], prices: RegionPrices) -> float:
    """USD per month for holding these billable bytes a whole month."""
    return sum(tiered_cost(amount, prices.rate(c)) for c, amount in billed.items())


def tiered_cost(amount: int, tiers: tuple[Tier, ...]) -> float:
    gigabytes, floor, cost = amount / GB, 0.0, 0.0
    for tier in tiers:
        top = gigabytes if tier.up_to_gb is None else min(gigabytes, tier.up_to_gb)
        if top > floor:
            cost += (top - floor) * tier.usd
        if tier.up_to_gb is None or gigabytes <= tier.up_to_gb:
            break
        floor = tier.up_to_gb
    return cost


def usd(amount: float) -> float:
    """Dollars as shown: to the hundredth of a cent, so small buckets do not all show 0.0."""
    return round(amount, 4)
