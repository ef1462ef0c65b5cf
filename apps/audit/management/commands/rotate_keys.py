from django.apps import apps
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from apps.audit.services import audit_record
from apps.core import crypto


class Command(BaseCommand):
    help = "Re-encrypt every stored secret under the first key of FIELD_ENCRYPTION_KEYS."

    def handle(self, *args, **options):
        current = crypto.current_key_id()
        totals = {"re_encrypted": 0, "already_current": 0, "empty": 0}
        try:
            with transaction.atomic():
                for model_label, field in crypto.ENCRYPTED_FIELDS:
                    model = apps.get_model(model_label)
                    counts = {"re_encrypted": 0, "already_current": 0, "empty": 0}
                    for obj in model.objects.select_for_update().only("pk", field):
                        token = getattr(obj, field)
                        if not token:
                            counts["empty"] += 1
                            continue
                        if crypto.key_id_of(token) == current:
                            counts["already_current"] += 1
                            continue
                        associated = f"{model_label}.{field}"
                        plaintext = crypto.decrypt(token, associated=associated)
                        setattr(obj, field, crypto.encrypt(plaintext, associated=associated))
                        model.objects.filter(pk=obj.pk).update(**{field: getattr(obj, field)})
                        counts["re_encrypted"] += 1
                    for k, v in counts.items():
                        totals[k] += v
                    self.stdout.write(
                        f"{model_label}.{field}: "
                        + ", ".join(f"{k}={v}" for k, v in counts.items())
                    )
        except crypto.DecryptionError as exc:
            raise CommandError(f"rotation aborted, nothing changed: {exc}") from None
        audit_record(
            action="config.rotate_keys", actor_username="cli", details={"key_id": current, **totals}
        )
        self.stdout.write(
            self.style.SUCCESS(
                f"current key '{current}': " + ", ".join(f"{k}={v}" for k, v in totals.items())
            )
        )
