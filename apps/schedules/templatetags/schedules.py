from django import template

from apps.executions.services import can_execute
from apps.schedules.selectors import schedule_output, workflow_schedules

register = template.Library()

COMMON_ZONES = (
    "UTC", "Europe/London", "Europe/Paris", "Europe/Berlin", "America/New_York",
    "America/Chicago", "America/Los_Angeles", "America/Sao_Paulo", "Asia/Kolkata",
    "Asia/Singapore", "Asia/Tokyo", "Australia/Sydney",
)  # fmt: skip


def section_context(workflow, user, *, errors=None, form=None) -> dict:
    return {
        "workflow": workflow,
        "schedules": [schedule_output(s, user) for s in workflow_schedules(workflow=workflow)],
        "can_add": can_execute(user, workflow),
        "errors": errors or {},
        "form": form or {"cron": "0 2 * * 1", "timezone": "UTC"},
        "zones": COMMON_ZONES,
    }


@register.inclusion_tag("schedules/_section.html")
def schedules_section(workflow, user):
    """The workflow page's Schedules section."""
    return section_context(workflow, user)
