"""The connection form: address, enabled flag, and write-only credentials."""

from __future__ import annotations

from datetime import UTC, timedelta
from typing import Any

from django import forms
from django.conf import settings
from django.utils import timezone

from devices.models import Device
from portal.crud import OrgModelForm
from portal.widgets import IsoDateTimeInput
from readings.models import Reading, ReadingChannel

from . import spark, wattics
from .models import (
    CREDENTIAL_LABELS,
    PROFILE_HELP,
    Connection,
    Platform,
    Profile,
    default_base_url,
)
from .services import CREDENTIALS_FOLLOW_HOST
from .wattcarbon import PATH_DEFAULTS, PATH_LABELS, check_path_template

NOT_PUBLISHED = "not published: confirm with WattCarbon"
PATH_ID_NOTES = {
    "intervals": " ({id}: the meter's id).",
    "bills": " ({id}: the meter's id).",
    "documents": " ({id}: the asset's id).",
}


class ConnectionForm(OrgModelForm):
    """Credentials are never shown back: leave them empty to keep the stored ones. They follow
    their address: a new host (or Spark token URL) needs them entered again."""

    username = forms.CharField(required=False, max_length=200)
    password = forms.CharField(
        required=False, max_length=500, widget=forms.PasswordInput(render_value=False)
    )

    class Meta:
        model = Connection
        fields = ["profile", "base_url", "token_url", "enabled"]
        widgets = {"profile": forms.RadioSelect}

    def __init__(self, *args: Any, platform: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.platform = platform
        self.instance.platform = platform
        self.stored_hosts = self.instance.upstream_hosts() if self.instance.pk else None
        profile = self.fields["profile"]
        assert isinstance(profile, forms.ChoiceField)
        profile.choices = [
            (value, f"{label}: {PROFILE_HELP[value]}") for value, label in Profile.choices
        ]
        profile.required = False  # not given: the connection keeps its profile
        profile.help_text = (
            "Switching keeps every record's link: where both profiles reach the same record "
            "upstream its id is kept, the others are created again (listed below)."
        )
        user_label, secret_label = CREDENTIAL_LABELS[platform]
        stored = self.instance.has_credentials
        self.fields["base_url"].help_text = (
            f"Leave empty for {default_base_url(platform)}. Any other address must be one of "
            "the platform's published ones, or one the portal's operator allowed."
        )
        # Addresses offered as the field is typed in (a <datalist>): Wattics runs two collectors.
        self.address_choices: list[str] = []
        if platform == Platform.WATTICS:
            self.address_choices = list(wattics.COLLECTORS.values())
            production, development = wattics.COLLECTORS.values()
            default = default_base_url(platform)
            where = "Wattics' production collector, " if default == production else ""
            self.fields["base_url"].help_text = (
                f"Leave empty for {where}{default}. Wattics' development collector, "
                f"{development}, is offered as you type (as is {production}); any other "
                "address must be one the portal's operator allowed."
            )
            self.fields["base_url"].widget.attrs["list"] = "base-url-choices"
        if platform == Platform.SPARK:
            self.fields[
                "token_url"
            ].help_text = f"Leave empty for {settings.SPARK_TOKEN_URL}. Checked like the base URL."
        else:
            del self.fields["token_url"]
        if user_label is None:
            del self.fields["username"]
        else:
            self.fields["username"].label = user_label
            if stored:
                self.fields["username"].help_text = "Stored. Leave empty to keep it."
        self.fields["password"].label = secret_label
        self.fields["password"].help_text = (
            "Stored, never shown. Leave empty to keep it, unless the address changes."
            if stored
            else ""
        )
        if platform == Platform.WATTCARBON:
            self._add_path_fields()

    def _add_path_fields(self) -> None:
        """WattCarbon's current profile: the paths its developer guide does not publish, each a
        setting with the inferred default (integrations/wattcarbon.py `PATH_DEFAULTS`)."""
        stored = (self.instance.extra or {}).get("paths") or {}
        for name, default in PATH_DEFAULTS.items():
            self.fields[f"path_{name}"] = forms.CharField(
                label=f"{PATH_LABELS[name]} ({NOT_PUBLISHED})",
                required=False,
                max_length=200,
                initial=stored.get(name, default),
                help_text=(
                    f"Current profile only. A path on the connection's address, default {default}"
                    + PATH_ID_NOTES.get(name, ".")
                ),
            )

    def path_settings(self) -> dict[str, str]:
        """The path settings that differ from the defaults (what `Connection.extra` keeps)."""
        return {
            name: value
            for name, default in PATH_DEFAULTS.items()
            if (value := self.cleaned_data.get(f"path_{name}") or default) != default
        }

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        assert data is not None  # a ModelForm's clean() returns its cleaned_data
        moved = self.stored_hosts is not None and self.stored_hosts != self._hosts(data)
        if not self.instance.has_credentials or moved:
            why = CREDENTIALS_FOLLOW_HOST if moved else "Required for a new connection."
            if "username" in self.fields and not data.get("username"):
                self.add_error("username", why)
            if not data.get("password"):
                self.add_error("password", why)
        if self.platform == Platform.WATTCARBON:
            for name in PATH_DEFAULTS:
                field = f"path_{name}"
                try:
                    data[field] = check_path_template(name, data.get(field) or "")
                except ValueError as exc:
                    self.add_error(field, str(exc))
            extra = dict(self.instance.extra or {})
            extra["paths"] = self.path_settings() if not self.errors else extra.get("paths", {})
            self.instance.extra = extra
        return data

    def clean_profile(self) -> str:
        return self.cleaned_data.get("profile") or self.instance.profile or Profile.QUICKSTART

    def _hosts(self, data: dict[str, Any]) -> tuple[str, str]:
        return Connection(
            platform=self.platform,
            base_url=data.get("base_url") or "",
            token_url=data.get("token_url") or "",
        ).upstream_hosts()

    def credentials(self) -> dict[str, str]:
        if "username" in self.fields:
            return {
                "username": self.cleaned_data.get("username", ""),
                "password": self.cleaned_data.get("password", ""),
            }
        return {"api_key": self.cleaned_data.get("password", "")}


class WebhookForm(forms.Form):
    """Which Spark operations and event types the organization's webhook receives."""

    operations = forms.MultipleChoiceField(
        choices=[(op, op) for op in ("Create", "Update", "Delete")],
        initial=["Create", "Update", "Delete"],
        widget=forms.CheckboxSelectMultiple,
    )
    event_types = forms.MultipleChoiceField(
        choices=[("PriceDelta", "PriceDelta (price changes)")],
        initial=["PriceDelta"],
        widget=forms.CheckboxSelectMultiple,
    )


class CurrentWebhookForm(forms.Form):
    """Which notification types the organization's webhook receives (current profile)."""

    notification_types = forms.MultipleChoiceField(
        choices=[(kind, kind) for kind in spark.NOTIFICATION_TYPES],
        initial=list(spark.NOTIFICATION_TYPES),
        widget=forms.CheckboxSelectMultiple,
    )


class SimulationForm(forms.Form):
    """Which simulated event Spark sends as the test (current profile)."""

    simulation = forms.ChoiceField(
        choices=[(kind, note) for kind, note in spark.SIMULATIONS.items()],
        initial="pricecurve",
    )


class UTCDateTimeField(forms.DateTimeField):
    """A date and time read and shown in UTC, whatever the page's timezone (Spark's report
    points and event curves are in UTC)."""

    widget = IsoDateTimeInput()

    def to_python(self, value: Any) -> Any:
        with timezone.override(UTC):
            return super().to_python(value)

    def prepare_value(self, value: Any) -> Any:
        with timezone.override(UTC):
            return super().prepare_value(value)


class EnergyUsageReportForm(forms.Form):
    """The period of an EnergyUsage report: the device must have readings in it."""

    start = UTCDateTimeField(label="Start (UTC)", help_text="The first hour reported.")
    end = UTCDateTimeField(label="End (UTC)", help_text="The end of the last hour reported.")
    MAX_SPAN = timedelta(days=31)

    def __init__(self, *args: Any, device: Device, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.device = device

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        assert data is not None  # a Form's clean() returns its cleaned_data
        start, end = data.get("start"), data.get("end")
        if start is None or end is None:
            return data
        # Whole hours, as the readings are stored (start of each hour, UTC).
        start = start.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
        end = end.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
        if end <= start:
            raise forms.ValidationError(
                {"end": "The end must be at least an hour after the start."}
            )
        if end - start > self.MAX_SPAN:
            raise forms.ValidationError({"end": "A report covers at most 31 days."})
        has_readings = Reading.objects.filter(
            series__device=self.device,
            series__channel=ReadingChannel.DELIVERED,
            instant__gte=start,
            instant__lt=end,
        ).exists()
        if not has_readings:
            raise forms.ValidationError(
                f"{self.device.name} has no readings between {start:%Y-%m-%d %H:%M} and "
                f"{end:%Y-%m-%d %H:%M} UTC: upload them first."
            )
        data["start"], data["end"] = start, end
        return data


class ChargeReportForm(forms.Form):
    """A VehicleChargeAction report: ranges checked here, as Spark checks them."""

    action = forms.ChoiceField(choices=[("Start", "Start charging"), ("Stop", "Stop charging")])
    power_w = forms.IntegerField(label="Power (W)", min_value=0, max_value=350_000)
    state_of_charge = forms.FloatField(
        label="State of charge (%)", min_value=0, max_value=100, help_text="0 to 100 %"
    )
    battery_capacity_wh = forms.IntegerField(
        label="Battery capacity (Wh)", min_value=1, max_value=500_000
    )
    name = forms.CharField(
        max_length=200, required=False, help_text="Defaults to the action and vehicle."
    )


class SandboxOutageForm(forms.Form):
    """Sandbox only: make one emulator fail for a while, for this organization's calls only, to
    watch retries and recovery."""

    platform = forms.ChoiceField(choices=[])
    seconds = forms.IntegerField(
        min_value=0, max_value=3600, initial=60, help_text="0 ends an outage now."
    )
    status = forms.TypedChoiceField(
        coerce=int,
        choices=[
            (503, "503 Service Unavailable"),
            (500, "500 Internal Server Error"),
            (429, "429 Too Many Requests"),
        ],
    )

    def __init__(self, *args: Any, platforms: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["platform"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = platforms


class RemoteIdForm(forms.Form):
    """The id a person found on the platform for a record whose create's answer was lost."""

    remote_id = forms.CharField(
        label="Its id on the platform",
        max_length=200,
        strip=True,
        help_text=(
            "As the platform shows it (for WattCarbon, the device id such as dev_…, or under "
            "the current profile the meter's number or the asset's id)."
        ),
    )

    def clean_remote_id(self) -> str:
        value = self.cleaned_data["remote_id"]
        if any(char.isspace() for char in value):
            raise forms.ValidationError("An id has no spaces.")
        return value
