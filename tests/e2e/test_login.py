import pytest

from tests.e2e.conftest import sign_in
from tests.factories import TEST_PASSWORD

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_admin_signs_in_sees_dashboard_and_users(browser_page, admin_user, owner, shot):
    page = browser_page
    page.goto("/")
    assert "/accounts/login/" in page.url
    shot(page, "login")
    sign_in(page, admin_user.username, TEST_PASSWORD)
    page.wait_for_selector("h1:has-text('Dashboard')")
    shot(page, "dashboard")
    page.click("text=Users")
    page.wait_for_selector("#users-table")
    assert page.locator(f"#user-{owner.pk}").count() == 1
    shot(page, "users")
    assert not [e for e in page.console_errors if "Content Security Policy" in e], (
        page.console_errors
    )


def test_user_signs_in_without_users_link_and_wrong_password_is_refused(browser_page, owner):
    page = browser_page
    sign_in(page, owner.username, "not-the-password-1")
    assert page.locator("text=Invalid username or password").is_visible()
    sign_in(page, owner.username, TEST_PASSWORD)
    page.wait_for_selector("h1:has-text('Dashboard')")
    assert page.locator("nav >> text=Users").count() == 0
    page.click("summary")
    page.click("[data-testid=logout]")
    page.wait_for_url("**/accounts/login/")


def test_api_docs_render_under_their_content_security_policy(browser_page, shot):
    page = browser_page
    response = page.goto("/api/docs/")
    assert "script-src 'self';" in response.headers["content-security-policy"]
    page.wait_for_selector(".opblock-tag", timeout=20000)
    assert page.locator(".opblock").count() > 10
    shot(page, "api-docs")
    page.wait_for_load_state("networkidle")
    assert page.console_errors == []  # nothing refused, nothing missing (the icon included)
