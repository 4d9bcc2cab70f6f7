"""One stack, resolved once per command: the session, the stored config, and its history."""

from __future__ import annotations

import functools
from dataclasses import dataclass

from s3sizer.aws import Aws
from s3sizer.errors import StackError
from s3sizer.stack.model import BucketSettings, Names, StackConfig
from s3sizer.stack.state import Stack


@dataclass(frozen=True)
class BoundHistory:
    """The history table's reads, bound to the stack's table and bucket."""

    history: object  # s3sizer.lambdas.history.History (imported lazily: it pulls in botocore)
    bucket: str

    def totals(self):
        return self.history.totals(self.bucket)

    def window(self, seconds: float, **kwargs):
        return self.history.window(self.bucket, seconds, **kwargs)

    def points(self, since_seconds: float | None = None):
        return self.history.points(self.bucket, since_seconds)

    def prefix_totals(self, depth: int | None = None, top: int | None = None, *, billed=False):
        return self.history.prefix_totals(self.bucket, depth=depth, top=top, billed=billed)

    def prefix_points(self, prefix: str, since_seconds: float | None = None):
        return self.history.prefix_points(self.bucket, prefix, since_seconds)

    def prefixes_points(self, prefixes: list[str], since_seconds: float | None = None):
        return self.history.prefixes_points(self.bucket, prefixes, since_seconds)


class StackContext:
    """What every read command needs; built by `open_stack`, once."""

    def __init__(self, stack: Stack, config: StackConfig, bucket: str | None = None):
        self.stack = stack
        self.config = config
        self._chosen = bucket
        self.unfinished_fold_move = False  # open_stack: the config is the deployed tracker's

    @functools.cached_property
    def buckets(self) -> list[BucketSettings]:
        """Every tracked bucket, the first one first (one Query of the stack's partition)."""
        return self.stack.tracked(self.config)

    @functools.cached_property
    def settings(self) -> BucketSettings:
        """The bucket this command reads: `--bucket`, else the first one."""
        if self._chosen is None or self._chosen == self.config.bucket:
            return self.buckets[0]
        found = next((b for b in self.buckets if b.bucket == self._chosen), None)
        if found is None:
            raise self._not_tracked(self._chosen)
        return found

    def _not_tracked(self, name: str) -> StackError:
        """Why ``name`` is not one to read (the CLI refuses an invalid name as it parses),
        with `track` offered only where it would work."""
        from botocore.exceptions import BotoCoreError, ClientError

        pick = "pick one of those (`s3sizer status` lists them all)"
        names = [b.bucket for b in self.buckets]
        shown = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
        tracks = f"stack {self.names.stack!r} tracks {shown}"
        try:
            state = self.stack.bucket_state(name)
        except (ClientError, BotoCoreError):  # not allowed to look: say what is known
            state = "unknown"
        if state == "missing":
            return StackError(f"Bucket {name!r} does not exist; {tracks}", pick)
        if state == "foreign":
            return StackError(
                f"Bucket {name!r} is not this account's (or this identity may not read it); "
                f"{tracks}",
                pick,
            )
        return StackError(
            f"Bucket {name!r} is not tracked by stack {self.names.stack!r}, which tracks {shown}",
            f"{pick}, or, to track this one, run `s3sizer track {name}`",
        )

    @property
    def prefix_depth(self) -> int:
        return self.settings.prefix_depth

    @property
    def aws(self) -> Aws:
        return self.stack.aws

    @property
    def names(self) -> Names:
        return self.stack.names

    @property
    def bucket(self) -> str:
        return self.settings.bucket

    def client(self, service: str):
        return self.stack.client(service)

    @functools.cached_property
    def history(self) -> BoundHistory:
        from s3sizer.lambdas.history import History

        history = History(
            self.names.table,
            self.client("dynamodb"),
            ttl_days=self.config.history_ttl_days,
            prefix_depth=self.prefix_depth,
        )
        # On a fold stack the totals are rows the many-bucket reads must query (usage.py).
        history.write_path = getattr(self.config, "write_path", "transaction")
        return BoundHistory(history, self.bucket)


def open_stack(aws: Aws, bucket: str | None = None) -> StackContext:
    """The stack named by the global options, with its config read once (one GetItem, and on a
    deployed transaction stack the tracker's configuration); the commands that read one bucket
    read `bucket`, else the first one."""
    stack = Stack(aws)
    stored = stack.require_config()
    ctx = StackContext(stack, _as_deployed(stack, stored), bucket)
    ctx.unfinished_fold_move = ctx.config is not stored
    if bucket is not None:
        ctx.settings  # noqa: B018 - an untracked bucket is refused before anything is read
    return ctx


def _as_deployed(stack: Stack, stored: StackConfig) -> StackConfig:
    """The config the deployed tracker runs: a `deploy --write-path fold` stopped after the
    tracker moved and before its last step (which stores the choice) leaves the stored config
    on the transaction path, whose totals item the tracker no longer moves. Read as stored,
    every total would stand still (one GetFunctionConfiguration, on a deployed transaction
    stack only)."""
    if stored.delivery is None or getattr(stored, "write_path", "transaction") == "fold":
        return stored
    from botocore.exceptions import BotoCoreError, ClientError

    from s3sizer.stack.fold import as_running

    try:
        return as_running(stack, stored)
    except (ClientError, BotoCoreError):  # an identity that may read the table, not Lambda
        return stored
