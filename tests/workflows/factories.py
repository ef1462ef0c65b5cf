import factory

from apps.workflows.models import TableMapping, Workflow
from tests.connections.factories import ConnectionFactory
from tests.factories import UserFactory


class WorkflowFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Workflow
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"workflow-{n}")
    created_by = factory.SubFactory(UserFactory)
    source_connection = factory.SubFactory(
        ConnectionFactory, created_by=factory.SelfAttribute("..created_by")
    )
    target_connection = factory.SubFactory(
        ConnectionFactory, created_by=factory.SelfAttribute("..created_by")
    )
    target_mode = "truncate"

    @factory.post_generation
    def secret(obj, create, extracted, **kwargs):
        obj.new_secret()
        if create:
            obj.save()


class TableMappingFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = TableMapping

    workflow = factory.SubFactory(WorkflowFactory)
    source_schema = "main"
    source_table = "people"
    target_schema = "main"
    target_table = "people"
    column_mappings = factory.LazyFunction(
        lambda: [{"source_column": "email", "technique": "email", "target_column": "email"}]
    )
