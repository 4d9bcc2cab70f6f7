"""The lines `status` prints about the bill: cost, what is billed, and growth."""

from __future__ import annotations

from s3sizer.output import human_bytes, plural


def dollars(amount: float) -> str:
    return f"${amount:,.2f}" if amount >= 1 else f"${amount:.4f}"


def signed_bytes(amount: float) -> str:
    sign = "-" if amount < 0 else "+"
    return sign + human_bytes(int(abs(amount)))


def money_lines(storage: dict, growth: dict) -> str:
    prices = storage["prices"]
    basis = (
        "by storage class"
        if prices["basis"] == "classes"
        else "all as STANDARD (storage classes are not tracked)"
    )
    uploads = storage["incomplete_uploads"]
    noncurrent = storage["noncurrent"]
    lines = [
        f"monthly cost {dollars(storage['monthly_cost_usd'])} at {prices['region']}'s prices of "
        f"{prices['as_of']}, {basis}",
        f"billed       {human_bytes(storage['billable_bytes'])}: noncurrent "
        f"{human_bytes(noncurrent['bytes'])} in {plural(noncurrent['versions'], 'version')}, "
        f"{plural(storage['delete_markers'], 'delete marker')}, unfinished uploads "
        f"{human_bytes(uploads['bytes'])} in {plural(uploads['uploads'], 'upload')}",
    ]
    lines.append(uploads_line(uploads))
    held = [
        f"{name} {human_bytes(c['current_bytes'])}"
        + (f" (+{human_bytes(c['noncurrent_bytes'])} noncurrent)" if c["noncurrent_bytes"] else "")
        for name, c in (storage["by_class"] or {}).items()
        if c["current_bytes"] or c["noncurrent_bytes"]
    ]
    if held:
        lines.append(f"classes      {', '.join(held)}")
    week, day = growth["bytes_per_day_7d"], growth["bytes_per_day_1d"]
    if week is None:
        lines.append("growth       not known yet: under an hour of history")
    else:
        lines.append(
            f"growth       {signed_bytes(week)}/day over 7 days ({signed_bytes(day)}/day over "
            f"the last day); in 30 days {human_bytes(growth['projected_size_30d'])}, "
            f"{dollars(growth['projected_monthly_cost_usd_30d'])}/month"
        )
    return "\n".join(lines)


def uploads_line(uploads: dict) -> str:
    """When the unfinished uploads were last polled: they are only known from polling."""
    if not uploads["checked_at"]:
        return "uploads      not polled yet: `s3sizer status --refresh-uploads` polls now"
    oldest = f"; the oldest started {uploads['oldest']}" if uploads["oldest"] else ""
    return f"uploads      polled {uploads['checked_at']}{oldest}"
