from django.conf import settings
from django.db import models

from apps.core import crypto


class Dialect(models.TextChoices):
    SQLSERVER = "sqlserver", "SQL Server"
    POSTGRESQL = "postgresql", "PostgreSQL"
    MYSQL = "mysql", "MySQL / MariaDB"
    SQLITE = "sqlite", "SQLite"


class RoleHint(models.TextChoices):
    SOURCE = "source", "Source"
    TARGET = "target", "Target"
    BOTH = "both", "Source or target"


DEFAULT_PORTS = {"sqlserver": 1433, "postgresql": 5432, "mysql": 3306}
PASSWORD_FIELD = "password_encrypted"
crypto.register_encrypted_field("connections.Connection", PASSWORD_FIELD)


class Connection(models.Model):
    name = models.CharField(max_length=100, unique=True)
    dialect = models.CharField(max_length=20, choices=Dialect.choices)
    host = models.CharField(max_length=255, blank=True, default="")
    port = models.PositiveIntegerField(null=True, blank=True)
    database = models.CharField(max_length=1024)
    username = models.CharField(max_length=128, blank=True, default="")
    password_encrypted = models.TextField(blank=True, default="")
    options = models.JSONField(default=dict, blank=True)
    role_hint = models.CharField(max_length=10, choices=RoleHint.choices, default=RoleHint.BOTH)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="connections"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    last_test_ok = models.BooleanField(null=True, blank=True)
    last_test_category = models.CharField(max_length=32, blank=True, default="")
    last_test_message = models.CharField(max_length=500, blank=True, default="")
    last_test_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "connections"
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(dialect__in=["sqlserver", "postgresql", "mysql", "sqlite"]),
                name="connections_dialect_valid",
            )
        ]

    def __str__(self) -> str:
        return self.name

    # The plaintext password exists only in memory, only when a connection opens.
    def set_password(self, raw: str) -> None:
        self.password_encrypted = (
            crypto.encrypt(raw, associated=f"connections.Connection.{PASSWORD_FIELD}")
            if raw
            else ""
        )

    def get_password(self) -> str:
        if not self.password_encrypted:
            return ""
        return crypto.decrypt(
            self.password_encrypted, associated=f"connections.Connection.{PASSWORD_FIELD}"
        )

    @property
    def has_password(self) -> bool:
        return bool(self.password_encrypted)

    @property
    def location(self) -> str:
        if self.dialect == Dialect.SQLITE:
            return self.database
        port = f":{self.port}" if self.port else ""
        return f"{self.host}{port}/{self.database}"

    def identity(self) -> tuple:
        """Two records pointing at the same server and database count as the same database."""
        if self.dialect == Dialect.SQLITE:
            from pathlib import Path

            return ("sqlite", str(Path(self.database).resolve()))
        host = self.host.strip().lower()
        if host in {"localhost", "127.0.0.1", "::1", "[::1]"}:
            host = "localhost"
        return (
            self.dialect,
            host,
            self.port or DEFAULT_PORTS.get(self.dialect),
            self.database.lower(),
        )
