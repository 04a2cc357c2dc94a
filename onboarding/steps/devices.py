"""Steps 4 and 5: the home's solar and heat pump, each optional (see DeviceStepForm)."""

from __future__ import annotations

from typing import Any

from django import forms

from devices.kinds import DeviceKind

from ..forms import DeviceStepForm


class SolarForm(DeviceStepForm):
    """The home's solar: what WattShift needs (size, net metering) and what WattCarbon needs."""

    kind = DeviceKind.SOLAR
    toggle_name = "has_solar"
    default_name = "Solar array"
    default_custom_id_hint = "one like SOLAR-00042"

    has_solar = forms.BooleanField(label="This home has solar", required=False)

    # The system's size and metering first on the page (what WattShift needs), then the rest.
    FIRST_FIELDS = ("system_size_kw", "net_metered")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        size = self.fields["system_size_kw"]
        size.label = "System size (kW)"
        size.help_text = "WattShift needs it."
        nameplate = self.fields["nameplate_capacity_kw"]
        # Not required here: a blank nameplate capacity defaults to the system size (clean()).
        nameplate.required = False
        nameplate.help_text = "Leave blank to use the system size."
        nameplate.widget.attrs["placeholder"] = "Same as the system size"
        self.fields[
            "net_metered"
        ].help_text = "Exports are credited at the retail rate. Untick for non-net-metered solar."

    def prepare_details(self, data: dict[str, Any]) -> set[str]:
        nameplate_given = data.get("nameplate_capacity_kw") is not None
        if data.get("system_size_kw") is None:
            if "system_size_kw" not in self.errors:
                self.add_error(
                    "system_size_kw", "Enter the system size: WattShift needs it for solar."
                )
            return set() if nameplate_given else {"nameplate_capacity_kw"}
        if not nameplate_given and "nameplate_capacity_kw" not in self.errors:
            data["nameplate_capacity_kw"] = data["system_size_kw"]
        return set()

    def size_fields(self) -> list[forms.BoundField]:
        return [self[n] for n in self.FIRST_FIELDS]

    def system_fields(self) -> list[forms.BoundField]:
        return [self[n] for n in self.kind_field_names if n not in self.FIRST_FIELDS]


class HeatPumpForm(DeviceStepForm):
    """The home's heat pump, with WattCarbon's electrification fields."""

    kind = DeviceKind.ELECTRIFICATION
    toggle_name = "has_heat_pump"
    default_name = "Heat pump"
    default_custom_id_hint = "one like HP-00042"

    has_heat_pump = forms.BooleanField(label="This home has a heat pump", required=False)
