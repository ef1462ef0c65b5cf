import pytest

from tests.executions.scenario import make_workflow


@pytest.fixture
def scenario(db, tmp_path, owner):
    """(workflow, source path, target path): owner's workflow, 50 customers and 120 orders."""
    return make_workflow(tmp_path, owner)
