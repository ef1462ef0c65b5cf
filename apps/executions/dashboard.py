"""The home page: the executions dashboard, with counts of connections and workflows."""

from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.urls import path

from apps.connections.models import Connection
from apps.executions.selectors import execution_active, execution_recent, execution_stats
from apps.workflows.models import Workflow

app_name = "dashboard"


@login_required
def dashboard(request):
    """Counts, success rate, rows masked per day (30 days) and recent runs. Executions are the
    user's own (all of them for admins); connections and workflows are visible to every user."""
    stats = execution_stats(user=request.user, days=30)
    stats.update(connections=Connection.objects.count(), workflows=Workflow.objects.count())
    return render(
        request,
        "core/dashboard.html",
        {
            "stats": stats,
            "chart": stats["chart"],
            "recent": list(execution_recent(user=request.user, limit=8)),
            "active": execution_active(user=request.user),
            "nav": "dashboard",
        },
    )


urlpatterns = [
    path("", dashboard, name="index"),
]
