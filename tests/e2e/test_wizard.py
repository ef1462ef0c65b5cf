import pytest

from apps.connections.models import Connection
from apps.core.demo import build_source, build_target
from apps.workflows.models import Workflow
from tests.e2e.conftest import sign_in
from tests.factories import TEST_PASSWORD

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def demo(settings, tmp_path, owner):
    settings.DATA_DIR = tmp_path
    build_source(tmp_path / "source.sqlite3", rows=60)
    build_target(tmp_path / "target.sqlite3")
    src = Connection.objects.create(
        name="Demo source",
        dialect="sqlite",
        database=str(tmp_path / "source.sqlite3"),
        created_by=owner,
    )
    tgt = Connection.objects.create(
        name="Demo target",
        dialect="sqlite",
        database=str(tmp_path / "target.sqlite3"),
        created_by=owner,
    )
    return src, tgt


def test_wizard_creates_two_table_workflow_with_preview(browser_page, owner, demo, shot):
    src, tgt = demo
    page = browser_page
    sign_in(page, owner.username, TEST_PASSWORD)
    page.goto("/workflows/")
    page.click("[data-testid=new-workflow]")
    # Step 1
    page.fill("input[name=name]", "Customers and orders")
    page.fill("textarea[name=description]", "Masked copy for UAT")
    page.select_option("select[name=source_connection_id]", str(src.pk))
    page.select_option("select[name=target_connection_id]", str(tgt.pk))
    shot(page, "wizard-1-basics")
    page.click("[data-testid=next]")
    # Step 2: customers and orders, all columns
    page.wait_for_selector("[data-testid=pick-customers]")
    page.wait_for_load_state("networkidle")
    assert page.locator(".colpick").count() == 0  # nothing ticked: no table's columns
    page.check("[data-testid=pick-orders]")
    page.wait_for_selector("[data-testid=columns-orders]")
    hint = page.inner_text("[data-testid=columns-orders] [data-testid=fk-hint] >> nth=0")
    assert "references" in hint and "include it" in hint
    page.check("[data-testid=pick-customers]")
    page.wait_for_selector("[data-testid=columns-customers]")
    # the hints already shown follow the boxes: customers is now chosen, employees is not
    hints = page.locator("[data-testid=columns-orders] [data-testid=fk-hint]").all_inner_texts()
    assert [h for h in hints if "main.customers" in h and h.endswith("— included")], hints
    assert [h for h in hints if "main.employees" in h and "include it too" in h], hints
    # a table whose parent is ticked says so; unticked, its columns go
    page.check("[data-testid=pick-payments]")
    page.wait_for_selector("[data-testid=columns-payments]")
    hint = page.inner_text("[data-testid=columns-payments] [data-testid=fk-hint]")
    assert "main.orders" in hint and "included" in hint and "include it" not in hint
    page.uncheck("[data-testid=pick-payments]")
    page.wait_for_selector("[data-testid=columns-payments]", state="detached")
    assert page.locator(".colpick").count() == 2
    shot(page, "wizard-2-tables")
    page.click("[data-testid=next]")
    # Step 3: suggestions pre-filled, preview shown, change one technique
    page.wait_for_selector("[data-testid=preview-customers] [data-testid=preview-table]")
    email_select = page.locator("[data-testid=tech-customers-email]")
    assert email_select.input_value() == "email"
    assert page.locator("[data-testid=tech-customers-first_name]").input_value() == "first_name"
    options = page.locator("[data-testid=tech-customers-credit_limit] option").all_inner_texts()
    assert options and not any("First name" in o for o in options)
    before = page.inner_text("[data-testid=preview-customers] [data-testid=preview-table]")
    shot(page, "wizard-3-rules")
    page.select_option("[data-testid=tech-customers-last_name]", "partial_mask")
    page.wait_for_function(
        "before => document.querySelector('[data-testid=preview-customers] "
        "[data-testid=preview-table]').innerText !== before",
        arg=before,
    )
    after = page.inner_text("[data-testid=preview-customers] [data-testid=preview-table]")
    assert "partial_mask" in after and after != before
    shot(page, "wizard-3-rules-changed")
    warning = page.locator("[data-column=email] [data-testid=unmasked-warning]")
    assert warning.is_hidden()
    email_select.select_option("keep")  # the page's own script shows the warning at once
    assert warning.is_visible() and warning.inner_text() == "Personal data left unmasked"
    email_select.select_option("email")
    assert warning.is_hidden()
    page.click("[data-testid=next]")
    # Step 4: create target tables, review, save
    page.wait_for_selector("[data-testid=wizard-step-4]")
    assert page.locator("[data-testid=create-customers]").input_value() == "create"
    assert "CREATE TABLE" in page.inner_text("[data-testid=ddl-customers]")
    shot(page, "wizard-4-target")
    page.click("[data-testid=save-workflow]")
    page.wait_for_selector("text=Workflow 'Customers and orders' created.")
    shot(page, "workflow-detail")
    workflow = Workflow.objects.get(name="Customers and orders")
    mappings = {m.source_table: m for m in workflow.mappings.all()}
    assert set(mappings) == {"customers", "orders"} and all(
        m.create_target for m in mappings.values()
    )
    rules = {r["source_column"]: r["technique"] for r in mappings["customers"].column_mappings}
    assert rules["email"] == "email" and rules["last_name"] == "partial_mask"
    page.goto("/workflows/")
    assert page.locator("#workflows-table tr[data-workflow='Customers and orders']").count() == 1
    shot(page, "workflow-list")
