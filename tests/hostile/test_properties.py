"""Property-based tests (hypothesis) for the readings CSV parser and the upstream payload builders.

The parser: any hourly series written with UTC offsets, in any of the layouts a spreadsheet or a
script writes (BOM, CRLF, semicolons with decimal commas, Wh, gzip, any row order), reads back
exactly; bytes and CSV-shaped noise never make it raise; every row its report names is a line of
the file that holds something; the report and its CSV are safe to hand on.

The builders (WattCarbon, Spark, WattShift, Wattics): whatever valid data goes in, what comes out
is JSON (no NaN, no infinity, no Decimal), carries the keys its upstream requires, and keeps
instants exact; non-finite numbers are refused with ValueError.

Each test is bounded (max_examples 100-200, no deadline, no example database on disk).
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import math
import re
import zlib
from datetime import UTC, date, datetime, timedelta, tzinfo
from decimal import Decimal
from itertools import pairwise
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from devices import kinds
from integrations import spark, wattcarbon, wattics, wattshift
from readings.parser import Issue, Report, parse_readings, report_to_csv
from readings.parser.report import report_to_dict

BOUNDED = settings(
    max_examples=150,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
ZONES = (
    "UTC",
    "America/New_York",
    "America/St_Johns",  # -03:30 / -02:30
    "America/Santiago",  # southern-hemisphere DST
    "Europe/Dublin",  # negative DST in the tz database
    "Asia/Kolkata",  # +05:30: hours start at :30 local
    "Asia/Kathmandu",  # +05:45
    "Australia/Lord_Howe",  # a 30-minute DST shift
    "Pacific/Chatham",  # +12:45 / +13:45
    "Pacific/Kiritimati",  # +14:00
)
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
HOUR = 3600
# Epoch hours the parser accepts in every zone (1902-2190: inside its 1900-2199 window).
FIRST_HOUR = int(datetime(1902, 1, 1, tzinfo=UTC).timestamp()) // HOUR
LAST_HOUR = int(datetime(2190, 1, 1, tzinfo=UTC).timestamp()) // HOUR
kwh = st.floats(min_value=-1e9, max_value=1e9, allow_nan=False, allow_infinity=False)
non_finite = st.sampled_from(
    [math.nan, math.inf, -math.inf, Decimal("NaN"), Decimal("Infinity"), "nan", "-inf", "1e400"]
)


# --- the parser -------------------------------------------------------------------------------
@st.composite
def written_series(draw: st.DrawFn) -> dict[str, Any]:
    """An hourly series (unique UTC hours, maybe with gaps) and the file that holds it."""
    zone = draw(st.sampled_from(ZONES))
    n = draw(st.integers(1, 120))
    start = draw(st.integers(FIRST_HOUR, LAST_HOUR - 200))
    hours = list(range(start, start + n))
    if n > 8:
        missing = draw(st.sets(st.integers(1, n - 2), max_size=n // 4))
        hours = [hour for index, hour in enumerate(hours) if index not in missing]
    values = draw(st.lists(kwh, min_size=len(hours), max_size=len(hours)))
    unit = draw(st.sampled_from(["value_kwh", "energy_kwh", "value_wh", "energy_wh"]))
    time_column = draw(st.sampled_from(["datetime", "start_datetime", "DateTime"]))
    delimiter = draw(st.sampled_from([",", ";"]))
    with_id = draw(st.booleans())
    site = ZoneInfo(zone)

    def stamp(epoch: int) -> str:
        style = draw(st.sampled_from(["site", "utc_z", "utc_offset"]))
        if style == "site":
            return datetime.fromtimestamp(epoch, site).isoformat()
        text = datetime.fromtimestamp(epoch, UTC).isoformat()
        return text.replace("+00:00", "Z") if style == "utc_z" else text

    def number(value: float) -> str:
        text = repr(value * 1000 if unit.endswith("wh") and not unit.endswith("kwh") else value)
        return text.replace(".", ",") if delimiter == ";" else text

    header = [time_column, unit] + (["customId"] if with_id else [])
    rows = [
        [stamp(hour * HOUR), number(value)] + (["SP-1"] if with_id else [])
        for hour, value in zip(hours, values, strict=True)
    ]
    order = draw(st.sampled_from(["rising", "falling", "shuffled"]))
    if order == "falling":
        rows.reverse()
    elif order == "shuffled":
        rows = draw(st.permutations(rows))
    newline = draw(st.sampled_from(["\n", "\r\n"]))
    text = newline.join(delimiter.join(cells) for cells in [header, *rows]) + newline
    data = text.encode()
    if draw(st.booleans()):
        data = b"\xef\xbb\xbf" + data
    if draw(st.booleans()):
        data = gzip.compress(data, mtime=0)
    is_wh = unit.endswith("wh") and not unit.endswith("kwh")
    # The parser divides Wh by 1000.0: the value * 1000 written above comes back as this.
    expected = [float(repr(v * 1000)) / 1000.0 if is_wh else v for v in values]
    return {"zone": zone, "data": data, "epochs": [h * HOUR for h in hours], "values": expected}


@BOUNDED
@given(series=written_series())
def test_it_round_trips_any_hourly_series_in_any_layout(series: dict[str, Any]) -> None:
    result = parse_readings(io.BytesIO(series["data"]), tz=series["zone"], filename="s.csv")
    assert result.ok, result.report.errors[:3]
    epochs, values = result.readings.arrays()
    assert list(epochs) == series["epochs"]
    assert [repr(v) for v in values] == [repr(v) for v in series["values"]]
    assert result.report.summary.readings == len(series["epochs"])


TOKENS = [
    "2024-01-01T00:00:00Z",
    "2024-01-01T01:00:00-05:00",
    "2024-03-10T02:30:00",
    "2024-11-03T01:00:00",
    "1.5",
    "-0.0",
    "NaN",
    "1e400",
    "=cmd|' /C calc'!A0",
    "+1",
    "@SUM(A1)",
    "<script>alert(1)</script>",
    "'; DROP TABLE devices_reading;--",
    '"',
    '""',
    ",",
    ";",
    "\t",
    "\r",
    "\r\n",
    "\n",
    "\x00",
    "\ufeff",
    "\u202e",
    "é",
    "SP-1",
    "customId",
]
HEADERS = [
    "datetime,value_kwh",
    "start_datetime;energy_wh",
    "customId,datetime,value_kwh",
    "datetime,value_kwh,value_kwh",
    "",
]


@st.composite
def hostile_bytes(draw: st.DrawFn) -> bytes:
    """Random bytes, or CSV-shaped noise made of the tokens hostile files are made of."""
    if draw(st.booleans()):
        return draw(st.binary(max_size=3000))
    header = draw(st.sampled_from(HEADERS))
    pieces = draw(st.lists(st.one_of(st.sampled_from(TOKENS), st.text(max_size=12)), max_size=200))
    text = header + "\n" + "".join(pieces)
    encoding = draw(st.sampled_from(["utf-8", "utf-8", "utf-16", "latin-1"]))
    return text.encode(encoding, errors="replace")


def _text_of(data: bytes) -> bytes:
    """The file as the parser reads it (inflated when gzip; what can be inflated of it)."""
    if data[:2] != b"\x1f\x8b":
        return data
    out = bytearray()
    rest = data
    while rest:
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        try:
            out += inflater.decompress(rest, 50 << 20)
        except zlib.error:
            break
        if not inflater.eof:
            break
        rest = inflater.unused_data.lstrip(b"\x00")
    return bytes(out)


@BOUNDED
@given(data=hostile_bytes(), zone=st.sampled_from(ZONES), compress=st.booleans())
def test_it_never_raises_and_every_reported_row_is_a_line_of_the_file(
    data: bytes, zone: str, compress: bool
) -> None:
    raw = gzip.compress(data, mtime=0) if compress else data
    result = parse_readings(io.BytesIO(raw), tz=zone, filename="fuzz.csv")
    report = result.report
    assert report.ok == (report.error_count == 0) == result.ok
    assert report.error_count >= len(report.errors) and report.warning_count >= len(report.warnings)
    lines = _text_of(raw).split(b"\n")
    if lines and lines[0].startswith(b"\xef\xbb\xbf"):
        lines[0] = lines[0][3:]
    for issue in (*report.errors, *report.warnings):
        assert issue.message.strip()
        if issue.row is None:
            continue
        assert 1 <= issue.row <= len(lines), (issue, len(lines))
        if issue.code != "line_too_long":  # a long line of spaces is still too long
            assert lines[issue.row - 1].strip(b" \t\r\x0b\x0c"), (issue, lines[issue.row - 1])
    epochs, values = result.readings.arrays()
    assert len(epochs) == len(values) == report.summary.readings
    assert all(a < b for a, b in pairwise(epochs))
    assert all(epoch % HOUR == 0 for epoch in epochs)
    assert all(math.isfinite(value) for value in values)
    # What is kept and handed on is safe: strict JSON, and a CSV with no formula cell.
    json.dumps(report_to_dict(report), allow_nan=False)
    for record in csv.reader(io.StringIO(report_to_csv(report))):
        assert not any(cell.startswith(FORMULA_STARTS) for cell in record), record


@BOUNDED
@given(
    texts=st.lists(st.tuples(st.text(max_size=60), st.text(max_size=60)), max_size=30),
    more=st.integers(0, 5),
)
def test_it_neutralises_every_cell_of_any_report_csv(texts: list, more: int) -> None:
    issues = tuple(
        Issue("error", n + 2 if n % 3 else None, column or None, message, "x")
        for n, (column, message) in enumerate(texts)
    )
    summary = parse_readings(io.BytesIO(b""), tz="UTC").report.summary
    report = Report(issues, (), len(issues) + more, 0, summary)
    records = list(csv.reader(io.StringIO(report_to_csv(report))))
    assert records[0] == ["severity", "row", "column", "message"]
    assert len(records) == 1 + len(issues) + (1 if more else 0)
    for record, issue in zip(records[1:], issues, strict=False):
        assert not any(cell.startswith(FORMULA_STARTS) for cell in record), record
        # Neutralised, not rewritten: the text is all there, after the quote that disarms it.
        assert record[3] in (issue.message, "'" + issue.message)
        assert record[2] in (issue.column or "", "'" + (issue.column or ""))


# --- WattCarbon -------------------------------------------------------------------------------
def _field_value(field: kinds.KindField) -> st.SearchStrategy[Any]:
    if field.type == "boolean":
        return st.booleans()
    if field.type == "choice":
        return st.sampled_from([value for value, _ in field.choices or []])
    if field.type in {"decimal", "integer", "year"}:
        low = Decimal(str(field.min_value if field.min_value is not None else 0))
        high = Decimal(str(field.max_value if field.max_value is not None else 2100))
        if field.type == "decimal":
            return st.decimals(min_value=low, max_value=high, places=3).map(str)
        return st.integers(math.ceil(low), math.floor(high))
    return st.text(min_size=1, max_size=40).filter(str.strip)


@st.composite
def device_details(draw: st.DrawFn, kind: str) -> dict[str, Any]:
    """A kind's details as the forms and imports store them (validated), WattCarbon's fields only."""
    fields = [f for f in kinds.KINDS[kind].fields if f.name in wattcarbon.KIND_FIELDS[kind]]
    chosen = draw(st.lists(st.sampled_from(fields), unique_by=lambda f: f.name)) if fields else []
    raw = {f.name: draw(_field_value(f)) for f in chosen}
    required = [f for f in fields if f.required and f.name not in raw]
    for f in required:
        raw[f.name] = draw(_field_value(f))
    cleaned, errors = kinds.validate_details(kind, raw)
    assume(not errors)
    return {name: value for name, value in cleaned.items() if name in wattcarbon.KIND_FIELDS[kind]}


locations = st.one_of(
    st.builds(
        wattcarbon.location_payload,
        latitude=st.floats(-90, 90),
        longitude=st.floats(-180, 180),
    ),
    st.builds(
        wattcarbon.location_payload,
        street=st.text(max_size=40),
        city=st.text(max_size=20),
        state=st.sampled_from(["IA", "NY", ""]),
        postal_code=st.from_regex(r"\d{5}", fullmatch=True),
    ),
    st.builds(
        wattcarbon.location_payload,
        latitude=st.decimals(-90, 90, places=6),
        longitude=st.decimals(-180, 180, places=6),
    ),
)


def _assert_strict_json(payload: Any) -> Any:
    """JSON with no NaN or infinity, and nothing JSON does not know (Decimal, datetime)."""
    text = json.dumps(payload, allow_nan=False)
    assert json.loads(text) == payload
    return payload


def _numbers(value: Any) -> list[float]:
    if isinstance(value, dict):
        return [n for item in value.values() for n in _numbers(item)]
    if isinstance(value, list):
        return [n for item in value for n in _numbers(item)]
    if isinstance(value, int | float) and not isinstance(value, bool):
        return [value]
    return []


@BOUNDED
@given(data=st.data(), kind=st.sampled_from(sorted(wattcarbon.KIND_FIELDS)))
def test_it_builds_a_wattcarbon_device_payload_from_any_valid_device(data, kind: str) -> None:
    details = data.draw(device_details(kind))
    payload = wattcarbon.device_payload(
        name=data.draw(st.text(min_size=1, max_size=80)),
        custom_id=data.draw(st.one_of(st.none(), st.just(""), st.from_regex(r"[A-Z]{2}\d{1,6}"))),
        kind=kind,
        location=data.draw(locations),
        utility=data.draw(st.one_of(st.none(), st.just(""), st.text(max_size=30))),
        owner_name=data.draw(st.one_of(st.none(), st.just(""), st.text(max_size=30))),
        meter_id=data.draw(st.one_of(st.none(), st.text(max_size=20))),
        commenced_operation_date=data.draw(st.one_of(st.none(), st.dates())),
        details=details,
    )
    _assert_strict_json(payload)
    assert {"name", "kind"} <= payload.keys() and payload["kind"] == kind
    assert all(value is not None and value != "" for value in payload.values())
    assert all(math.isfinite(number) for number in _numbers(payload))
    allowed = {
        "name", "customId", "location", "utility", "deviceOwner", "meterId",
        "commencedOperationDate", "kind", *wattcarbon.KIND_FIELDS[kind].values(),
    }  # fmt: skip
    assert payload.keys() <= allowed
    if "commencedOperationDate" in payload:
        date.fromisoformat(payload["commencedOperationDate"])


@st.composite
def hourly_rows(draw: st.DrawFn) -> list[tuple[datetime, Any]]:
    """Hourly rows (aware, on the UTC hour, strictly increasing) in any zone; float or Decimal."""
    start = draw(st.integers(FIRST_HOUR, LAST_HOUR - 3000))
    steps = draw(st.lists(st.integers(1, 800), max_size=60))
    hours = [start]
    for step in steps:
        hours.append(hours[-1] + step)
    zone = ZoneInfo(draw(st.sampled_from(ZONES)))
    value = st.one_of(kwh, st.decimals(-(10**6), 10**6, places=4, allow_nan=False))
    return [(datetime.fromtimestamp(hour * HOUR, zone), draw(value)) for hour in hours]


@BOUNDED
@given(rows=hourly_rows())
def test_it_writes_timeseries_csv_that_our_parser_reads_back_exactly(rows) -> None:
    content = wattcarbon.timeseries_csv(rows)
    lines = content.decode().splitlines()
    assert lines[0] == "datetime,value_kwh"
    assert len(lines) == len(rows) + 1
    for line, (instant, value) in zip(lines[1:], rows, strict=True):
        stamp, number = line.split(",")
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:00:00\+00:00", stamp)
        # The same instant: compared as timestamps, since PEP 495 makes an inter-zone `==` False
        # for a time in a fold (Europe/Dublin, 1978-10-29 01:00 fold=1 is 01:00 UTC all the same).
        assert datetime.fromisoformat(stamp).timestamp() == instant.timestamp()
        assert math.isfinite(float(number)) and float(number) == float(value)
    parsed = parse_readings(io.BytesIO(content), tz="UTC", filename="timeseries.csv")
    # Sparse rows (most a day or more apart) read as daily data: an error, but every row is read.
    assert {e.code for e in parsed.report.errors} <= {"not_hourly"}, parsed.report.errors[:3]
    epochs, values = parsed.readings.arrays()
    assert list(epochs) == [int(instant.timestamp()) for instant, _ in rows]
    assert list(values) == [float(value) for _, value in rows]


@BOUNDED
@given(
    rows=hourly_rows(),
    bad=st.sampled_from(["nan", "naive", "off_hour", "repeat"]),
    where=st.integers(0, 60),
    nan=non_finite.filter(lambda v: not isinstance(v, str)),
)
def test_it_refuses_a_timeseries_row_wattcarbon_would_reject(rows, bad, where, nan) -> None:
    rows = list(rows)
    index = where % len(rows)
    instant, value = rows[index]
    if bad == "nan":
        rows[index] = (instant, nan)
    elif bad == "naive":
        rows[index] = (instant.replace(tzinfo=None), value)
    elif bad == "off_hour":
        rows[index] = (instant + timedelta(minutes=30), value)
    else:
        rows.insert(index, rows[index])
    with pytest.raises(ValueError):
        wattcarbon.timeseries_csv(rows)


@BOUNDED
@given(rows=hourly_rows(), shuffle=st.randoms(use_true_random=False))
def test_it_splits_any_series_into_ordered_utc_months(rows, shuffle) -> None:
    scrambled = list(rows)
    shuffle.shuffle(scrambled)
    chunks = wattcarbon.month_chunks(scrambled)
    assert [row for chunk in chunks for row in chunk] == rows
    months = []
    for chunk in chunks:
        assert chunk
        in_month = {(i.astimezone(UTC).year, i.astimezone(UTC).month) for i, _ in chunk}
        assert len(in_month) == 1
        months.append(in_month.pop())
    assert months == sorted(set(months))


# --- Spark ------------------------------------------------------------------------------------
numbers = st.one_of(
    st.integers(-(10**6), 10**6),
    st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False),
    st.decimals(-(10**6), 10**6, places=3, allow_nan=False, allow_infinity=False),
).flatmap(lambda n: st.sampled_from([n, str(n)]))
latitudes = st.floats(-90, 90).flatmap(lambda n: st.sampled_from([n, Decimal(str(n)), str(n)]))
longitudes = st.floats(-180, 180).flatmap(lambda n: st.sampled_from([n, Decimal(str(n)), str(n)]))
text = st.text(max_size=40)


@BOUNDED
@given(vehicle_id=text, brand=text, model=text, year=st.integers(1990, 2100), vin=text)
def test_it_builds_a_spark_vehicle_payload(vehicle_id, brand, model, year, vin) -> None:
    payload = _assert_strict_json(
        spark.vehicle_payload(vehicle_id=vehicle_id, brand=brand, model=model, year=year, vin=vin)
    )
    assert payload["vehicleId"] == vehicle_id
    metadata = payload["metadata"]
    assert metadata["resourceType"] == "Vehicle"
    assert (metadata["brand"], metadata["model"], metadata["vin"]) == (brand, model, vin)
    assert metadata["year"] == year and type(metadata["year"]) is int


@BOUNDED
@given(
    street=text,
    city=text,
    zip_code=st.from_regex(r"\d{5}", fullmatch=True),
    latitude=latitudes,
    longitude=longitudes,
    meter_point_id=text,
    meter_number=text,
    location_type=st.sampled_from(["residential", "commercial"]),
)
def test_it_builds_a_spark_meter_payload(
    street, city, zip_code, latitude, longitude, meter_point_id, meter_number, location_type
) -> None:
    payload = _assert_strict_json(
        spark.meter_payload(
            street=street,
            city=city,
            zip_code=zip_code,
            latitude=latitude,
            longitude=longitude,
            meter_point_id=meter_point_id,
            meter_number=meter_number,
            location_type=location_type,
        )
    )
    assert payload["address"] == {"street": street, "city": city, "zipCode": zip_code}
    location = payload["location"]
    assert type(location["latitude"]) is float and type(location["longitude"]) is float
    assert location["latitude"] == float(latitude) and location["longitude"] == float(longitude)
    assert {"meterPointId", "meterNumber", "locationType"} <= payload.keys()


@BOUNDED
@given(
    resource_id=text,
    capacity=numbers,
    elements=st.lists(numbers, max_size=4),
    brand=text,
    model=text,
)
def test_it_builds_a_spark_hot_water_tank_payload(resource_id, capacity, elements, brand, model):
    payload = _assert_strict_json(
        spark.hot_water_tank_payload(
            resource_id=resource_id,
            brand=brand,
            model=model,
            capacity_l=capacity,
            heating_elements_w=elements,
        )
    )
    metadata = payload["metadata"]
    assert payload["resourceId"] == resource_id and metadata["resourceType"] == "HotWaterTank"
    assert metadata["capacity"] == float(capacity)
    assert [float(w) for w in metadata["heatingElements"]] == [float(w) for w in elements]
    for number in [metadata["capacity"], *metadata["heatingElements"]]:
        assert math.isfinite(number)
        if float(number).is_integer():
            assert type(number) is int  # 500, not 500.0, as the seed writes


@BOUNDED
@given(
    action=st.sampled_from(["start", "Stop", " START ", "stop\n"]),
    event_id=text,
    name=text,
    resource_id=text,
    latitude=latitudes,
    longitude=longitudes,
    power=numbers,
    state_of_charge=st.floats(0, 1),
    capacity=numbers,
)
def test_it_builds_a_spark_charge_report(
    action, event_id, name, resource_id, latitude, longitude, power, state_of_charge, capacity
) -> None:
    payload = _assert_strict_json(
        spark.charge_report_payload(
            event_id=event_id,
            name=name,
            resource_id=resource_id,
            latitude=latitude,
            longitude=longitude,
            action=action,
            power_w=power,
            state_of_charge=state_of_charge,
            battery_capacity_wh=capacity,
        )
    )
    assert (payload["eventId"], payload["name"]) == (event_id, name)
    [item] = payload["payloads"]
    assert item["payloadType"] == "VehicleChargeAction"
    assert item["actionType"] == action.strip().capitalize()
    assert item["stateOfCharge"] == state_of_charge
    assert all(math.isfinite(n) for n in _numbers(payload))


@BOUNDED
@given(bad=non_finite, which=st.sampled_from(["latitude", "power_w", "state_of_charge"]))
def test_it_refuses_non_finite_numbers_in_spark_payloads(bad, which: str) -> None:
    values: dict[str, Any] = {
        "latitude": 1.0,
        "power_w": 7000,
        "state_of_charge": 0.5,
        **{which: bad},
    }
    with pytest.raises(ValueError):
        spark.charge_report_payload(
            event_id="e",
            name="n",
            resource_id="r",
            longitude=2.0,
            action="start",
            battery_capacity_wh=60000,
            **values,
        )
    with pytest.raises(ValueError):
        spark.hot_water_tank_payload(
            resource_id="r", brand="b", model="m", capacity_l=bad, heating_elements_w=[2000]
        )


# --- WattShift --------------------------------------------------------------------------------
flags = st.one_of(st.none(), st.booleans())


@BOUNDED
@given(
    name=text,
    zipcode=st.from_regex(r"\s?\d{5}\s?", fullmatch=True),
    utility_id=text,
    rate_plan_id=text,
    switches=st.tuples(flags, flags, flags, flags, flags),
    ac_type=st.one_of(st.none(), st.sampled_from(wattshift.AC_TYPES)),
)
def test_it_builds_a_wattshift_home_payload(
    name, zipcode, utility_id, rate_plan_id, switches, ac_type
) -> None:
    ev, heater, smart, electric, ac = switches
    payload = _assert_strict_json(
        wattshift.home_payload(
            name=name,
            zipcode=zipcode,
            utility_id=utility_id,
            rate_plan_id=rate_plan_id,
            has_ev_charger=ev,
            has_electric_heater=heater,
            has_smart_water_heater=smart,
            has_electric_water_heater=electric,
            has_ac=ac,
            ac_type=ac_type,
        )
    )
    assert (payload["name"], payload["zipcode"]) == (name.strip(), zipcode.strip())
    assert (payload["utilityId"], payload["ratePlanId"]) == (utility_id, rate_plan_id)
    assert [payload[k] for k in ("hasEvCharger", "hasElectricHeater", "hasAC")] == [ev, heater, ac]
    assert ("acType" in payload) == (ac_type is not None)


@BOUNDED
@given(bad=st.text(max_size=10).filter(lambda t: t not in wattshift.AC_TYPES))
def test_it_refuses_an_unknown_wattshift_ac_type(bad: str) -> None:
    with pytest.raises(ValueError):
        wattshift.home_payload(
            name="h", zipcode="52327", utility_id="u", rate_plan_id="r", ac_type=bad
        )


@BOUNDED
@given(
    home_id=text,
    size=st.one_of(
        st.integers(0, 10**6),
        st.floats(0, 1e6, allow_nan=False, allow_infinity=False),
        st.decimals(0, 10**6, places=3, allow_nan=False, allow_infinity=False),
    ),
    net_metered=st.booleans(),
)
def test_it_builds_a_wattshift_solar_payload(home_id, size, net_metered: bool) -> None:
    payload = _assert_strict_json(
        wattshift.solar_payload(home_id=home_id, system_size_kw=size, net_metered=net_metered)
    )
    assert payload["homeId"] == home_id
    assert payload["isNonNetMetered"] is (not net_metered)
    assert type(payload["solarSystemSizeKw"]) in (int, float)
    assert payload["solarSystemSizeKw"] == float(size)


@BOUNDED
@given(bad=non_finite.filter(lambda v: not isinstance(v, str)))
def test_it_refuses_non_finite_sizes_in_the_wattshift_solar_payload(bad) -> None:
    with pytest.raises(ValueError):
        wattshift.solar_payload(home_id="h", system_size_kw=bad, net_metered=True)


# --- Wattics ----------------------------------------------------------------------------------
instants = st.datetimes(
    min_value=datetime(1975, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.timezones()
)


def _offset_has_seconds(instant: datetime, tz: tzinfo) -> bool:
    offset = instant.astimezone(UTC).astimezone(tz).utcoffset()
    return offset is not None and offset.total_seconds() % 60 != 0


@BOUNDED
@given(
    instant=instants,
    tz=st.timezones(),
    value=st.floats(allow_nan=False, allow_infinity=False),
    stream_id=st.text(max_size=30),
    electrical=st.booleans(),
)
def test_it_builds_wattics_packets_whose_timestamp_parses_back_to_the_instant(
    instant, tz, value, stream_id, electrical
) -> None:
    build = wattics.electrical_packet if electrical else wattics.value_packet
    if _offset_has_seconds(instant, tz):
        with pytest.raises(ValueError):
            build(stream_id, instant, tz, value)
        return
    packet = _assert_strict_json(build(stream_id, instant, tz, value))
    assert packet["id"] == stream_id
    assert packet["pC_1" if electrical else "value"] == value
    stamp = packet["tsISO8601"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d", stamp), stamp
    moment = datetime.fromisoformat(stamp)
    exact = instant.astimezone(UTC)
    # The meter's local offset at that instant (via UTC: astimezone() returns an instant already
    # in `tz` as it is, even a wall time the clocks skipped).
    assert moment.utcoffset() == exact.astimezone(tz).utcoffset()
    exact = exact.replace(microsecond=exact.microsecond // 1000 * 1000)
    assert moment == exact and wattics.packet_instant(packet) == exact
    assert stamp == wattics.local_timestamp(instant, tz)
    body = wattics.encode_packet(packet)
    assert b"\n" not in body and b"\r" not in body  # one packet, one line
    assert json.loads(body) == packet


@BOUNDED
@given(
    instant=instants, tz=st.timezones(), bad=non_finite.filter(lambda v: not isinstance(v, Decimal))
)
def test_it_refuses_non_finite_wattics_values(instant, tz, bad) -> None:
    assume(not _offset_has_seconds(instant, tz))
    with pytest.raises(ValueError):
        wattics.value_packet("s", instant, tz, bad)
    with pytest.raises(ValueError):
        wattics.electrical_packet("s", instant, tz, bad)


@BOUNDED
@given(naive=st.datetimes(), tz=st.timezones())
def test_it_refuses_a_naive_wattics_instant(naive: datetime, tz: tzinfo) -> None:
    with pytest.raises(ValueError):
        wattics.local_timestamp(naive, tz)
