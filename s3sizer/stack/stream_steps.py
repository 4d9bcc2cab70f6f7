"""The steps of a fold stack's table stream (stack/fold.py), beside the others of steps.py."""

from __future__ import annotations

from dataclasses import field
from typing import Any

from s3sizer.stack.steps import Step, _step


@_step("enable table stream")
class EnableStream(Step):
    """UpdateTable with a StreamSpecification; done once the table is ACTIVE with its stream."""

    table: str
    view_type: str
    target = property(lambda self: f"{self.table} ({self.view_type})")


@_step("create event source mapping")
class CreateStreamMapping(Step):
    """A mapping of the table's stream: its ARN exists only once the stream is on (maybe by
    this same plan's EnableStream), so the executor reads it from the table when it runs."""

    function: str
    table: str
    settings: dict[str, Any] = field(repr=False)
    target = property(lambda self: f"{self.table} stream -> {self.function}")
