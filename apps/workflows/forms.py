from django import forms

from apps.connections.models import Connection
from apps.workflows.models import LeakAction, TargetMode, Workflow
from masking import LOCALES


class BasicsForm(forms.Form):
    name = forms.CharField(max_length=100)
    description = forms.CharField(
        required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 2})
    )
    source_connection_id = forms.ModelChoiceField(
        queryset=Connection.objects.order_by("name"), label="Source connection", to_field_name="pk"
    )
    target_connection_id = forms.ModelChoiceField(
        queryset=Connection.objects.order_by("name"), label="Target connection", to_field_name="pk"
    )
    locale = forms.ChoiceField(
        choices=[(loc, loc) for loc in LOCALES],
        initial="en_US",
        help_text="Locale of generated names, phones and addresses",
    )

    def __init__(self, *args, instance_pk=None, **kwargs):
        self.instance_pk = instance_pk
        super().__init__(*args, **kwargs)

    def clean_name(self):
        name = self.cleaned_data["name"].strip()
        if Workflow.objects.filter(name__iexact=name).exclude(pk=self.instance_pk).exists():
            raise forms.ValidationError("A workflow with this name already exists.")
        return name

    def clean(self):
        data = super().clean()
        src, tgt = data.get("source_connection_id"), data.get("target_connection_id")
        if src and tgt and (src.pk == tgt.pk or src.identity() == tgt.identity()):
            self.add_error("target_connection_id", "Source and target must be different databases.")
        return data

    def state(self) -> dict:
        d = self.cleaned_data
        return {
            "name": d["name"],
            "description": d["description"],
            "locale": d["locale"],
            "source_connection_id": d["source_connection_id"].pk,
            "target_connection_id": d["target_connection_id"].pk,
        }


class TargetModeForm(forms.Form):
    target_mode = forms.ChoiceField(choices=TargetMode.choices, initial=TargetMode.TRUNCATE)
    leak_max_share = forms.FloatField(
        required=False,
        min_value=0,
        max_value=1,
        initial=0,
        label="Unchanged identifying values allowed per column (share, 0–1)",
        help_text="The leak check counts masked values left equal to their source.",
    )
    leak_action = forms.ChoiceField(
        required=False, choices=LeakAction.choices, initial=LeakAction.FAIL, label="Over that share"
    )
    max_source_readers = forms.IntegerField(
        required=False,
        min_value=1,
        max_value=1000,
        label="Units reading the source at once (runs split into units)",
        help_text="Empty: the install's limit. Spares a production source.",
    )
