"""Shared fixtures: the four actors of the permission matrix and API clients for them."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _fast_password_hashing(request):
    """bcrypt cost 12 is deliberately slow; tests that check hashing opt out with
    @pytest.mark.bcrypt."""
    if not request.config.pluginmanager.hasplugin("django") or request.node.get_closest_marker(
        "bcrypt"
    ):
        yield
        return
    settings = request.getfixturevalue("settings")
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    yield


@pytest.fixture(autouse=True)
def _sqlite_files_in_test_folders(request, tmp_path_factory):
    """Tests keep their SQLite files under pytest's temporary folder: allow it beside the data
    folder. Files anywhere else stay refused, as in production."""
    if not request.config.pluginmanager.hasplugin("django"):
        yield
        return
    from django.conf import settings as django_settings

    if django_settings.SQLITE_ALLOWED_DIRS:
        yield
        return
    settings = request.getfixturevalue("settings")
    settings.SQLITE_ALLOWED_DIRS = [str(settings.DATA_DIR), str(tmp_path_factory.getbasetemp())]
    yield


@pytest.fixture(autouse=True)
def _clear_cache(request):
    if request.config.pluginmanager.hasplugin("django"):
        from django.core.cache import cache

        cache.clear()
    yield


@pytest.fixture
def admin_user(db):
    from tests.factories import AdminFactory

    return AdminFactory(username="admin_alice")


@pytest.fixture
def owner(db):
    from tests.factories import UserFactory

    return UserFactory(username="owner_olivia")


@pytest.fixture
def other_user(db):
    from tests.factories import UserFactory

    return UserFactory(username="other_oscar")


def _api_client(user=None):
    from rest_framework.test import APIClient

    client = APIClient()
    if user is not None:
        from apps.accounts.tokens import token_issue

        token, _ = token_issue(user=user)
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


@pytest.fixture
def api(db):
    """api(user) -> an APIClient authenticated by a JWT for that user (None: anonymous)."""
    return _api_client


@pytest.fixture
def page(client):
    """page(user) -> the Django test client signed in as that user (None: anonymous)."""

    def make(user=None):
        client.logout()
        if user is not None:
            client.force_login(user)
        return client

    return make


def pytest_collection_modifyitems(config, items):
    """Every test that uses a SQL Server database fixture carries the `sqlserver` marker, so
    `-m sqlserver` selects exactly the tests that need the server."""
    for item in items:
        if any(name.startswith("sqlserver_db") for name in getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.sqlserver)
