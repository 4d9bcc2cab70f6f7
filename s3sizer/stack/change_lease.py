"""One changing command at a time per stack: a lease on the stack's CHANGE item.

setup, deploy, track, untrack and teardown each read what the stack is (the queue's policy, the
rule's pattern, the tracker role's policy, the buckets' notification configurations), plan,
then write it whole. Two run at once, each would write back its own reading: `track a` and
`track b` side by side left one of them out of the queue's policy and the rule, its events
refused by S3 or never matched, and both commands said they were done. So a changing command
holds the stack from its reading to its last step, as CloudFormation holds a stack in
UPDATE_IN_PROGRESS and Terraform its state lock; another refuses with one line and changes
nothing. A command killed without giving it back leaves a lease that runs out
``LEASE_SECONDS`` after its last renewal. A dry run changes nothing and takes nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from botocore.exceptions import ClientError

from s3sizer.errors import StackError
from s3sizer.lambdas import layout as lay
from s3sizer.stack.baseline_lease import LEASE_SECONDS, Lease

CHANGE_ADDRESS = lay.address("STACK", "CHANGE")
NOT_OURS = ("ResourceNotFoundException", "ValidationException")
_HELD: ContextVar[ChangeLease | None] = ContextVar("s3sizer_change_lease", default=None)


class ChangeLease(Lease):
    name = "change"

    def __init__(self, history, stack: str, command: str):
        super().__init__(history, bucket="")
        self.stack, self.command = stack, command

    @property
    def address(self) -> dict:
        return CHANGE_ADDRESS

    def _also_set(self) -> tuple[str, dict, dict]:
        return ", #c = :command", {"#c": "command"}, {":command": {"S": self.command}}

    def _refusal(self, held: dict, left: int) -> StackError:
        other = held.get("command", {}).get("S", "command")
        return StackError(
            f"Another s3sizer {other} is changing stack {self.stack!r} now",
            f"wait for it to finish, then run this again (a command that was killed gives "
            f"the stack up within {left} s)",
        )

    def _give_back(self) -> None:  # the item is the lease alone: none is left once it ends
        self.h.client.delete_item(TableName=self.h.table_name, Key=self.address, **self._mine())

    def confirm(self) -> bool:
        try:
            return super().confirm()
        except ClientError as err:
            # No table: another command's teardown took the stack meanwhile (this command's
            # own teardown deletes it at its last step, after which nothing confirms).
            if err.response["Error"]["Code"] != "ResourceNotFoundException":
                raise
            self.lost = True
            return False

    def lost_refusal(self) -> StackError:
        return StackError(
            f"This s3sizer {self.command} lost its hold on stack {self.stack!r}: it went "
            f"{LEASE_SECONDS} s without renewing it (paused, or cut off), and another command "
            "may have changed the stack since; it stopped before its next step",
            "run it again: its plan is made anew from what the stack is now",
        )

    def release(self) -> None:
        try:
            super().release()
        except ClientError as err:  # teardown deleted the table, and the lease with it
            if err.response["Error"]["Code"] != "ResourceNotFoundException":
                raise


@contextmanager
def changing(stack, command: str, *, dry_run: bool = False) -> Iterator[None]:
    """The stack held by ``command`` for the block (not for a dry run, nor for a stack whose
    table does not exist yet, or is not s3sizer's: a first setup races only its own creation,
    and the command refuses a foreign table with its own line)."""
    from s3sizer.lambdas.history import History

    lease = None
    if not dry_run:
        history = History(stack.names.table, stack.client("dynamodb"))
        lease = ChangeLease(history, stack.names.stack, command)
        try:
            lease.acquire()
        except ClientError as err:
            # No table, or one of another schema, which the command itself refuses to use
            if err.response["Error"]["Code"] not in NOT_OURS:
                raise
            lease = None
    token = _HELD.set(lease)
    try:
        yield
    finally:
        _HELD.reset(token)
        if lease is not None:
            lease.release()


def confirm_held() -> None:
    """Before each step: a command whose hold ran out while it was paused (and that another
    command may have taken since) stops, rather than write back what it read before."""
    lease = _HELD.get()
    if lease is not None and not lease.confirm():
        raise lease.lost_refusal()
