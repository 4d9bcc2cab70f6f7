"""Every change the emulator makes to moto, one module per service.

activate() installs them all for a running emulator; deactivate() undoes every one, so moto's
in-process mock (mock_aws) behaves as moto does once no emulator is active. Each module lists
its TARGETS: the moto attributes it replaces or relies on, with the parameters it expects;
installing refuses a target that no longer fits, naming the patch.

Imports run one way: s3_versioning → s3 → events → lambda_ → hooks; s3 → notification_rules;
s3_versioning → s3_keys → hooks; s3_uploads → s3_lifecycle, s3_listing; s3_listing → s3_index;
dynamodb_query → dynamodb_answers, dynamodb_sizes; dynamodb, dynamodb_puts → dynamodb_sizes; s3_lifecycle, s3_listing, s3_index, s3_parts, s3_conditional
(also → wsgi), s3_headers, s3_object_lock, dynamodb, dynamodb_query, dynamodb_answers, dynamodb_sizes, dynamodb_parse, dynamodb_conditions, dynamodb_puts,
logs, sqs, stream_records, stream_mappings, recorder, instances and moto_dispatch → hooks.
tests/emulator/test_wall.py checks that there is no cycle.
"""

from __future__ import annotations

import threading

from . import (
    dynamodb,
    dynamodb_answers,
    dynamodb_conditions,
    dynamodb_parse,
    dynamodb_puts,
    dynamodb_query,
    hooks,
    instances,
    lambda_,
    logs,
    moto_dispatch,
    recorder,
    s3,
    s3_conditional,
    s3_headers,
    s3_index,
    s3_keys,
    s3_lifecycle,
    s3_listing,
    s3_object_lock,
    s3_parts,
    s3_uploads,
    s3_versioning,
    sqs,
    stream_mappings,
    stream_records,
)
from .hooks import Hooks, PatchSet, Target

__all__ = ["Hooks", "activate", "all_targets", "deactivate"]

# Order matters where two patches wrap one moto attribute: the one that checks its exact
# parameters installs first (dynamodb before stream_records, sqs before stream_mappings).
SERVICES = (
    instances,
    lambda_,
    s3,
    s3_lifecycle,
    s3_versioning,
    s3_keys,
    s3_listing,
    s3_index,
    s3_parts,
    s3_conditional,
    s3_headers,
    s3_object_lock,
    s3_uploads,
    dynamodb,
    dynamodb_answers,
    dynamodb_query,
    dynamodb_parse,
    dynamodb_conditions,
    dynamodb_puts,
    logs,
    sqs,
    stream_records,
    stream_mappings,
    recorder,
    moto_dispatch,  # last: it lists each handler's methods once every patch has added its own
)
_lock = threading.Lock()
_installed: PatchSet | None = None


def activate(active: Hooks) -> None:
    global _installed
    with _lock:
        if _installed is not None:
            raise RuntimeError("the emulator's patches are already installed")
        patches = PatchSet()
        try:
            for service in SERVICES:
                service.install(patches)
        except BaseException:
            patches.undo()
            raise
        _installed = patches
        hooks.set_active(active)


def deactivate() -> None:
    global _installed
    with _lock:
        hooks.set_active(None)
        if _installed is not None:
            _installed.undo()
            _installed = None


def all_targets() -> list[Target]:
    return [target for service in SERVICES for target in service.TARGETS.values()]
