"""What a stack is made of, as plain values: names, function specs and the stored config."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field, fields

# s3sizer's own objects, defined once beside the tracker that skips them.
from s3sizer.lambdas.own_keys import LAYER_UPLOAD, PLOT_KEY, RESERVED_PREFIX  # noqa: F401

TAG_KEY = "s3sizer:stack"
# The driver's keys in a bucket s3sizer adopted: never a user's own object, easy to remove.
ADOPTED_DRIVER_PREFIX = "s3sizer-driver/"
# What the tracker subscribes to: every change of a key's size, lifecycle expirations included.
TRACKED_EVENTS = ("s3:ObjectCreated:*", "s3:ObjectRemoved:*", "s3:LifecycleExpiration:*")
# A bucket whose storage classes are tracked also sends its lifecycle transitions.
CLASS_EVENTS = ("s3:LifecycleTransition",)
DEFAULT_TABLE = "S3-object-size-history"
DEFAULT_RUNTIME = "python3.12"
DEFAULT_ARCHITECTURE = "x86_64"
ARCHITECTURES = ("x86_64", "arm64")
# The runtimes the functions' code runs on (it needs Python 3.11's datetime.UTC), each with the
# newest wheel platform its OS takes. All run on Amazon Linux 2023 (glibc 2.34). python3.11 ran
# on Amazon Linux 2 (glibc 2.26, manylinux2014), but AWS deprecated every Amazon Linux 2 runtime
# on 2026-06-30 and refuses new functions on them since 2026-07-31, so deploy refuses it first.
RUNTIME_WHEEL_PLATFORMS = {
    "python3.12": "manylinux_2_28",
    "python3.13": "manylinux_2_28",
    "python3.14": "manylinux_2_28",
}
# How S3 events reach the tracker: a queue (the default), EventBridge, or Lambda directly.
DELIVERY_ROUTES = ("sqs", "eventbridge", "direct")
# deploy's `--delivery auto`: each bucket's best fit again (sqs, or eventbridge where its event
# types are taken), whatever an earlier `--delivery` chose for all of them.
AUTO_ROUTE = "auto"
# How the tracker writes the totals: in its own transactions (the default), or through the
# table's stream and the fold function (docs/architecture.md, "The fold stack").
WRITE_PATHS = ("transaction", "fold")
# The event source mapping's concurrency: AWS accepts 2 to 1,000. The default depends on the
# write path (docs/scaling.md): the transaction path's batches contend for the totals item, so
# more of them at once apply no more, and 2 keeps its batches large. The fold path's tracker
# writes only key items: at 2 it keeps up with about 1,400 events/s, less than one prefix's
# 3,500 PUTs a second; at 30 with 20,000/s. At low rates its batches are then smaller (Lambda
# starts five pollers), which the model prices at $2.73 per million events at 5 a second
# against $2.42 at 2.
MAX_CONCURRENCY_RANGE = (2, 1000)
DEFAULT_MAX_CONCURRENCY = {"transaction": 2, "fold": 30}
CONFIG_LAYOUT = 2  # StackConfig.layout: the stored config's form, 2 since the default above
# Messages per invocation of the tracker: AWS allows up to 10,000 on a standard queue (more
# than 10 only with a batching window, which the mapping always has).
DEFAULT_BATCH_SIZE, BATCH_SIZE_RANGE = 100, (1, 10000)
DEFAULT_PREFIX_DEPTH, MAX_PREFIX_DEPTH = 1, 5
# How often the schedule polls the tracked buckets' unfinished uploads (seconds; 0: never).
# EventBridge's rate() counts whole minutes, one at least.
DEFAULT_UPLOADS_EVERY, MIN_UPLOADS_EVERY = 900, 60
# The plot's default window: a default driver run (three 1.5 s pauses, each of its four changes
# recorded within a second or two, and a plot after each) takes 10 to 30 s; a minute holds it all.
PLOT_WINDOW_SECONDS = 60
LAMBDA_PACKAGE = "s3sizer_lambdas"
# Deploy's settings, declared once: each is kept in the config from one deploy to the next and
# resolved against it in one place (`plan_deploy.deploy_config`): "merge" maps a function's
# short name to its value, given ones over kept ones; "replace" takes the given value, else the
# kept one. The layer's choice and the route are resolved on their own (they are not "kept
# unless given": a layer ARN given once is dropped by `--no-layer`, a route may be forced).
DEPLOY_SETTINGS = {
    "runtime": "replace",
    "architecture": "replace",
    "memory": "merge",
    "timeout": "merge",
    "max_concurrency": "replace",
    "batch_size": "replace",
    "write_path": "replace",
}

_BUCKET_NAME = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_IP_ADDRESS = re.compile(r"^\d+\.\d+\.\d+\.\d+$")


@dataclass(frozen=True)
class FunctionSpec:
    """One Lambda function: its short name in the CLI, and what goes into its zip."""

    short: str
    module: str
    memory: int
    timeout: int
    uses_layer: bool = False

    @property
    def handler(self) -> str:
        return f"{LAMBDA_PACKAGE}.{self.module}.handler"

    @property
    def modules(self) -> tuple[str, ...]:
        """The handler's module and every module it imports from the package, transitively."""
        return lambda_modules(self.module)


@functools.cache
def lambda_modules(entry: str) -> tuple[str, ...]:
    """Read from the sources, so that a new module can never be missing from a zip.

    Only imports at a module's top level count: one made inside a function (the baseline, which
    only the CLI runs) stays out of the zips.
    """
    import ast
    from importlib import resources

    package = resources.files("s3sizer.lambdas")
    found, todo = set(), [entry]
    while todo:
        name = todo.pop()
        if name in found:
            continue
        found.add(name)
        tree = ast.parse((package / f"{name}.py").read_text(encoding="utf-8"))
        for node in tree.body:
            if isinstance(node, ast.ImportFrom) and node.level == 1:
                todo += [node.module] if node.module else [a.name for a in node.names]
    return tuple(sorted(found))


FUNCTIONS: tuple[FunctionSpec, ...] = (
    FunctionSpec("driver", "driver", memory=256, timeout=900),
    FunctionSpec("size-tracking", "size_tracking", memory=256, timeout=30),
    FunctionSpec("plotting", "plotting", memory=1024, timeout=60, uses_layer=True),
)
# Only a stack on the fold write path has it (`functions_of`).
FOLD_FUNCTION = FunctionSpec("fold", "fold", memory=256, timeout=60)
FUNCTION_NAMES = (*(spec.short for spec in FUNCTIONS), FOLD_FUNCTION.short)


def functions_of(config) -> tuple[FunctionSpec, ...]:
    """The functions a stack runs: the fold function only on the fold write path."""
    return FUNCTIONS + ((FOLD_FUNCTION,) if config.write_path == "fold" else ())


@dataclass(frozen=True)
class Names:
    """Every resource name, derived from the stack name alone so any machine can find them."""

    stack: str

    @property
    def table(self) -> str:
        return DEFAULT_TABLE if self.stack == "s3sizer" else f"{self.stack}-{DEFAULT_TABLE}"

    def function(self, short: str) -> str:
        return f"{self.stack}-{short}"

    def role(self, short: str) -> str:
        return f"{self.stack}-{short}-role"

    def policy(self, short: str) -> str:
        return f"{self.stack}-{short}-policy"

    def log_group(self, short: str) -> str:
        return f"/aws/lambda/{self.function(short)}"

    @property
    def layer(self) -> str:
        return f"{self.stack}-matplotlib"

    @property
    def notification_id(self) -> str:
        return f"{self.stack}-size-tracking"

    @property
    def permission_sid(self) -> str:
        return f"{self.stack}-s3-invoke"

    @property
    def account_permission_sid(self) -> str:
        """S3's permission for every bucket of the account: the direct route of several."""
        return f"{self.stack}-s3-invoke-account"

    @property
    def queue(self) -> str:
        return f"{self.stack}-events"

    @property
    def dead_letter_queue(self) -> str:
        return f"{self.stack}-events-dlq"

    @property
    def fold_dead_letter_queue(self) -> str:
        """Where the fold's stream mapping sends what it gave up on (DDBStreamBatchInfo)."""
        return f"{self.stack}-fold-dlq"

    @property
    def rule(self) -> str:
        return f"{self.stack}-s3-events"

    @property
    def rule_target_id(self) -> str:
        return f"{self.stack}-events-queue"

    @property
    def uploads_rule(self) -> str:
        """The scheduled rule that has the tracker poll the unfinished uploads; its target's id
        and the tracker's permission for it carry the same name."""
        return f"{self.stack}-uploads-poll"

    @property
    def alarm(self) -> str:
        return f"{self.stack}-bucket-size"

    @property
    def growth_alarm(self) -> str:
        return f"{self.stack}-bucket-growth"

    @property
    def dashboard(self) -> str:
        return self.stack

    def bucket_alarm(self, bucket: str, first: bool) -> str:
        """The first bucket keeps the stack's alarm name; every other bucket has its own."""
        return self.alarm if first else f"{self.alarm}-{bucket}"

    def default_bucket(self, account: str, region: str) -> str:
        return f"{self.stack}-{account}-{region}"


@dataclass(frozen=True)
class StackConfig:
    """The settings setup stores in the table, so later commands need no flags."""

    stack: str
    bucket: str
    bucket_owned: bool
    region: str
    runtime: str = DEFAULT_RUNTIME
    architecture: str = DEFAULT_ARCHITECTURE
    history_ttl_days: int = 0
    memory: dict[str, int] = field(default_factory=dict)
    timeout: dict[str, int] = field(default_factory=dict)
    # The layer choice of the last deploy, so that a plain `deploy` keeps it.
    layer_arn: str | None = None
    build_layer: bool | None = None
    # How events reach the tracker (DELIVERY_ROUTES), as the last deploy chose it.
    delivery: str | None = None
    # True only when s3sizer turned the bucket's EventBridge delivery on: teardown turns it off.
    eventbridge_owned: bool = False
    # --max-concurrency as given; None: the write path's default.
    max_concurrency: int | None = None
    batch_size: int = DEFAULT_BATCH_SIZE
    prefix_depth: int = DEFAULT_PREFIX_DEPTH
    # When setup last changed the table's TTL: DynamoDB allows one change per hour.
    ttl_changed_at: str | None = None
    alarm_above: int | None = None
    alarm_topic: str | None = None
    # --alarm-growth SIZE/PERIOD: bytes, and the period in seconds (docs/costs.md).
    alarm_growth: int | None = None
    alarm_growth_period: int | None = None
    # --uploads-every: seconds between polls of the unfinished uploads, 0 for none.
    uploads_every: int = DEFAULT_UPLOADS_EVERY
    # --storage-classes: the tracker looks up each created version's class (docs/costs.md).
    storage_classes: bool = False
    write_path: str = "transaction"
    # How the stored config reads: 2 from this release on; a config without it (1) was stored
    # by an earlier release, which stored a max_concurrency of 2 when none was chosen
    # (`from_stored`).
    layout: int = CONFIG_LAYOUT

    @property
    def mapping_concurrency(self) -> int:
        """The queue mapping's MaximumConcurrency: as chosen, else the write path's default."""
        return self.max_concurrency or DEFAULT_MAX_CONCURRENCY[self.write_path]

    @classmethod
    def from_stored(cls, stored: dict) -> StackConfig:
        """The config as stored in the table, by this release or an earlier one. An earlier
        release stored a max_concurrency of 2 whether or not one was chosen: read as none
        chosen, so that a fold stack runs at its own default (2 would hold it near 1,400
        events/s); on the transaction path that default is 2 anyway."""
        known = {f.name for f in fields(cls)}
        kept = {k: v for k, v in stored.items() if k in known}
        if stored.get("layout", 1) < CONFIG_LAYOUT and kept.get("max_concurrency") == 2:
            kept["max_concurrency"] = None
        return cls(**{**kept, "layout": CONFIG_LAYOUT})

    @property
    def driver_prefix(self) -> str:
        return "" if self.bucket_owned else ADOPTED_DRIVER_PREFIX

    def memory_of(self, spec: FunctionSpec) -> int:
        return self.memory.get(spec.short, spec.memory)

    def timeout_of(self, spec: FunctionSpec) -> int:
        return self.timeout.get(spec.short, spec.timeout)


@dataclass(frozen=True)
class BucketSettings:
    """One tracked bucket's own settings (the first bucket's mirror the stack's config)."""

    bucket: str
    prefix_depth: int = DEFAULT_PREFIX_DEPTH
    alarm_above: int | None = None
    alarm_topic: str | None = None
    # "sqs" or "eventbridge" (the first bucket also "direct"); None until deploy routes it.
    delivery: str | None = None
    # True only when s3sizer turned this bucket's EventBridge delivery on: untrack turns it off.
    eventbridge_owned: bool = False
    # When track adopted it: the order `status` lists the buckets in.
    added_at: str = ""
    # --storage-classes: the tracker looks up each created version's class (docs/costs.md).
    storage_classes: bool = False


def first_bucket_settings(config: StackConfig) -> BucketSettings:
    return BucketSettings(
        config.bucket,
        config.prefix_depth,
        config.alarm_above,
        config.alarm_topic,
        config.delivery,
        config.eventbridge_owned,
        storage_classes=config.storage_classes,
    )


def bucket_name_problem(name: str) -> str | None:
    """Why a name breaks S3's bucket naming rules, or None when it is valid."""
    if not 3 <= len(name) <= 63:
        return "it must be 3 to 63 characters long"
    if not _BUCKET_NAME.match(name):
        return (
            "use only lower-case letters, digits, dots and hyphens, "
            "starting and ending with a letter or digit"
        )
    if ".." in name or ".-" in name or "-." in name:
        return "dots may not be adjacent to each other or to hyphens"
    if _IP_ADDRESS.match(name):
        return "it must not look like an IP address"
    if name.startswith(("xn--", "sthree-", "amzn-s3-demo-")):
        return "it must not start with a reserved prefix (xn--, sthree-, amzn-s3-demo-)"
    if name.endswith(("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3")):
        return "it must not end with a reserved suffix"
    return None
