"""CSV import of devices, in WattCarbon's own column names, with their homes, customers and meters.

A file prepared for WattCarbon's bulk upload imports as is: the common columns are WattCarbon's
(`name, customId, location, utility, meterId, commencedOperationDate, kind`, `deviceOwner` as
`ownerName`), each kind field's column is its WattCarbon name (`KindField.upstream_name`), or the
camelCase of our name where WattCarbon has no such field (`capacityKwh`, `heatingElementsW`).
`homeName`/`zipcode` and `customerName`/`customerEmail` are ours: they attach the device to a home
(created, with its customer, when the organization has none of that name at that zip).

Rules a row follows (each is tested in tests/devices/test_device_import.py):
- `customId` is the key (case-insensitive, per organization): a known one updates that device,
  else one is created. A device's kind cannot change through an import.
- A blank cell clears an optional field; a column missing from the file leaves the field as it is.
  A blank `status` keeps the current status (new devices: active); blank home columns keep an
  existing device's home.
- An existing home is attached, never edited; `location` and `utility` only fill a new home.
- Without `homeName`, a new device's home is named after the street of `location`, and without
  `zipcode` the zip at the end of `location` is used, so WattCarbon's files need no extra columns.
- A new home's customer is found by `customerEmail`, else by `customerName` (else `ownerName`),
  or created. An existing home's customer cannot change here.
- `meterId` is a meter number of the device's home: attached, or created at that home.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date
from functools import partial

from django.db.models.functions import Lower

from homes.imports import (
    HOME_NAME_COLUMN,
    ZIP_COLUMN,
    CustomerIndex,
    HomeIndex,
    choice_value,
    clean_zip,
    key,
    meters_by_number,
    parse_location,
    saved,
)
from homes.models import Customer, Home, Meter, Utility
from homes.services import save_customer, save_home, save_meter
from portal.csv_import import Action, Column, Importer, Plan, Row, RowIssues, in_chunks

from .kinds import KINDS, KindField, validate_details
from .models import Device, DeviceStatus
from .services import save_device

# WattCarbon's kind names and a friendlier spelling, mapped to ours.
KIND_ALIASES = {"heat_pump": "electrification", "storage": "battery", "ev_charging": "ev_charger"}
_NUMERIC_TYPES = {"decimal", "integer", "year"}


def camel_case(name: str) -> str:
    """`capacity_kwh` -> `capacityKwh`, `heating_elements_w` -> `heatingElementsW`."""
    first, *rest = name.split("_")
    return first + "".join(part.capitalize() for part in rest)


def kind_column(spec: KindField) -> str:
    """A kind field's column: WattCarbon's name for it, else the camelCase of ours."""
    return spec.upstream_name or camel_case(spec.name)


# column -> {kind: our field name}; several kinds share a column (`powerKw`, `brand`, `model`).
KIND_COLUMNS: dict[str, dict[str, str]] = {}
for _kind, _spec in KINDS.items():
    for _field in _spec.fields:
        KIND_COLUMNS.setdefault(kind_column(_field), {})[str(_kind)] = _field.name


def _kind_column_help(column: str) -> str:
    uses = []
    for kind, name in KIND_COLUMNS[column].items():
        spec = next(f for f in KINDS[kind].fields if f.name == name)
        required = ", required" if spec.required else ""
        choices = f": {', '.join(v for v, _ in spec.choices)}" if spec.choices else ""
        uses.append(f"{KINDS[kind].label.lower()}: {spec.label}{required}{choices}")
    return "; ".join(uses)


KIND_CHOICES_TEXT = ", ".join(
    f"{kind}{''.join(f' (or {a})' for a, k in KIND_ALIASES.items() if k == kind)}" for kind in KINDS
)

COMMON_COLUMNS: tuple[Column, ...] = (
    Column("name", "The device's name.", required=True),
    Column(
        "customId",
        "Your id for the device, unique in your organization. A device with this id "
        "(case-insensitive) is updated; otherwise one is created.",
        required=True,
    ),
    Column("kind", KIND_CHOICES_TEXT + ".", required=True),
    Column(
        "location",
        "The home's address (“60 Greene St, Riverside, IA 52327”), “latitude, longitude”, or a "
        "JSON object; fills a new home.",
    ),
    Column("utility", "The home's utility, by name; fills a new home."),
    Column("meterId", "The number of the home's meter; a new number creates the meter."),
    Column("commencedOperationDate", "YYYY-MM-DD."),
    Column("status", f"{', '.join(DeviceStatus.values)} (blank: active, or unchanged)."),
    Column(
        "ownerName",
        "The device owner, when not the home's customer.",
        aliases=("deviceOwner", "deviceOwnerName"),
    ),
    Column(
        HOME_NAME_COLUMN.name,
        "The home's name; with zipcode it finds the home or creates it. Blank: the street of "
        "location (new devices) or the current home.",
    ),
    Column(
        ZIP_COLUMN.name,
        ZIP_COLUMN.help + " Blank: the zip at the end of location.",
        aliases=ZIP_COLUMN.aliases,
    ),
    Column("customerName", "A new home's customer (found by name, else created)."),
    Column("customerEmail", "A new home's customer (found by email first)."),
)
DEVICE_COLUMNS_LIST: tuple[Column, ...] = COMMON_COLUMNS + tuple(
    Column(column, _kind_column_help(column)) for column in KIND_COLUMNS
)

# Model field -> the column a service's ValidationError is reported on.
DEVICE_FIELD_COLUMNS = {
    "name": "name",
    "custom_id": "customId",
    "kind": "kind",
    "commenced_operation_date": "commencedOperationDate",
    "status": "status",
    "owner_name": "ownerName",
    "home": "homeName",
    "meter": "meterId",
}
HOME_FIELD_COLUMNS = {
    "name": "homeName",
    "zip_code": "zipcode",
    "timezone": "zipcode",
    "street": "location",
    "city": "location",
    "state": "location",
    "country": "location",
    "latitude": "location",
    "longitude": "location",
    "utility": "utility",
    "customer": "customerName",
}
CUSTOMER_FIELD_COLUMNS = {"name": "customerName", "email": "customerEmail"}
METER_FIELD_COLUMNS = {"meter_number": "meterId", "home": "homeName"}
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_DECIMAL_COMMA = re.compile(r"-?\d+,\d+")


def _same_home(a: Home | None, b: Home | None) -> bool:
    # Homes this file creates have no pk yet: they are the same only if they are the same object.
    return a is b or (a is not None and b is not None and a.pk is not None and a.pk == b.pk)


class DeviceImporter(Importer):
    """Devices keyed by customId, with the homes, customers and meters they need."""

    noun = "device"
    noun_plural = "devices"
    columns = DEVICE_COLUMNS_LIST

    def load(self, rows: Sequence[Row]) -> None:
        org = self.organization
        custom_ids = sorted({row.get("customId").casefold() for row in rows if row.get("customId")})
        self.devices: dict[str, Device] = {}
        # customId is ASCII (its validator), so the database's LOWER() agrees with casefold().
        for chunk in in_chunks(custom_ids):
            queryset = (
                Device.objects.filter(organization=org)
                .annotate(custom_id_lower=Lower("custom_id"))
                .filter(custom_id_lower__in=chunk)
                .select_related("home", "home__customer", "meter")
            )
            for device in queryset:
                self.devices[device.custom_id.casefold()] = device
        home_names = {row.get("homeName") for row in rows}
        home_names |= {
            (parse_location(row.get("location")) or {}).get("street", "") for row in rows
        }
        self.homes = HomeIndex(org, home_names)
        self.customers = CustomerIndex(
            org,
            names={row.get("customerName") for row in rows}
            | {row.get("ownerName") for row in rows},
            emails={row.get("customerEmail") for row in rows},
        )
        self.meters: dict[str, Meter] = meters_by_number(org, {row.get("meterId") for row in rows})
        self.utilities: dict[str, Utility] = {}
        wanted = {key(row.get("utility")) for row in rows if row.get("utility")}
        if wanted:
            for utility in Utility.objects.for_org(org):
                for name in (utility.name, utility.ws_utility_id):
                    if key(name) in wanted:
                        self.utilities.setdefault(key(name), utility)
        self.seen: dict[str, int] = {}
        self.created_homes = self.created_customers = self.created_meters = 0

    def also_created(self) -> list[tuple[int, str, str]]:
        return [
            (self.created_homes, "home", "homes"),
            (self.created_customers, "customer", "customers"),
            (self.created_meters, "meter", "meters"),
        ]

    # --- one row --------------------------------------------------------------------------------
    def plan(self, row: Row, issues: RowIssues) -> Plan | None:
        name, custom_id = row.get("name"), row.get("customId")
        if not name:
            issues.error("name", "Give the device a name.")
        existing = None
        if not custom_id:
            issues.error(
                "customId", "Give the device's custom id (your id, unique in your organization)."
            )
        elif custom_id.casefold() in self.seen:
            issues.error(
                "customId",
                f"{custom_id} is already on row {self.seen[custom_id.casefold()]} of this file.",
            )
            return None
        else:
            self.seen[custom_id.casefold()] = row.number
            existing = self.devices.get(custom_id.casefold())
        kind = self._kind(row, issues, existing)
        status = self._status(row, issues, existing)
        commenced = self._commenced(row, issues, existing)
        owner_name = (
            row.get("ownerName") if row.has("ownerName") or not existing else existing.owner_name
        )
        home = self._home(row, issues, existing)
        meter = self._meter(row, issues, home, existing) if home is not None else None
        details = self._details(row, issues, kind, existing) if kind else {}
        values = {
            "name": name,
            "custom_id": custom_id,
            "kind": kind or "",
            "commenced_operation_date": commenced,
            "status": status,
            "owner_name": owner_name,
            "details": details,
        }
        # Checked on a fresh instance so that every mistake of the row is reported at once;
        # `details` were validated per column above, relations are checked when saved.
        device = Device(organization=self.organization, **values)
        exclude = {"home", "meter", "organization", "details"}
        issues.check_fields(device, DEVICE_FIELD_COLUMNS, exclude=exclude)
        if issues.any or home is None or kind is None:
            return None
        action: Action = "create"
        if existing is not None:
            same_meter = (meter is None and existing.meter_id is None) or (
                meter is not None and meter.pk is not None and meter.pk == existing.meter_id
            )
            unchanged = (
                _same_home(home, existing.home)
                and same_meter
                and all(getattr(existing, field) == value for field, value in values.items())
            )
            if unchanged:
                return Plan(row.number, "unchanged")
            device = existing
            for field, value in values.items():
                setattr(device, field, value)
            action = "update"
        return Plan(row.number, action, partial(self._write, device, home, meter))

    def _write(self, device: Device, home: Home, meter: Meter | None) -> None:
        """Save what the row needs that is new (customer, home, meter), then the device."""
        if home.pk is None:
            customer = home.customer
            if customer.pk is None:
                saved(save_customer, customer, CUSTOMER_FIELD_COLUMNS)
            home.customer = customer  # sets customer_id now that the customer has one
            saved(save_home, home, HOME_FIELD_COLUMNS)
        if meter is not None and meter.pk is None:
            meter.home = home
            saved(save_meter, meter, METER_FIELD_COLUMNS)
        device.home = home
        device.meter = meter
        saved(save_device, device, DEVICE_FIELD_COLUMNS)

    def _kind(self, row: Row, issues: RowIssues, existing: Device | None) -> str | None:
        raw = row.get("kind")
        if not raw:
            issues.error("kind", f"Give the device's kind: {KIND_CHOICES_TEXT}.")
            return None
        kind = re.sub(r"[\s\-]+", "_", raw.casefold())
        kind = KIND_ALIASES.get(kind, kind)
        if kind not in KINDS:
            issues.error("kind", f"Unknown kind “{raw}”. Choose one of: {KIND_CHOICES_TEXT}.")
            return None
        if existing is not None and existing.kind != kind:
            issues.error(
                "kind",
                f"This device is a {KINDS[existing.kind].label.lower()} device; an import cannot "
                "change a device's kind.",
            )
            return None
        return kind

    def _status(self, row: Row, issues: RowIssues, existing: Device | None) -> str:
        default = existing.status if existing is not None else DeviceStatus.ACTIVE
        if not row.get("status"):
            return default
        status = choice_value(row.get("status"), DeviceStatus)
        if status is None:
            issues.error("status", f"Choose one of: {', '.join(DeviceStatus.values)}.")
            return default
        return status

    def _commenced(self, row: Row, issues: RowIssues, existing: Device | None) -> date | None:
        if not row.has("commencedOperationDate"):
            return existing.commenced_operation_date if existing is not None else None
        text = row.get("commencedOperationDate")
        if not text:
            return None
        try:
            if not _DATE.fullmatch(text):
                raise ValueError
            commenced = date.fromisoformat(text)
        except ValueError:
            issues.error("commencedOperationDate", "Enter a date as YYYY-MM-DD, e.g. 2022-08-01.")
            return None
        if not date(1900, 1, 1) <= commenced <= date(2199, 12, 31):
            issues.error("commencedOperationDate", "Enter a date between 1900 and 2199.")
            return None
        return commenced

    def _details(
        self, row: Row, issues: RowIssues, kind: str, existing: Device | None
    ) -> dict[str, object]:
        spec = KINDS[kind]
        fields = {f.name: f for f in spec.fields}
        raw: dict[str, object] = dict(existing.details) if existing is not None else {}
        for column, per_kind in KIND_COLUMNS.items():
            if not row.has(column):
                continue  # not in the file: an existing device keeps its value
            value = row.get(column)
            name = per_kind.get(kind)
            if name is None:
                if value:
                    issues.error(column, f"{spec.label} devices have no {column}: leave it empty.")
                continue
            if not value:
                raw.pop(name, None)
                continue
            if (
                self.delimiter == ";"
                and fields[name].type in _NUMERIC_TYPES
                and _DECIMAL_COMMA.fullmatch(value)
            ):
                # A semicolon-separated file comes from a decimal-comma locale: 12,5 is 12.5.
                value = value.replace(",", ".")
            raw[name] = value
        cleaned, errors = validate_details(kind, raw)
        columns = {f.name: kind_column(f) for f in spec.fields}
        for name, message in errors.items():
            issues.error(columns.get(name), message)
        return cleaned

    # --- the home, its customer, the meter ------------------------------------------------------
    def _home(self, row: Row, issues: RowIssues, existing: Device | None) -> Home | None:
        location = parse_location(row.get("location"))
        if location is None:
            issues.error(
                "location",
                "Give an address, “latitude, longitude”, or a JSON object with street, city, "
                "state, postalCode (or latitude and longitude).",
            )
            location = {}
        name, zip_text = row.get("homeName"), row.get("zipcode")
        if existing is None:
            # WattCarbon's files have only `location`: it names and places a new device's home.
            name = name or location.get("street", "")
            zip_text = zip_text or location.get("zip_code", "")
        if not name and not zip_text:
            if existing is not None:
                return existing.home
            issues.error(
                "homeName",
                "Give the device's home: homeName and zipcode (or a location that ends with the "
                "zip code).",
            )
            return None
        if not zip_text:
            return self._home_by_name(name, issues, existing)
        zip_code = clean_zip(zip_text, issues)
        if zip_code is None:
            return None
        if not name:
            if existing is not None and existing.home.zip_code[:5] == zip_code[:5]:
                return existing.home
            issues.error("homeName", "Give the home's name (with its zipcode).")
            return None
        homes = self.homes.find(name, zip_code)
        if len(homes) > 1:
            if existing is not None and any(_same_home(h, existing.home) for h in homes):
                return existing.home
            issues.error("homeName", f"Several homes are named “{name}” at {zip_code}: rename one.")
            return None
        if homes:
            self._check_customer(row, issues, homes[0])
            return homes[0]
        return self._new_home(row, issues, name, zip_code, location)

    def _home_by_name(self, name: str, issues: RowIssues, existing: Device | None) -> Home | None:
        homes = self.homes.named(name)
        if existing is not None and any(_same_home(h, existing.home) for h in homes):
            return existing.home
        if len(homes) == 1:
            return homes[0]
        if homes:
            issues.error("zipcode", f"Several homes are named “{name}”: give the zipcode.")
        else:
            issues.error(
                "zipcode",
                f"Your organization has no home named “{name}”: give its zipcode to add it.",
            )
        return None

    def _new_home(
        self, row: Row, issues: RowIssues, name: str, zip_code: str, location: dict
    ) -> Home | None:
        customer = self._customer(row, issues)
        if customer is None:
            return None
        address = {
            field: location[field]
            for field in ("street", "city", "state", "latitude", "longitude")
            if location.get(field) not in (None, "")
        }
        if len(location.get("country", "")) == 2:
            address["country"] = location["country"]
        home = Home(
            organization=self.organization,
            customer=customer,
            name=name,
            zip_code=zip_code,
            **address,
        )
        utility_name = row.get("utility")
        if utility_name:
            home.utility = self.utilities.get(key(utility_name))
            if home.utility is None:
                issues.warn(
                    "utility",
                    f"No utility named “{utility_name}” is known: the home is created without one "
                    "(choose it on the home's page).",
                )
        excluded = {"customer", "organization", "utility", "rate_plan"}
        if not issues.check_fields(home, HOME_FIELD_COLUMNS, exclude=excluded):
            return None
        self.homes.add(home)
        self.created_homes += 1
        return home

    def _check_customer(self, row: Row, issues: RowIssues, home: Home) -> None:
        """An existing home keeps its customer: a row naming another one is an error."""
        email, name = row.get("customerEmail"), row.get("customerName")
        customer = home.customer
        if email and key(email) != key(customer.email):
            issues.error(
                "customerEmail",
                f"The home “{home.name}” belongs to {customer.name} "
                f"({customer.email or 'no email'}); an import does not move homes between customers.",
            )
        elif not email and name and key(name) != key(customer.name):
            issues.error(
                "customerName",
                f"The home “{home.name}” belongs to {customer.name}; an import does not move homes "
                "between customers.",
            )

    def _customer(self, row: Row, issues: RowIssues) -> Customer | None:
        email = row.get("customerEmail")
        name_column = "customerName" if row.get("customerName") else "ownerName"
        name = row.get(name_column)
        if email:
            found = self.customers.with_email(email)
            if len(found) > 1:
                issues.error("customerEmail", f"Several customers have the email {email}.")
                return None
            if found:
                return found[0]
            if not name:
                issues.error("customerName", f"Give the name of the new customer {email}.")
                return None
        elif name:
            found = self.customers.named(name)
            if len(found) > 1:
                issues.error(
                    name_column, f"Several customers are named “{name}”: add customerEmail."
                )
                return None
            if found:
                return found[0]
        else:
            issues.error(
                "customerName",
                "A new home needs a customer: give customerName (and customerEmail) or ownerName.",
            )
            return None
        customer = Customer(organization=self.organization, name=name, email=email)
        columns = {"name": name_column, "email": "customerEmail"}
        if not issues.check_fields(customer, columns, exclude={"organization"}):
            return None
        self.customers.add(customer)
        self.created_customers += 1
        return customer

    def _meter(
        self, row: Row, issues: RowIssues, home: Home, existing: Device | None
    ) -> Meter | None:
        if not row.has("meterId"):
            if existing is None or existing.meter is None:
                return None
            if home.pk is not None and existing.meter.home_id == home.pk:
                return existing.meter
            issues.error(
                "meterId",
                f"The device moves to “{home.name}” but its meter {existing.meter.meter_number} is "
                "at its current home: give a meterId of the new home (or leave it blank).",
            )
            return None
        number = row.get("meterId")
        if not number:
            return None
        meter = self.meters.get(key(number))
        if meter is not None:
            if _same_home(meter.home, home):
                return meter
            issues.error(
                "meterId",
                f"Meter {number} is at the home “{meter.home.name}”, not at “{home.name}”.",
            )
            return None
        meter = Meter(organization=self.organization, home=home, meter_number=number)
        if not issues.check_fields(meter, METER_FIELD_COLUMNS, exclude={"home", "organization"}):
            return None
        self.meters[key(number)] = meter
        self.created_meters += 1
        return meter
