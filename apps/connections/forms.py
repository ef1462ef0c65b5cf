from django import forms

from apps.connections.models import Dialect, RoleHint

# SQL Server options saved only when given (absent: the driver's default).
SQLSERVER_EXTRA = (
    "host_name_in_certificate",
    "timeout",
    "query_timeout",
    "application_intent",
    "packet_size",
)


class ConnectionForm(forms.Form):
    """Fields for every dialect; the template shows the ones that fit the chosen dialect.
    Validation is services.connection_clean, shared with the API."""

    name = forms.CharField(max_length=100)
    dialect = forms.ChoiceField(choices=Dialect.choices)
    host = forms.CharField(
        required=False, label="Server / host", help_text="SQL Server: host or host\\instance"
    )
    port = forms.CharField(required=False)
    database = forms.CharField(required=False, max_length=1024, label="Database")
    username = forms.CharField(required=False, max_length=128)
    password = forms.CharField(
        required=False,
        strip=False,
        max_length=512,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
    )
    encrypt = forms.ChoiceField(
        required=False,
        initial="yes",
        label="Encrypt (TLS)",
        choices=[
            ("yes", "yes"),
            ("strict", "strict (TDS 8.0, TLS before login)"),
            ("no", "no"),
        ],
    )
    trust_server_certificate = forms.BooleanField(required=False, label="Trust server certificate")
    host_name_in_certificate = forms.CharField(
        required=False,
        max_length=253,
        label="Host name in certificate",
        help_text="When the certificate names another host than the server (alias, listener)",
    )
    timeout = forms.IntegerField(
        required=False, min_value=1, max_value=300, label="Login timeout (seconds)"
    )
    query_timeout = forms.IntegerField(
        required=False,
        min_value=0,
        max_value=86_400,
        label="Query timeout (seconds)",
        help_text="Per statement; 0 or empty for no limit",
    )
    application_intent = forms.ChoiceField(
        required=False,
        label="Application intent",
        choices=[("readwrite", "read-write"), ("readonly", "read-only (sources only)")],
    )
    packet_size = forms.IntegerField(
        required=False, min_value=512, max_value=32767, label="Packet size (bytes)"
    )
    sslmode = forms.ChoiceField(
        required=False,
        label="SSL mode",
        choices=[("", "default (prefer)")]
        + [(m, m) for m in ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")],
    )
    role_hint = forms.ChoiceField(choices=RoleHint.choices, initial=RoleHint.BOTH, label="Used as")

    def to_data(self) -> dict:
        d = self.cleaned_data
        options: dict = {}
        if d["dialect"] == Dialect.SQLSERVER:
            options = {
                "encrypt": {"yes": True, "no": False}.get(d["encrypt"] or "yes", d["encrypt"]),
                "trust_server_certificate": d["trust_server_certificate"],
            }
            for key in SQLSERVER_EXTRA:
                if d.get(key) not in (None, ""):
                    options[key] = d[key]
            if options.get("application_intent") == "readwrite":
                del options["application_intent"]
        elif d["dialect"] == Dialect.POSTGRESQL and d.get("sslmode"):
            options = {"sslmode": d["sslmode"]}
        data = {
            k: d[k]
            for k in ("name", "dialect", "host", "port", "database", "username", "role_hint")
        }
        data["options"] = options
        if d.get("password"):
            data["password"] = d["password"]
        return data

    @classmethod
    def initial_for(cls, conn) -> dict:
        initial = {
            k: getattr(conn, k)
            for k in ("name", "dialect", "host", "port", "database", "username", "role_hint")
        }
        keys = ("encrypt", "trust_server_certificate", "sslmode", *SQLSERVER_EXTRA)
        initial.update({k: conn.options.get(k) for k in keys if k in conn.options})
        if isinstance(initial.get("encrypt"), bool):
            initial["encrypt"] = "yes" if initial["encrypt"] else "no"
        return initial
