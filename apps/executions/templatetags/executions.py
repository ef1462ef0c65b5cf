from django import template

from apps.executions.services import can_cancel, can_execute

register = template.Library()


@register.filter
def can_run(workflow, user) -> bool:
    return can_execute(user, workflow)


@register.filter
def may_cancel(execution, user) -> bool:
    return can_cancel(user, execution)


@register.filter
def eta_seconds(execution) -> int | None:
    """Seconds left at the current speed, when there is a speed and a total to measure against."""
    if execution.is_final or not execution.rows_total or execution.rows_per_second <= 0:
        return None
    left = max(0, execution.rows_total - execution.rows_processed)
    return int(left / execution.rows_per_second)


@register.filter
def duration(seconds) -> str:
    if seconds is None or seconds == "":
        return "—"
    exact = float(seconds)
    if exact < 10 and exact != int(exact):  # a short run: "0s" would say it took nothing
        return "<0.1s" if exact < 0.1 else f"{exact:.1f}s"
    seconds = int(round(exact))
    if seconds < 60:
        return f"{seconds}s"
    minutes, secs = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m {secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m"


@register.filter
def thousands(value) -> str:
    try:
        return f"{int(value):,}"
    except (TypeError, ValueError):
        return ""
