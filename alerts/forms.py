"""Forms of alerts: the organization's thresholds, a member's email choices."""

from __future__ import annotations

from typing import Any

from django import forms

from .models import AlertKind, AlertSettings, NotificationMode


class AlertSettingsForm(forms.ModelForm):
    class Meta:
        model = AlertSettings
        fields = ["no_data_days", "wattics_behind_hours", "spark_silence_days"]


class NotificationModesForm(forms.Form):
    """One choice per kind of alert: email at once, daily digest, or none."""

    def __init__(self, *args: Any, modes: dict[str, str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for kind, label in AlertKind.choices:
            self.fields[kind] = forms.ChoiceField(
                label=label, choices=NotificationMode.choices, initial=modes.get(kind)
            )
