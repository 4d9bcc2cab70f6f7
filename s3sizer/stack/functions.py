"""What each function's configuration should be, as Lambda reports it: shared by deploy (which
creates and updates the functions) and setup (which brings a deployed tracker a new setting)."""

from __future__ import annotations

from s3sizer.lambdas.own_keys import OWN_BUCKET_VARIABLE
from s3sizer.stack import steps as st
from s3sizer.stack.iam import Arns
from s3sizer.stack.model import PLOT_WINDOW_SECONDS, FunctionSpec, StackConfig


def function_settings(spec: FunctionSpec, config: StackConfig, arns: Arns, layer_arn) -> dict:
    """The function's configuration as Lambda reports it, so it can be compared field by field."""
    names = arns.names
    env = {"TABLE_NAME": names.table}
    if spec.short == "size-tracking":
        env |= {
            "HISTORY_TTL_DAYS": str(config.history_ttl_days),
            "PREFIX_DEPTH": str(config.prefix_depth),
            "BUCKET_SETTINGS": "table",
            # Marks a tracker that counts a key item without a depth at the settings item's
            # `unmarked_depth`; the earlier ones counted it at their own depth, so a depth
            # change waits for this one (plan.py).
            "KEY_DEPTHS": "settings",
            # The bucket s3sizer writes its plot and layer uploads to: its own keys are ignored
            # there, and counted like any other key in every other bucket.
            OWN_BUCKET_VARIABLE: config.bucket,
        }
        if config.write_path == "fold":  # absent on the default path: its env stays as it was
            env["WRITE_PATH"] = "fold"
    elif spec.short == "fold":
        env["HISTORY_TTL_DAYS"] = str(config.history_ttl_days)
    elif spec.short == "plotting":
        env |= {"BUCKET_NAME": config.bucket, "WINDOW_SECONDS": str(PLOT_WINDOW_SECONDS)}
    elif spec.short == "driver":
        env |= {
            "BUCKET_NAME": config.bucket,
            "PLOTTING_FUNCTION": names.function("plotting"),
            "DRIVER_KEY_PREFIX": config.driver_prefix,
        }
    settings = {
        "Role": arns.role(spec.short),
        "Handler": spec.handler,
        "Runtime": config.runtime,
        "MemorySize": config.memory_of(spec),
        "Timeout": config.timeout_of(spec),
        "Environment": {"Variables": env},
        "Layers": [layer_arn] if layer_arn else [],
    }
    if spec.short in PER_EVENT_FUNCTIONS:
        settings["LoggingConfig"] = per_event_logging(names.log_group(spec.short))
    return settings


# The functions that run per batch of events: their log lines are billed per event.
PER_EVENT_FUNCTIONS = ("size-tracking", "fold")


def per_event_logging(log_group: str) -> dict:
    """JSON logs with a system log level of WARN: Lambda leaves out the START, END and REPORT
    lines of an invocation that succeeds, a third or more of what a small batch writes to
    CloudWatch Logs (docs/scaling.md); a failed invocation's stay. The function's own lines
    are kept from INFO up, as before, each one JSON object (`s3sizer logs` shows them as text).
    As Lambda reports it, with the log group it always names."""
    return {
        "LogFormat": "JSON",
        "ApplicationLogLevel": "INFO",
        "SystemLogLevel": "WARN",
        "LogGroup": log_group,
    }


def configuration_differs(current: dict, desired: dict) -> bool:
    layers = [layer["Arn"] for layer in current.get("Layers", [])]
    for key, want in desired.items():
        have = layers if key == "Layers" else current.get(key)
        if key == "Environment":
            have = (have or {}).get("Variables", {})
            want = want["Variables"]
        if key == "Layers" and any(isinstance(arn, st.NewLayerArn) for arn in want):
            return True
        if key == "LoggingConfig" and have is None:
            # Lambda always reports it; an endpoint that keeps none (moto alone, without the
            # emulator) could never show it as set, and every deploy would set it again.
            continue
        if have != want:
            return True
    return False
