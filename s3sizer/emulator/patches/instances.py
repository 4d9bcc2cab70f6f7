"""moto's models are built without being kept for its dashboard.

moto appends every instance of every model it builds to a list on its class, for its dashboard
(``/moto-api/data.json``) and its reset: every DynamoDB item ever written, every S3 object
version, every SQS message. Nothing deletes them from that list, so an item deleted from its
table stayed alive: an emulator that tracked and untracked a bucket of 20,000 objects four
times held 140,000 items it had deleted, and one run by an outside check for half an hour grew
to 6.4 GB. Here a model is built as moto builds it, without the list; what moto's backends hold
stays, and the rest is freed. The dashboard then lists no instances; s3sizer does not read it.
"""

from __future__ import annotations

import functools

from .hooks import PatchSet, Target

TARGETS = {
    "new": Target("model instances are not kept for moto's dashboard", "moto.core.common_models",
                  "BaseModel", "__new__", ("cls", "args", "kwargs")),
}  # fmt: skip


def install(patches: PatchSet) -> None:
    patches.replace(TARGETS["new"], _new)


def _new(original):
    @functools.wraps(original)
    def __new__(cls, *args, **kwargs):
        return object.__new__(cls)  # BaseModel's own, less the append to cls.instances_tracked

    return staticmethod(__new__)
