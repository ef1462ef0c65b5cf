from django.contrib import messages
from django.contrib.auth import get_user_model, login, logout
from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods, require_POST

from apps.accounts.forms import LoginForm, UserCreateForm, UserUpdateForm
from apps.accounts.services import user_create, user_sign_out_everywhere, user_update
from apps.core.permissions import admin_required

User = get_user_model()


@require_http_methods(["GET", "POST"])
def login_view(request):
    if request.user.is_authenticated:
        return redirect("dashboard:index")
    form = LoginForm(request, data=request.POST or None)
    if request.method == "POST" and form.is_valid():
        login(request, form.user)
        target = request.POST.get("next") or request.GET.get("next") or ""
        if not url_has_allowed_host_and_scheme(target, {request.get_host()}, request.is_secure()):
            target = ""
        return redirect(target or "dashboard:index")
    status = 400 if request.method == "POST" else 200
    return render(
        request,
        "accounts/login.html",
        {"form": form, "next": request.GET.get("next", "")},
        status=status,
    )


@require_POST
def logout_view(request):
    logout(request)
    messages.info(request, "You have been signed out.")
    return redirect("accounts:login")


@login_required
def profile_view(request):
    return render(request, "accounts/profile.html", {"profile": request.user})


@admin_required
@require_http_methods(["GET", "POST"])
def users_view(request):
    form = UserCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = user_create(
            username=form.cleaned_data["username"],
            email=form.cleaned_data["email"],
            role=form.cleaned_data["role"],
            password=form.cleaned_data["password"],
            by=request.user,
            request=request,
        )
        messages.success(request, f"User {user.username} created.")
        return redirect("accounts:users")
    users = User.objects.order_by("username")
    status = 400 if request.method == "POST" else 200
    return render(request, "accounts/users.html", {"users": users, "form": form}, status=status)


@admin_required
@require_POST
def user_update_view(request, pk: int):
    user = get_object_or_404(User, pk=pk)
    form = UserUpdateForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Invalid change.")
    elif user.pk == request.user.pk and (
        form.cleaned_data["role"] != "admin" or not form.cleaned_data["is_active"]
    ):
        messages.error(request, "You cannot demote or deactivate your own account.")
    else:
        user_update(
            user=user,
            by=request.user,
            request=request,
            role=form.cleaned_data["role"],
            is_active=form.cleaned_data["is_active"],
        )
        messages.success(request, f"User {user.username} updated.")
    if request.htmx:
        return render(request, "accounts/_user_row.html", {"u": user}, status=200)
    return redirect("accounts:users")


@admin_required
@require_POST
def user_sign_out_view(request, pk: int):
    """Revoke every API token and page session of the user (a lost laptop, a leaked token)."""
    user = get_object_or_404(User, pk=pk)
    user_sign_out_everywhere(user=user, by=request.user, request=request)
    messages.success(request, f"{user.username} is signed out everywhere.")
    return redirect("accounts:login" if user.pk == request.user.pk else "accounts:users")
