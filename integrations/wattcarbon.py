"""WattCarbon: pure payload builders and the API client, for both contract profiles.

Contract: docs/upstreams/wattcarbon.md. The quickstart profile (seed 000, WattCarbon's "Uploading
Devices and Data end to end example"): devices and their hourly timeseries. The current profile
(the developer guide at https://docs.wattcarbon.com/data-onboarding/developer-guide): a meter,
its intervals, then an asset with `meterIds`, and a demand-response asset's events document. The
current paths WattCarbon has not published are connection settings (`paths_from`).

Nothing here touches the ORM: the builders take plain keyword data, the glue that reads our models
lives with the app that owns them.
"""

from __future__ import annotations

import csv
import io
import math
import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import quote

import httpx

from devices import kinds
from integrations.http import CallRecord, UpstreamClient, UpstreamError, unreadable_answer
from integrations.vocabulary import wattcarbon as vocabulary

# --- vocabulary -------------------------------------------------------------------------------
# Only the kinds the quickstart documents; the enum lists are partly our assumption. Both live in
# integrations/vocabulary/wattcarbon.py (the emulator keeps its own copy, from the same document).
DEVICE_KINDS: tuple[str, ...] = tuple(dict.fromkeys(vocabulary.DEVICE_KINDS.values()))
INVERTER_DATA_SOURCES: tuple[str, ...] = tuple(v for v, _ in vocabulary.INVERTER_DATA_SOURCES)
EXTERNAL_REGISTRIES: tuple[str, ...] = tuple(v for v, _ in vocabulary.EXTERNAL_REGISTRIES)
PREVIOUS_FUELS: tuple[str, ...] = tuple(v for v, _ in vocabulary.PREVIOUS_FUELS)
BUILDING_TYPES: tuple[str, ...] = tuple(v for v, _ in vocabulary.BUILDING_TYPES)
HEATING_BACKUP_SYSTEMS: tuple[str, ...] = tuple(v for v, _ in vocabulary.HEATING_BACKUP_SYSTEMS)

# Our snake_case kind fields -> the platform's camelCase, per kind (from KindField.upstream_name).
KIND_FIELDS: dict[str, dict[str, str]] = {
    kind: {f.name: f.upstream_name for f in kinds.KINDS[ours].fields if f.upstream_name}
    for ours, kind in vocabulary.DEVICE_KINDS.items()
}

# Above this nameplate a solar device must carry its EIA plant id (docs/upstreams/wattcarbon.md).
EIA_PLANT_ID_REQUIRED_ABOVE_KW = 1000
# The seed: "lasts only 24 hours"; without `expires_in` the token lives 24 h (docs/upstreams).
DEFAULT_TOKEN_LIFETIME_S = 24 * 3600
# Fetch a new token this long before the old one runs out, so no call races the expiry.
TOKEN_REFRESH_MARGIN_S = 60
TIMESERIES_HEADER = ("datetime", "value_kwh")
# Current profile: a meter's intervals, each row the start of its read.
INTERVALS_HEADER = ("start_datetime", "energy_kwh")

Location = str | dict[str, Any]


# --- payload builders ---------------------------------------------------------------------------
def _json_number(value: Any) -> Any:
    """Decimals travel as numeric strings: exact, and the platform takes them (see the seed)."""
    if isinstance(value, Decimal):
        return str(value)
    return value


def _blank_to_none(value: str | None) -> str | None:
    # Django CharFields store "" for "not given"; sending "" would, for customId, clash across
    # every device that has none.
    return value if value else None


def location_payload(
    street: str | None = None,
    city: str | None = None,
    state: str | None = None,
    country: str | None = None,
    postal_code: str | None = None,
    latitude: float | Decimal | None = None,
    longitude: float | Decimal | None = None,
) -> Location | None:
    """`location`: coordinates when we have both, else the address as one string (as in the seed).

    The platform maps a device to weather data by its location, and coordinates are exact, so
    they win over the address. None when we know nothing.
    """
    if latitude is not None and longitude is not None:
        return {"latitude": float(latitude), "longitude": float(longitude)}
    parts = [part.strip() for part in (street, city, state, postal_code, country) if part]
    address = " ".join(part for part in parts if part)
    return address or None


def device_payload(
    *,
    name: str,
    custom_id: str | None,
    kind: str,
    location: Location | None,
    utility: str | None,
    owner_name: str | None,
    meter_id: str | None,
    commenced_operation_date: date | None,
    details: Mapping[str, Any],
) -> dict[str, Any]:
    """The JSON body of `POST /devices` and `PUT /devices/{id}`; None and blank values are left out.

    `details` holds our snake_case kind fields (see KIND_FIELDS); a field that does not belong to
    `kind` is a bug on our side, so it raises rather than being sent to a 422.
    """
    if kind not in DEVICE_KINDS:
        raise ValueError(f"unknown WattCarbon device kind: {kind!r}")
    mapping = KIND_FIELDS.get(kind, {})
    unknown = sorted(set(details) - set(mapping))
    if unknown:
        raise ValueError(f"not a {kind} field: {', '.join(unknown)}")

    payload: dict[str, Any] = {"name": name}
    common: dict[str, Any] = {
        "customId": _blank_to_none(custom_id),
        "location": location or None,
        "utility": _blank_to_none(utility),
        "deviceOwner": {"name": owner_name} if owner_name else None,
        "meterId": _blank_to_none(meter_id),
        "commencedOperationDate": (
            commenced_operation_date.isoformat() if commenced_operation_date else None
        ),
        "kind": kind,
    }
    payload.update({key: value for key, value in common.items() if value is not None})
    for field, camel in mapping.items():
        value = details.get(field)
        if value is None or value == "":
            continue
        payload[camel] = _json_number(value)
    return payload


def _utc_hour(instant: datetime) -> datetime:
    """The instant in UTC, refusing what the platform would reject (naive, or not on the hour)."""
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise ValueError(f"timestamp {instant.isoformat()} has no timezone")
    utc = instant.astimezone(UTC)
    if (utc.minute, utc.second, utc.microsecond) != (0, 0, 0):
        raise ValueError(f"timestamp {instant.isoformat()} is not on the hour")
    return utc


def _format_kwh(value: float | Decimal) -> str:
    if isinstance(value, bool) or not math.isfinite(float(value)):
        raise ValueError(f"not a kWh value: {value!r}")
    return str(value)


def timeseries_csv(
    rows: Iterable[tuple[datetime, float | Decimal]],
    header: tuple[str, str] = TIMESERIES_HEADER,
) -> bytes:
    """The CSV of `POST /devices/{id}/timeseries`: `datetime,value_kwh`, UTC ISO 8601 with offset
    (`header` INTERVALS_HEADER: the current profile's meter intervals, same rows).

    Rows must be hourly, on the hour and strictly increasing: the platform rejects the whole file
    otherwise, so we fail here, before the call, with the offending row.
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    previous: datetime | None = None
    for instant, value_kwh in rows:
        utc = _utc_hour(instant)
        if previous is not None and utc <= previous:
            raise ValueError(f"timestamp {utc.isoformat()} does not follow {previous.isoformat()}")
        previous = utc
        writer.writerow((utc.isoformat(timespec="seconds"), _format_kwh(value_kwh)))
    return buffer.getvalue().encode("utf-8")


def month_chunks(
    rows: Iterable[tuple[datetime, float | Decimal]],
) -> list[list[tuple[datetime, float | Decimal]]]:
    """Hourly rows split by calendar month (UTC), in time order: a year is twelve uploads.

    One upload per month keeps each request small and each retry cheap, and a failed month can be
    re-sent on its own (the platform overwrites the hours it already has).
    """
    ordered = sorted(rows, key=lambda row: _utc_hour(row[0]))
    chunks: list[list[tuple[datetime, float | Decimal]]] = []
    current_month: tuple[int, int] | None = None
    for row in ordered:
        utc = row[0].astimezone(UTC)
        month = (utc.year, utc.month)
        if month != current_month:
            chunks.append([])
            current_month = month
        chunks[-1].append(row)
    return chunks


# --- current profile: builders -----------------------------------------------------------------
# Our snake_case kind fields -> the asset kind's camelCase fields (devices/kinds.py upstream names,
# renamed where the asset differs: externalRegistryAssetId).
ASSET_KIND_FIELDS: dict[str, dict[str, str]] = {
    kind: {
        f.name: vocabulary.RENAMED_FOR_ASSETS.get(f.upstream_name, f.upstream_name)
        for f in kinds.KINDS[ours].fields
        if f.upstream_name
    }
    for ours, kind in vocabulary.ASSET_KINDS.items()
}


def address_location(
    street: str | None = None,
    city: str | None = None,
    state: str | None = None,
    country: str | None = None,
    postal_code: str | None = None,
    latitude: float | Decimal | None = None,
    longitude: float | Decimal | None = None,
) -> dict[str, Any] | None:
    """A meter's `location`: the address object of the guide's example (the parts we have), or
    the coordinates when we have no address; None when we know neither."""
    parts = {
        "street": street,
        "city": city,
        "state": state,
        "country": country,
        "postalCode": postal_code,
    }
    address = {key: value.strip() for key, value in parts.items() if value and value.strip()}
    if address:
        return address
    if latitude is not None and longitude is not None:
        return {"latitude": float(latitude), "longitude": float(longitude)}
    return None


def meter_payload(location: Location | None) -> dict[str, Any]:
    """The JSON body of the meter create (`Meters-create_meter`): a manual electricity meter."""
    if not location:
        raise ValueError("the home has no address or coordinates: WattCarbon requires a location")
    return {
        "apiProvider": vocabulary.METER_API_PROVIDER,
        "meterType": vocabulary.METER_TYPE,
        "location": location,
    }


def meter_id_value(meter_id: str) -> int | str:
    """A meter id as `meterIds` carries it: an integer (the guide's `[999]`) when it is one, else
    the text WattCarbon gave us."""
    return int(meter_id) if meter_id.isdigit() else meter_id


def asset_payload(
    *,
    name: str,
    custom_id: str | None,
    kind: str,
    location: Location | None,
    utility: str | None,
    meter_ids: Iterable[str],
    commenced_operation_date: date | None,
    details: Mapping[str, Any],
) -> dict[str, Any]:
    """The JSON body of `POST /assets` (`Assets-create_asset`); None and blank values left out."""
    if kind not in ASSET_KIND_FIELDS:
        raise ValueError(f"unknown WattCarbon asset kind: {kind!r}")
    if not location:
        raise ValueError("the home has no address or coordinates: WattCarbon requires a location")
    mapping = ASSET_KIND_FIELDS[kind]
    unknown = sorted(set(details) - set(mapping))
    if unknown:
        raise ValueError(f"not a {kind} field: {', '.join(unknown)}")
    common: dict[str, Any] = {
        "name": name,
        "customId": _blank_to_none(custom_id),
        "location": location,
        "utility": _blank_to_none(utility),
        "meterIds": [meter_id_value(meter_id) for meter_id in meter_ids],
        "commencedOperationDate": (
            commenced_operation_date.isoformat() if commenced_operation_date else None
        ),
        "kind": kind,
    }
    payload = {key: value for key, value in common.items() if value is not None}
    for field, camel in mapping.items():
        value = details.get(field)
        if value is None or value == "":
            continue
        payload[camel] = _json_number(value)
    return payload


def dr_events_csv(events: Iterable[tuple[datetime, datetime]]) -> bytes:
    """The `demand_response_events` document: `Event Start Time,Event End Time`, each time as the
    guide's example writes it (`2021-01-01 17:00:00-05:00`, the offset kept)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(vocabulary.DR_EVENTS_HEADER)
    for start, end in events:
        if start.utcoffset() is None or end.utcoffset() is None:
            raise ValueError(f"event {start.isoformat()} has no timezone")
        if end <= start:
            raise ValueError(f"event {start.isoformat()} ends before it starts")
        writer.writerow((start.isoformat(" "), end.isoformat(" ")))
    return buffer.getvalue().encode("utf-8")


# --- current profile: the paths WattCarbon has not published (connection settings) -------------
# Inferred from the operation ids (docs/upstreams/wattcarbon.md); `{id}` stands for the meter's or
# the asset's id. Only `POST /assets` is published.
ASSETS_PATH = "/assets"
PATH_DEFAULTS: dict[str, str] = {
    "meters": "/meters",
    "intervals": "/meters/{id}/intervals",
    "bills": "/meters/{id}/bills",
    "documents": "/assets/{id}/documents",
}
PATH_LABELS: dict[str, str] = {
    "meters": "Meter create path",
    "intervals": "Meter intervals upload path",
    "bills": "Meter bills upload path",
    "documents": "Asset document upload path",
}
# A path on the connection's own host: segments of unreserved characters or the `{id}`
# placeholder. No scheme, host, `//`, `..`, query or escape can get through, so a setting can never
# point a call (and the token it carries) anywhere but the address the egress policy allowed.
_PATH_SEGMENT = re.compile(r"^(?:[A-Za-z0-9_~-][A-Za-z0-9._~-]*|\{id\})$")
MAX_PATH_LENGTH = 200


def check_path_template(name: str, template: str) -> str:
    """The path template `template` for the call `name` (PATH_DEFAULTS), or ValueError saying why
    it is not one."""
    text = template.strip()
    if not text:
        return PATH_DEFAULTS[name]
    if len(text) > MAX_PATH_LENGTH:
        raise ValueError(f"At most {MAX_PATH_LENGTH} characters.")
    if not text.startswith("/") or text.startswith("//"):
        raise ValueError("A path on the connection's address, starting with one /, e.g. /meters.")
    segments = text[1:].split("/")
    for segment in segments:
        if not _PATH_SEGMENT.match(segment) or segment in {".", ".."} or set(segment) <= {"."}:
            raise ValueError(
                f"{segment!r} is not a path segment: use letters, digits, - _ . ~ or {{id}} "
                "(no address, query or escapes)."
            )
    placeholders = segments.count("{id}")
    wanted = 0 if name == "meters" else 1
    if placeholders != wanted:
        raise ValueError(
            "No {id} here: the meter create names no record."
            if wanted == 0
            else "Exactly one {id}, where the record's id goes."
        )
    return text


def paths_from(settings: Mapping[str, Any] | None) -> dict[str, str]:
    """Every current-profile path: the connection's settings (`Connection.extra["paths"]`) over
    the inferred defaults. ValueError names the first setting that is not a path template."""
    given = settings or {}
    paths = {}
    for name, default in PATH_DEFAULTS.items():
        value = given.get(name)
        if value is None:
            paths[name] = default
            continue
        try:
            paths[name] = check_path_template(name, str(value))
        except ValueError as exc:
            raise ValueError(f"{PATH_LABELS[name]}: {exc}") from None
    return paths


def created_id(body: Any) -> str:
    """The `id` of a create's answer, an integer or a string (the meter's answer is not
    published; the asset's has `id`); "" when there is none we can read."""
    value = body.get("id") if isinstance(body, dict) else None
    if isinstance(value, bool):
        return ""
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str) and value.strip():
        return value.strip()
    return ""


# --- client -------------------------------------------------------------------------------------
class WattCarbonClient(UpstreamClient):
    """The WattCarbon API for one account (one API key = one account, docs/upstreams/wattcarbon.md)."""

    platform = "wattcarbon"

    def __init__(
        self,
        base_url: str,
        *,
        email: str,
        api_key: str,
        transport: httpx.BaseTransport | None = None,
        on_call: Callable[[CallRecord], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
        paths: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(base_url, transport=transport, on_call=on_call)
        self.email = email
        self.api_key = api_key
        self.clock = clock
        self.path_settings = dict(paths or {})  # checked when used (paths_from)
        self._token: str | None = None
        self._token_good_until = 0.0
        # One client may serve several worker threads: only one of them fetches the token.
        self._token_lock = threading.Lock()

    # --- auth ---------------------------------------------------------------------------------
    # Seed, "1. Get an access token" / docs: POST /auth/token (create-token)
    def create_token(self) -> dict[str, Any]:
        """Trade the account's API key for an access token (password grant, form-encoded)."""
        response = self.request(
            "POST",
            "/auth/token",
            authenticated=False,
            data={"grant_type": "password", "username": self.email, "password": self.api_key},
        )
        payload = response.json()
        token = payload.get("access_token") if isinstance(payload, dict) else None
        if not isinstance(token, str) or not token:
            raise UpstreamError(
                "token answer has no access_token", permanent=True, status_code=response.status_code
            )
        lifetime_s = _token_lifetime_s(payload.get("expires_in"))
        # A token shorter-lived than twice the margin would otherwise never be reused at all.
        margin_s = min(TOKEN_REFRESH_MARGIN_S, lifetime_s / 2)
        self._token = token
        self._token_good_until = self.clock() + lifetime_s - margin_s
        return payload

    def auth_headers(self) -> dict[str, str]:
        with self._token_lock:
            if self._token is None or self.clock() >= self._token_good_until:
                self.create_token()
            return {"Authorization": f"Bearer {self._token}"}

    def reauthenticate(self) -> bool:
        with self._token_lock:
            self._token = None
        return True

    # --- errors -------------------------------------------------------------------------------
    def error_message(self, response: httpx.Response) -> str:
        """FastAPI errors: a 422 `detail` list -> "field: msg; ..."; else the `detail` string."""
        try:
            data = response.json()
        except ValueError:
            return unreadable_answer(response)
        detail = data.get("detail") if isinstance(data, dict) else None
        if isinstance(detail, str) and detail:
            return detail
        if isinstance(detail, list) and detail:
            return "; ".join(_validation_item(item) for item in detail)
        return super().error_message(response)

    # --- devices ------------------------------------------------------------------------------
    # Seed, "2. Create a device" / docs: POST /devices (create-device)
    def create_device(self, payload: Mapping[str, Any]) -> dict[str, Any]:
        response = self.request("POST", "/devices", json=dict(payload))
        try:
            device = response.json()
        except ValueError:
            device = None
        if not isinstance(device, dict) or not device.get("id"):
            # A success we cannot read: the device is there, and we cannot tell its id.
            raise UpstreamError(
                "wattcarbon answered the create without a device id",
                permanent=False,
                status_code=response.status_code,
                answer_lost=True,
            )
        return device

    # Seed, "2. Create a device" -> PUT /devices/{id} (update-device)
    def update_device(self, device_id: str, payload: Mapping[str, Any]) -> dict[str, Any]:
        return self.request("PUT", _device_path(device_id), json=dict(payload)).json()

    # docs: GET /devices/{id} (get-device)
    def get_device(self, device_id: str) -> dict[str, Any]:
        return self.request("GET", _device_path(device_id)).json()

    # Seed, "3. Upload device data" / docs: POST /devices/{device_id}/timeseries
    def upload_timeseries(
        self, device_id: str, rows: Iterable[tuple[datetime, float | Decimal]]
    ) -> dict[str, Any]:
        """Upload hourly kWh (positive = generated or saved); chunk long series by month_chunks."""
        # Bytes, not a file object: the base client may send the call twice (after a 401) and
        # a file object would be read empty the second time.
        return self.upload_timeseries_csv(device_id, timeseries_csv(rows))

    def upload_timeseries_csv(self, device_id: str, content: bytes) -> dict[str, Any]:
        """Upload a `datetime,value_kwh` CSV already built (e.g. by the database)."""
        files = {"file": ("timeseries.csv", content, "text/csv")}
        return self.request("POST", f"{_device_path(device_id)}/timeseries", files=files).json()

    # --- current profile (docs/upstreams/wattcarbon.md, "Current profile") -------------------------
    def current_path(self, name: str, record_id: str = "") -> str:
        """The path of the current call `name` (a connection setting), with `record_id` in it.
        A setting that is not a path template (saved before a check, or edited outside the form)
        is refused here, before anything is sent."""
        try:
            template = paths_from(self.path_settings)[name]
        except ValueError as exc:
            raise UpstreamError(f"Not sent: the connection's {exc}", permanent=True) from exc
        return template.replace("{id}", quote(record_id, safe=""))

    def _create(self, path: str, payload: Mapping[str, Any], what: str) -> dict[str, Any]:
        response = self.request("POST", path, json=dict(payload))
        try:
            body = response.json()
        except ValueError:
            body = None
        remote_id = created_id(body)
        if not remote_id:
            # A success we cannot read: the record is there, and we cannot tell its id.
            raise UpstreamError(
                f"wattcarbon answered the {what} create without an id",
                permanent=False,
                status_code=response.status_code,
                answer_lost=True,
            )
        return {**body, "id": remote_id} if isinstance(body, dict) else {"id": remote_id}

    # Guide, "2. Create a Meter" (Meters-create_meter): path not published.
    def create_meter(self, payload: Mapping[str, Any]) -> dict[str, Any]:
        return self._create(self.current_path("meters"), payload, "meter")

    # Guide, "3. Upload Meter Timeseries" (Meters-upload_meter_intervals): path not published.
    def upload_meter_intervals_csv(self, meter_id: str, content: bytes) -> Any:
        """Upload a `start_datetime,energy_kwh` CSV (hourly here) to the meter."""
        return self._upload(self.current_path("intervals", meter_id), content, "intervals.csv")

    # Meters-upload_meter_bills: path not published. `start_date,end_date,energy_kwh`.
    def upload_meter_bills_csv(self, meter_id: str, content: bytes) -> Any:
        return self._upload(self.current_path("bills", meter_id), content, "bills.csv")

    # Guide, "4. Create an Asset/Device" (Assets-create_asset): POST /assets -> `id`.
    def create_asset(self, payload: Mapping[str, Any]) -> dict[str, Any]:
        return self._create(ASSETS_PATH, payload, "asset")

    # Documents-upload_asset_document: path not published; a file plus `type`.
    def upload_asset_document(self, asset_id: str, content: bytes, document_type: str) -> Any:
        return self._upload(
            self.current_path("documents", asset_id),
            content,
            f"{document_type}.csv",
            data={"type": document_type},
        )

    def _upload(
        self, path: str, content: bytes, filename: str, data: dict[str, str] | None = None
    ) -> Any:
        """A multipart upload (part `file`: the name is not published, the quickstart's is kept);
        the answer is not published either, so any body (or none) is taken."""
        files = {"file": (filename, content, "text/csv")}
        response = self.request("POST", path, files=files, data=data or {})
        try:
            return response.json()
        except ValueError:
            return None


def _token_lifetime_s(expires_in: Any) -> float:
    """`expires_in` in seconds; absent (or unreadable) means the documented 24 h."""
    if expires_in is None or isinstance(expires_in, bool):
        return DEFAULT_TOKEN_LIFETIME_S
    try:
        lifetime_s = float(expires_in)
    except (TypeError, ValueError):
        return DEFAULT_TOKEN_LIFETIME_S
    return max(0.0, lifetime_s) if math.isfinite(lifetime_s) else DEFAULT_TOKEN_LIFETIME_S


def _device_path(device_id: str) -> str:
    # Ids come back from the platform; quoting keeps a surprising one from changing the route.
    return f"/devices/{quote(device_id, safe='')}"


def _validation_item(item: Any) -> str:
    if not isinstance(item, dict):
        return str(item)
    loc = [str(part) for part in item.get("loc") or []]
    if len(loc) > 1 and loc[0] in {"body", "query", "path", "header"}:
        loc = loc[1:]
    field = ".".join(loc) or "body"
    return f"{field}: {item.get('msg') or item.get('type') or 'invalid'}"
