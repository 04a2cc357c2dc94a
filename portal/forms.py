"""Sign-in, invitation and membership forms."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth import password_validation
from django.contrib.auth.forms import AuthenticationForm

from .models import Role


class EmailAuthenticationForm(AuthenticationForm):
    """Django's sign-in form, labelled for email addresses."""

    username = forms.EmailField(
        label="Email", widget=forms.EmailInput(attrs={"autofocus": True, "autocomplete": "email"})
    )


class InvitationForm(forms.Form):
    """An admin invites an email address with a role."""

    email = forms.EmailField()
    role = forms.ChoiceField(choices=Role.choices, initial=Role.MEMBER)


class AcceptInvitationForm(forms.Form):
    """A new user sets their name and password when accepting an invitation."""

    full_name = forms.CharField(max_length=150, required=False)
    password1 = forms.CharField(
        label="Password",
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=password_validation.password_validators_help_text_html(),
    )
    password2 = forms.CharField(
        label="Password again", widget=forms.PasswordInput(attrs={"autocomplete": "new-password"})
    )

    def __init__(self, *args: Any, email: str, **kwargs: Any) -> None:
        self.email = email
        super().__init__(*args, **kwargs)

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        if data.get("password1") and data.get("password1") != data.get("password2"):
            self.add_error("password2", "The two passwords differ.")
        elif data.get("password1"):
            from .models import User

            password_validation.validate_password(data["password1"], User(email=self.email))
        return data


class RoleForm(forms.Form):
    """Change a member's role."""

    role = forms.ChoiceField(choices=Role.choices)
