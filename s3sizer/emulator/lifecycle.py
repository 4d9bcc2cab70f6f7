"""S3 lifecycle rules, run on the emulator's buckets on a clock a test can speed up or advance.

A background thread runs the rules of every bucket every `clock.sweep_interval` seconds (a minute
with real days; at most a second with a sped-up day). `run(days=N)` runs them once as of N
lifecycle days from now: the emulator's `POST /_s3sizer/lifecycle/advance?days=N` and
`Emulator.run_lifecycle(N)` call it.

Each key is decided and changed under the S3 write lock, and its events published there, so a
lifecycle change and a client's write to the same key are ordered, sequencers included. The
events are the ones S3 sends (lifecycle-configure-notification, ev-events):
`s3:LifecycleExpiration:Delete` for an object or version removed for good (a delete marker too),
`s3:LifecycleExpiration:DeleteMarkerCreated` for the marker an expiration adds on a versioned
bucket, `s3:LifecycleTransition` for a version a Transition or NoncurrentVersionTransition moves
(transitions.move_version); aborted uploads send nothing.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import asdict, dataclass

from . import lifecycle_rules
from .controls import serve_advance
from .lifecycle_rules import LifecycleClock, Plan, VersionView
from .patches.s3 import publish
from .patches.s3_lifecycle import INITIATED, stored_rules, version_view
from .ticker import Ticker
from .transitions import move_version
from .wsgi import S3_WRITE_LOCK, service_lock

logger = logging.getLogger("s3sizer.emulator")

CONTROL_PATH = "/_s3sizer/lifecycle/advance"
DELETE = "s3:LifecycleExpiration:Delete"
MARKER_CREATED = "s3:LifecycleExpiration:DeleteMarkerCreated"


@dataclass
class RunReport:
    """What one lifecycle run did, across every bucket."""

    as_of: str = ""
    objects_expired: int = 0  # unversioned buckets: current objects removed
    delete_markers_created: int = 0  # versioned buckets: current versions expired
    versions_deleted: int = 0  # noncurrent versions removed for good
    delete_markers_removed: int = 0  # expired object delete markers removed
    uploads_aborted: int = 0
    versions_transitioned: int = 0  # current or noncurrent versions moved to another class


class LifecycleEngine(Ticker):
    thread_name = "s3sizer-emulator-lifecycle"
    what = "a lifecycle run"

    def __init__(self, clock: LifecycleClock):
        super().__init__()
        self.clock = clock
        self._run_lock = threading.Lock()  # one run at a time: the timer's or a test's

    def tick_seconds(self) -> float:
        return self.clock.sweep_interval

    def run(self, days: float = 0.0) -> RunReport:
        """Apply every bucket's rules once, as of `days` lifecycle days from now."""
        from moto.core.utils import utcnow
        from moto.s3.models import s3_backends

        with self._run_lock:
            as_of = self.clock.later(utcnow(), days)
            report = RunReport(as_of=as_of.isoformat(timespec="milliseconds") + "Z")
            for per_partition in list(s3_backends.values()):
                for backend in list(per_partition.values()):
                    for bucket in list(backend.buckets.values()):
                        rules = [rule for rule in stored_rules(bucket) if rule.enabled]
                        if rules:
                            self._run_bucket(backend, bucket, rules, as_of, report)
            return report

    def _run_bucket(self, backend, bucket, rules, as_of, report: RunReport) -> None:
        for key_name in list(bucket.keys.keys()):
            if self._stopped.is_set():
                return
            with service_lock(S3_WRITE_LOCK):
                versions = bucket.keys.getlist(key_name, default=[])
                views = [version_view(backend, version) for version in versions]
                plan = lifecycle_rules.plan_key(
                    key_name, views, bucket.versioning_status is not None, rules, self.clock, as_of
                )
                if not plan.empty:
                    _apply(bucket, key_name, versions, views, plan, report)
        for upload in list(bucket.multiparts.values()):
            initiated = getattr(upload, INITIATED, None)
            if initiated is None:  # started before the emulator's patches: counted from now
                from moto.core.utils import utcnow

                setattr(upload, INITIATED, utcnow())
                continue
            if lifecycle_rules.upload_due(upload.key_name, initiated, rules, self.clock, as_of):
                with service_lock(S3_WRITE_LOCK):
                    if bucket.multiparts.pop(upload.id, None) is not None:
                        upload.dispose()
                        report.uploads_aborted += 1


def _apply(bucket, key_name: str, versions: list, views: list, plan: Plan, report) -> None:
    """Change moto's model as S3 would, then send each change's event (the write lock is held)."""
    from moto.s3.models import FakeDeleteMarker

    def removed(version, view: VersionView) -> None:
        etag = None if view.is_marker else version.etag.strip('"')
        remaining = [v for v in bucket.keys.getlist(key_name, default=[]) if v is not version]
        if remaining:
            bucket.keys.setlist(key_name, remaining)  # disposes the removed object's value
        else:
            if not view.is_marker:  # moto's pop would dispose markers too, which have no value
                version.dispose()
            dict.pop(bucket.keys, key_name, None)
        version_id = None if bucket.versioning_status is None else view.version_id
        publish(bucket.account_id, DELETE, bucket, key_name, None, etag, version_id)

    moving = {id(view): storage_class for view, storage_class in plan.move}
    for version, view in zip(versions, views, strict=True):
        if id(view) in moving:
            move_version(bucket, key_name, version, moving[id(view)])
            report.versions_transitioned += 1
    removing = {id(view) for view in plan.remove}
    for version, view in zip(versions, views, strict=True):
        if id(view) in removing:
            removed(version, view)
            if view.is_marker:
                report.delete_markers_removed += 1
            else:
                report.versions_deleted += 1
    if not plan.expire_current:
        return
    current, current_view = versions[-1], views[-1]
    if bucket.versioning_status is None:
        removed(current, current_view)
        report.objects_expired += 1
        return
    marker = FakeDeleteMarker(key=current)
    if bucket.versioning_status != "Enabled":
        # Suspended: the marker is the "null" version and replaces any other "null" version.
        marker._version_id = "null"
        kept = [v for v in bucket.keys.getlist(key_name, default=[]) if v.version_id != "null"]
        bucket.keys.setlist(key_name, kept)
    bucket.keys[key_name] = marker  # appends: the marker is the current version
    publish(bucket.account_id, MARKER_CREATED, bucket, key_name, None, None, marker.version_id)
    report.delete_markers_created += 1


# --- The emulator's control endpoint -------------------------------------------------------

_engine: LifecycleEngine | None = None


def set_engine(engine: LifecycleEngine | None) -> None:
    global _engine
    _engine = engine


def serve_control(environ, start_response):
    """POST /_s3sizer/lifecycle/advance?days=N: one lifecycle run as of N days from now."""
    return serve_advance(
        environ,
        start_response,
        path=CONTROL_PATH,
        amount="days",
        maximum=99_999,
        advance=None if _engine is None else _timed_run,
        stopped="The lifecycle engine is stopped",
    )


def _timed_run(days: float) -> dict:
    started = time.monotonic()
    report = asdict(_engine.run(days))
    report["seconds"] = round(time.monotonic() - started, 3)
    return report
