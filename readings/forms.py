"""The column-mapping form: which column of a CSV of another layout is time, which is energy."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django import forms

from .models import ReadingChannel


class ColumnMappingForm(forms.Form):
    """Offered on a file refused for its header: the choices are that header's columns."""

    time_column = forms.ChoiceField(label="Time column")
    value_column = forms.ChoiceField(label="Energy column")
    unit = forms.ChoiceField(label="Unit", choices=[("kWh", "kWh"), ("Wh", "Wh")])
    channel = forms.ChoiceField(label="Channel", choices=ReadingChannel.choices)
    timezone = forms.CharField(
        label="Zone of times without an offset",
        max_length=64,
        required=False,
        help_text="An IANA zone such as America/Chicago; blank: the home's.",
    )

    def __init__(self, *args: Any, header: tuple[str, ...] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        columns = [(name, name) for name in header if name]
        for name in ("time_column", "value_column"):
            field = self.fields[name]
            assert isinstance(field, forms.ChoiceField)  # declared above
            field.choices = columns

    def clean_timezone(self) -> str:
        zone = self.cleaned_data["timezone"].strip()
        if zone:
            try:
                ZoneInfo(zone)
            except (ZoneInfoNotFoundError, ValueError) as exc:
                raise forms.ValidationError(f"{zone!r} is no IANA timezone.") from exc
        return zone

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("time_column") and data.get("time_column") == data.get("value_column"):
            raise forms.ValidationError("The time and the energy are two different columns.")
        return data
