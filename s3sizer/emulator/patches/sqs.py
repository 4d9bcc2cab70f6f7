"""SQS event source mappings run by the emulator's pollers, as Lambda runs them.

moto invokes a mapped function synchronously inside SendMessage, once per message, and deletes
the messages whatever the function returned. CreateEventSourceMapping is patched to take the
mapping off the queue's list that moto's SendMessage walks, and to start a poller
(sqs_poller.py), which reads the mapping's settings from moto at every batch: updates,
disabling and deletion through the Lambda API take effect by themselves.
"""

from __future__ import annotations

from . import hooks
from .hooks import PatchSet, Target

TARGETS = {
    "create_mapping": Target("SQS mappings polled by the emulator", "moto.awslambda.models",
                             "LambdaBackend", "create_event_source_mapping", ("self", "spec")),
    "send_path": Target("moto's invoke-on-send disabled", "moto.sqs.models", "Queue",
                        "add_message", ("self", "message")),
}  # fmt: skip
DETACHED = "sqs: mapping taken off moto's invoke-on-send"


def install(patches: PatchSet) -> None:
    patches.require(TARGETS["send_path"])
    patches.replace(TARGETS["create_mapping"], _create_event_source_mapping)


def _create_event_source_mapping(original):
    def create_event_source_mapping(self, spec):
        mapping = original(self, spec)
        if mapping.event_source_arn.split(":")[2] != "sqs":
            return mapping
        from moto.sqs.models import sqs_backends

        for queue in sqs_backends[self.account_id][self.region_name].queues.values():
            # Keyed by function ARN in moto; removing it stops moto invoking on send.
            if queue.queue_arn == mapping.event_source_arn and (
                queue.lambda_event_source_mappings.pop(mapping.function_arn, None)
            ):
                hooks.FAST_PATHS[DETACHED] += 1
        hooks.current().event_sources.start(self.account_id, self.region_name, mapping.uuid)
        return mapping

    return create_event_source_mapping
