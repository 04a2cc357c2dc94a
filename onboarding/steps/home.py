"""Step 3: who the home belongs to (an existing customer or a new one) and the home itself."""

from __future__ import annotations

from typing import Any, cast

from django import forms

from homes.models import ACType, Customer
from homes.states import state_code
from portal.models import Organization

WATER_HEATER_CHOICES = [("unknown", "Don't know"), ("true", "Yes"), ("false", "No")]


class HomeStepForm(forms.Form):
    """Who the home belongs to (an existing customer or a new one) and the home itself."""

    customer_mode = forms.ChoiceField(
        label="The home belongs to",
        choices=[("existing", "An existing customer"), ("new", "A new customer")],
        widget=forms.RadioSelect,
    )
    customer = forms.ModelChoiceField(
        label="Existing customer",
        queryset=Customer.objects.none(),
        required=False,
        empty_label="Choose a customer…",
    )
    customer_name = forms.CharField(label="Name", max_length=200, required=False)
    customer_email = forms.EmailField(label="Email", required=False)
    customer_phone = forms.CharField(label="Phone", max_length=40, required=False)

    name = forms.CharField(
        label="Home name",
        max_length=255,
        help_text="How you will find it in Gridfolio; WattShift gets it too.",
    )
    street = forms.CharField(max_length=200, required=False)
    city = forms.CharField(max_length=100, required=False)
    state = forms.CharField(
        max_length=40, required=False, help_text="Its name or two letters (Colorado or CO)."
    )
    has_ev_charger = forms.BooleanField(label="EV charger", required=False)
    has_electric_heater = forms.BooleanField(label="Electric heater", required=False)
    has_smart_water_heater = forms.BooleanField(label="Smart water heater", required=False)
    has_electric_water_heater = forms.NullBooleanField(
        label="Electric water heater",
        widget=forms.RadioSelect(choices=WATER_HEATER_CHOICES),
        initial="unknown",
        required=False,
    )
    has_ac = forms.BooleanField(label="Air conditioning", required=False)
    ac_type = forms.ChoiceField(
        label="AC type", choices=[("", "—"), *ACType.choices], required=False
    )

    def __init__(self, *args: Any, organization: Organization, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        customers = Customer.objects.for_org(organization).only("pk", "name", "email")
        cast(forms.ModelChoiceField, self.fields["customer"]).queryset = customers
        self.has_customers = customers.exists()
        self.fields["customer_mode"].initial = "existing" if self.has_customers else "new"
        if not self.has_customers:
            cast(forms.ChoiceField, self.fields["customer_mode"]).choices = [
                ("new", "A new customer")
            ]

    def clean_state(self) -> str:
        return state_code(self.cleaned_data["state"])

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        if data.get("customer_mode") == "existing":
            if not data.get("customer") and "customer" not in self.errors:
                self.add_error("customer", "Choose the customer, or pick “A new customer”.")
        elif data.get("customer_mode") == "new" and not data.get("customer_name", "").strip():
            self.add_error("customer_name", "Enter the new customer's name.")
        if data.get("has_ac"):
            if not data.get("ac_type"):
                self.add_error(
                    "ac_type", "Choose the AC type: WattShift needs it when there is AC."
                )
        else:
            # A type chosen and then AC unticked is not an error: the home has no AC.
            data["ac_type"] = ""
        return data

    def onboarding_args(self) -> dict[str, Any]:
        """`customer` and `new_customer` for `onboard_home()`."""
        data = self.cleaned_data
        if data["customer_mode"] == "existing":
            return {"customer": data["customer"], "new_customer": None}
        return {
            "customer": None,
            "new_customer": {
                "name": data["customer_name"].strip(),
                "email": data["customer_email"],
                "phone": data["customer_phone"].strip(),
            },
        }

    def home_fields(self) -> dict[str, Any]:
        data = self.cleaned_data
        names = [
            "name",
            "street",
            "city",
            "state",
            "has_ev_charger",
            "has_electric_heater",
            "has_smart_water_heater",
            "has_electric_water_heater",
            "has_ac",
            "ac_type",
        ]
        return {name: data[name] for name in names}

    def customer_fields(self) -> list[forms.BoundField]:
        return [self[n] for n in ("customer_name", "customer_email", "customer_phone")]

    def appliance_fields(self) -> list[forms.BoundField]:
        return [
            self[n] for n in ("has_ev_charger", "has_electric_heater", "has_smart_water_heater")
        ]
