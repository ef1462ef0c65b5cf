import pytest

from tests.connections.factories import make_sqlite_file
from tests.e2e.conftest import sign_in
from tests.factories import TEST_PASSWORD

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_add_test_save_and_browse_a_connection(browser_page, owner, shot):
    path = make_sqlite_file("e2e.sqlite3")
    page = browser_page
    sign_in(page, owner.username, TEST_PASSWORD)
    page.goto("/connections/")
    page.click("[data-testid=add-connection]")
    page.fill("input[name=name]", "E2E SQLite")
    page.select_option("select[name=dialect]", "sqlite")
    assert page.locator("input[name=host]").is_hidden()
    page.fill("#id_database_path", str(path))
    page.click("[data-testid=test-connection]")
    page.wait_for_selector("[data-testid=test-result]")
    assert "Connection OK" in page.inner_text("[data-testid=test-result]")
    shot(page, "connection-form-tested")
    page.click("[data-testid=save-connection]")
    page.wait_for_selector("text=Connection 'E2E SQLite' created.")
    page.click("#connections-table a:has-text('E2E SQLite')")
    # the only schema opens by itself, listed under its heading
    page.wait_for_selector("[data-testid=table-pets]")
    heading = page.locator(".browser nav h2").bounding_box()
    schema = page.locator("[data-testid=schema-main]").bounding_box()
    assert schema["y"] > heading["y"] + heading["height"] - 1, (heading, schema)
    page.click("[data-testid=table-pets]")
    page.wait_for_selector("#columns-table")
    assert page.locator("tr[data-column=owner_id]").count() == 1
    shot(page, "schema-browser")
