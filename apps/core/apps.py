import logging

from django.apps import AppConfig

logger = logging.getLogger("maskflow.startup")


class CoreConfig(AppConfig):
    name = "apps.core"
    label = "core"

    def ready(self) -> None:
        from apps.core import checks  # noqa: F401 - registers the deploy checks
        from apps.core.logging import install_redacting_record_factory

        install_redacting_record_factory()
        self._register_sql_server_driver()

    @staticmethod
    def _register_sql_server_driver() -> None:
        """Make Microsoft's ODBC Driver 18 (shipped inside the mssql-python-odbc wheel) known by
        its usual name, so mssql-django and pyodbc find it without a system-wide install. A
        driver the machine already has registered is left alone."""
        from django.conf import settings

        try:
            from masking.dialects import register_bundled_driver

            register_bundled_driver(settings.DATA_DIR / "odbc")
        except (
            Exception
        ) as exc:  # no unixODBC on this machine: SQL Server tests report driver_missing
            logger.info("SQL Server ODBC driver not registered (%s)", type(exc).__name__)
