"""One Lambda execution environment, run as a worker process by the emulator.

It imports the function's handler once, then runs the invocations the emulator sends as JSON
lines on a dedicated pipe, so that the handler's own stdout and stderr stay free to be its logs.
It uses the standard library only and nothing from s3sizer: its sys.path is the function's
(the extracted zip, the usable layers, then the host's packages), set before anything else loads.

Usage (by the emulator only): python -I -u bootstrap.py REQUEST_FD REPLY_FD
"""

import decimal
import importlib
import json
import logging
import os
import random
import signal
import sys
import threading
import time
import traceback

# Written to stdout and stderr after each invocation, so the emulator knows it has all the output.
END_OF_OUTPUT = "\x1es3sizer-end-of-output\x1e\n"
MUTATING_OPERATIONS = (
    "Put", "Delete", "Update", "Create", "Copy", "Complete", "TransactWrite", "BatchWrite",
    "Upload", "Restore", "Send", "Publish",
)  # fmt: skip

_current = {"request_id": "", "crash_rate": 0.0, "crash_dice": random.Random()}


class LambdaContext:
    """The attributes and method of the context object Lambda's Python runtime passes."""

    def __init__(self, request: dict):
        self.function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME")
        self.function_version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION")
        self.invoked_function_arn = request["invoked_function_arn"]
        self.memory_limit_in_mb = os.environ.get(
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE"
        )  # a str, as on Lambda
        self.aws_request_id = request["request_id"]
        self.log_group_name = os.environ.get("AWS_LAMBDA_LOG_GROUP_NAME")
        self.log_stream_name = os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME")
        self.identity = None
        self.client_context = None
        self._deadline_ms = request["deadline_ms"]

    def get_remaining_time_in_millis(self) -> int:
        return max(int(self._deadline_ms - time.time() * 1000), 0)

    def log(self, message: str) -> None:
        sys.stdout.write(message)


def main() -> None:
    requests = os.fdopen(int(sys.argv[1]), "r", encoding="utf-8")
    replies = os.fdopen(int(sys.argv[2]), "w", encoding="utf-8")
    spec = json.loads(os.environ.pop("S3SIZER_WORKER_SPEC"))
    sys.path[:] = spec["path"]
    _exit_with_parent()
    _log_like_lambda()
    if spec.get("crash_hook"):
        _install_crash_hook()

    try:
        handler = _load_handler(os.environ["_HANDLER"])
    except Exception as error:
        _end_output()
        document = _error_document(error, "")
        _reply(replies, {"init_error": document, "log": _error_log(error, document)})
        return
    _end_output()
    _reply(replies, {"ready": True})

    for line in requests:
        request = json.loads(line)
        reply = _invoke(handler, request)
        _end_output()
        _reply(replies, reply)


def _invoke(handler, request: dict) -> dict:
    _current["request_id"] = request["request_id"]
    _current["crash_rate"] = request.get("crash_rate", 0.0)
    _current["crash_dice"] = random.Random(request.get("crash_seed"))
    try:
        result = handler(request["event"], LambdaContext(request))
    except Exception as error:
        document = _error_document(error, request["request_id"])
        return {"error": document, "log": _error_log(error, document)}
    try:
        return {"payload": json.dumps(result, default=_plain_number)}
    except (TypeError, ValueError) as error:
        marshal_error = _RuntimeFault(
            "Runtime.MarshalError", f"Unable to marshal response: {error}"
        )
        return {"error": _error_document(marshal_error, request["request_id"])}


def _load_handler(name: str):
    """Import the handler as Lambda's runtime does, with the same error types."""
    try:
        module_name, function_name = name.rsplit(".", 1)
    except ValueError as error:
        raise _RuntimeFault(
            "Runtime.MalformedHandlerName", f"Bad handler '{name}': {error}"
        ) from None
    try:
        module = importlib.import_module(module_name.replace("/", "."))
    except ImportError as error:
        message = f"Unable to import module '{module_name}': {error}"
        raise _RuntimeFault("Runtime.ImportModuleError", message) from None
    except SyntaxError as error:
        message = f"Syntax error in module '{module_name}': {error}"
        raise _RuntimeFault("Runtime.UserCodeSyntaxError", message) from None
    try:
        return getattr(module, function_name)
    except AttributeError:
        message = f"Handler '{function_name}' missing on module '{module_name}'"
        raise _RuntimeFault("Runtime.HandlerNotFound", message) from None


class _RuntimeFault(Exception):
    def __init__(self, error_type: str, message: str):
        super().__init__(message)
        self.error_type = error_type


def _error_document(error: Exception, request_id: str) -> dict:
    if isinstance(error, _RuntimeFault):
        return {"errorMessage": str(error), "errorType": error.error_type,
                "requestId": request_id, "stackTrace": []}  # fmt: skip
    # Drop this module's own frame: the trace starts in the function's code, as on Lambda.
    frames = traceback.extract_tb(error.__traceback__)[1:]
    return {
        "errorMessage": str(error),
        "errorType": type(error).__name__,
        "requestId": request_id,
        "stackTrace": traceback.format_list(frames),
    }


def _error_log(error: Exception, document: dict) -> str:
    """The runtime's line for an unhandled error. In the JSON log format it is one record, the
    error document after its time and level, as Lambda's Python runtime writes it."""
    if os.environ.get("AWS_LAMBDA_LOG_FORMAT") == "JSON":
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        return json.dumps({"timestamp": stamp, "level": "ERROR", **document})
    if isinstance(error, _RuntimeFault):
        return f"[ERROR] {error.error_type}: {error}"
    frames = traceback.format_list(traceback.extract_tb(error.__traceback__)[1:])
    trace = "".join(frames)
    return f"[ERROR] {type(error).__name__}: {error}\nTraceback (most recent call last):\n{trace}"


def _plain_number(value):
    # Lambda's runtime writes Decimal (what DynamoDB returns) as a JSON number.
    if isinstance(value, decimal.Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def _reply(replies, message: dict) -> None:
    replies.write(json.dumps(message) + "\n")
    replies.flush()


def _end_output() -> None:
    sys.stdout.flush()
    sys.stderr.flush()
    os.write(1, END_OF_OUTPUT.encode())
    os.write(2, END_OF_OUTPUT.encode())


def _log_like_lambda() -> None:
    """The root logger writes records as Lambda's Python runtime formats them.

    With the function's LoggingConfig LogFormat JSON, each record is one JSON object and the
    root logger's level is ApplicationLogLevel, as on Lambda.
    """

    class RequestId(logging.Filter):
        def filter(self, record: logging.LogRecord) -> bool:
            record.aws_request_id = _current["request_id"]
            return True

    class JsonFormatter(logging.Formatter):
        def format(self, record: logging.LogRecord) -> str:
            document = {
                "timestamp": self.formatTime(record, "%Y-%m-%dT%H:%M:%S")
                + f".{int(record.msecs):03d}Z",
                "level": record.levelname,
                "message": record.getMessage(),
                "logger": record.name,
                "requestId": record.aws_request_id,
            }
            if record.exc_info:
                document["stackTrace"] = self.formatException(record.exc_info).splitlines()
            return json.dumps(document, default=str)

    root = logging.getLogger()
    if os.environ.get("AWS_LAMBDA_LOG_FORMAT") == "JSON":
        formatter: logging.Formatter = JsonFormatter()
        level = os.environ.get("AWS_LAMBDA_LOG_LEVEL", "INFO").upper()
        root.setLevel({"TRACE": "DEBUG", "FATAL": "CRITICAL"}.get(level, level))
    else:
        formatter = logging.Formatter(
            "[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t%(message)s",
            "%Y-%m-%dT%H:%M:%S",
        )
    formatter.converter = time.gmtime
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(formatter)
    handler.addFilter(RequestId())
    root.addHandler(handler)


def _exit_with_parent() -> None:
    """Die with the emulator, even when a handler is stuck, so no worker is ever orphaned."""
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(1)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def _install_crash_hook() -> None:
    """Fault injection: kill this process right after a successful mutating AWS call.

    Every botocore session the function creates gets an 'after-call' handler, so the crash hits
    after the write has landed and before the handler could record that it did.
    """
    try:
        import botocore.session
    except ImportError:
        return
    original_init = botocore.session.Session.__init__

    def init_with_crash_hook(self, *args, **kwargs):
        original_init(self, *args, **kwargs)
        self.register("after-call", _maybe_crash)

    botocore.session.Session.__init__ = init_with_crash_hook


def _maybe_crash(http_response=None, model=None, **_ignored) -> None:
    operation = getattr(model, "name", "")
    if not operation.startswith(MUTATING_OPERATIONS) or http_response is None:
        return
    if http_response.status_code >= 300 or _current["crash_rate"] <= 0:
        return
    if _current["crash_dice"].random() < _current["crash_rate"]:
        sys.stderr.write(f"s3sizer emulator: injected crash after {operation}\n")
        sys.stdout.flush()
        sys.stderr.flush()
        os.kill(os.getpid(), signal.SIGKILL)


if __name__ == "__main__":
    main()
