from django import forms

from apps.connections.models import Dialect, RoleHint


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
    encrypt = forms.BooleanField(required=False, initial=True, label="Encrypt connection (TLS)")
    trust_server_certificate = forms.BooleanField(required=False, label="Trust server certificate")
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
                "encrypt": d["encrypt"],
                "trust_server_certificate": d["trust_server_certificate"],
            }
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
        initial.update(
            {
                k: conn.options.get(k)
                for k in ("encrypt", "trust_server_certificate", "sslmode")
                if k in conn.options
            }
        )
        return initial
