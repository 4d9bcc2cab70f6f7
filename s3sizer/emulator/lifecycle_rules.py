"""S3 lifecycle rules as data, the lifecycle clock, and what one run decides for one key.

Nothing here touches moto: the engine (lifecycle.py) reads the bucket, hands each key's versions
here as VersionView values, and applies the Plan that comes back.

AWS's rules, as its user guide states them (lifecycle-expire-general-considerations,
ManagingDelMarkers, intro-lifecycle-rules):
- Expiration (Days or Date) acts on the current version only: on an unversioned bucket the
  object is removed; on a versioned (or suspended) bucket a delete marker is added. Nothing is
  done when the current version is a delete marker with versions under it.
- A delete marker that is the only version left (an "expired object delete marker") is removed
  by ExpiredObjectDeleteMarker, or by an Expiration with Days/Date once the marker is old
  enough for it.
- NoncurrentVersionExpiration deletes a version NoncurrentDays after it became noncurrent (when
  the next newer version was written), keeping the NewerNoncurrentVersions newest ones.
- AbortIncompleteMultipartUpload aborts an upload DaysAfterInitiation after it was started.
- Transition (Days or Date) moves the current version, NoncurrentVersionTransition a noncurrent
  one (NoncurrentDays after it became noncurrent, keeping the NewerNoncurrentVersions newest),
  to a colder storage class; S3 only moves objects down its waterfall (COLDER_THAN), so a
  version is never moved to a class warmer than, or equal to, its own.
- Days count from the object's time and round up to the next midnight UTC.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

REAL_DAY_SECONDS = 86_400.0
# S3's transition waterfall, warmest first (lifecycle-transition-general-considerations).
WATERFALL = ("STANDARD", "REDUCED_REDUNDANCY", "STANDARD_IA", "INTELLIGENT_TIERING", "ONEZONE_IA",
             "GLACIER_IR", "GLACIER", "DEEP_ARCHIVE")  # fmt: skip


# Down the waterfall, yet made by no rule (lifecycle-transition-general-considerations,
# "Unsupported lifecycle transitions"): into Reduced Redundancy (below), and this.
_UNSUPPORTED = {("ONEZONE_IA", "GLACIER_IR")}


def colder(target: str, current: str) -> bool:
    """Whether a lifecycle rule can move a version in ``current`` to ``target``."""
    if target not in WATERFALL or current not in WATERFALL:
        return False
    if target == "REDUCED_REDUNDANCY" or (current, target) in _UNSUPPORTED:
        return False
    return WATERFALL.index(target) > WATERFALL.index(current)


@dataclass(frozen=True)
class Transition:
    storage_class: str
    days: int | None = None  # Days, or NoncurrentDays for a noncurrent transition
    date: datetime | None = None  # naive UTC
    newer_noncurrent_versions: int = 0


@dataclass(frozen=True)
class LifecycleClock:
    """How long a lifecycle day lasts, and when something that many days old is due.

    With real days the due time rounds up to the next midnight UTC, as AWS does. With a
    sped-up day (fewer seconds) there is no rounding: due = since + days x day_seconds, which is
    what Ceph RGW's rgw_lc_debug_interval does too.
    """

    day_seconds: float = REAL_DAY_SECONDS

    @property
    def sped_up(self) -> bool:
        return self.day_seconds < REAL_DAY_SECONDS

    @property
    def sweep_interval(self) -> float:
        """Seconds between two runs: a fraction of a sped-up day (at most 1 s), else a minute."""
        if self.sped_up:
            return min(1.0, max(self.day_seconds / 2, 0.05))
        return 60.0

    def due(self, since: datetime, days: int) -> datetime:
        if self.sped_up:
            return since + timedelta(seconds=days * self.day_seconds)
        moment = since + timedelta(days=days)
        midnight = moment.replace(hour=0, minute=0, second=0, microsecond=0)
        return midnight if midnight == moment else midnight + timedelta(days=1)

    def later(self, now: datetime, days: float) -> datetime:
        """The moment `days` lifecycle days after now."""
        return now + timedelta(seconds=days * self.day_seconds)


REAL_DAYS = LifecycleClock()


@dataclass(frozen=True)
class Filter:
    prefix: str = ""
    tags: Mapping[str, str] = field(default_factory=dict)
    size_greater_than: int | None = None
    size_less_than: int | None = None

    @property
    def needs_object(self) -> bool:
        """A filter on tags or size selects objects only: delete markers have neither."""
        return (
            bool(self.tags)
            or self.size_greater_than is not None
            or (self.size_less_than is not None)
        )

    def matches(self, key: str, version: VersionView) -> bool:
        if not key.startswith(self.prefix):
            return False
        if version.is_marker:
            return not self.needs_object
        if self.size_greater_than is not None and not version.size > self.size_greater_than:
            return False
        if self.size_less_than is not None and not version.size < self.size_less_than:
            return False
        tags = version.tags() if self.tags else {}
        return all(tags.get(name) == value for name, value in self.tags.items())


@dataclass(frozen=True)
class Rule:
    rule_id: str
    enabled: bool
    filter: Filter
    expiration_days: int | None = None
    expiration_date: datetime | None = None  # naive UTC, like moto's times
    expired_object_delete_marker: bool = False
    noncurrent_days: int | None = None
    newer_noncurrent_versions: int = 0
    abort_days: int | None = None
    transitions: tuple[Transition, ...] = ()
    noncurrent_transitions: tuple[Transition, ...] = ()

    @property
    def expires_current(self) -> bool:
        return self.expiration_days is not None or self.expiration_date is not None

    def current_due(self, clock: LifecycleClock, since: datetime) -> datetime:
        if self.expiration_date is not None:
            return self.expiration_date
        return clock.due(since, self.expiration_days)


def parse_rule(raw: Mapping) -> Rule:
    """A rule as PutBucketLifecycleConfiguration's XML carried it (xmltodict: all strings).

    moto validated the rule already; its own model drops NewerNoncurrentVersions and the
    object-size filters, which is why the raw rule is kept.
    """
    expiration = raw.get("Expiration") or {}
    noncurrent = raw.get("NoncurrentVersionExpiration") or {}
    abort = raw.get("AbortIncompleteMultipartUpload") or {}
    return Rule(
        rule_id=str(raw.get("ID") or ""),
        enabled=raw.get("Status") == "Enabled",
        filter=_parse_filter(raw),
        expiration_days=_integer(expiration.get("Days")),
        expiration_date=parse_date(expiration.get("Date")) if expiration.get("Date") else None,
        expired_object_delete_marker=str(expiration.get("ExpiredObjectDeleteMarker")).lower()
        == "true",
        noncurrent_days=_integer(noncurrent.get("NoncurrentDays")),
        newer_noncurrent_versions=_integer(noncurrent.get("NewerNoncurrentVersions")) or 0,
        abort_days=_integer(abort.get("DaysAfterInitiation")),
        transitions=tuple(
            Transition(
                str(part.get("StorageClass")),
                days=_integer(part.get("Days")),
                date=parse_date(part.get("Date")) if part.get("Date") else None,
            )
            for part in _listed(raw.get("Transition"))
        ),
        noncurrent_transitions=tuple(
            Transition(
                str(part.get("StorageClass")),
                days=_integer(part.get("NoncurrentDays")),
                newer_noncurrent_versions=_integer(part.get("NewerNoncurrentVersions")) or 0,
            )
            for part in _listed(raw.get("NoncurrentVersionTransition"))
        ),
    )


def _listed(value) -> list:
    if not value:
        return []
    return [value] if isinstance(value, Mapping) else list(value)


def _parse_filter(raw: Mapping) -> Filter:
    if "Filter" not in raw:  # the deprecated top-level Prefix
        return Filter(prefix=raw.get("Prefix") or "")
    found = raw.get("Filter") or {}
    part = found.get("And") or found
    tags = part.get("Tag") or []
    if isinstance(tags, Mapping):
        tags = [tags]
    return Filter(
        prefix=part.get("Prefix") or "",
        tags={tag["Key"]: tag.get("Value") or "" for tag in tags},
        size_greater_than=_integer(part.get("ObjectSizeGreaterThan")),
        size_less_than=_integer(part.get("ObjectSizeLessThan")),
    )


def _integer(value) -> int | None:
    return None if value in (None, "") else int(value)


def parse_date(value) -> datetime:
    """An ISO 8601 date or time, as naive UTC (ValueError if it is none)."""
    moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return moment if moment.tzinfo is None else moment.astimezone(UTC).replace(tzinfo=None)


@dataclass(frozen=True)
class VersionView:
    """One version of a key as the rules see it; size None means a delete marker."""

    version_id: str
    last_modified: datetime  # naive UTC
    size: int | None
    tags: Callable[[], Mapping[str, str]] = dict  # read only when a rule filters on tags
    locked: bool = False  # object lock: never permanently deleted by lifecycle
    storage_class: str = "STANDARD"

    @property
    def is_marker(self) -> bool:
        return self.size is None


@dataclass
class Plan:
    """What one lifecycle run does to one key."""

    expire_current: bool = False  # unversioned: delete it; versioned: add a delete marker
    remove: list[VersionView] = field(default_factory=list)  # permanently deleted versions
    move: list[tuple[VersionView, str]] = field(default_factory=list)  # (version, new class)

    @property
    def empty(self) -> bool:
        return not self.expire_current and not self.remove and not self.move


def plan_key(
    key: str,
    versions: list[VersionView],
    versioned: bool,
    rules: list[Rule],
    clock: LifecycleClock,
    as_of: datetime,
) -> Plan:
    """Decide from the key's versions (oldest first, the last one current) as they are now.

    A run decides from one snapshot, as S3's daily run does: a version made noncurrent by this
    run's expiration, or a marker left alone by this run's deletions, waits for a later run.
    """
    plan = Plan()
    if not versions:
        return plan
    current = versions[-1]
    live = [rule for rule in rules if rule.enabled]
    if not current.is_marker:
        plan.expire_current = any(
            rule.expires_current
            and rule.filter.matches(key, current)
            and as_of >= rule.current_due(clock, current.last_modified)
            for rule in live
        )
    elif len(versions) == 1 and any(
        rule.filter.matches(key, current)
        and (
            rule.expired_object_delete_marker
            or (rule.expires_current and as_of >= rule.current_due(clock, current.last_modified))
        )
        for rule in live
    ):
        plan.remove.append(current)
    if versioned and len(versions) > 1:
        plan.remove.extend(_noncurrent_due(key, versions, live, clock, as_of))
    if not current.is_marker and not plan.expire_current:
        due = [
            t for rule in live if rule.filter.matches(key, current) for t in rule.transitions
            if as_of >= (t.date or clock.due(current.last_modified, t.days or 0))
        ]  # fmt: skip
        _move_to_coldest(plan, current, due)
    if versioned and len(versions) > 1:
        _noncurrent_moves(key, versions, live, clock, as_of, plan)
    return plan


def _move_to_coldest(plan: Plan, version: VersionView, due: list[Transition]) -> None:
    """Of the transitions due, the one furthest down the waterfall wins, as S3 skips steps."""
    targets = [t.storage_class for t in due if colder(t.storage_class, version.storage_class)]
    if targets:
        plan.move.append((version, max(targets, key=WATERFALL.index)))


def _noncurrent_moves(key, versions, rules, clock, as_of, plan: Plan) -> None:
    removed = {id(v) for v in plan.remove}
    noncurrent = [
        (versions[i], versions[i + 1].last_modified) for i in range(len(versions) - 2, -1, -1)
    ]
    due: dict[int, list[Transition]] = {}
    for rule in rules:
        for transition in rule.noncurrent_transitions:
            selected = [
                (v, since) for v, since in noncurrent
                if not v.is_marker and rule.filter.matches(key, v)
            ]  # fmt: skip
            for version, since in selected[transition.newer_noncurrent_versions :]:
                if as_of >= clock.due(since, transition.days or 0):
                    due.setdefault(id(version), []).append(transition)
    for version, _ in noncurrent:
        if id(version) in due and id(version) not in removed:
            _move_to_coldest(plan, version, due[id(version)])


def _noncurrent_due(key, versions, rules, clock, as_of) -> list[VersionView]:
    # Newest noncurrent first, each with the time it became noncurrent: its successor's.
    noncurrent = [
        (versions[i], versions[i + 1].last_modified) for i in range(len(versions) - 2, -1, -1)
    ]
    due: dict[int, VersionView] = {}
    for rule in rules:
        if rule.noncurrent_days is None:
            continue
        selected = [(v, since) for v, since in noncurrent if rule.filter.matches(key, v)]
        for version, since in selected[rule.newer_noncurrent_versions :]:
            if not version.locked and as_of >= clock.due(since, rule.noncurrent_days):
                due[id(version)] = version
    return [version for version, _ in noncurrent if id(version) in due]


def expiration_of(
    key: str, current: VersionView, rules: list[Rule], clock: LifecycleClock
) -> tuple[datetime, str] | None:
    """When the current version expires, and by which rule: the x-amz-expiration header."""
    if current.is_marker:
        return None
    due = [
        (rule.current_due(clock, current.last_modified), rule.rule_id)
        for rule in rules
        if rule.enabled and rule.expires_current and rule.filter.matches(key, current)
    ]
    return min(due) if due else None


def upload_due(
    key: str, initiated: datetime, rules: list[Rule], clock: LifecycleClock, as_of: datetime
) -> bool:
    """AbortIncompleteMultipartUpload: filters by prefix only (S3 refuses tags with it)."""
    return any(
        rule.enabled
        and rule.abort_days is not None
        and key.startswith(rule.filter.prefix)
        and not rule.filter.tags
        and as_of >= clock.due(initiated, rule.abort_days)
        for rule in rules
    )
