"""Step 2 of the wizard across the schemas of one PostgreSQL source: a table chosen in one
schema stays chosen, with its columns, while the user picks tables in another."""

import sqlite3

import psycopg
import pytest

from apps.connections.models import Connection
from tests import services
from tests.e2e.conftest import sign_in
from tests.factories import TEST_PASSWORD
from tests.live.fixtures import pg_db, pg_db_factory  # noqa: F401

pytestmark = [pytest.mark.e2e, pytest.mark.live, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def two_schemas(pg_db, owner, settings, tmp_path):  # noqa: F811
    with psycopg.connect(services.postgres_dsn(pg_db.database), autocommit=True) as db:
        db.execute("CREATE SCHEMA sales")
        db.execute(
            "CREATE TABLE public.people (id int PRIMARY KEY, email varchar(80), name text, "
            "note text)"
        )
        db.execute(
            "CREATE TABLE sales.orders (id int PRIMARY KEY, "
            "person_id int REFERENCES public.people (id), total numeric(10, 2))"
        )
    settings.DATA_DIR = tmp_path
    sqlite3.connect(tmp_path / "t.sqlite3").close()
    source = Connection.objects.create(
        name="pg-src",
        dialect="postgresql",
        host=pg_db.host,
        port=pg_db.port,
        database=pg_db.database,
        username=pg_db.username,
        created_by=owner,
    )
    target = Connection.objects.create(
        name="lite-tgt", dialect="sqlite", database=str(tmp_path / "t.sqlite3"), created_by=owner
    )
    return source, target


def test_tables_chosen_in_one_schema_stay_chosen_in_another(browser_page, owner, two_schemas):
    source, target = two_schemas
    page = browser_page
    sign_in(page, owner.username, TEST_PASSWORD)
    page.goto("/workflows/new/?restart=1")
    page.fill("input[name=name]", "Two schemas")
    page.select_option("select[name=source_connection_id]", str(source.pk))
    page.select_option("select[name=target_connection_id]", str(target.pk))
    page.click("[data-testid=next]")
    page.wait_for_selector("[data-testid=pick-people]")  # the first schema, listed on load
    page.wait_for_load_state("networkidle")
    page.check("[data-testid=pick-people]")
    page.wait_for_selector("[data-testid=columns-people]")
    page.uncheck("[data-testid=columns-people] input[value=note]")
    page.select_option("[data-testid=schema-select]", "sales")
    page.wait_for_selector("[data-testid=pick-orders]")
    assert "public.people (3 columns)" in page.inner_text("[data-testid=chosen-elsewhere]")
    page.check("[data-testid=pick-orders]")
    page.wait_for_selector("[data-testid=columns-orders]")
    hint = page.inner_text("[data-testid=columns-orders] [data-testid=fk-hint]")
    assert "public.people" in hint and "included" in hint and "include it" not in hint
    # back to the first schema: its table is still ticked, with the columns picked there
    page.select_option("[data-testid=schema-select]", "public")
    page.wait_for_selector("[data-testid=columns-people]")
    assert page.is_checked("[data-testid=pick-people]")
    assert not page.is_checked("[data-testid=columns-people] input[value=note]")
    assert page.is_checked("[data-testid=columns-people] input[value=email]")
    assert "sales.orders (3 columns)" in page.inner_text("[data-testid=chosen-elsewhere]")
    page.click("[data-testid=next]")
    page.wait_for_selector("[data-testid=preview-people]")
    page.wait_for_selector("[data-testid=preview-orders]")
    assert page.locator("[name^='t:public.people|note']").count() == 0
    assert page.locator("[name^='t:public.people|email']").count() == 1
