"""A plan's instructions as data: one frozen class per kind of step, holding exactly what its
API calls need. The planner makes every decision and writes them down here; the executor only
carries them out, and a dry run only prints them.

A value known only once an earlier step has run (the ARN of a layer version published by this
same plan) is an explicit reference, `NewLayerArn`, that the executor resolves.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from s3sizer.stack.model import BucketSettings, StackConfig


@dataclass(frozen=True)
class NewLayerArn:
    """Stands for the ARN of the layer version that this plan's PublishLayer step creates."""

    def __str__(self) -> str:
        return "(new layer version)"


class Step:
    """Base of every step: `describe` is the line the plan shows for it."""

    verb: str = ""

    @property
    def target(self) -> str:
        """What the step acts on: its first field, unless the step says otherwise."""
        return str(getattr(self, fields(self)[0].name))

    def describe(self) -> str:
        return f"{self.verb}: {self.target}"


def _step(verb: str):
    """Make a frozen dataclass step whose plan line starts with `verb`."""

    def wrap(cls):
        cls.verb = verb
        return dataclass(frozen=True)(cls)

    return wrap


# -- setup --------------------------------------------------------------------------------------


@_step("create table")
class CreateTable(Step):
    table: str
    tags: dict[str, str]


@_step("put config")
class PutConfig(Step):
    table: str
    config: StackConfig
    summary: str = ""  # which part of the config this write is for, when a plan has two
    target = property(lambda self: f"{self.table} ({self.summary})" if self.summary else self.table)


@_step("put bucket settings")
class PutBucket(Step):
    """A tracked bucket's settings items (stack/estate.py), both in one transaction."""

    table: str
    settings: BucketSettings
    stack: str
    summary: str = ""
    # What key items without ``pd`` count at, fixed by the settings item's first write.
    unmarked_depth: int | None = None  # None: the settings' own depth
    target = property(
        lambda self: (
            f"{self.settings.bucket} ({self.summary})" if self.summary else self.settings.bucket
        )
    )


@_step("forget bucket")
class ForgetBucket(Step):
    """Delete the bucket's settings (the tracker ignores it from then on), then its items."""

    table: str
    bucket: str
    target = property(lambda self: f"{self.bucket} (its items in {self.table})")


@_step("create bucket")
class CreateBucket(Step):
    bucket: str
    region: str
    tags: dict[str, str]


@_step("create role")
class CreateRole(Step):
    role: str
    description: str
    tags: dict[str, str]


@_step("put role policy")
class PutRolePolicy(Step):
    role: str
    policy: str
    document: dict = field(compare=True, repr=False)
    target = property(lambda self: self.policy)


@_step("set history ttl")
class SetHistoryTtl(Step):
    table: str
    enabled: bool
    attribute: str
    target = property(lambda self: f"{self.table} ({'on' if self.enabled else 'off'})")


@_step("record baseline")
class RecordBaseline(Step):
    """Rewrite the totals and the key index from one listing of the bucket."""

    bucket: str
    versioned: bool
    prefix_depth: int
    ttl_days: int


@_step("mark baseline owed")
class MarkBaselineDue(Step):
    """Before a change of route cuts the bucket's events: a command stopped before its
    baseline runs finds it owed when run again (baseline_ranges.mark_due)."""

    table: str
    bucket: str
    target = property(lambda self: self.bucket)


@_step("put metric alarm")
class PutAlarm(Step):
    name: str
    params: dict = field(repr=False)


@_step("put dashboard")
class PutDashboard(Step):
    name: str
    body: str = field(repr=False)  # JSON, as PutDashboard takes it (see dashboard.py)


# -- delivery -----------------------------------------------------------------------------------


@_step("create queue")
class CreateQueue(Step):
    name: str
    attributes: dict[str, str] = field(repr=False)
    tags: dict[str, str] = field(repr=False)


@_step("set queue attributes")
class SetQueueAttributes(Step):
    name: str
    url: str
    attributes: dict[str, str] = field(repr=False)


@_step("create event source mapping")
class CreateEventSourceMapping(Step):
    function: str
    queue_arn: str
    settings: dict[str, Any] = field(repr=False)
    target = property(lambda self: f"{self.queue_arn.rsplit(':', 1)[-1]} -> {self.function}")


@_step("update event source mapping")
class UpdateEventSourceMapping(Step):
    uuid: str
    function: str
    settings: dict[str, Any] = field(repr=False)
    target = property(lambda self: f"{self.function} ({self.uuid})")


@_step("put event rule")
class PutRule(Step):
    name: str
    pattern: dict | None = field(repr=False)  # None for a scheduled rule
    description: str = field(repr=False)
    tags: dict[str, str] = field(repr=False)
    schedule: str = ""  # a rate() or cron() expression, for a scheduled rule
    target = property(lambda self: self.name + (f" ({self.schedule})" if self.schedule else ""))


@_step("put event target")
class PutTarget(Step):
    rule: str
    target_spec: dict = field(repr=False)
    target = property(lambda self: f"{self.rule} -> {self.target_spec['Arn'].rsplit(':', 1)[-1]}")


@_step("put async invoke config")
class PutEventInvokeConfig(Step):
    function: str
    settings: dict[str, Any] = field(repr=False)


@_step("delete async invoke config")
class DeleteEventInvokeConfig(Step):
    function: str


@_step("put bucket notification")
class PutNotification(Step):
    """The whole notification configuration, as the planner merged it: S3 replaces it whole."""

    bucket: str
    configuration: dict = field(repr=False)
    summary: str = ""
    # Only where s3sizer's entry goes: a user's broken destination must not keep it in place.
    skip_validation: bool = False
    target = property(
        lambda self: f"{self.bucket} ({self.summary})" if self.summary else self.bucket
    )


@_step("add invoke permission")
class AddPermission(Step):
    function: str
    statement_id: str
    source_arn: str
    source_account: str  # "" when the source ARN names the account already
    principal: str = "s3.amazonaws.com"
    target = property(
        lambda self: (
            self.function + ("" if self.principal.startswith("s3.") else f" ({self.statement_id})")
        )
    )


@_step("remove invoke permission")
class RemovePermission(Step):
    function: str
    statement_id: str
    target = property(lambda self: f"{self.function} ({self.statement_id})")


@_step("poll unfinished uploads")
class PollUploads(Step):
    """One poll of the bucket's unfinished uploads now (lambdas/uploads.py)."""

    table: str
    bucket: str
    target = property(lambda self: self.bucket)


# -- functions ----------------------------------------------------------------------------------


@_step("publish layer")
class PublishLayer(Step):
    name: str
    path: Path | None  # None on a dry run that found no cached build
    runtime: str
    architecture: str
    # Over Lambda's direct-upload limit the zip goes through the bucket, under this key.
    via_bucket: str | None = None
    via_key: str | None = None
    target = property(
        lambda self: (
            self.name
            + (f" (through s3://{self.via_bucket}/{self.via_key})" if self.via_bucket else "")
        )
    )


@_step("create log group")
class CreateLogGroup(Step):
    name: str
    retention_days: int
    tags: dict[str, str]


@_step("create function")
class CreateFunction(Step):
    name: str
    zip: bytes = field(repr=False)
    settings: dict[str, Any] = field(repr=False)
    architecture: str = ""
    description: str = field(default="", repr=False)
    tags: dict[str, str] = field(default_factory=dict, repr=False)


@_step("update function code")
class UpdateFunctionCode(Step):
    name: str
    zip: bytes = field(repr=False)
    architecture: str = ""


@_step("update function configuration")
class UpdateFunctionConfiguration(Step):
    name: str
    settings: dict[str, Any] = field(repr=False)


# -- teardown -----------------------------------------------------------------------------------


@_step("delete event source mapping")
class DeleteEventSourceMapping(Step):
    uuid: str
    function: str
    target = property(lambda self: f"{self.function} ({self.uuid})")


@_step("delete event rule")
class DeleteRule(Step):
    name: str
    target_ids: tuple[str, ...]


@_step("delete queue")
class DeleteQueue(Step):
    name: str
    url: str


@_step("delete function")
class DeleteFunction(Step):
    name: str


@_step("delete layer version")
class DeleteLayerVersion(Step):
    name: str
    version: int
    target = property(lambda self: f"{self.name}:{self.version}")


@_step("delete log group")
class DeleteLogGroup(Step):
    name: str


@_step("delete role")
class DeleteRole(Step):
    role: str


@_step("delete metric alarm")
class DeleteAlarm(Step):
    name: str


@_step("delete dashboard")
class DeleteDashboard(Step):
    name: str


@_step("delete bucket")
class DeleteBucket(Step):
    """Every version and delete marker, then the bucket."""

    bucket: str


@_step("delete own objects")
class DeleteObjects(Step):
    bucket: str
    keys: tuple[str, ...]
    target = property(lambda self: f"{self.bucket}: {', '.join(self.keys)}")


@_step("delete table")
class DeleteTable(Step):
    table: str


@dataclass(frozen=True)
class Plan:
    title: str
    steps: tuple[Step, ...]
    notes: tuple[str, ...] = ()
