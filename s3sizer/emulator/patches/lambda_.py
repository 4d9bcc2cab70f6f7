"""Lambda: functions run in the emulator's runtime, and the API keeps what moto drops.

- LambdaFunction.invoke runs the handler in worker processes, not Docker.
- LambdaResponse.invoke takes the qualifier from the query string only: moto also looks for a
  "qualifier" key in the payload, and fails on a payload that is valid JSON but not an object.
- CreateFunction and UpdateFunctionConfiguration refuse the environment variables Lambda
  reserves, and store LoggingConfig, which GetFunction and GetFunctionConfiguration return.
- UpdateFunctionCode with Architectures changes the function's architectures.
- DeleteFunction stops the function's workers.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from typing import Any

from ..lambda_metrics import ASYNC_EVENT_AGE, put_age
from ..wsgi import holding_service_lock
from . import hooks
from .hooks import PatchSet, Target

logger = logging.getLogger("s3sizer.emulator")

_MODELS, _RESPONSES = "moto.awslambda.models", "moto.awslambda.responses"
TARGETS = {
    "invoke": Target("run handlers in worker processes", _MODELS, "LambdaFunction", "invoke",
                     ("self", "body", "request_headers", "response_headers")),
    "invoke_response": Target("qualifier from the query string only", _RESPONSES,
                              "LambdaResponse", "invoke", ("self",)),
    "get_param": Target("qualifier from the query string only", "moto.core.responses",
                        "BaseResponse", "_get_param", ("self", "param_name", "if_none")),
    "create_function": Target("reserved variables and LoggingConfig on create", _MODELS,
                              "LambdaBackend", "create_function", ("self", "spec")),
    "update_configuration": Target(
        "reserved variables and LoggingConfig on update", _MODELS, "LambdaBackend",
        "update_function_configuration", ("self", "function_name", "qualifier", "body")),
    "update_code": Target("Architectures on UpdateFunctionCode", _MODELS, "LambdaBackend",
                          "update_function_code", ("self", "function_name", "qualifier", "body")),
    "get_configuration": Target("LoggingConfig returned", _MODELS, "LambdaFunction",
                                "get_configuration", ("self", "on_create")),
    "delete_function": Target("workers stop with their function", _MODELS, "LambdaBackend",
                              "delete_function", ("self", "function_name", "qualifier")),
}  # fmt: skip

# https://docs.aws.amazon.com/lambda/latest/dg/configuration-envvars.html#configuration-envvars-runtime
RESERVED_VARIABLES = frozenset({
    "_HANDLER", "_X_AMZN_TRACE_ID", "AWS_DEFAULT_REGION", "AWS_REGION", "AWS_EXECUTION_ENV",
    "AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "AWS_LAMBDA_FUNCTION_VERSION",
    "AWS_LAMBDA_INITIALIZATION_TYPE", "AWS_LAMBDA_LOG_GROUP_NAME", "AWS_LAMBDA_LOG_STREAM_NAME",
    "AWS_ACCESS_KEY", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
    "AWS_LAMBDA_RUNTIME_API", "LAMBDA_TASK_ROOT", "LAMBDA_RUNTIME_DIR",
})  # fmt: skip
LOGGING_CONFIG_ATTRIBUTE = "_emulator_logging_config"


def install(patches: PatchSet) -> None:
    patches.replace(TARGETS["invoke"], lambda original: _invoke)
    patches.require(TARGETS["get_param"])
    patches.replace(TARGETS["invoke_response"], _invoke_response)
    patches.replace(TARGETS["create_function"], _create_function)
    patches.replace(TARGETS["update_configuration"], _update_function_configuration)
    patches.replace(TARGETS["update_code"], _update_function_code)
    patches.replace(TARGETS["get_configuration"], _get_configuration)
    patches.replace(TARGETS["delete_function"], _delete_function)


def _invoke(self, body, request_headers, response_headers):
    """LambdaFunction.invoke, for `lambda.invoke`, InvokeAsync and moto's own event sources."""
    active = hooks.current()
    event = _parse_event(body)
    invocation_type = request_headers.get("x-amz-invocation-type", "RequestResponse")
    if invocation_type == "DryRun":
        return b""
    if invocation_type == "Event" or holding_service_lock():
        # Inside a serialized request (say a DynamoDB stream feeding a function), running the
        # handler now would deadlock as soon as it called back; Lambda polls those later anyway.
        submit_async(self.account_id, self.region, self.function_arn, event)
        return b""
    result = active.runtime.invoke(self, event)
    if result.function_error:
        response_headers["x-amz-function-error"] = result.function_error
    response_headers["x-amz-log-result"] = result.log_tail
    response_headers["x-amz-executed-version"] = str(self.version)
    return result.payload


def _invoke_response(original):
    def invoke(self):
        qualifiers = [v for k, v in self.querystring.items() if k.lower() == "qualifier"]
        qualifier = qualifiers[0][0] if qualifiers else None
        read_param = self._get_param

        def get_param(name: str, if_none: Any = None) -> Any:
            return qualifier if name == "qualifier" else read_param(name, if_none)

        self._get_param = get_param  # this response object serves this one request only
        return original(self)

    return invoke


def _create_function(original):
    def create_function(self, spec):
        _refuse_reserved_variables(spec)
        fn = original(self, spec)
        setattr(fn, LOGGING_CONFIG_ATTRIBUTE, _logging_config(fn, {}, spec.get("LoggingConfig")))
        return fn

    return create_function


def _update_function_configuration(original):
    def update_function_configuration(self, function_name, qualifier, body):
        _refuse_reserved_variables(body)
        if "LoggingConfig" in body:
            fn = self.get_function(function_name, qualifier)
            stored = getattr(fn, LOGGING_CONFIG_ATTRIBUTE, {})
            setattr(
                fn, LOGGING_CONFIG_ATTRIBUTE, _logging_config(fn, stored, body["LoggingConfig"])
            )
        return original(self, function_name, qualifier, body)

    return update_function_configuration


def _update_function_code(original):
    def update_function_code(self, function_name, qualifier, body):
        if body.get("Architectures"):
            # Set before the update, so a version published by it carries them too.
            self.get_function(function_name, qualifier).architectures = list(body["Architectures"])
        return original(self, function_name, qualifier, body)

    return update_function_code


def _get_configuration(original):
    def get_configuration(self, on_create=False):
        configuration = original(self, on_create)
        configuration["LoggingConfig"] = dict(
            getattr(self, LOGGING_CONFIG_ATTRIBUTE, None) or _logging_config(self, {}, None)
        )
        return configuration

    return get_configuration


def _logging_config(fn, stored: dict, update: dict | None) -> dict:
    """LoggingConfig as Lambda returns it: a log format, a log group, and levels for JSON."""
    config = {"LogFormat": "Text", "LogGroup": f"/aws/lambda/{fn.function_name}", **stored}
    config.update(update or {})
    if config["LogFormat"] == "JSON":
        config.setdefault("ApplicationLogLevel", "INFO")
        config.setdefault("SystemLogLevel", "INFO")
    else:
        config.pop("ApplicationLogLevel", None)
        config.pop("SystemLogLevel", None)
    return config


def logging_config(fn) -> dict:
    return getattr(fn, LOGGING_CONFIG_ATTRIBUTE, None) or _logging_config(fn, {}, None)


def _delete_function(original):
    def delete_function(self, function_name, qualifier=None):
        arn = self.get_function(function_name).function_arn  # raises as moto does when absent
        result = original(self, function_name, qualifier)
        hooks.current().runtime.retire(f"{arn}:{qualifier}" if qualifier else arn)
        return result

    return delete_function


def _refuse_reserved_variables(spec: dict) -> None:
    from moto.awslambda.exceptions import InvalidParameterValueException

    names = set((spec.get("Environment") or {}).get("Variables") or {})
    reserved = sorted(names & RESERVED_VARIABLES)
    if reserved:
        raise InvalidParameterValueException(
            "Lambda was unable to configure your environment variables because the environment "
            "variables you have provided contains reserved keys that are currently not supported "
            f"for modification. Reserved keys used in this request: {', '.join(reserved)}"
        )


def _parse_event(body) -> Any:
    from moto.core.exceptions import JsonRESTError

    if not body:
        return {}
    try:
        return json.loads(body)
    except ValueError as error:
        raise JsonRESTError(
            "InvalidRequestContentException", f"Could not parse request body into json: {error}"
        ) from None


def submit_async(account_id: str, region: str, function_arn: str, event: Any) -> None:
    """Queue one asynchronous invocation; the function is looked up again at each attempt.

    The function's asynchronous invoke configuration sets the retries (MaximumRetryAttempts),
    and an SQS on-failure destination receives Lambda's invocation record once they are spent.
    """
    from moto.awslambda.utils import get_backend

    active = hooks.current()
    request_id = str(uuid.uuid4())
    last: dict = {}
    queued_at = time.time()

    def attempt(number: int) -> bool:
        try:
            fn = get_backend(account_id, region).get_function(function_arn)
        except Exception:
            logger.warning("%s no longer exists; its event is dropped", function_arn)
            return True
        # Only first attempts crash, so that the retries show whether a crash was survived.
        crash_rate = active.dice.rates.crash if number == 1 else 0.0
        result = active.runtime.invoke(
            fn, event, crash_rate, active.dice.new_seed(),
            on_start=lambda: put_age(fn.function_arn, ASYNC_EVENT_AGE, queued_at),
        )  # fmt: skip
        if crash_rate and b"Runtime.ExitError" in result.payload:
            logger.warning("injected fault: worker crashed mid-invocation of %s", function_arn)
        last.update(error=result.function_error, payload=result.payload)
        return result.function_error is None

    config = _invoke_config(get_backend(account_id, region), function_arn)
    destination = config.get("DestinationConfig", {}).get("OnFailure", {}).get("Destination")

    def to_destination(count: int) -> None:
        record = _invocation_record(function_arn, request_id, count, event, last)
        _send_to_queue(destination, json.dumps(record))

    active.delivery.submit(
        attempt,
        f"asynchronous invocation of {function_arn}",
        attempts=1 + config.get("MaximumRetryAttempts", 2),
        on_exhausted=to_destination if destination and ":sqs:" in destination else None,
    )


def _invoke_config(backend, function_arn: str) -> dict:
    try:
        found = backend.get_function(function_arn).event_invoke_config
    except Exception:
        return {}
    return dict(found[0].config) if found else {}


def _invocation_record(function_arn, request_id, count, event, last: dict) -> dict:
    """What Lambda sends an on-failure destination once the retries are spent."""
    from ..s3_events import event_time

    try:
        response = json.loads(last.get("payload") or b"null")
    except ValueError:
        response = None
    return {
        "version": "1.0",
        "timestamp": event_time(),
        "requestContext": {
            "requestId": request_id,
            "functionArn": f"{function_arn}:$LATEST",
            "condition": "RetriesExhausted",
            "approximateInvokeCount": count,
        },
        "requestPayload": event,
        "responseContext": {
            "statusCode": 200,
            "executedVersion": "$LATEST",
            "functionError": last.get("error") or "Unhandled",
        },
        "responsePayload": response,
    }


def _send_to_queue(queue_arn: str, body: str) -> None:
    from moto.sqs.models import sqs_backends

    _, _, _, region, account_id, name = queue_arn.split(":", 5)
    sqs_backends[account_id][region].send_message(name, body)
