"""One baseline of a bucket at a time: a lease on the bucket's BASELINE item.

Two commands that baseline one bucket at once (a scheduled `reconcile` and an operator's, say)
would resume the same ranges side by side, each overwriting the other's progress items. The
first to start holds a lease on the bucket's BASELINE item (its owner and an expiry), renews it
while it runs and gives it back when it ends; another that finds it held refuses with one line
and changes nothing. A command killed without giving it back (kill -9, a crash, a laptop lid)
leaves a lease that runs out LEASE_SECONDS after its last renewal; the same command run again
then resumes where it stopped.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable

from botocore.exceptions import BotoCoreError, ClientError

from s3sizer.errors import StackError
from s3sizer.lambdas import layout as lay

LEASE_SECONDS = 60
RENEW_SECONDS = 15  # four renewals a lease: a slow request or two does not lose it


class Lease:
    name = "baseline"

    def __init__(self, history, bucket: str, on_lost: Callable[[], None] = lambda: None):
        self.h, self.bucket, self.on_lost = history, bucket, on_lost
        self.owner = uuid.uuid4().hex
        self.lost = False
        self.renewed_at = 0  # wall time: unlike the monotonic clock, it counts a suspend
        self._ended = threading.Event()
        self._renewer: threading.Thread | None = None

    @property
    def address(self) -> dict:
        return lay.address(lay.bucket_pk(self.bucket), lay.BASELINE_SK)

    def attributes(self) -> dict:
        """The lease, for a write of the whole BASELINE item while it is held."""
        return {"owner": {"S": self.owner}, "lease_until": lay.n(_now() + LEASE_SECONDS)}

    def acquire(self) -> None:
        now = _now()
        try:
            self._write(now, "attribute_not_exists(lease_until) OR lease_until < :now")
        except ClientError as err:
            if err.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            held = self.h._get(self.address) or {}
            left = max(int(held.get("lease_until", {"N": str(now)})["N"]) - now, 0)
            raise self._refusal(held, left) from None
        self.renewed_at = now
        self._renewer = threading.Thread(
            target=self._renew, name=f"{self.name}-lease", daemon=True
        )  # fmt: skip
        self._renewer.start()

    def confirm(self) -> bool:
        """Whether the lease is still this command's. After a pause its renewer may not have
        woken yet (a suspended laptop): past two renewals' time, one renewal is made now. A
        renewal that fails (throttled, or the network not back yet) says nothing while the
        lease cannot have run out."""
        if self.lost:
            return False
        since = _now() - self.renewed_at
        if since < 2 * RENEW_SECONDS:
            return True
        try:
            return self._renew_once()
        except (ClientError, BotoCoreError):
            if since < LEASE_SECONDS:
                return True
            raise

    def _refusal(self, held: dict, left: int) -> StackError:
        return StackError(
            f"A baseline of bucket {self.bucket!r} is running in another s3sizer command",
            f"wait for it to finish, then run this again (a command that was killed "
            f"gives the bucket up within {left} s)",
        )

    def release(self) -> None:
        self._ended.set()
        if self._renewer is not None:
            self._renewer.join()
        try:
            self._give_back()
        except ClientError as err:  # given up already (the run completed), or taken over
            # Never taken, or its answer never read: the refusal or Ctrl-C that stopped the
            # taking is what the user must see, not a failed give-back.
            taken = self._renewer is not None
            if taken and err.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise

    def _give_back(self) -> None:
        self.h.client.update_item(
            TableName=self.h.table_name,
            Key=self.address,
            UpdateExpression="REMOVE #o, lease_until",
            **self._mine(),
        )

    def _mine(self) -> dict:
        return {
            "ConditionExpression": "#o = :me",
            "ExpressionAttributeNames": {"#o": "owner"},
            "ExpressionAttributeValues": {":me": {"S": self.owner}},
        }

    def _renew(self) -> None:
        while not self._ended.wait(RENEW_SECONDS):
            try:
                if not self._renew_once():
                    return
            except ClientError:
                continue  # the next renewal tries again, well within the lease

    def _renew_once(self) -> bool:
        now = _now()
        try:
            self._write(now, "#o = :me")
        except ClientError as err:
            if err.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            if not self.lost:  # this command was paused past its lease: another took over
                self.lost = True
                self.on_lost()
            return False
        self.renewed_at = now
        return True

    def _write(self, now: int, condition: str) -> None:
        more, names, values = self._also_set()
        self.h.client.update_item(
            TableName=self.h.table_name,
            Key=self.address,
            UpdateExpression=f"SET #o = :me, lease_until = :until{more}",
            ConditionExpression=f"({condition}) OR #o = :me",
            ExpressionAttributeNames={"#o": "owner", **names},
            ExpressionAttributeValues={
                ":me": {"S": self.owner},
                ":until": lay.n(now + LEASE_SECONDS),
                **values,
                **({":now": lay.n(now)} if ":now" in condition else {}),
            },
        )

    def _also_set(self) -> tuple[str, dict, dict]:
        # A new item says a baseline is owed (in progress, no run yet) until the run records its
        # ranges: a reader never finds one without a state, and one stopped before that (a
        # first setup's, at its first second) leaves the bucket shown uncounted, not complete.
        return (
            ", #s = if_not_exists(#s, :owed), #r = if_not_exists(#r, :due), "
            "#d = if_not_exists(#d, :none)",
            {"#s": "state", "#r": "run", "#d": "depth"},
            {":owed": {"S": lay.BASELINE_RUNNING}, ":due": {"S": "due"}, ":none": lay.n(-1)},
        )


def held_now(history, bucket: str) -> bool:
    """Whether another command holds the bucket's baseline lease now (its run is going on)."""
    item = history._get(lay.address(lay.bucket_pk(bucket), lay.BASELINE_SK)) or {}
    return int(item.get("lease_until", {"N": "0"})["N"]) >= _now()


def _now() -> int:
    return int(time.time())


def refuse_baselines_running(history, steps: list) -> None:
    """Refused before any step: a baseline the plan runs, of a bucket whose baseline another
    s3sizer command is running (a reconcile, say), would stop the plan part-way."""
    from s3sizer.stack import steps as st

    for step in steps:
        if isinstance(step, st.RecordBaseline) and held_now(history, step.bucket):
            raise StackError(
                f"A baseline of bucket {step.bucket!r} is running in another s3sizer command",
                "wait for it to finish (`s3sizer status` shows how far it got), then run this "
                "again",
            )
