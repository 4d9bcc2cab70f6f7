"""`status` as text: the bucket's figures, its delivery and baseline, what it costs, and one
row per tracked bucket once the stack tracks more than one."""

from __future__ import annotations

from s3sizer.output import human_bytes, plural


def status_text(status: dict) -> str:
    total, peak = status["total_size"], status["max_size"]
    queued = status.get("queued")
    return (
        f"bucket       {status['bucket']}\n"
        f"total size   {human_bytes(total)} ({plural(total, 'byte')})\n"
        f"objects      {status['object_count']}\n"
        f"largest ever {human_bytes(peak)} ({plural(peak, 'byte')})\n"
        f"last change  {status['updated_at'] or 'never'}\n"
        f"delivery     {status.get('delivery') or 'not deployed'}"
        + (f", {queued} queued" if queued is not None else "")
        + f"\ndead letters {_dead_letters(status)}"
        + (
            f"\nfold dead letters {_dead_letters(status, 'fold_dead_letters')}"
            if "fold_dead_letters" in status
            else ""
        )
        + _lag_line("fold lag    ", status, "fold_lag_s", "behind the table's stream")
        + _lag_line("delivery lag", status, "delivery_lag_s", "in Lambda's queue")
        + _baseline_line(status.get("baseline"))
        + _money_lines(status)
        + _bucket_rows(status.get("buckets") or [])
    )


def _dead_letters(status: dict, field: str = "dead_letters") -> str:
    dead = status.get(field, 0)
    return "unknown: the dead-letter queue is gone" if dead is None else str(dead)


def _lag_line(label: str, status: dict, field: str, where: str) -> str:
    """The longest wait of the last five minutes (stack/lag.py), where the stack has one."""
    if field not in status:
        return ""
    if status[field] is None:
        return f"\n{label} none in the last 5 minutes"
    return f"\n{label} {status[field]:.1f} s {where}, the most in the last 5 minutes"


def _money_lines(status: dict) -> str:
    if "storage" not in status:
        return ""
    if status["storage"]["current"]["bytes"] != status["total_size"]:
        # A first baseline's partial figures: the bill counts the totals it sets at its end.
        return "\nmonthly cost known once the baseline ends"
    from s3sizer.costs.text import money_lines

    return "\n" + money_lines(status["storage"], status["growth"])


def _bucket_rows(rows: list[dict]) -> str:
    """One line per tracked bucket, once the stack tracks more than one."""
    if len(rows) < 2:
        return ""
    width = max(len("bucket"), *(len(row["bucket"]) for row in rows))
    lines = [
        f"\n\n{'bucket':<{width}}  {'size':>10}  {'objects':>9}  {'largest':>10}  route        last change"
    ]
    for row in rows:
        baseline = row.get("baseline") or {}
        partial = ""
        if baseline.get("state") == "in_progress":  # running, or stopped for the same command
            done = round(100 * baseline.get("done", 0))
            partial = " (baseline owed)" if baseline.get("owed") else f" (baseline {done}% merged)"
        lines.append(
            f"{row['bucket']:<{width}}  {human_bytes(row['total_size']):>10}  "
            f"{row['object_count']:>9}  {human_bytes(row['max_size']):>10}  "
            f"{(row.get('delivery') or 'not routed'):<11}  {row['updated_at'] or 'never'}{partial}"
        )
    return "\n".join(lines)


def _baseline_line(baseline: dict | None) -> str:
    if not baseline or baseline.get("state") != "in_progress":
        return ""
    if baseline.get("owed"):
        return (
            "\nbaseline     owed: a change of this bucket's route or settings stopped before "
            "its baseline began, and the totals may miss what it changes (run the same setup, "
            "track or deploy again)"
        )
    done = round(100 * baseline.get("done", 0))
    return (
        f"\nbaseline     in progress, {done}% merged: the totals are "
        "partial until it ends (run the same command again to resume it)"
    )
