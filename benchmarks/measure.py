"""What every section measures with: a log of API calls, percentiles, and Markdown tables."""

from __future__ import annotations

import math
import statistics
import time
from collections import Counter
from dataclasses import dataclass, field


class RequestLog:
    """Every API call made through the clients it watches, with its duration.

    botocore's ``before-call`` fires once per API call (retries happen below it), so the count is
    what the caller asked for, which is what AWS bills; ``after-call`` closes the timer.
    """

    def __init__(self, *clients):
        self.calls: list[tuple[str, float]] = []  # ("dynamodb:GetItem", seconds)
        for client in clients:
            client.meta.events.register("before-call.*.*", self._before)
            client.meta.events.register("after-call.*.*", self._after)
            client.meta.events.register("after-call-error.*.*", self._after)

    @staticmethod
    def _before(context, **_) -> None:
        context["benchmark_started"] = time.perf_counter()

    def _after(self, model, context, **_) -> None:
        elapsed = time.perf_counter() - context.get("benchmark_started", time.perf_counter())
        self.calls.append((f"{model.service_model.service_name}:{model.name}", elapsed))

    def take(self) -> list[tuple[str, float]]:
        """The calls since the last take, and start afresh."""
        taken, self.calls = self.calls, []
        return taken


def count_by_operation(calls: list[tuple[str, float]]) -> Counter[str]:
    return Counter(name for name, _ in calls)


def seconds_in(calls: list[tuple[str, float]], operation: str | None = None) -> float:
    return sum(seconds for name, seconds in calls if operation is None or name == operation)


def median(values: list[float]) -> float:
    return statistics.median(values) if values else math.nan


def p95(values: list[float]) -> float:
    """Nearest rank: with fewer than 20 values this is the largest one."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[math.ceil(0.95 * len(ordered)) - 1]


def ms(seconds: float) -> str:
    if math.isnan(seconds):
        return "n/a"
    if seconds >= 10:
        return f"{seconds:,.1f} s"
    if seconds >= 0.1:
        return f"{seconds * 1000:,.0f} ms"
    return f"{seconds * 1000:.1f} ms"


def ratio(numerator: float, denominator: float) -> str:
    if not denominator or math.isnan(numerator) or math.isnan(denominator):
        return "n/a"
    value = numerator / denominator
    if value >= 100:
        return f"{value:,.0f}x"
    return f"{value:.1f}x" if value >= 0.1 else f"{value:.2g}x"


def mib(kib: int | None) -> str:
    return "n/a" if kib is None else f"{kib / 1024:,.0f} MiB"


def per_event(counts: Counter[str], events: int) -> str:
    """``dynamodb:TransactGetItems 1, dynamodb:TransactWriteItems 1``, averaged over the events."""
    if not events:
        return "n/a"
    parts = []
    for name, total in sorted(counts.items()):
        mean = total / events
        parts.append(f"{name} {mean:g}" if mean == int(mean) else f"{name} {mean:.2f}")
    return ", ".join(parts) or "none"


@dataclass
class Table:
    headers: list[str]
    rows: list[list[str]] = field(default_factory=list)

    def add(self, *cells: object) -> None:
        self.rows.append([str(cell) for cell in cells])

    def markdown(self) -> str:
        lines = ["| " + " | ".join(self.headers) + " |", "|" + " --- |" * len(self.headers)]
        lines += ["| " + " | ".join(row) + " |" for row in self.rows]
        return "\n".join(lines)


@dataclass
class Section:
    """One numbered part of RESULTS.md: what was measured and how, then its tables."""

    title: str
    method: str
    tables: list[Table] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    highlights: list[str] = field(default_factory=list)  # one-liners for the summary on top

    def markdown(self) -> str:
        parts = [f"## {self.title}", self.method.strip()]
        parts += [table.markdown() for table in self.tables]
        parts += [note.strip() for note in self.notes]
        return "\n\n".join(parts)
