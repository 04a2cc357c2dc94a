"""The device form: common fields, plus only the chosen kind's own fields."""

from __future__ import annotations

from typing import Any, cast

from django import forms

from portal.crud import OrgModelForm
from portal.widgets import IsoDateInput

from .kinds import KINDS, form_field, form_initial, validate_details
from .models import Device


class MeterOfHomeSelect(forms.Select):
    """The meter choice, each option marked with its home (`data-home`), so the page offers only
    the chosen home's meters (static/js/portal.js: `data-follows`)."""

    def create_option(self, name: str, value: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
        option = super().create_option(name, value, *args, **kwargs)
        meter = getattr(value, "instance", None)
        if meter is not None:
            option["attrs"]["data-home"] = str(meter.home_id)
        return option


class DeviceForm(OrgModelForm):
    """Common device fields and the fields of one kind (`kind` is fixed once chosen)."""

    class Meta:
        model = Device
        fields = [
            "home",
            "meter",
            "name",
            "custom_id",
            "commenced_operation_date",
            "status",
            "owner_name",
        ]
        widgets = {
            "commenced_operation_date": IsoDateInput(),
            "meter": MeterOfHomeSelect(attrs={"data-follows": "home", "data-follows-key": "home"}),
        }

    def __init__(self, *args: Any, kind: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.kind = kind
        self.instance.kind = kind
        self.kind_field_names = []
        initial = form_initial(kind, self.instance.details or {})
        for spec in KINDS[kind].fields:
            self.fields[spec.name] = form_field(spec)
            self.fields[spec.name].initial = initial.get(spec.name)
            self.kind_field_names.append(spec.name)
        meter = cast(forms.ModelChoiceField, self.fields["meter"])
        home = cast(forms.ModelChoiceField, self.fields["home"])
        # A ModelForm's model choice fields always have a queryset (the stubs allow None).
        if meter.queryset is not None:
            meter.queryset = meter.queryset.select_related("home")
            meter.help_text = "A meter of the chosen home (add one on the home's page)."
        if home.queryset is not None:
            home.queryset = home.queryset.only("pk", "name")

    def clean_custom_id(self) -> str:
        value = self.cleaned_data["custom_id"].strip()
        return self.unique_in_org(
            "custom_id", value, "Another device in your organization has this custom id."
        )

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        raw = {name: data.get(name) for name in self.kind_field_names}
        details, errors = validate_details(self.kind, raw)
        for name, message in errors.items():
            if name in self.fields and name not in self.errors:
                self.add_error(name, message)
        self.instance.details = details
        meter, home = data.get("meter"), data.get("home")
        if meter and home and meter.home_id != home.pk:
            self.add_error("meter", "This meter belongs to another home.")
        return data

    def _post_clean(self) -> None:
        # With the kind's own fields already in error, the model's clean() would only repeat them
        # under `details`, a name this form does not have.
        if any(name in self.errors for name in self.kind_field_names):
            return
        super()._post_clean()  # type: ignore[misc]  # django-stubs: BaseModelForm._post_clean is missing

    def common_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in self._meta.fields or ()]

    def kind_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in self.kind_field_names]
