"""CloudWatch Logs: FilterLogEvents always interleaves the streams by time, as AWS has done
since 2019 (it ignores `interleaved`); moto groups events by stream otherwise."""

from __future__ import annotations

import inspect

from .hooks import PatchSet, Target

TARGETS = {
    "filter_log_events": Target(
        "FilterLogEvents interleaves streams", "moto.logs.models", "LogGroup",
        "filter_log_events",
        ("self", "log_group_name", "log_stream_names", "start_time", "end_time", "limit",
         "next_token", "filter_pattern", "interleaved"),
    ),
}  # fmt: skip


def install(patches: PatchSet) -> None:
    patches.replace(TARGETS["filter_log_events"], _filter_log_events)


def _filter_log_events(original):
    signature = inspect.signature(original)

    def filter_log_events(*args, **kwargs):
        arguments = signature.bind(*args, **kwargs).arguments
        arguments["interleaved"] = True
        return original(**arguments)

    return filter_log_events
