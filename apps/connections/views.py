from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from apps.connections import browse, probe, services
from apps.connections.forms import ConnectionForm
from apps.connections.models import Connection
from apps.core.logging import redact_text
from apps.core.permissions import can_modify
from apps.core.ratelimit import RateLimited
from masking import TerminalError


@login_required
def connection_list(request):
    conns = Connection.objects.select_related("created_by").order_by("name")
    return render(request, "connections/list.html", {"connections": conns, "nav": "connections"})


def _apply_errors(form: ConnectionForm, errors: dict) -> None:
    for field, message in errors.items():
        name = field.split(".", 1)[-1] if field.startswith("options.") else field
        form.add_error(name if name in form.fields else None, message)


@login_required
@require_http_methods(["GET", "POST"])
def connection_form(request, pk: int | None = None):
    conn = get_object_or_404(Connection, pk=pk) if pk else None
    if conn and not can_modify(request.user, conn):
        raise PermissionDenied
    initial = (
        ConnectionForm.initial_for(conn)
        if conn
        else {"dialect": request.GET.get("dialect", "postgresql")}
    )
    form = ConnectionForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            if conn:
                conn = services.connection_update(
                    conn=conn, data=form.to_data(), by=request.user, request=request
                )
                messages.success(request, f"Connection '{conn.name}' updated.")
            else:
                conn = services.connection_create(
                    data=form.to_data(), by=request.user, request=request
                )
                messages.success(request, f"Connection '{conn.name}' created.")
            return redirect("connections:list")
        except services.ConnectionInputError as exc:
            _apply_errors(form, exc.errors)
    status = 400 if request.method == "POST" else 200
    dialect = (
        form.data.get("dialect") if form.is_bound else initial.get("dialect")
    ) or "postgresql"
    return render(
        request,
        "connections/form.html",
        {"form": form, "conn": conn, "dialect": dialect, "nav": "connections"},
        status=status,
    )


def _too_many_tests(request, exc: RateLimited):
    """HTMX swaps only successful answers: the partial says it with 200; other clients get 429."""
    message = f"Too many connection tests; try again in {exc.retry_after} s."
    status = 200 if request.htmx else 429
    return render(request, "connections/_test_result.html", {"error": message}, status=status)


@login_required
@require_POST
def connection_test_form(request, pk: int | None = None):
    """HTMX: test what is typed in the form, before saving."""
    conn = get_object_or_404(Connection, pk=pk) if pk else None
    if conn and not can_modify(request.user, conn):
        raise PermissionDenied
    form = ConnectionForm(request.POST)
    if not form.is_valid():
        return render(
            request,
            "connections/_test_result.html",
            {"error": "Fill in the connection fields first."},
        )
    try:
        result = probe.connection_test_unsaved(
            data=form.to_data(), by=request.user, request=request, instance=conn
        )
    except services.ConnectionInputError as exc:
        return render(
            request, "connections/_test_result.html", {"error": "; ".join(exc.errors.values())}
        )
    except RateLimited as exc:
        return _too_many_tests(request, exc)
    return render(request, "connections/_test_result.html", {"result": result})


@login_required
@require_POST
def connection_test(request, pk: int):
    conn = get_object_or_404(Connection, pk=pk)
    try:
        probe.connection_test(conn=conn, by=request.user, request=request)
    except RateLimited as exc:
        if not request.htmx:
            return _too_many_tests(request, exc)
        messages.error(request, f"Too many connection tests; try again in {exc.retry_after} s.")
    if request.htmx:
        return render(request, "connections/_row.html", {"c": conn})
    return redirect("connections:list")


@login_required
@require_http_methods(["GET", "POST"])
def connection_delete(request, pk: int):
    conn = get_object_or_404(Connection, pk=pk)
    if not can_modify(request.user, conn):
        raise PermissionDenied
    in_use = services.connection_workflow_names(conn)
    if request.method == "POST":
        try:
            services.connection_delete(conn=conn, by=request.user, request=request)
        except services.ConnectionInUse as exc:
            messages.error(request, str(exc))
            return redirect("connections:list")
        messages.success(request, f"Connection '{conn.name}' deleted.")
        return redirect("connections:list")
    return render(
        request, "connections/delete.html", {"conn": conn, "in_use": in_use, "nav": "connections"}
    )


# --- schema browser: page, then one HTMX partial per level --------------------------------------
def _browse_error(request, exc):
    if isinstance(exc, services.ConnectionInputError):
        message = "; ".join(exc.errors.values())
    elif isinstance(exc, TerminalError):
        message = redact_text(str(exc))
    else:
        message = (
            f"Could not read the schema ({type(exc).__name__}). Test the connection for details."
        )
    return render(request, "connections/_browse_error.html", {"message": message})


@login_required
def schema_browser(request, pk: int):
    conn = get_object_or_404(Connection, pk=pk)
    refresh = request.GET.get("refresh") == "1"
    try:
        schemas = browse.connection_schemas(conn=conn, refresh=refresh)
    except Exception as exc:
        schemas, error = [], _browse_error(request, exc).content.decode()
    else:
        error = ""
        browse.connection_audit_browse(conn=conn, request=request, what="schemas")
    return render(
        request,
        "connections/browser.html",
        {"conn": conn, "schemas": schemas, "error": error, "nav": "connections"},
    )


@login_required
def schema_tables(request, pk: int):
    conn = get_object_or_404(Connection, pk=pk)
    schema = request.GET.get("schema", "")
    try:
        tables = browse.connection_tables(conn=conn, schema=schema)
    except Exception as exc:
        return _browse_error(request, exc)
    browse.connection_audit_browse(conn=conn, request=request, what="tables", schema=schema)
    return render(
        request, "connections/_tables.html", {"conn": conn, "schema": schema, "tables": tables}
    )


@login_required
def schema_columns(request, pk: int):
    conn = get_object_or_404(Connection, pk=pk)
    schema, table = request.GET.get("schema", ""), request.GET.get("table", "")
    try:
        info = browse.connection_table(conn=conn, schema=schema, table=table)
    except Exception as exc:
        return _browse_error(request, exc)
    browse.connection_audit_browse(
        conn=conn, request=request, what="columns", schema=schema, table=table
    )
    fk_by_col = {c: fk for fk in info.foreign_keys for c in fk.columns}
    unique_cols = {c for u in info.unique_constraints for c in u.columns}
    return render(
        request,
        "connections/_columns.html",
        {"conn": conn, "info": info, "fk_by_col": fk_by_col, "unique_cols": unique_cols},
    )
