"""S3's storage prices: the dated table shipped in the package, or a user's own (--prices FILE).

A table is JSON: ``{"source": URL, "as_of": "YYYY-MM-DD", "regions": {REGION: {CLASS: RATE}}}``
where RATE is USD per GB-month (GB = 2^30 bytes), either one number or a list of tiers
``[{"up_to_gb": 51200, "usd": 0.023}, ..., {"up_to_gb": null, "usd": 0.021}]``. Every region
prices STANDARD: unfinished uploads, and every byte when classes are not tracked, are priced so.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from s3sizer.errors import UsageError

PACKAGED = "prices.json"
# The classes S3 stores objects in (the x-amz-storage-class values that have a storage price).
STORAGE_CLASSES = (
    "STANDARD",
    "INTELLIGENT_TIERING",
    "STANDARD_IA",
    "ONEZONE_IA",
    "GLACIER_IR",
    "GLACIER",
    "DEEP_ARCHIVE",
    "REDUCED_REDUNDANCY",
    "EXPRESS_ONEZONE",
)
FALLBACK_REGION = "us-east-1"
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", re.ASCII)


@dataclass(frozen=True)
class Tier:
    up_to_gb: float | None  # None: no upper bound
    usd: float


@dataclass(frozen=True)
class RegionPrices:
    region: str
    as_of: str
    source: str
    rates: dict[str, tuple[Tier, ...]]

    def rate(self, storage_class: str) -> tuple[Tier, ...]:
        """A class the table does not price is priced as STANDARD (said in docs/costs.md)."""
        return self.rates.get(storage_class) or self.rates["STANDARD"]


def packaged_table() -> dict:
    from importlib import resources

    text = resources.files("s3sizer.costs").joinpath(PACKAGED).read_text(encoding="utf-8")
    return json.loads(text)


def load(region: str, path: Path | None = None) -> RegionPrices:
    """The prices of ``region`` from the user's table, or the packaged one.

    A region the table lacks takes the table's only region, else us-east-1's prices; the
    result names the region whose prices it holds.
    """
    if path is None:
        table, origin = packaged_table(), "the packaged price table"
    else:
        table, origin = read_user_table(path), str(path)
    regions = check_table(table, origin)
    if region in regions:
        chosen = region
    elif len(regions) == 1:
        chosen = next(iter(regions))
    elif FALLBACK_REGION in regions:
        chosen = FALLBACK_REGION
    else:
        raise UsageError(
            f"{origin} has no prices for {region} (it has {', '.join(sorted(regions))})",
            f'add a "{region}" entry under "regions"',
        )
    return RegionPrices(chosen, table["as_of"], table.get("source", origin), regions[chosen])


def read_user_table(path: Path) -> dict:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or type(exc).__name__
        raise UsageError(
            f"Cannot read the price table {path}: {reason}", "check the path"
        ) from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise UsageError(
            f"The price table {path} is not JSON: {exc.msg} at line {exc.lineno}",
            "fix it (docs/costs.md shows the format)",
        ) from None


def check_table(table, origin: str) -> dict[str, dict[str, tuple[Tier, ...]]]:
    """The table's regions with their tiers, or a UsageError naming the first problem."""

    def bad(problem: str):
        return UsageError(
            f"The price table {origin} is malformed: {problem}",
            "fix it (docs/costs.md shows the format)",
        )

    if not isinstance(table, dict):
        raise bad("it must be a JSON object")
    as_of = table.get("as_of")
    if not isinstance(as_of, str) or not _DATE.fullmatch(as_of) or not _is_date(as_of):
        raise bad('"as_of" must be the date of the prices, as YYYY-MM-DD')
    if "source" in table and not isinstance(table["source"], str):
        raise bad('"source" must be text (where the prices come from)')
    regions = table.get("regions")
    if not isinstance(regions, dict) or not regions:
        raise bad('"regions" must map at least one region to its prices')
    checked = {}
    for region, classes in regions.items():
        if not isinstance(classes, dict) or "STANDARD" not in classes:
            raise bad(f"region {region!r} must price at least STANDARD")
        rates = {}
        for name, rate in classes.items():
            if name not in STORAGE_CLASSES:
                raise bad(
                    f"{region}: {name!r} is not a storage class ({', '.join(STORAGE_CLASSES)})"
                )
            rates[name] = _tiers(rate, f"{region} {name}", bad)
        checked[region] = rates
    return checked


def _tiers(rate, where: str, bad) -> tuple[Tier, ...]:
    if _is_price(rate):
        return (Tier(None, float(rate)),)
    if not isinstance(rate, list) or not rate:
        raise bad(f"{where}: a rate is a number of USD per GB-month, or a list of tiers")
    tiers, previous = [], 0.0
    for i, tier in enumerate(rate):
        last = i == len(rate) - 1
        if not isinstance(tier, dict) or set(tier) != {"up_to_gb", "usd"}:
            raise bad(f'{where}: each tier is {{"up_to_gb": GB or null, "usd": PRICE}}')
        bound, usd = tier["up_to_gb"], tier["usd"]
        if not _is_price(usd):
            raise bad(f"{where}: a tier's usd must be a number of 0 or more")
        if last and bound is not None:
            raise bad(f'{where}: the last tier has "up_to_gb": null (no upper bound)')
        if not last and (not _is_price(bound) or bound <= previous):
            raise bad(f"{where}: the tiers' up_to_gb must grow, and only the last is null")
        tiers.append(Tier(None if bound is None else float(bound), float(usd)))
        previous = bound if bound is not None else previous
    return tuple(tiers)


def _is_price(value) -> bool:
    ok = isinstance(value, int | float) and not isinstance(value, bool)
    return ok and math.isfinite(value) and value >= 0


def _is_date(text: str) -> bool:
    try:
        date.fromisoformat(text)
    except ValueError:
        return False
    return True
