"""Where text goes: results on stdout, diagnostics and progress on stderr."""

from __future__ import annotations

import json
import re
import shlex
import sys
from typing import Any

from rich.console import Console


class _Console(Console):
    def on_broken_pipe(self) -> None:
        """The reader of stdout stopped reading (`s3sizer logs | head -1`). Rich would exit 1
        without a word; the CLI's error policy (cli/app.py) ends such a command normally."""
        self.quiet = True
        raise BrokenPipeError


out = _Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


def show(result: Any, json_out: bool, render) -> None:
    """`--json`: only the JSON on stdout, so it pipes into jq untouched; else `render(result)`,
    whose text names each command with the global options given, as stderr's lines do."""
    if json_out:
        out.file.write(json.dumps(result, indent=2) + "\n")
        out.file.flush()
    else:
        rendered = render(result)
        out.print(runnable(rendered) if isinstance(rendered, str) else rendered)


def print_now(line: str) -> None:
    """One plain line on stdout, flushed at once: a pipe sees it while the command still runs."""
    out.file.write(line + "\n")
    out.file.flush()


def plural(count: int, word: str, many: str | None = None) -> str:
    """`1 object`, `2 objects`, `0 objects`: the count with its noun in the right number."""
    return f"{count} {word if count == 1 else many or word + 's'}"


def still_waiting(count: int, word: str) -> str:
    """`1 dead letter still waits`, `2 dead letters still wait`."""
    return f"{plural(count, word)} still {'waits' if count == 1 else 'wait'}"


def _signed(count: int, word: str) -> str:
    """`+1 byte`, `-3 objects`, `+0 objects`: a drift, signed, with its noun."""
    return f"{count:+d} {word if abs(count) == 1 else word + 's'}"


def reconcile_text(result: dict) -> str:
    from s3sizer.lambdas.listing import REPORTED_BREAKDOWN

    kept = [result.get(f"drift_{name}", 0) for name in REPORTED_BREAKDOWN]
    moved = result["drift_bytes"] or result["drift_objects"] or any(kept)
    resumed = result.get("resumed", False)
    return (
        f"{human_bytes(result['total_size'])} in {plural(result['object_count'], 'object')}; "
        f"drift {_signed(result['drift_bytes'], 'byte')}, "
        f"{_signed(result['drift_objects'], 'object')}"
        + (
            f"; noncurrent {_signed(kept[0], 'byte')} in {_signed(kept[1], 'version')}, "
            f"{_signed(kept[2], 'delete marker')}"
            if any(kept)
            else ""
        )
        + (" (corrected)" if moved else "")
        + ("; resumed an interrupted run, whose drift this counts too" if resumed else "")
        + _unfolded_text(result)
    )


def _unfolded_text(result: dict) -> str:
    """A fold stack's totals apart from its keys: why, when its fold's dead letters wait."""
    if not (result.get("unfolded_bytes") or result.get("unfolded_objects")):
        return ""  # the transaction path, or no gap
    letters = result.get("fold_dead_letters") or 0
    gap = ", ".join(
        _signed(-result[name], unit)
        for name, unit in (("unfolded_bytes", "byte"), ("unfolded_objects", "object"))
    )
    if not letters:
        return (
            f"; the totals differ from the keys by {gap}: changes the fold had not counted yet "
            "(a backlog, or a batch still retried, which `status` counts as a fold dead letter "
            "once given up on); run `s3sizer reconcile` again once the bucket is quiet, and only "
            "if the gap stays, take the bucket's baseline again (`s3sizer untrack` and `track`; "
            "the first bucket: `teardown` and `setup`)"
        )
    waits = "waits" if letters == 1 else "wait"
    return (
        f"; {plural(letters, 'stream batch', 'stream batches')} {waits} in the stack's fold "
        f"dead-letter queue: the totals differ from the keys by {gap} until `s3sizer redrive` "
        "folds them"
    )


# The global options given on the command line (`--stack vst`, ...), put into each command a
# message tells the user to run: copied as shown, it acts on the same stack, region and endpoint
# (without them, `s3sizer teardown` would act on the default stack).
_given_globals: list[tuple[str, str]] = []


def given_globals(options: list[str]) -> None:
    """``options``: flags and their values, in turn (`--stack`, `vst`, ...)."""
    global _given_globals
    _given_globals = list(zip(options[::2], options[1::2], strict=True))


def runnable(text: str) -> str:
    """``text`` with the given global options in each `s3sizer ...` it names; one that names
    its own stack (another stack's) takes the others (the endpoint and region it is on)."""
    if not _given_globals:
        return text
    but_stack = _quoted([option for option in _given_globals if option[0] != "--stack"])
    if but_stack:
        text = re.sub(r"`s3sizer (?=--stack )", lambda _: f"`s3sizer {but_stack} ", text)
    # The local AWS takes none of them: it serves every stack, on its own --host and --port.
    return re.sub(
        r"`s3sizer (?!-|emulator\b)", lambda _: f"`s3sizer {_quoted(_given_globals)} ", text
    )


def _quoted(options: list[tuple[str, str]]) -> str:
    return " ".join(shlex.quote(part) for option in options for part in option)


def warning(text: str) -> None:
    err.print(f"[yellow]Warning:[/] {runnable(text)}")


def error_line(message: str) -> None:
    """One line on stderr that names the problem and the fix; never wrapped, never markup."""
    flat = " ".join(runnable(str(message)).split())
    sys.stderr.write(f"Error: {flat}\n")
    sys.stderr.flush()


def interrupted_line() -> None:
    """What an interrupted command says: one line, no traceback (see s3sizer.cli.app)."""
    from s3sizer import interrupts

    sys.stderr.write(interrupts.stopped_line() + "\n")
    sys.stderr.flush()


def print_plan(plan, *, dry_run: bool) -> None:
    """The steps a lifecycle command will run (or, with --dry-run, would run)."""
    if not plan.steps:
        out.print(f"Nothing to do: the {plan.title} is up to date.")
        return
    verb = "Would run" if dry_run else "Plan"
    out.print(f"{verb} for the {plan.title} ({plural(len(plan.steps), 'step')}):")
    for note in plan.notes:
        out.print(f"  note: {runnable(note)}")
    for step in plan.steps:
        out.print(f"  - {step.describe()}")


def human_bytes(n: int) -> str:
    # The plot's own formatter; imported here, not at the top, because it pulls in botocore.
    from s3sizer.lambdas.render import human_bytes as plot_units

    return plot_units(n)


def _metric_text(document: dict, directives: list) -> str:
    """An EMF document as its namespace, metrics and dimensions: `[METRIC] s3sizer
    BucketSizeBytes=101 NumberOfObjects=2 Bucket=photos`."""
    parts = ["[METRIC]"]
    for directive in directives:
        if not isinstance(directive, dict):
            continue
        parts.append(str(directive.get("Namespace", "")))
        for metric in directive.get("Metrics") or []:
            name = metric.get("Name") if isinstance(metric, dict) else None
            if name in document:
                parts.append(f"{name}={document[name]}")
        for dimensions in directive.get("Dimensions") or []:
            parts += [f"{d}={document[d]}" for d in dimensions if d in document]
    return " ".join(part for part in parts if part)


def history_table(points: list[dict], title: str = "History"):
    from rich.table import Table

    table = Table(title=title)
    table.add_column("time (UTC)")
    table.add_column("total size", justify="right")
    table.add_column("objects", justify="right")
    for point in points:
        table.add_row(
            point["timestamp"], human_bytes(point["total_size"]), str(point["object_count"])
        )
    return table


def driver_table(result: dict):
    from rich.table import Table

    table = Table(title=f"Driver run on {result.get('bucket')}")
    for column in ("operation", "key", "bytes", "total size", "objects"):
        table.add_column(column)
    for op in result.get("operations", []):
        size = human_bytes(op["total_size"])
        table.add_row(op["op"], op["key"], str(op.get("bytes", "")), size, str(op["object_count"]))
    return table


DEFAULT_TOP = 10  # prefixes shown in text and in watch unless --top says otherwise


def prefix_table(prefixes: list[dict], bucket: str | None = None):
    from rich.table import Table

    table = Table(title="Largest prefixes" + (f" of {bucket}" if bucket else ""))
    table.add_column("prefix")
    table.add_column("total size", justify="right")
    table.add_column("objects", justify="right")
    table.add_column("noncurrent", justify="right")
    table.add_column("per day (7 d)", justify="right")
    for found in prefixes:
        week = found.get("bytes_per_day_7d")
        table.add_row(
            found["prefix"],
            human_bytes(found["total_size"]),
            str(found["object_count"]),
            human_bytes(found.get("noncurrent_bytes", 0)),
            "-" if week is None else ("-" if week < 0 else "+") + human_bytes(int(abs(week))),
        )
    return table


def log_line(event: dict) -> str:
    """A CloudWatch log event as `YYYY-MM-DDTHH:MM:SS.mmmZ message`, one line per event: with
    the date, as `aws logs tail` prints it, since `--since` reaches back days."""
    from datetime import UTC, datetime

    stamp = datetime.fromtimestamp(event["timestamp"] / 1000, UTC)
    when = f"{stamp:%Y-%m-%dT%H:%M:%S}.{stamp.microsecond // 1000:03d}Z"
    return f"{when} {readable(event['message'].rstrip())}"


def readable(message: str) -> str:
    """A line of Lambda's JSON log format as text: a function's record as its level and
    message (and its error, if any), a platform record as its type and fields; any other line
    (an EMF document, a plain print) as it is."""
    import json

    if not message.startswith("{"):
        return message
    try:
        document = json.loads(message)
    except ValueError:
        return message
    if not isinstance(document, dict):
        return message
    if isinstance(document.get("record"), dict) and str(document.get("type", "")).startswith(
        "platform."
    ):
        record = dict(document["record"])
        metrics = record.pop("metrics", None) or {}
        fields = {**record, **metrics} if isinstance(metrics, dict) else record
        return " ".join([document["type"], *(f"{k}={v}" for k, v in fields.items())])
    directives = (
        (document.get("_aws") or {}).get("CloudWatchMetrics") if "_aws" in document else None
    )
    if isinstance(directives, list) and directives:  # an Embedded Metric Format document
        return _metric_text(document, directives)
    if "level" in document and ("message" in document or "errorType" in document):
        error = f"{document.get('errorType')}: {document.get('errorMessage', '')}"
        if "message" in document:
            text = f"[{document['level']}] {document['message']}"
            text += f" ({error})" if document.get("errorType") else ""
        else:  # the runtime's record of an unhandled error: the error is the message
            text = f"[{document['level']}] {error}"
        trace = document.get("stackTrace")
        if isinstance(trace, list) and trace:
            text += "\n" + "\n".join(str(line).rstrip("\n") for line in trace)
        return text
    return message


_BARS = "▁▂▃▄▅▆▇█"


def sparkline(values: list[int], width: int = 60) -> str:
    values = values[-width:]
    if not values:
        return ""
    low, high = min(values), max(values)
    span = (high - low) or 1
    return "".join(_BARS[int((v - low) / span * (len(_BARS) - 1))] for v in values)


def watch_view(snap: dict) -> str:
    from rich.markup import escape

    lines = [
        f"[bold]{snap['bucket']}[/]  {human_bytes(snap['total_size'])} in "
        f"{plural(snap['object_count'], 'object')}  (largest {human_bytes(snap['max_size'])})",
        sparkline(snap["sizes"]),
        f"last change {snap['updated_at'] or 'never'}",
    ]
    prefixes = snap.get("prefixes", [])
    width = max((len(p["prefix"]) for p in prefixes), default=0)
    for found in prefixes:
        lines.append(
            f"{escape(found['prefix']).ljust(width)}  {human_bytes(found['total_size']):>10}  "
            f"{sparkline(found['sizes'], 30)}"
        )
    return "\n".join(lines)


def watch_line(snap: dict) -> str:
    """`watch` into a pipe: the time, the totals and the largest prefixes, on one plain line."""
    from datetime import UTC, datetime

    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    line = (
        f"{now} {snap['bucket']} {human_bytes(snap['total_size'])} "
        f"({plural(snap['total_size'], 'byte')}) in {plural(snap['object_count'], 'object')}"
    )
    prefixes = ", ".join(
        f"{p['prefix']} {human_bytes(p['total_size'])}" for p in snap.get("prefixes", [])
    )
    return line + (f"; {prefixes}" if prefixes else "")
