import pytest

pytestmark = pytest.mark.django_db


def test_health(client):
    response = client.get("/health")
    assert response.status_code == 200 and response.json()["data"]["status"] == "ok"


def test_health_db_reports_database_and_broker(client):
    response = client.get("/api/health/db")
    assert response.status_code == 200
    data = response.json()["data"]
    assert data["database"]["ok"] is True and data["broker"]["ok"] is True
    assert data["broker"]["transport"] == "filesystem"


def test_health_db_503_when_broker_unreachable(client, settings):
    from config.celery import app

    app.conf.broker_url = "redis://127.0.0.1:1/0"
    try:
        response = client.get("/api/health/db")
    finally:
        app.conf.broker_url = settings.CELERY_BROKER_URL
    assert response.status_code == 503
    body = response.json()
    assert body["success"] is False and body["error"]["code"] == "SERVICE_UNAVAILABLE"
    assert body["error"]["details"]["broker"]["ok"] is False


def test_openapi_schema_and_docs(client):
    schema = client.get("/api/schema/")
    assert schema.status_code == 200 and b"/api/auth/login" in schema.content
    docs = client.get("/api/docs/")
    assert docs.status_code == 200 and b"swagger-ui-bundle.js" in docs.content
    assert b"<script>" not in docs.content  # no inline script: CSP stays strict


def test_security_headers(client):
    response = client.get("/accounts/login/")
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "script-src 'self'" in response["Content-Security-Policy"]
    assert response["Referrer-Policy"] == "same-origin"
