"""Forms for customers, homes and meters."""

from __future__ import annotations

from typing import Any

from django import forms

from portal.crud import OrgModelForm

from .models import Customer, Home, Meter, RatePlan
from .states import state_code


class CustomerForm(OrgModelForm):
    class Meta:
        model = Customer
        fields = ["name", "email", "phone", "external_ref"]


class RatePlanChoiceField(forms.ModelChoiceField):
    """Rate plans shown with their rate reference (WattShift's `rateID`), as on the bill."""

    def label_from_instance(self, obj: Any) -> str:
        assert isinstance(obj, RatePlan)  # the field's queryset is of rate plans
        return obj.label


class HomeForm(OrgModelForm):
    class Meta:
        model = Home
        fields = [
            "customer",
            "name",
            "street",
            "city",
            "state",
            "zip_code",
            "country",
            "latitude",
            "longitude",
            "timezone",
            "utility",
            "rate_plan",
            "has_ev_charger",
            "has_electric_heater",
            "has_smart_water_heater",
            "has_electric_water_heater",
            "has_ac",
            "ac_type",
        ]
        widgets = {"has_electric_water_heater": forms.NullBooleanSelect}
        field_classes = {"rate_plan": RatePlanChoiceField}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # A state's name is understood ("Colorado" → CO): the box takes it whole, never cut.
        self.fields["state"] = forms.CharField(
            max_length=40, required=False, help_text="Its name or two letters (Colorado or CO)."
        )

    def clean_state(self) -> str:
        return state_code(self.cleaned_data["state"])

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        utility, plan = data.get("utility"), data.get("rate_plan")
        if plan and plan.utility_id != getattr(utility, "pk", None):
            self.add_error("rate_plan", "This rate plan belongs to another utility.")
        if data.get("ac_type") and not data.get("has_ac"):
            self.add_error("ac_type", "Tick “air conditioning” to give its type.")
        if (data.get("latitude") is None) != (data.get("longitude") is None):
            self.add_error("longitude", "Give both latitude and longitude, or neither.")
        return data


class MeterForm(OrgModelForm):
    class Meta:
        model = Meter
        fields = [
            "home",
            "meter_number",
            "meter_point_id",
            "location_type",
            "wattics_stream_id",
            "wattics_format",
        ]

    def clean_meter_number(self) -> str:
        value = self.cleaned_data["meter_number"].strip()
        return self.unique_in_org(
            "meter_number", value, "Another meter in your organization has this number."
        )
