"""Charts and export of a device's or meter's readings: totals by local day and month (in the
database), the coverage heat map, chart.json and readings.csv."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse

from readings import charts, store, uploads
from readings.models import Reading
from readings.parser import parse_readings
from tests.factories import DeviceFactory, HomeFactory, MeterFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("data_dir")]

TZ = "America/New_York"
ZONE = ZoneInfo(TZ)


@pytest.fixture
def home(org):
    # The organization's pages run in another zone than the site's: the series' zone must win.
    org.timezone = "Asia/Tokyo"
    org.save()
    return HomeFactory(organization=org, timezone=TZ)


@pytest.fixture
def device(org, home):
    return DeviceFactory(
        organization=org, home=home, custom_id="HP-1", kind="electrification", details={}
    )


@pytest.fixture
def meter(org, home):
    return MeterFactory(organization=org, home=home, meter_number="M-1")


def _store(owner, first_local: datetime, hours: int, value=lambda i: 1.0, skip=()) -> None:
    """Store ``hours`` consecutive hourly readings from a local time through the real pipeline."""
    start = first_local.replace(tzinfo=ZONE).astimezone(UTC)
    lines = ["datetime,value_kwh"]
    for i in range(hours):
        if i not in skip:
            lines.append(
                f"{(start + timedelta(hours=i)).astimezone(ZONE).isoformat()},{value(i)!r}"
            )
    upload = uploads.import_readings(
        store.series_for(owner), io.BytesIO("\n".join(lines).encode()), filename="t.csv"
    )
    assert upload.status == "stored", upload.report["errors"][:3]


def _chart(client, owner, **params):
    kind = "device" if hasattr(owner, "custom_id") else "meter"
    response = client.get(reverse(f"{kind}_readings_chart", args=[owner.pk]), params)
    assert response.status_code == 200, response.content
    return response.json()


def test_it_sums_days_in_local_time_across_the_spring_and_autumn_changes(viewer_client, device):
    # 2024-03-09..11 (24, 23, 24 hours) and 2024-11-02..04 (24, 25, 24 hours), one kWh each.
    _store(device, datetime(2024, 3, 9), 71)
    _store(device, datetime(2024, 11, 2), 73, value=lambda i: 2.0)
    spring = _chart(viewer_client, device, bucket="day", start="2024-03-08", end="2024-03-12")
    assert spring["labels"] == [
        "2024-03-08",
        "2024-03-09",
        "2024-03-10",
        "2024-03-11",
        "2024-03-12",
    ]
    assert spring["y"] == [None, 24.0, 23.0, 24.0, None]
    assert spring["hours"] == [0, 24, 23, 24, 0]
    assert spring["expected_hours"] == [24, 24, 23, 24, 24]
    # Each bar starts at its local midnight: 05:00 UTC before the change, 04:00 after.
    assert spring["x"][2] == int(datetime(2024, 3, 10, 5, tzinfo=UTC).timestamp())
    assert spring["x"][3] == int(datetime(2024, 3, 11, 4, tzinfo=UTC).timestamp())

    autumn = _chart(viewer_client, device, bucket="day", start="2024-11-02", end="2024-11-04")
    assert autumn["y"] == [48.0, 50.0, 48.0]
    assert autumn["expected_hours"] == [24, 25, 24]


def test_it_sums_months_in_local_time(viewer_client, device):
    # From local midnight 2024-02-29 to local midnight 2024-04-01: 24 hours of February and the
    # 743 of March (one hour lost to the spring change). In UTC the first 5 hours of February 29
    # would be February 28's and the last 4 of March would be April's.
    _store(device, datetime(2024, 2, 29), 24 + 743)
    data = _chart(viewer_client, device, bucket="month")
    assert data["labels"] == ["2024-02", "2024-03"]
    assert data["y"] == [24.0, 743.0]
    assert data["hours"] == [24, 743]
    assert data["expected_hours"] == [696, 743]
    assert (data["start"], data["end"]) == ("2024-02-01", "2024-03-31")
    # The database did the grouping; the same numbers straight from the query helpers.
    bounds = charts.series_bounds(store.series_for(device))
    months = charts.monthly_totals(store.series_for(device), TZ, bounds)
    assert [(m.start.isoformat(), m.value_kwh, m.complete) for m in months] == [
        ("2024-02-01", 24.0, False),
        ("2024-03-01", 743.0, True),
    ]


def test_it_serves_hourly_points_for_a_range(viewer_client, meter):
    _store(meter, datetime(2024, 3, 9), 71, value=lambda i: i / 10)
    data = _chart(viewer_client, meter, bucket="hour", start="2024-03-10", end="2024-03-10")
    assert data["timezone"] == TZ
    assert len(data["x"]) == 23  # the local day of the spring change
    assert data["x"][0] == int(datetime(2024, 3, 10, 5, tzinfo=UTC).timestamp())
    assert data["y"][0] == pytest.approx(2.4)
    # Without a range: the last 31 days of the data.
    default = _chart(viewer_client, meter)
    assert (default["start"], default["end"]) == ("2024-02-10", "2024-03-11")
    assert len(default["x"]) == 71


def test_it_refuses_a_range_or_bucket_it_cannot_chart(viewer_client, device):
    url = reverse("device_readings_chart", args=[device.pk])
    assert viewer_client.get(url, {"bucket": "week"}).status_code == 400
    response = viewer_client.get(url, {"start": "2024-01-01", "end": "2025-06-01"})
    assert response.status_code == 400 and "at most 366 days" in response.json()["error"]
    assert viewer_client.get(url, {"start": "yesterday"}).status_code == 400
    assert viewer_client.get(url, {"start": "2024-02-01", "end": "2024-01-01"}).status_code == 400


def test_it_draws_the_coverage_heat_map_with_gaps_and_daylight_saving(viewer_client, device):
    # Three local days around the spring change; hour 30 (2024-03-10 07:00 EDT) is missing.
    _store(device, datetime(2024, 3, 9), 71, skip={30})
    response = viewer_client.get(
        reverse("device_readings", args=[device.pk]), {"start": "2024-03-09", "end": "2024-03-12"}
    )
    assert response.status_code == 200
    page = response.content.decode()
    assert "<html" not in page  # an htmx fragment
    columns = re.findall(r"<g><title>([^<]*)</title>(.*?)</g>", page)
    assert [title for title, _ in columns] == [
        "Sat 2024-03-09: 24 of 24 hours",
        "Sun 2024-03-10: 22 of 23 hours (23-hour day: daylight saving), 1 missing",
        "Mon 2024-03-11: 24 of 24 hours",
        "Tue 2024-03-12: 0 of 24 hours",
    ]
    spring_day = re.findall(r'class="hm (hm-[a-z0-9]+)"', columns[1][1])
    assert len(spring_day) == 24
    assert spring_day[2] == "hm-none"  # 02:00 does not exist that day
    assert spring_day[7] == "hm-missing"
    assert all(
        css.startswith("hm-") and css[3:].isdigit()
        for i, css in enumerate(spring_day)
        if i not in (2, 7)
    )
    # After the last reading: not a gap, only outside the data.
    assert set(re.findall(r'class="hm (hm-[a-z0-9]+)"', columns[3][1])) == {"hm-out"}
    assert "Daylight-saving days: 2024-03-10 (23 hours)" in page
    assert "70 of the 71 hours between the first and the last reading have one" in page
    coverage = _chart(
        viewer_client, device, bucket="coverage", start="2024-03-10", end="2024-03-10"
    )
    assert coverage["expected"][0][2] == 0 and coverage["present"][0][7] == 0
    assert sum(coverage["present"][0]) == 22


def test_it_exports_csv_that_parses_back_to_the_same_readings(viewer_client, device):
    values = [0.1 + 0.2, -1.5, 1e-7, 123456.789, 0.0, 2.0]
    _store(device, datetime(2024, 11, 2, 22), 6, value=lambda i: values[i])
    response = viewer_client.get(reverse("device_readings_csv", args=[device.pk]))
    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert 'filename="HP-1-readings.csv"' in response["Content-Disposition"]
    text = b"".join(response.streaming_content).decode()
    lines = text.splitlines()
    # Across the autumn change: the repeated 01:00 hour appears once with each offset.
    assert lines == [
        "datetime,value_kwh",
        "2024-11-02T22:00:00-04:00,0.30000000000000004",
        "2024-11-02T23:00:00-04:00,-1.5",
        "2024-11-03T00:00:00-04:00,1e-07",
        "2024-11-03T01:00:00-04:00,123456.789",
        "2024-11-03T01:00:00-05:00,0.0",
        "2024-11-03T02:00:00-05:00,2.0",
    ]
    parsed = parse_readings(io.BytesIO(text.encode()), tz=TZ)
    assert parsed.ok and parsed.report.warning_count == 0
    stored = list(
        Reading.objects.filter(series=store.series_for(device))
        .order_by("instant")
        .values_list("instant", "value_kwh")
    )
    assert list(parsed.readings) == stored
    # Re-uploading the export changes nothing.
    again = uploads.import_readings(
        store.series_for(device), io.BytesIO(text.encode()), filename="x.csv"
    )
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 6)

    ranged = viewer_client.get(
        reverse("device_readings_csv", args=[device.pk]),
        {"start": "2024-11-03", "end": "2024-11-03"},
    )
    ranged_lines = b"".join(ranged.streaming_content).decode().splitlines()
    assert ranged_lines[1:] == lines[3:]
    assert "HP-1-readings-2024-11-03-2024-11-03.csv" in ranged["Content-Disposition"]


def test_it_refuses_an_export_range_that_is_not_wholly_a_date(viewer_client, device, meter):
    hostile = [
        "2024-11-03\r\nSet-Cookie: sessionid=evil",
        "2024-11-03\nX-Injected: 1",
        '2024-11-03"; filename="evil.exe',
        "2024-11-03;attachment",
        "2024-11-03é日",
        "\uff12\uff10\uff12\uff14-11-03",  # full-width digits
        "2024-11-03\x00",
        "9999-12-31",
        "0001-01-01",
    ]
    for owner, name in ((device, "device_readings_csv"), (meter, "meter_readings_csv")):
        for value in hostile:
            for param in ("start", "end"):
                response = viewer_client.get(reverse(name, args=[owner.pk]), {param: value})
                assert response.status_code == 400, (param, value)
                assert "Content-Disposition" not in response
                assert "\n" not in response.content.decode().strip()


def test_it_names_the_export_after_the_validated_dates_only(viewer_client, device):
    _store(device, datetime(2024, 11, 2, 22), 6)
    response = viewer_client.get(
        reverse("device_readings_csv", args=[device.pk]),
        {"start": " 2024-11-03T05:00:00-05:00", "end": "20241103"},
    )
    assert response.status_code == 200
    disposition = response["Content-Disposition"]
    assert 'filename="HP-1-readings-2024-11-03-2024-11-03.csv"' in disposition
    assert re.fullmatch(
        r'attachment; filename="[A-Za-z0-9.-]+"; filename\*=UTF-8\'\'[A-Za-z0-9.-]+', disposition
    )


def test_it_exports_a_meter_and_an_empty_series(viewer_client, meter, device):
    empty = viewer_client.get(reverse("device_readings_csv", args=[device.pk]))
    assert b"".join(empty.streaming_content) == b"datetime,value_kwh\n"
    _store(meter, datetime(2024, 1, 1), 2, value=lambda i: 3.25)
    response = viewer_client.get(reverse("meter_readings_csv", args=[meter.pk]))
    assert b"".join(response.streaming_content).decode().splitlines()[1:] == [
        "2024-01-01T00:00:00-05:00,3.25",
        "2024-01-01T01:00:00-05:00,3.25",
    ]
    bad = viewer_client.get(reverse("meter_readings_csv", args=[meter.pk]), {"start": "2024-13-01"})
    assert bad.status_code == 400


def test_it_shows_the_panel_to_a_viewer_and_404s_an_outsider(
    viewer_client, outsider_client, device
):
    _store(device, datetime(2024, 3, 9), 24)
    page = viewer_client.get(reverse("device_readings", args=[device.pk])).content.decode()
    assert "24 hourly readings from Sat 2024-03-09 00:00 EST" in page
    assert reverse("device_readings_chart", args=[device.pk]) + "?bucket=hour" in page
    assert 'id="monthly-totals"' in page
    for name in ("device_readings", "device_readings_chart", "device_readings_csv"):
        assert outsider_client.get(reverse(name, args=[device.pk])).status_code == 404, name


def test_a_preview_of_years_is_monthly_totals_and_of_months_daily():
    """An upload's preview chart: a few years by day, a decade by month, each bucket's hours and
    the hours it should have (the file's own spacing, counted in the site's zone)."""
    from readings.charts import readings_payload

    start = int(datetime(2020, 1, 1, 6, tzinfo=UTC).timestamp())  # midnight in Chicago
    hours = 24 * 366 * 10
    epochs = [start + 3600 * n for n in range(hours)]
    decade = readings_payload(epochs, [0.5] * hours, "America/Chicago")
    assert decade["bucket"] == "month"
    assert decade["labels"][:2] == ["2020-01", "2020-02"]
    assert decade["hours"][0] == decade["expected_hours"][0] == 31 * 24
    assert decade["y"][0] == 31 * 24 * 0.5
    assert decade["hours"][2] == decade["expected_hours"][2] == 31 * 24 - 1  # March: clocks go on
    assert decade["start"] == "2020-01-01"
    assert sum(decade["hours"]) == hours

    months = readings_payload(epochs[: 24 * 200], [0.5] * (24 * 200), "America/Chicago")
    assert months["bucket"] == "day"
    assert months["labels"][0] == "2020-01-01"
    assert len(months["x"]) == 201  # 4,800 hours from midnight: past March, one more local day


def test_one_rule_buckets_an_upload_chart_and_names_it():
    from readings.charts import PREVIEW_LABELS, preview_bucket

    start = datetime(2020, 1, 1, tzinfo=UTC)
    assert preview_bucket(None, None) == "hour"
    assert preview_bucket(start, start + timedelta(days=91)) == "hour"
    assert preview_bucket(start, start + timedelta(days=93)) == "day"
    assert preview_bucket(start, start + timedelta(days=3 * 366 + 1)) == "month"
    assert PREVIEW_LABELS["month"] == "kWh per month"
