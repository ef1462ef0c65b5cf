from django import forms
from django.contrib.auth import authenticate, get_user_model
from django.contrib.auth.password_validation import validate_password

from apps.accounts.lockout import (
    LOCKED_MESSAGE,
    lockout_active,
    lockout_clear,
    lockout_register_failure,
)
from apps.accounts.models import Role


class LoginForm(forms.Form):
    username = forms.CharField(max_length=150, widget=forms.TextInput(attrs={"autofocus": True}))
    password = forms.CharField(strip=False, widget=forms.PasswordInput)

    def __init__(self, request=None, *args, **kwargs):
        self.request = request
        self.user = None
        super().__init__(*args, **kwargs)

    def clean(self):
        username = self.cleaned_data.get("username", "")
        password = self.cleaned_data.get("password", "")
        if not username or not password:
            return self.cleaned_data
        if lockout_active(username):
            raise forms.ValidationError(LOCKED_MESSAGE, code="locked")
        self.user = authenticate(self.request, username=username, password=password)
        if self.user is None:
            lockout_register_failure(username, self.request)
            raise forms.ValidationError("Invalid username or password.", code="invalid_login")
        lockout_clear(username)
        return self.cleaned_data


class UserCreateForm(forms.Form):
    username = forms.CharField(max_length=150)
    email = forms.EmailField(required=False)
    role = forms.ChoiceField(choices=Role.choices, initial=Role.USER)
    password = forms.CharField(strip=False, widget=forms.PasswordInput, min_length=12)

    def clean_username(self):
        username = self.cleaned_data["username"]
        if get_user_model().objects.filter(username__iexact=username).exists():
            raise forms.ValidationError("A user with that username already exists.")
        return username

    def clean(self):
        data = super().clean()
        if data.get("password") and data.get("username"):
            probe = get_user_model()(username=data["username"], email=data.get("email", ""))
            try:
                validate_password(data["password"], probe)
            except forms.ValidationError as exc:
                self.add_error("password", exc)
        return data


class UserUpdateForm(forms.Form):
    role = forms.ChoiceField(choices=Role.choices)
    is_active = forms.BooleanField(required=False)
