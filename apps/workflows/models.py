import hashlib
import secrets

from django.conf import settings
from django.db import models

from apps.core import crypto

SECRET_FIELD = "secret_encrypted"
crypto.register_encrypted_field("workflows.Workflow", SECRET_FIELD)


class WorkflowStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    INACTIVE = "inactive", "Inactive"


class TargetMode(models.TextChoices):
    TRUNCATE = "truncate", "Truncate target tables first"
    APPEND = "append", "Append to existing rows"
    FAIL_IF_NOT_EMPTY = "fail_if_not_empty", "Fail if a target table is not empty"


class LeakAction(models.TextChoices):
    FAIL = "fail", "Fail the run"
    FLAG = "flag", "Flag it in the report"


class Workflow(models.Model):
    name = models.CharField(max_length=100, unique=True)
    description = models.TextField(blank=True, default="")
    status = models.CharField(
        max_length=20, choices=WorkflowStatus.choices, default=WorkflowStatus.ACTIVE
    )
    source_connection = models.ForeignKey(
        "connections.Connection", on_delete=models.PROTECT, related_name="source_workflows"
    )
    target_connection = models.ForeignKey(
        "connections.Connection", on_delete=models.PROTECT, related_name="target_workflows"
    )
    target_mode = models.CharField(
        max_length=20, choices=TargetMode.choices, default=TargetMode.TRUNCATE
    )
    locale = models.CharField(max_length=10, default="en_US")
    seed = models.BigIntegerField(default=0)
    batch_size = models.PositiveIntegerField(default=10000)
    # The leak check: the share of identifying values a masked column may leave unchanged
    # (0: none), and whether a column over it fails the run or flags it in the report.
    leak_max_share = models.FloatField(default=0.0)
    leak_action = models.CharField(
        max_length=10, choices=LeakAction.choices, default=LeakAction.FAIL
    )
    # At most this many units of runs split into units read this workflow's source at once
    # (null: the install's EXECUTION_MAX_SOURCE_READERS), to spare a production source.
    max_source_readers = models.PositiveIntegerField(null=True, blank=True, default=None)
    # Copy a referentially whole part of the source (masking.subset.Subset as JSON), or all.
    subset = models.JSONField(null=True, blank=True, default=None)
    secret_encrypted = models.TextField()
    # bumped each time the masking key is replaced; with the key's fingerprint it names the
    # key version an execution ran with (field-key rotation does not change it)
    secret_version = models.PositiveIntegerField(default=1)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="workflows"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "workflows"
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(source_connection=models.F("target_connection")),
                name="workflows_source_differs_from_target",
            ),
            models.CheckConstraint(
                condition=models.Q(status__in=["active", "inactive"]), name="workflows_status_valid"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def new_secret(self) -> None:
        self.secret_encrypted = crypto.encrypt(
            secrets.token_hex(32), associated=f"workflows.Workflow.{SECRET_FIELD}"
        )

    def get_secret(self) -> bytes:
        return bytes.fromhex(
            crypto.decrypt(self.secret_encrypted, associated=f"workflows.Workflow.{SECRET_FIELD}")
        )

    @property
    def key_version(self) -> str:
        """'v<n>-<8 hex>': the masking key's version and a fingerprint of it (a keyed hash
        under a fixed label: it identifies the key without revealing anything usable)."""
        fingerprint = hashlib.blake2b(
            b"maskflow/masking-key-fingerprint", key=self.get_secret()[:64], digest_size=4
        ).hexdigest()
        return f"v{self.secret_version}-{fingerprint}"


class TableMapping(models.Model):
    workflow = models.ForeignKey(Workflow, on_delete=models.CASCADE, related_name="mappings")
    position = models.PositiveIntegerField(default=0)
    source_schema = models.CharField(max_length=128)
    source_table = models.CharField(max_length=128)
    target_schema = models.CharField(max_length=128)
    target_table = models.CharField(max_length=128)
    create_target = models.BooleanField(default=False)
    row_filter = models.TextField(blank=True, default="")
    copy_unmapped = models.BooleanField(default=True)
    column_mappings = models.JSONField(default=list)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "workflow_mappings"
        ordering = ["workflow", "position", "pk"]

    def __str__(self) -> str:
        return (
            f"{self.source_schema}.{self.source_table} → {self.target_schema}.{self.target_table}"
        )
