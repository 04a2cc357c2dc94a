"""CSV import of meters, and the home and customer look-ups the device import shares.

Meters are keyed by `meterNumber` (case-insensitive, unique in an organization); `homeName` with
`zipcode` names the meter's home, which must already exist (a home needs a customer, which a meter
file does not carry: the device import creates homes). See `portal.csv_import` for the engine.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import TextChoices

from portal.csv_import import (
    Action,
    Column,
    Importer,
    Plan,
    Row,
    RowError,
    RowIssues,
    in_chunks,
    validation_issues,
)
from portal.models import Organization

from .models import Customer, Home, LocationType, Meter, zip_code_validator
from .services import save_meter, zip_facts
from .states import STATES, state_code

ZIP_COLUMN = Column(
    "zipcode",
    "The home's US zip code (5 digits, optionally -NNNN).",
    aliases=("zip", "postalCode"),
)
HOME_NAME_COLUMN = Column("homeName", "The home's name in your organization (with its zipcode).")

_ZIP_AT_END = re.compile(r"[\s,]+(\d{5}(?:-\d{4})?)\s*$")
_STATE_AT_END = re.compile(r"[\s,]+([A-Za-z]{2})\s*$")
_COORDINATES = re.compile(r"^\s*(-?\d{1,3}(?:\.\d+)?)\s*[,;]\s*(-?\d{1,3}(?:\.\d+)?)\s*$")


def key(text: str) -> str:
    """How names and numbers are matched: case and repeated spaces do not matter."""
    return " ".join(text.split()).casefold()


def choice_value(text: str, choices: type[TextChoices]) -> str | None:
    """The stored value of a choice given by value or label, case-insensitively (None: no match)."""
    wanted = key(text)
    for value, label in choices.choices:
        if wanted in (key(value), key(str(label))):
            return value
    return None


def clean_zip(value: str, issues: RowIssues, column: str = ZIP_COLUMN.name) -> str | None:
    """A zip code as the model stores it, or None after recording an error."""
    text = value.strip()
    if re.fullmatch(r"\d{3,5}\.0+", text):  # a spreadsheet that took the zip for a number
        text = text.split(".", 1)[0]
    if re.fullmatch(r"\d{3,4}", text):
        padded = text.zfill(5)
        issues.warn(
            column, f"Read {text} as {padded} (spreadsheets drop the leading zeros of zip codes)."
        )
        text = padded
    try:
        zip_code_validator(text)
    except ValidationError as exc:
        issues.error(column, exc.messages[0])
        return None
    return text


def parse_location(text: str) -> dict[str, Any] | None:
    """WattCarbon's `location` as home fields: an address string, "lat, lon", or a JSON object.

    An address is split from its end: the zip code, a state code, then the zip's city when the
    text ends with it; the rest is the street. Returns None when the text cannot be understood.
    """
    text = text.strip()
    if not text:
        return {}
    if text.startswith("{"):
        try:
            data = json.loads(text)
        except (ValueError, RecursionError):  # RecursionError: nesting deeper than Python's stack
            return None
        if not isinstance(data, dict):
            return None
        address = {
            "street": str(data.get("street") or "").strip(),
            "city": str(data.get("city") or "").strip(),
            "state": str(data.get("state") or "").strip(),
            "zip_code": str(data.get("postalCode") or data.get("postal_code") or "").strip(),
            "country": str(data.get("country") or "").strip().upper(),
        }
        try:
            address["state"] = state_code(address["state"])  # "Colorado" or "CO"
        except ValidationError:
            return None
        given = {name: value for name, value in address.items() if value}
        coordinates = _coordinates(data.get("latitude"), data.get("longitude"))
        return {**given, **coordinates} if coordinates is not None else None
    match = _COORDINATES.match(text)
    if match:
        return _coordinates(match.group(1), match.group(2))
    fields: dict[str, Any] = {}
    rest = text
    if zip_match := _ZIP_AT_END.search(rest):
        fields["zip_code"] = zip_match.group(1)
        rest = rest[: zip_match.start()]
    if (state_match := _STATE_AT_END.search(rest)) and state_match.group(1).upper() in STATES:
        fields["state"] = state_match.group(1).upper()
        rest = rest[: state_match.start()]
    parts = [part.strip() for part in rest.split(",") if part.strip()]
    if len(parts) > 1:
        fields["street"], fields["city"] = parts[0], parts[-1]
    elif parts:
        street = parts[0]
        city = zip_facts(fields.get("zip_code", "")).get("city", "")
        if city and street.casefold().endswith(" " + city.casefold()):
            fields["city"] = street[-len(city) :]
            street = street[: -len(city)].strip()
        fields["street"] = street
    return fields


def _coordinates(latitude: Any, longitude: Any) -> dict[str, Any] | None:
    if latitude in (None, "") and longitude in (None, ""):
        return {}
    try:
        lat, lon = Decimal(str(latitude)), Decimal(str(longitude))
    except InvalidOperation:
        return None
    # NaN first: ordering a Decimal NaN raises InvalidOperation.
    if not (lat.is_finite() and lon.is_finite()) or not (-90 <= lat <= 90 and -180 <= lon <= 180):
        return None
    return {
        "latitude": lat.quantize(Decimal("0.000001")),
        "longitude": lon.quantize(Decimal("0.000001")),
    }


class HomeIndex:
    """The organization's homes a file names, by (name, 5-digit zip) and by name.

    Homes the file itself creates are added as they are planned, so later rows find them too.
    Names are matched in Python (`key`): SQLite's LOWER() only folds ASCII.
    """

    def __init__(self, organization: Organization, names: Iterable[str]) -> None:
        wanted = {key(name) for name in names if name.strip()}
        pks = [
            pk
            for pk, name in Home.objects.filter(organization=organization).values_list("pk", "name")
            if key(name) in wanted
        ]
        self.by_name: dict[str, list[Home]] = defaultdict(list)
        self.by_key: dict[tuple[str, str], list[Home]] = defaultdict(list)
        for chunk in in_chunks(pks):
            for home in Home.objects.filter(pk__in=chunk).select_related("customer"):
                self.add(home)

    def add(self, home: Home) -> None:
        self.by_name[key(home.name)].append(home)
        self.by_key[(key(home.name), home.zip_code[:5])].append(home)

    def find(self, name: str, zip_code: str) -> list[Home]:
        return self.by_key.get((key(name), zip_code[:5]), [])

    def named(self, name: str) -> list[Home]:
        return self.by_name.get(key(name), [])


class CustomerIndex:
    """The organization's customers a file names, by email and by name (plus those it creates)."""

    def __init__(
        self, organization: Organization, names: Iterable[str], emails: Iterable[str]
    ) -> None:
        wanted_names = {key(name) for name in names if name.strip()}
        wanted_emails = {key(email) for email in emails if email.strip()}
        pks = [
            pk
            for pk, name, email in Customer.objects.filter(organization=organization).values_list(
                "pk", "name", "email"
            )
            if key(name) in wanted_names or (email and key(email) in wanted_emails)
        ]
        self.by_name: dict[str, list[Customer]] = defaultdict(list)
        self.by_email: dict[str, list[Customer]] = defaultdict(list)
        for chunk in in_chunks(pks):
            for customer in Customer.objects.filter(pk__in=chunk):
                self.add(customer)

    def add(self, customer: Customer) -> None:
        self.by_name[key(customer.name)].append(customer)
        if customer.email:
            self.by_email[key(customer.email)].append(customer)

    def with_email(self, email: str) -> list[Customer]:
        return self.by_email.get(key(email), [])

    def named(self, name: str) -> list[Customer]:
        return self.by_name.get(key(name), [])


def meters_by_number(organization: Organization, numbers: Iterable[str]) -> dict[str, Meter]:
    """The organization's meters with these numbers, by `key(number)`, with their homes."""
    wanted = {key(number) for number in numbers if number.strip()}
    pks = [
        pk
        for pk, number in Meter.objects.filter(organization=organization).values_list(
            "pk", "meter_number"
        )
        if key(number) in wanted
    ]
    meters: dict[str, Meter] = {}
    for chunk in in_chunks(pks):
        for meter in Meter.objects.filter(pk__in=chunk).select_related("home"):
            meters[key(meter.meter_number)] = meter
    return meters


def saved[M](service: Callable[[M], M], instance: M, columns: dict[str, str]) -> None:
    """Write `instance` through its service; a ValidationError names the file's columns."""
    try:
        service(instance)
    except ValidationError as exc:
        raise RowError(validation_issues(exc, columns)) from exc


# --- the meter import ------------------------------------------------------------------------------
METER_COLUMNS = {
    "meter_number": "meterNumber",
    "meter_point_id": "meterPointId",
    "location_type": "locationType",
    "wattics_stream_id": "watticsStreamId",
    "home": "homeName",
}


class MeterImporter(Importer):
    """Meters keyed by meter number; their homes must exist."""

    noun = "meter"
    noun_plural = "meters"
    columns = (
        Column(
            "meterNumber",
            "The number on the meter, unique in your organization. A meter with this number "
            "(case-insensitive) is updated; otherwise one is created.",
            required=True,
        ),
        Column("meterPointId", "The utility's metering point id (may be blank).", required=True),
        Column(
            "locationType",
            f"{', '.join(LocationType.values)} (blank: residential, or unchanged).",
            required=True,
        ),
        Column(
            HOME_NAME_COLUMN.name,
            "The home the meter is at, which must exist; blank with zipcode keeps an existing "
            "meter's home.",
            required=True,
        ),
        Column(ZIP_COLUMN.name, ZIP_COLUMN.help, required=True, aliases=ZIP_COLUMN.aliases),
        Column("watticsStreamId", "Optional: the Wattics data stream id to push readings to."),
    )

    def load(self, rows: Sequence[Row]) -> None:
        self.meters = meters_by_number(self.organization, (row.get("meterNumber") for row in rows))
        self.homes = HomeIndex(self.organization, (row.get("homeName") for row in rows))
        # Homes of the devices on each meter: a meter may not move away from its devices' home.
        self.device_homes: dict[int, set[int]] = defaultdict(set)
        for chunk in in_chunks([meter.pk for meter in self.meters.values()]):
            for meter_pk, home_pk in Meter.objects.filter(pk__in=chunk).values_list(
                "pk", "devices__home_id"
            ):
                if home_pk is not None:
                    self.device_homes[meter_pk].add(home_pk)
        self.seen: dict[str, int] = {}

    def plan(self, row: Row, issues: RowIssues) -> Plan | None:
        number = row.get("meterNumber")
        if not number:
            issues.error("meterNumber", "Give the meter's number.")
            return None
        if key(number) in self.seen:
            issues.error(
                "meterNumber", f"{number} is already on row {self.seen[key(number)]} of this file."
            )
            return None
        self.seen[key(number)] = row.number
        existing = self.meters.get(key(number))
        home = self._home(row, issues, existing)
        location_type: str | None = existing.location_type if existing else LocationType.RESIDENTIAL
        if row.get("locationType"):
            location_type = choice_value(row.get("locationType"), LocationType)
            if location_type is None:
                issues.error("locationType", f"Choose one of: {', '.join(LocationType.values)}.")
        if home is None or issues.any:
            return None
        values = {
            "meter_number": number,
            "meter_point_id": row.get("meterPointId"),
            "location_type": location_type,
            "wattics_stream_id": (
                row.get("watticsStreamId")
                if row.has("watticsStreamId") or existing is None
                else existing.wattics_stream_id
            ),
        }
        if existing is None:
            meter = Meter(organization=self.organization, home=home, **values)
            action: Action = "create"
        else:
            changed = existing.home_id != home.pk or any(
                getattr(existing, name) != value for name, value in values.items()
            )
            if not changed:
                return Plan(row.number, "unchanged")
            if existing.home_id != home.pk and self.device_homes.get(existing.pk, set()) - {
                home.pk
            }:
                issues.error(
                    "homeName",
                    f"Devices at {existing.home.name} use this meter: it cannot move to {home.name}.",
                )
                return None
            meter = existing
            meter.home = home
            for name, value in values.items():
                setattr(meter, name, value)
            action = "update"
        if not issues.check_fields(meter, METER_COLUMNS, exclude={"home", "organization"}):
            return None
        return Plan(row.number, action, lambda: saved(save_meter, meter, METER_COLUMNS))

    def _home(self, row: Row, issues: RowIssues, existing: Meter | None) -> Home | None:
        name, zip_text = row.get("homeName"), row.get("zipcode")
        if not name and not zip_text and existing is not None:
            return existing.home
        if not name or not zip_text:
            missing = "homeName" if not name else "zipcode"
            issues.error(missing, "Give the meter's home: its homeName and zipcode.")
            return None
        zip_code = clean_zip(zip_text, issues)
        if zip_code is None:
            return None
        homes = self.homes.find(name, zip_code)
        if not homes:
            issues.error(
                "homeName",
                f"Your organization has no home named “{name}” at {zip_code}: add the home first "
                "(or import its devices, which creates it).",
            )
            return None
        if len(homes) > 1:
            issues.error(
                "homeName", f"Several homes are named “{name}” at {zip_code}: rename one of them."
            )
            return None
        return homes[0]
