from django import template

from apps.core.permissions import can_modify
from apps.notifications.selectors import execution_deliveries, workflow_notifications

register = template.Library()


def section_context(workflow, user, *, errors=None, form=None, secret: str = "") -> dict:
    return {
        "workflow": workflow,
        "notifications": workflow_notifications(workflow=workflow),
        "can_modify": can_modify(user, workflow),
        "errors": errors or {},
        "form": form or {"channel": "email", "when": "failure", "target": ""},
        "secret": secret,
    }


@register.inclusion_tag("notifications/_section.html")
def notifications_section(workflow, user):
    """The workflow page's Notifications section."""
    return section_context(workflow, user)


@register.inclusion_tag("notifications/_deliveries.html")
def execution_deliveries_section(execution):
    """The execution page's list of notifications sent about it."""
    return {"deliveries": execution_deliveries(execution=execution)}
