"""What the API reads and answers, as pydantic schemas (and so the OpenAPI document).

Input schemas check only the JSON types; the rules (required fields, lengths, choices, a meter of
the same home, a custom id unique in the organization, a kind's own fields) are the forms' and the
services', applied to the same data a page would send (api/binding.py), so their words come back.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, TypeVar

from ninja import Field, Schema
from pydantic import ConfigDict

from devices.kinds import KINDS, DeviceKind
from devices.models import Device, DeviceStatus
from homes.models import Home, LocationType, Meter

T = TypeVar("T")

Number = float | str
MAX_ID = 2**63 - 1


class Page[T](Schema):
    """One page of a list, oldest record first; `next_cursor` fetches the next (null at the end)."""

    items: list[T]
    next_cursor: str | None


class _Record(Schema):
    id: int
    created_at: datetime
    updated_at: datetime


# --- customers ------------------------------------------------------------------------------------
class CustomerOut(_Record):
    name: str
    email: str
    phone: str
    external_ref: str


class CustomerIn(Schema):
    """A change: only the fields sent are changed."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = None
    email: str | None = None
    phone: str | None = None
    external_ref: str | None = None


class CustomerCreate(CustomerIn):
    name: str  # required on create


# --- homes ----------------------------------------------------------------------------------------
class HomeOut(_Record):
    customer: int
    name: str
    street: str
    city: str
    state: str
    zip_code: str
    country: str
    latitude: float | None
    longitude: float | None
    timezone: str
    utility: int | None
    rate_plan: int | None
    has_ev_charger: bool
    has_electric_heater: bool
    has_smart_water_heater: bool
    has_electric_water_heater: bool | None
    has_ac: bool
    ac_type: str

    @staticmethod
    def resolve_customer(home: Home) -> int:
        return home.customer_id

    @staticmethod
    def resolve_utility(home: Home) -> int | None:
        return home.utility_id

    @staticmethod
    def resolve_rate_plan(home: Home) -> int | None:
        return home.rate_plan_id

    @staticmethod
    def resolve_latitude(home: Home) -> float | None:
        return None if home.latitude is None else float(home.latitude)

    @staticmethod
    def resolve_longitude(home: Home) -> float | None:
        return None if home.longitude is None else float(home.longitude)


class HomeIn(Schema):
    """A change: only the fields sent are changed."""

    model_config = ConfigDict(extra="forbid")

    customer: int | None = Field(None, description="A customer id of your organization.")
    name: str | None = None
    street: str | None = None
    city: str | None = None
    state: str | None = None
    zip_code: str | None = None
    country: str | None = None
    latitude: Number | None = None
    longitude: Number | None = None
    timezone: str | None = Field(
        None, description="IANA time zone; derived from the zip code when left empty."
    )
    utility: int | None = None
    rate_plan: int | None = None
    has_ev_charger: bool | None = None
    has_electric_heater: bool | None = None
    has_smart_water_heater: bool | None = None
    has_electric_water_heater: bool | None = None
    has_ac: bool | None = None
    ac_type: str | None = None


class HomeCreate(HomeIn):
    customer: int = Field(description="A customer id of your organization.")  # required on create
    name: str  # required on create
    zip_code: str  # required on create


# --- meters ---------------------------------------------------------------------------------------
class MeterOut(_Record):
    home: int
    meter_number: str
    meter_point_id: str
    location_type: LocationType
    wattics_stream_id: str
    wattics_format: str

    @staticmethod
    def resolve_home(meter: Meter) -> int:
        return meter.home_id


class MeterIn(Schema):
    """A change: only the fields sent are changed."""

    model_config = ConfigDict(extra="forbid")

    home: int | None = None
    meter_number: str | None = None
    meter_point_id: str | None = None
    location_type: str | None = None
    wattics_stream_id: str | None = None
    wattics_format: str | None = None


class MeterCreate(MeterIn):
    home: int  # required on create
    meter_number: str  # required on create


# --- devices --------------------------------------------------------------------------------------
def _kinds_text() -> str:
    lines = ["Each kind's own fields (`details`), as the device form asks them:"]
    for kind in KINDS.values():
        fields = ", ".join(
            f"`{f.name}` ({f.type}{', required' if f.required else ''})" for f in kind.fields
        )
        lines.append(f"- **{kind.value}**: {fields or 'none'}")
    return "\n".join(lines)


KINDS_TEXT = _kinds_text()


class DeviceOut(_Record):
    home: int
    meter: int | None
    name: str
    custom_id: str
    kind: DeviceKind
    commenced_operation_date: str | None
    status: DeviceStatus
    owner_name: str
    details: dict[str, Any]

    @staticmethod
    def resolve_home(device: Device) -> int:
        return device.home_id

    @staticmethod
    def resolve_meter(device: Device) -> int | None:
        return device.meter_id

    @staticmethod
    def resolve_commenced_operation_date(device: Device) -> str | None:
        day = device.commenced_operation_date
        return day.isoformat() if day else None


class DeviceIn(Schema):
    """A change: only the fields sent are changed (`details` too, field by field)."""

    model_config = ConfigDict(extra="forbid")

    kind: str | None = Field(
        None, description="Required on create (one of the kinds); fixed once the device exists."
    )
    home: int | None = None
    meter: int | None = None
    name: str | None = None
    custom_id: str | None = None
    commenced_operation_date: str | None = Field(None, description="YYYY-MM-DD")
    status: str | None = None
    owner_name: str | None = None
    details: dict[str, Any] | None = Field(None, description=KINDS_TEXT)


class DeviceCreate(DeviceIn):
    kind: DeviceKind = Field(description="Fixed once the device exists.")  # required on create
    home: int  # required on create
    name: str  # required on create
    custom_id: str  # required on create


# --- upstream links -------------------------------------------------------------------------------
class AttemptOut(Schema):
    started_at: datetime
    duration_ms: int
    method: str
    path: str
    status_code: int | None
    error: str


class LinkOut(Schema):
    id: int
    platform: str
    channel: str
    record_type: str
    record_id: int
    state: str = Field(description="pending, syncing, synced, failed, rejected or in_doubt")
    shown_state: str = Field(
        description="The state as pages show it: a synced link missing something upstream says "
        "`out_of_date` or `not_sent`."
    )
    remote_id: str
    last_error: str
    last_status_code: int | None
    attempts: int
    next_attempt_at: datetime | None
    synced_at: datetime | None
    paused: bool
    waiting_for: str
    unsent_note: str
    updated_at: datetime


class LinkDetailOut(LinkOut):
    history: list[AttemptOut] = Field(description="The latest 200 calls, newest first.")


class SyncQueuedOut(Schema):
    detail: str
    queued: int


# --- readings -------------------------------------------------------------------------------------
class IssueOut(Schema):
    row: int | None
    column: str | None
    message: str
    code: str


class UploadOutcomeOut(Schema):
    """What became of a file: the preview report of the upload page, as JSON."""

    status: str = Field(description="stored, preview (a dry run or a checked file) or rejected")
    upload_id: int | None = Field(description="null for a dry run: nothing is written")
    rows: int
    inserted: int
    updated: int
    unchanged: int
    first: str | None
    last: str | None
    error_count: int
    warning_count: int
    errors: list[IssueOut]
    warnings: list[IssueOut]
    summary: dict[str, Any] = Field(
        description="How the file was read: layout, time zone and daylight-saving handling, "
        "gaps, resampling, duplicates."
    )


class RejectedOut(Schema):
    """A file with errors: nothing stored. The error shape, with the whole report beside it."""

    detail: str
    errors: dict[str, list[str]] = Field(description="`file`: each error, “Row N, column: message”")
    report: UploadOutcomeOut | None = Field(
        None, description="The whole report (absent when the request itself was refused)."
    )


class UploadOut(Schema):
    id: int
    filename: str
    status: str
    record_type: str
    record_id: int
    rows: int
    inserted: int
    updated: int
    unchanged: int
    first_instant: datetime | None
    last_instant: datetime | None
    size_bytes: int
    created_at: datetime
    updated_at: datetime
    stored_at: datetime | None


class UploadDetailOut(UploadOut):
    report: dict[str, Any]


class PointOut(Schema):
    start: str = Field(
        description="ISO 8601 with offset (hour) or a date / month start (day, month)"
    )
    value_kwh: float
    hours: int = Field(description="Hours with a reading")
    expected_hours: int = Field(description="Hours the bucket has (23 or 25 on DST days)")


class ReadingsOut(Schema):
    record_type: str
    record_id: int
    timezone: str
    resolution: str
    start: str
    end: str
    points: list[PointOut]


# --- Spark events ---------------------------------------------------------------------------------
class EventOut(Schema):
    id: int
    notification_id: str
    event_id: str
    event_type: str
    notification_type: str
    operation: str
    received_at: datetime
    processed_at: datetime | None
    process_error: str
    deliveries: int
    customers: list[int]
    meters: list[int]
    body: dict[str, Any]


# --- keys -----------------------------------------------------------------------------------------
class KeyOut(Schema):
    prefix: str
    name: str
    organization: str
    scopes: list[str]
    expires_at: datetime | None
