"""SQL Server connection options and the connection strings built from them.

Options (all optional; ConnectionParams.options):

- `encrypt`: "yes" (default), "no" or "strict" (TDS 8.0: TLS before the login packet); true /
  false are accepted for yes / no.
- `trust_server_certificate`: accept a certificate no trusted authority signed (default no).
- `host_name_in_certificate`: the name the server's certificate must carry, when it differs
  from the host connected to (an alias, a load balancer).
- `timeout`: the login timeout in seconds (ConnectionParams.timeout; default 10).
- `query_timeout`: seconds any one statement may run, 0 or absent for no limit.
- `application_intent`: "readwrite" (default) or "readonly", which routes the session to a
  readable secondary of an availability group; for connections used only as a source.
- `packet_size`: TDS packet size in bytes, 512 to 32767 (default: the server's, 4096; bulk
  copy asks for 8000 unless this is set).
- `driver`, `bulk_copy`, `bulk_timeout`: see sqlserver.py.

Every value reaches both drivers: pyodbc (ODBC Driver 18) for statements, mssql-python for bulk
copy, through the keywords each documents."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from masking.dialects import odbc
from masking.dialects.base import ConnectionParams

ENCRYPT_VALUES = ("yes", "no", "strict")
INTENT_VALUES = ("readwrite", "readonly")
PACKET_SIZE_RANGE = (512, 32767)
BULK_PACKET_SIZE = 8000
QUERY_TIMEOUT_MAX = 86_400


def encrypt_value(value: object) -> str:
    """yes / no / strict from a bool or text; anything unknown means yes (the safe side)."""
    if value is None or value == "":
        return "yes"
    if isinstance(value, bool):
        return "yes" if value else "no"
    text = str(value).strip().lower()
    if text in ("strict",):
        return "strict"
    if text in ("no", "false", "0", "off", "optional"):
        return "no"
    return "yes"


def truthy(value: object, default: bool) -> bool:
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in ("1", "true", "yes", "on")


def _int_option(value: object, low: int, high: int) -> int | None:
    if value is None or value == "" or isinstance(value, bool):
        return None
    try:
        number = int(str(value).strip())
    except ValueError:
        return None
    return number if low <= number <= high else None


@dataclass(frozen=True)
class Options:
    encrypt: str = "yes"
    trust_server_certificate: bool = False
    host_name_in_certificate: str = ""
    login_timeout: int = 10
    query_timeout: int = 0  # 0: no limit
    application_intent: str = "readwrite"
    packet_size: int | None = None

    @classmethod
    def of(cls, params: ConnectionParams) -> Options:
        o = params.options
        intent = str(o.get("application_intent") or "readwrite").strip().lower().replace("_", "")
        return cls(
            encrypt=encrypt_value(o.get("encrypt")),
            trust_server_certificate=truthy(o.get("trust_server_certificate"), False),
            host_name_in_certificate=str(o.get("host_name_in_certificate") or "").strip(),
            login_timeout=max(1, int(params.timeout)),
            query_timeout=_int_option(o.get("query_timeout"), 0, QUERY_TIMEOUT_MAX) or 0,
            application_intent="readonly" if intent == "readonly" else "readwrite",
            packet_size=_int_option(o.get("packet_size"), *PACKET_SIZE_RANGE),
        )

    def tls_keywords(self) -> dict[str, object]:
        return {
            "Encrypt": {"yes": "yes", "no": "no", "strict": "strict"}[self.encrypt],
            "TrustServerCertificate": "yes" if self.trust_server_certificate else "no",
            "HostNameInCertificate": self.host_name_in_certificate or None,
        }

    def intent_keyword(self) -> str | None:
        """Only a read-only intent is sent; read-write is every driver's default."""
        return "ReadOnly" if self.application_intent == "readonly" else None


def _server(params: ConnectionParams) -> str:
    server = params.host or "127.0.0.1"
    return f"tcp:{server},{params.port}" if params.port else server


def odbc_connection_string(params: ConnectionParams, driver: str) -> str:
    """For pyodbc and Microsoft's ODBC Driver 18. The login timeout also goes to
    pyodbc.connect(timeout=...); the query timeout is set on the connection after it opens."""
    o = Options.of(params)
    return odbc.connection_string(
        {
            "DRIVER": driver,
            "SERVER": _server(params),
            "DATABASE": params.database,
            "UID": params.username,
            "PWD": params.password,
            **o.tls_keywords(),
            "ApplicationIntent": o.intent_keyword(),
            "Packet Size": o.packet_size,
            "Connection Timeout": o.login_timeout,
            "APP": "maskflow",
        }
    )


def bulk_connection_string(params: ConnectionParams) -> str:
    """For mssql-python (bulk copy): it supplies its own driver and APP, takes the login
    timeout as an argument, and passes these keywords on to each bulk-copy connection."""
    o = Options.of(params)
    return odbc.connection_string(
        {
            "Server": _server(params),
            "Database": params.database,
            "UID": params.username,
            "PWD": params.password,
            **o.tls_keywords(),
            "ApplicationIntent": o.intent_keyword(),
            "Packet Size": o.packet_size or BULK_PACKET_SIZE,
        }
    )


def problems(options: dict[str, Any]) -> dict[str, str]:
    """Input errors for the options above, keyed `options.<name>` (shared by form and API)."""
    errors: dict[str, str] = {}
    enc = options.get("encrypt")
    if enc is not None and not isinstance(enc, bool) and str(enc).lower() not in ENCRYPT_VALUES:
        errors["options.encrypt"] = "Choose one of: yes, no, strict."
    intent = options.get("application_intent")
    if intent not in (None, "") and str(intent).lower() not in INTENT_VALUES:
        errors["options.application_intent"] = "Choose one of: readwrite, readonly."
    size = options.get("packet_size")
    if size not in (None, "") and _int_option(size, *PACKET_SIZE_RANGE) is None:
        errors["options.packet_size"] = "Must be a whole number of bytes from 512 to 32767."
    qt = options.get("query_timeout")
    if qt not in (None, "") and _int_option(qt, 0, QUERY_TIMEOUT_MAX) is None:
        errors["options.query_timeout"] = "Must be a whole number of seconds from 0 to 86400."
    host = options.get("host_name_in_certificate")
    if host not in (None, "") and not _valid_host(str(host)):
        errors["options.host_name_in_certificate"] = "Must be a host name."
    return errors


def _valid_host(text: str) -> bool:
    return 0 < len(text) <= 253 and all(ch.isalnum() or ch in ".-*_" for ch in text)


DEFAULT_BULK_TIMEOUT = 300  # seconds per bulk-copy call; 0 would mean no limit


def bulk_copy_on(params: ConnectionParams) -> bool:
    """`bulk_copy` is on (the default) and mssql-python's native core is installed."""
    if not truthy(params.options.get("bulk_copy"), True):
        return False
    try:
        import mssql_py_core  # noqa: F401 - the native core bulk copy runs on
        import mssql_python  # noqa: F401
    except ImportError:
        return False
    return True


def bulk_timeout(params: ConnectionParams) -> int:
    try:
        return max(0, int(params.options.get("bulk_timeout", DEFAULT_BULK_TIMEOUT)))
    except (TypeError, ValueError):
        return DEFAULT_BULK_TIMEOUT
