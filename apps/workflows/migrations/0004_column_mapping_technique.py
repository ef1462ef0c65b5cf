"""Column mappings name their masking technique `technique` (was `pii_attribute`)."""

from django.db import migrations


def _rename(apps, old: str, new: str) -> None:
    TableMapping = apps.get_model("workflows", "TableMapping")
    for mapping in TableMapping.objects.all().only("pk", "column_mappings"):
        changed = False
        rules = []
        for cm in mapping.column_mappings or []:
            if isinstance(cm, dict) and old in cm:
                cm = {(new if k == old else k): v for k, v in cm.items()}
                changed = True
            rules.append(cm)
        if changed:
            TableMapping.objects.filter(pk=mapping.pk).update(column_mappings=rules)


def forwards(apps, schema_editor):
    _rename(apps, "pii_attribute", "technique")


def backwards(apps, schema_editor):
    _rename(apps, "technique", "pii_attribute")


class Migration(migrations.Migration):
    dependencies = [
        ("workflows", "0003_workflow_leak_policy"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
