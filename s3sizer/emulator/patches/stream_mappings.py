"""Lambda event source mappings on DynamoDB streams, run by the emulator's stream pollers.

moto registers such a mapping on its table, and its StreamShard.add then invokes the function
synchronously inside the write, once per change, whatever the function returns. Here the mapping
is taken off the table and a poller (stream_poller.py) reads the shard as Lambda does: in order,
in batches, with retries, bisection, partial batch responses and an on-failure destination.

CreateEventSourceMapping and UpdateEventSourceMapping check the stream parameters as Lambda does
(moto checks only the batch size), and the mapping reports Lambda's defaults for the ones left
out.
"""

from __future__ import annotations

from . import hooks
from .hooks import PatchSet, Target

_MODELS = "moto.awslambda.models"
TARGETS = {
    "create": Target("DynamoDB stream mappings polled by the emulator", _MODELS, "LambdaBackend",
                     "create_event_source_mapping", ("self", "spec")),
    "update": Target("stream mapping parameters checked on update", _MODELS, "LambdaBackend",
                     "update_event_source_mapping", ("self", "uuid", "spec")),
}  # fmt: skip
DETACHED = "dynamodb streams: mapping taken off moto's invoke-on-write"

# https://docs.aws.amazon.com/lambda/latest/dg/services-ddb-params.html
LIMITS = {  # parameter: (minimum, maximum)
    "BatchSize": (1, 10_000),
    "MaximumBatchingWindowInSeconds": (0, 300),
    "MaximumRetryAttempts": (-1, 10_000),
    "MaximumRecordAgeInSeconds": (-1, 604_800),
    "ParallelizationFactor": (1, 10),
    "TumblingWindowInSeconds": (0, 900),
}
DEFAULTS = {  # moto attribute: what Lambda reports when the parameter is left out
    "max_batch_window": 0,
    "max_retry_attempts": -1,
    "max_record_age": -1,
    "bisect_on_error": False,
    "parallelization_factor": 1,
    "function_response_types": [],
}
MINIMUM_RECORD_AGE = 60
STARTING_POSITIONS = ("TRIM_HORIZON", "LATEST", "AT_TIMESTAMP")


def install(patches: PatchSet) -> None:
    patches.replace(TARGETS["create"], _create_event_source_mapping)
    patches.replace(TARGETS["update"], _update_event_source_mapping)


def is_stream_arn(arn: str) -> bool:
    parts = arn.split(":", 5)
    return len(parts) == 6 and parts[2] == "dynamodb" and "/stream/" in parts[5]


def _create_event_source_mapping(original):
    def create_event_source_mapping(self, spec):
        arn = spec.get("EventSourceArn") or ""
        if not is_stream_arn(arn):
            return original(self, spec)
        _check_starting_position(spec, arn)
        _check_parameters(spec)
        _refuse_duplicate(self, spec, arn)
        shard = _shard(arn)
        mapping = original(self, spec)
        if shard is not None and shard.table.lambda_event_source_mappings.pop(
            mapping.function_arn, None
        ):
            hooks.FAST_PATHS[DETACHED] += 1
        for attribute, default in DEFAULTS.items():
            if getattr(mapping, attribute, None) is None:
                setattr(mapping, attribute, default)
        if shard is not None:
            start = 0 if mapping.starting_position == "TRIM_HORIZON" else len(shard.items)
            hooks.current().stream_sources.start(
                self.account_id, self.region_name, mapping.uuid, shard, start
            )
        return mapping

    return create_event_source_mapping


def _update_event_source_mapping(original):
    def update_event_source_mapping(self, uuid, spec):
        mapping = self.get_event_source_mapping(uuid)
        if mapping is not None and is_stream_arn(mapping.event_source_arn):
            _check_parameters(spec)
        return original(self, uuid, spec)

    return update_event_source_mapping


def _check_starting_position(spec: dict, arn: str) -> None:
    from moto.awslambda.exceptions import InvalidParameterValueException

    position = spec.get("StartingPosition")
    if not position:
        raise InvalidParameterValueException(
            "1 validation error detected: Value null at 'startingPosition' failed to satisfy "
            "constraint: Member must not be null."
        )
    if position not in STARTING_POSITIONS:
        raise _validation_error(
            f"Value '{position}' at 'startingPosition' failed to satisfy constraint: "
            "Member must satisfy enum value set: [LATEST, AT_TIMESTAMP, TRIM_HORIZON]"
        )
    if position == "AT_TIMESTAMP":
        raise InvalidParameterValueException(f"Unsupported starting position for arn type: {arn}")


def _check_parameters(spec: dict) -> None:
    from moto.awslambda.exceptions import InvalidParameterValueException

    for name, (low, high) in LIMITS.items():
        value = spec.get(name)
        if value is None:
            continue
        member = name[0].lower() + name[1:]
        if value < low:
            raise _validation_error(
                f"Value '{value}' at '{member}' failed to satisfy constraint: "
                f"Member must have value greater than or equal to {low}"
            )
        if value > high:
            raise _validation_error(
                f"Value '{value}' at '{member}' failed to satisfy constraint: "
                f"Member must have value less than or equal to {high}"
            )
    age = spec.get("MaximumRecordAgeInSeconds")
    if age is not None and 0 <= age < MINIMUM_RECORD_AGE:
        # Within the API's range, yet refused: "The minimum valid value for maximum record age
        # is 60s" (the CreateEventSourceMapping reference); its error text is not documented.
        raise InvalidParameterValueException(
            "MaximumRecordAgeInSeconds must be -1 (infinite) or between 60 and 604800"
        )
    for kind in spec.get("FunctionResponseTypes") or []:
        if kind != "ReportBatchItemFailures":
            raise _validation_error(
                f"Value '[{kind}]' at 'functionResponseTypes' failed to satisfy constraint: "
                "Member must satisfy constraint: [Member must satisfy enum value set: "
                "[ReportBatchItemFailures]]"
            )
    for pattern in ((spec.get("FilterCriteria") or {}).get("Filters")) or []:
        if not _valid_pattern(pattern.get("Pattern") if isinstance(pattern, dict) else None):
            raise InvalidParameterValueException("Invalid filter pattern definition.")
    if "OnSuccess" in (spec.get("DestinationConfig") or {}):
        raise InvalidParameterValueException(
            "Unsupported DestinationConfig parameter for given event source mapping type."
        )


def _valid_pattern(pattern) -> bool:
    from moto.events.models import EventPatternParser

    if not pattern or not isinstance(pattern, str):
        return False
    try:
        EventPatternParser(pattern).parse()
    except Exception:
        return False
    return True


def _refuse_duplicate(backend, spec: dict, arn: str) -> None:
    from moto.awslambda.exceptions import LambdaClientError

    function = backend.get_function(spec.get("FunctionName", ""))
    for mapping in backend._event_source_mappings.values():
        if mapping.event_source_arn == arn and mapping.function_arn == function.function_arn:
            raise LambdaClientError(
                "ResourceConflictException",
                f'The event source arn (" {arn} ") and function (" {function.function_name} ") '
                "provided mapping already exists. Please update or delete the existing mapping "
                f"with UUID {mapping.uuid}",
            )


def _validation_error(detail: str):
    from moto.awslambda.exceptions import LambdaClientError

    return LambdaClientError("ValidationException", f"1 validation error detected: {detail}")


def _shard(arn: str):
    """The shard of the stream an ARN names, or None when the table has no such stream."""
    from moto.dynamodb.models import dynamodb_backends

    _, _, _, region, account_id, resource = arn.split(":", 5)
    table_name, _, label = resource.removeprefix("table/").partition("/stream/")
    table = dynamodb_backends[account_id][region].tables.get(table_name)
    if table is None or table.latest_stream_label != label:
        return None
    return table.stream_shard
