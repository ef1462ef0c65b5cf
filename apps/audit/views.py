"""Audit trail pages (administrators only): list with filters, event detail, exports, unmask."""

from __future__ import annotations

import json
from urllib.parse import urlencode

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpResponseBadRequest, StreamingHttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods

from apps.audit import selectors
from apps.audit.checkpoints import verify_since_checkpoint
from apps.audit.csvexport import SafeWriter
from apps.audit.models import AuditEvent
from apps.audit.services import audit_record
from apps.audit.unmask import (
    UnmaskError,
    UnmaskRateLimited,
    tokenized_columns,
    unmask_value,
    workflow_model,
)
from apps.core.permissions import admin_required

PAGE_SIZE = 50


def _filters(request) -> dict:
    return {k: request.GET.get(k, "").strip() for k in selectors.FILTERS}


@admin_required
@require_GET
def audit_list(request):
    filters = _filters(request)
    error = ""
    try:
        qs = selectors.audit_filter(filters)
    except selectors.FilterError as exc:
        qs, error = AuditEvent.objects.none(), f"{exc.field}: {exc.issue}"
    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    querystring = urlencode({k: v for k, v in filters.items() if v})
    return render(
        request,
        "audit/list.html",
        {
            "page": page,
            "events": page.object_list,
            "filters": filters,
            "filter_error": error,
            "chain": verify_since_checkpoint(),
            "statuses": AuditEvent.Status.choices,
            "actions": selectors.audit_actions(),
            "querystring": querystring,
            "nav": "audit",
        },
    )


@admin_required
@require_GET
def audit_detail(request, seq: int):
    event = get_object_or_404(AuditEvent, seq=seq)
    return render(
        request,
        "audit/detail.html",
        {
            "event": event,
            "details_json": json.dumps(event.details, indent=2, sort_keys=True),
            "chain": verify_since_checkpoint(),
            "nav": "audit",
        },
    )


class _Echo:
    def write(self, value):
        return value


def _csv_rows(qs):
    writer = SafeWriter(_Echo())
    yield writer.writerow(selectors.EXPORT_FIELDS)
    for event in qs.iterator(chunk_size=2000):
        row = selectors.event_as_dict(event)
        row["details"] = json.dumps(row["details"], sort_keys=True)
        yield writer.writerow([row[f] for f in selectors.EXPORT_FIELDS])


def _json_rows(qs, chain):
    yield (
        '{"chain": '
        + json.dumps(
            {
                "ok": chain.ok,
                "checked": chain.checked,
                "broken_seq": chain.broken_seq,
                "reason": chain.reason,
            }
        )
        + ', "events": ['
    )
    first = True
    for event in qs.iterator(chunk_size=2000):
        yield (
            ("" if first else ",")
            + "\n"
            + json.dumps(selectors.event_as_dict(event), sort_keys=True)
        )
        first = False
    yield "\n]}\n"


@admin_required
@require_GET
def audit_export(request, fmt: str):
    filters = _filters(request)
    try:
        qs = selectors.audit_filter(filters)
    except selectors.FilterError as exc:
        return HttpResponseBadRequest(f"{exc.field}: {exc.issue}", content_type="text/plain")
    qs = qs.order_by("seq")
    count = qs.count()
    # Who exported which slice is itself audited (filters only: no event content).
    audit_record(
        action="audit.export",
        request=request,
        resource_type="audit",
        details={
            "format": fmt,
            "filters": {k: v for k, v in filters.items() if v},
            "events": count,
        },
    )
    stamp = timezone.now().strftime("%Y%m%dT%H%M%SZ")
    if fmt == "csv":
        response = StreamingHttpResponse(_csv_rows(qs), content_type="text/csv; charset=utf-8")
    else:
        response = StreamingHttpResponse(
            _json_rows(qs, verify_since_checkpoint()), content_type="application/json"
        )
    response["Content-Disposition"] = f'attachment; filename="audit-{stamp}.{fmt}"'
    response["Cache-Control"] = "no-store"
    return response


@admin_required
@require_http_methods(["GET", "POST"])
def unmask_page(request):
    Workflow = workflow_model()
    workflows = list(Workflow.objects.order_by("name").prefetch_related("mappings"))
    choices = [{"workflow": w, "columns": tokenized_columns(w)} for w in workflows]
    form = {"workflow": "", "column": "", "value": "", "reason": ""}
    errors: dict[str, str] = {}
    result = None
    status = 200
    if request.method == "POST":
        form = {k: request.POST.get(k, "") for k in form}
        workflow = (
            Workflow.objects.filter(pk=form["workflow"]).first()
            if form["workflow"].isdigit()
            else None
        )
        if workflow is None:
            errors["workflow"] = "Choose a workflow."
        else:
            try:
                result = unmask_value(
                    workflow=workflow,
                    value=form["value"],
                    column=form["column"],
                    reason=form["reason"],
                    by=request.user,
                    request=request,
                )
            except UnmaskError as exc:
                errors[exc.field] = exc.issue
            except UnmaskRateLimited as exc:
                messages.error(
                    request, f"Too many unmask requests; try again in {exc.retry_after} s."
                )
                status = 429
        if errors:
            status = 400
        form["value"] = ""  # neither the token nor the clear value is echoed back into the form
    response = render(
        request,
        "audit/unmask.html",
        {
            "choices": choices,
            "form": form,
            "errors": errors,
            "result": result,
            "nav": "audit",
        },
        status=status,
    )
    response["Cache-Control"] = "no-store"
    return response
