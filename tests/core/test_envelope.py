import pytest
from django.test import Client
from django.urls import path
from rest_framework.views import APIView

from apps.core.envelope import ok

pytestmark = pytest.mark.django_db


class BoomAPI(APIView):
    authentication_classes: list = []
    permission_classes: list = []

    def get(self, request):
        raise RuntimeError("secret-detail-that-must-not-leak password=hunter2")


class AdminOnlyAPI(APIView):
    def get(self, request):
        from rest_framework.exceptions import PermissionDenied

        raise PermissionDenied()


class EchoAPI(APIView):
    def get(self, request):
        return ok({"echo": 1}, "fine")


from config.urls import urlpatterns as base_patterns  # noqa: E402

urlpatterns = [
    path("api/test/boom", BoomAPI.as_view()),
    path("api/test/forbidden", AdminOnlyAPI.as_view()),
    path("api/test/echo", EchoAPI.as_view()),
    *base_patterns,
]
handler404 = "apps.core.views.not_found"
handler500 = "apps.core.views.server_error"


def assert_error(response, status, code):
    assert response.status_code == status
    body = response.json()
    assert set(body) == {"success", "error"}
    assert body["success"] is False
    assert set(body["error"]) == {"code", "message", "details"}
    assert body["error"]["code"] == code
    assert body["error"]["message"]
    return body


@pytest.fixture
def urls(settings):
    settings.ROOT_URLCONF = __name__


def test_success_shape(urls, api, owner):
    response = api(owner).get("/api/test/echo")
    assert response.status_code == 200
    assert response.json() == {"success": True, "data": {"echo": 1}, "message": "fine"}


def test_400(api):
    assert_error(api().post("/api/auth/login", {}, format="json"), 400, "VALIDATION_ERROR")


def test_400_malformed_json(api):
    response = api().post("/api/auth/login", "{not json", content_type="application/json")
    assert_error(response, 400, "VALIDATION_ERROR")


def test_401(api):
    assert_error(api().get("/api/auth/me"), 401, "UNAUTHORIZED")


def test_403(urls, api, owner):
    assert_error(api(owner).get("/api/test/forbidden"), 403, "FORBIDDEN")


@pytest.mark.parametrize("debug", [False, True])
def test_404_unknown_api_url(api, owner, settings, debug):
    """With DEBUG on, Django answers an unmatched URL with its HTML page unless a route
    matches: the API's catch-all keeps the envelope."""
    settings.DEBUG = debug
    for url in ("/api/no-such-thing", "/api/workflows/1/nothing/here", "/api/"):
        assert_error(api(owner).get(url), 404, "NOT_FOUND")
    assert_error(api().post("/api/no-such-thing"), 404, "NOT_FOUND")


def test_404_page_stays_html_with_debug(client, settings):
    settings.DEBUG = True
    response = client.get("/no-such-page/")
    assert response.status_code == 404 and response["Content-Type"].startswith("text/html")


def test_405(api, owner):
    assert_error(api(owner).delete("/api/auth/me"), 405, "METHOD_NOT_ALLOWED")


def test_415(api):
    response = api().post(
        "/api/auth/login", "username=x", content_type="application/x-www-form-urlencoded"
    )
    assert_error(response, 415, "UNSUPPORTED_MEDIA_TYPE")


def test_500_is_enveloped_audited_and_leaks_nothing(urls, caplog):
    from apps.audit.models import AuditEvent

    client = Client(raise_request_exception=False)
    response = client.get("/api/test/boom")
    body = assert_error(response, 500, "INTERNAL_ERROR")
    assert "secret-detail" not in str(body) and "hunter2" not in str(body)
    assert AuditEvent.objects.filter(action="server.error", status="error").count() == 1
    assert "hunter2" not in caplog.text


def test_404_page_is_html(client):
    response = client.get("/no-such-page/")
    assert response.status_code == 404 and b"Not found" in response.content
