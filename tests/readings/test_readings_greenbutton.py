"""Green Button XML and CSV, channel CSVs and net metering: parsed by their content, previewed with
their channels and units explained, stored per channel, charted and exported with the net."""

from __future__ import annotations

import io
import tracemalloc
from datetime import UTC, datetime
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.urls import reverse

from readings import uploads
from readings.models import Reading, ReadingChannel, Series, UploadStatus
from readings.parser import parse_readings
from readings.store import series_for
from tests.hostile.corpus import PeakMemory
from tests.readings.greenbutton_samples import (
    FIXTURES,
    MARCH_9_LA,
    StreamedFeed,
    feed,
    green_button_csv,
    solar_wh,
)

LA = "America/Los_Angeles"
JSON = {"Accept": "application/json"}


@pytest.fixture
def solar_meter(meter):
    meter.home.timezone = LA
    meter.home.save(update_fields=["timezone"])
    return meter


def _parse(data: bytes, name: str = "file.csv", tz: str = LA, **kw):
    return parse_readings(io.BytesIO(data), tz=tz, filename=name, **kw)


def _fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def _codes(result) -> list[str]:
    return [issue.code for issue in result.report.errors]


# --- the parser ---------------------------------------------------------------------------------
def test_it_reads_both_channels_of_a_net_metered_green_button_feed_into_hours():
    result = _parse(_fixture("net_metered_15min.xml"), "usage.csv")  # the name says nothing
    assert result.ok, result.report.errors
    summary = result.report.summary
    assert summary.source_format == "greenbutton_xml"
    assert [c.channel for c in summary.channels] == ["delivered", "received"]
    channels = dict(result.by_channel())
    assert len(channels["delivered"]) == len(channels["received"]) == 72
    # The first hour is the sum of its four 15-minute readings, Wh into kWh.
    first = [solar_wh(MARCH_9_LA + 900 * k, 900) for k in range(4)]
    assert channels["delivered"].values_kwh[0] == pytest.approx(sum(d for d, _ in first) / 1000)
    assert channels["delivered"].epochs[0] == MARCH_9_LA
    assert summary.readings == 144 and summary.rows_read == 2 * 3 * 96
    assert summary.dst_day_count == 1  # 2024-03-10, 23 hours in Los Angeles
    notes = " ".join(summary.notes)
    assert "powerOfTenMultiplier 0" in notes and "UTC-08:00" in notes


@pytest.mark.parametrize(
    ("multiplier", "raw", "kwh"), [(0, 1234, 1.234), (-3, 1234, 0.001234), (3, 2, 2.0)]
)
def test_it_scales_values_by_the_power_of_ten_multiplier(multiplier, raw, kwh):
    text = "".join(feed(MARCH_9_LA, 1, interval_s=3600, channels=(1,), multiplier=multiplier))
    # Every reading given the same raw value, so each hour holds exactly raw x 10^m Wh.
    import re

    text = re.sub(r"<value>-?\d+</value>", f"<value>{raw}</value>", text)
    result = _parse(text.encode())
    assert result.ok, result.report.errors
    assert set(result.readings.values_kwh) == {kwh}


def test_it_refuses_a_gas_feed_saying_what_it_holds():
    result = _parse(_fixture("gas_therms.xml"), "gas.xml")
    assert _codes(result) == ["unsupported_unit"]
    message = result.report.errors[0].message
    assert "natural gas in therms" in message and "'gas.xml'" in message


def test_it_names_the_element_and_line_of_a_bad_reading():
    text = "".join(feed(MARCH_9_LA, 1, interval_s=3600, channels=(1,)))
    lines = text.splitlines(keepends=True)
    target = next(i for i, line in enumerate(lines) if "<IntervalReading>" in line)
    lines[target] = lines[target].replace("<value>", "<value>x", 1)
    result = _parse("".join(lines).encode())
    assert _codes(result) == ["bad_value"]
    error = result.report.errors[0]
    assert error.row == target + 1 and error.column == "IntervalReading/value"


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("<?xml version='1.0'?>\n<feed xmlns='http://www.w3.org/2005/Atom'><entry>", "bad_xml"),
        ("<?xml version='1.0'?>\n<rss><channel/></rss>", "not_green_button"),
        (
            "<?xml version='1.0'?>\n<feed xmlns='http://www.w3.org/2005/Atom'><entry><content>"
            "<x:UsagePoint xmlns:x='http://example.com/espi'/></content></entry></feed>",
            "not_green_button",
        ),
    ],
)
def test_it_refuses_broken_or_foreign_xml_with_the_reason(text, code):
    result = _parse(text.encode(), "x.xml")
    assert _codes(result) == [code]
    assert len(result.readings) == 0


def test_it_refuses_a_billion_laughs_without_expanding_it():
    from tests.hostile.corpus import BILLION_LAUGHS

    with PeakMemory() as memory:
        result = _parse(BILLION_LAUGHS, "lol.xml")
    assert _codes(result) == ["xml_dtd"]
    assert memory.peak < 5 << 20


def test_it_reads_a_two_year_15_minute_feed_in_bounded_memory():
    days = 2 * 365
    stream = StreamedFeed(feed(MARCH_9_LA, days, channels=(1,)))
    tracemalloc.start()
    try:
        result = parse_readings(stream, tz=LA, filename="two-years.xml")  # type: ignore[arg-type]  # read() is all it uses
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result.ok, result.report.errors[:3]
    assert len(result.readings) == days * 24
    # 70,080 readings at 20 bytes each, then summed into hours: far below the file's size (the
    # feed is ~11 MB, and never whole: it is generated as it is read); a DOM would take hundreds.
    assert peak < 30 << 20, f"{peak / (1 << 20):.0f} MB"


def test_it_reads_a_green_button_csv_of_a_solar_home_into_import_and_export():
    result = _parse(_fixture("greenbutton_solar.csv"), "export.txt")
    assert result.ok, result.report.errors
    assert result.report.summary.source_format == "greenbutton_csv"
    channels = dict(result.by_channel())
    assert set(channels) == {"delivered", "received"}
    assert len(channels["delivered"]) == 71  # three local days, one of them 23 hours
    # Local midnight in Los Angeles, PST.
    assert channels["delivered"].epochs[0] == MARCH_9_LA
    assert "account header block" in " ".join(result.report.summary.notes)


def test_it_takes_net_usage_of_a_green_button_csv_as_the_net_channel():
    text = green_button_csv(solar=False).replace(",0.60,kWh,", ",-0.60,kWh,", 1)
    result = _parse(text.encode())
    assert result.ok, result.report.errors
    assert [channel for channel, _ in result.by_channel()] == ["net"]


def test_it_refuses_a_green_button_csv_of_gas():
    text = green_button_csv(solar=False).replace("Electric usage", "Natural gas usage")
    text = text.replace(",kWh,", ",therms,")
    result = _parse(text.encode(), "gas.csv")
    assert _codes(result) == ["unsupported_unit"]
    assert "therms" in result.report.errors[0].message


def test_it_refuses_a_green_button_file_for_a_device():
    from readings.parser import SeriesContext

    result = _parse(_fixture("net_metered_15min.xml"), context=SeriesContext(owner_kind="device"))
    assert "meter_file_on_device" in _codes(result)


def test_it_refuses_rows_without_an_offset_among_rows_with_one():
    rows = [f"2024-01-01T{h:02d}:00:00-05:00,1.0" for h in range(10)]
    rows[4] = "2024-01-01T04:00:00,1.0"
    rows[5] = "2024-01-01T05:00:00,1.0"
    result = _parse(
        ("datetime,value_kwh\n" + "\n".join(rows) + "\n").encode(), tz="America/New_York"
    )
    assert _codes(result) == ["mixed_offsets"]
    error = result.report.errors[0]
    assert error.row == 6 and "Rows 6-7 have no UTC offset" in error.message


def test_it_reads_a_channel_csv_and_refuses_an_unknown_channel():
    good = "datetime,channel,value_kwh\n2024-01-01T00:00:00Z,delivered,1.5\n2024-01-01T00:00:00Z,received,0.5\n"
    result = _parse(good.encode())
    assert result.ok
    assert {c: list(r.values_kwh) for c, r in result.by_channel()} == {
        "delivered": [1.5],
        "received": [0.5],
    }
    bad = _parse((good + "2024-01-01T01:00:00Z,sideways,1\n").encode())
    assert _codes(bad) == ["bad_channel"] and bad.report.errors[0].row == 4


# --- storing, the pages, the export -----------------------------------------------------------
def test_it_stores_both_channels_and_counts_a_re_upload_as_unchanged(solar_meter):
    series = series_for(solar_meter)
    data = _fixture("net_metered_15min.xml")
    first = uploads.import_readings(series, io.BytesIO(data), filename="gb.xml")
    assert first.status == UploadStatus.STORED, first.report["errors"]
    assert (first.inserted, first.updated, first.unchanged) == (144, 0, 0)
    received = Series.objects.get(meter=solar_meter, channel=ReadingChannel.RECEIVED)
    assert received.reading_count == 72 and series_for(solar_meter).reading_count == 72
    again = uploads.import_readings(series, io.BytesIO(data), filename="gb.xml")
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 144)


def test_it_previews_a_green_button_upload_with_its_channels(member_client, solar_meter, data_dir):
    url = reverse("meter_readings_check", args=[solar_meter.pk])
    upload = SimpleUploadedFile("download.xml", _fixture("net_metered_15min.xml"))
    response = member_client.post(url, {"files": [upload]}, follow=True)
    page = response.content.decode()
    assert response.status_code == 200
    assert "Green Button XML" in page and 'data-channel="received"' in page
    assert "powerOfTenMultiplier 0" in page and "23-hour day" in page
    assert Reading.objects.count() == 0  # nothing before the confirmation
    detail = response.redirect_chain[-1][0]
    pk = int(detail.rstrip("/").rsplit("/", 1)[-1])
    chart = member_client.get(reverse("upload_chart", args=[pk])).json()
    assert [line["channel"] for line in chart["lines"]] == ["delivered", "received", "net"]


def test_it_charts_and_exports_both_channels_and_the_net(member_client, solar_meter, outsider):
    series = series_for(solar_meter)
    uploads.import_readings(
        series, io.BytesIO(_fixture("greenbutton_solar.csv")), filename="gb.csv"
    )
    chart_url = reverse("meter_readings_chart", args=[solar_meter.pk])
    chart = member_client.get(
        chart_url, {"bucket": "hour", "start": "2024-03-09", "end": "2024-03-11"}
    ).json()
    lines = {line["channel"]: line["y"] for line in chart["lines"]}
    at = chart["x"].index(MARCH_9_LA + 12 * 3600)  # noon
    assert lines["net"][at] == pytest.approx(lines["delivered"][at] - lines["received"][at])
    day = member_client.get(
        chart_url, {"bucket": "day", "start": "2024-03-09", "end": "2024-03-11"}
    ).json()
    assert len(day["lines"]) == 3 and day["hours"] == [24, 23, 24]
    export = member_client.get(reverse("meter_readings_csv", args=[solar_meter.pk]))
    text = b"".join(export.streaming_content).decode()
    assert text.startswith("datetime,channel,value_kwh\n")
    assert "2024-03-09T00:00:00-08:00,delivered," in text and ",received," in text
    # The export uploads back unchanged.
    again = uploads.import_readings(series, io.BytesIO(text.encode()), filename="back.csv")
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 142)
    # Another organization's meter is a 404.
    from tests.conftest import _client_for

    assert _client_for(outsider).get(chart_url, {"bucket": "hour"}).status_code == 404


def test_it_imports_a_green_button_file_with_the_command(org, solar_meter, tmp_path: Path, capsys):
    path = tmp_path / "feed.dat"  # no telling extension: the content says what it is
    path.write_bytes(_fixture("net_metered_15min.xml"))
    call_command(
        "import_readings", "--org", org.slug, "--meter", solar_meter.meter_number, str(path)
    )
    assert "Stored: 144 new" in capsys.readouterr().out


def test_it_streams_only_the_delivered_channel_to_wattics(solar_meter):
    from integrations.adapters.wattics import backlog
    from integrations.models import Channel, Platform, UpstreamLink

    uploads.import_readings(
        series_for(solar_meter), io.BytesIO(_fixture("net_metered_15min.xml")), filename="gb.xml"
    )
    link = UpstreamLink(
        organization=solar_meter.organization,
        platform=Platform.WATTICS,
        channel=Channel.PACKETS,
        record=solar_meter,
    )
    assert backlog(link, solar_meter) == 72  # of 144 stored


def test_it_keeps_existing_series_as_delivered(device):
    series = series_for(device)
    assert series.channel == ReadingChannel.DELIVERED
    stamp = datetime(2024, 1, 1, tzinfo=UTC).isoformat()
    uploads.import_readings(
        series, io.BytesIO(f"datetime,value_kwh\n{stamp},1\n".encode()), filename="a.csv"
    )
    assert list(Series.objects.filter(device=device).values_list("channel", flat=True)) == [
        "delivered"
    ]


# --- column mapping -----------------------------------------------------------------------------
UTILITY_EXPORT = (
    "Meter,Interval Start,Reading (Wh),Quality\n"
    "M-77,2024-01-01 00:00,1500,A\n"
    "M-77,2024-01-01 01:00,1250,A\n"
    "M-77,2024-01-01 02:00,900,E\n"
)


def test_it_reads_another_layout_with_a_saved_mapping():
    from readings.parser import ColumnMap, header_key

    header = ("Meter", "Interval Start", "Reading (Wh)", "Quality")
    maps = {
        header_key(header): ColumnMap("interval start", "Reading (Wh)", "Wh", "received", "UTC")
    }
    result = _parse(UTILITY_EXPORT.encode(), mappings=maps.get)
    assert result.ok, result.report.errors
    assert [(c, list(r.values_kwh)) for c, r in result.by_channel()] == [
        ("received", [1.5, 1.25, 0.9])
    ]
    assert result.readings.epochs[0] == int(datetime(2024, 1, 1, tzinfo=UTC).timestamp())
    unmapped = _parse(UTILITY_EXPORT.encode(), mappings={}.get)
    assert _codes(unmapped) == ["missing_columns"]
    assert unmapped.report.summary.header == header


def test_it_offers_a_mapping_remembers_it_and_reads_the_next_file_with_it(
    member_client, solar_meter, data_dir, outsider
):
    check = reverse("meter_readings_check", args=[solar_meter.pk])
    response = member_client.post(
        check, {"files": [SimpleUploadedFile("export.csv", UTILITY_EXPORT.encode())]}, follow=True
    )
    page = response.content.decode()
    assert "Map its columns" in page and "Interval Start" in page
    pk = int(response.redirect_chain[-1][0].rstrip("/").rsplit("/", 1)[-1])
    mapping_url = reverse("upload_mapping", args=[pk])
    choice = {
        "time_column": "Interval Start",
        "value_column": "Reading (Wh)",
        "unit": "Wh",
        "channel": "delivered",
        "timezone": "America/Chicago",
    }
    from tests.conftest import _client_for

    assert _client_for(outsider).post(mapping_url, choice).status_code == 404
    bad = member_client.post(mapping_url, {**choice, "timezone": "Mars/Olympus"}, follow=True)
    assert "no IANA timezone" in bad.content.decode()
    member_client.post(mapping_url, choice)
    # The next file with the same header (any rows) is read with the mapping.
    again = member_client.post(
        check, {"files": [SimpleUploadedFile("march.csv", UTILITY_EXPORT.encode())]}, follow=True
    )
    assert "Read with the column mapping saved for this header" in again.content.decode()
    upload = series_for(solar_meter).uploads.order_by("-pk").first()
    assert upload.status == UploadStatus.PREVIEW
    # Times without an offset were read in America/Chicago (UTC-06:00 in January).
    assert upload.first_instant == datetime(2024, 1, 1, 6, tzinfo=UTC)


def test_the_uploads_page_lists_a_saved_mapping_and_forgets_it(
    member_client, viewer_client, org, outsider
):
    from readings import services
    from readings.models import ColumnMapping
    from tests.conftest import _client_for

    header = ("Meter", "Interval Start", "Reading (Wh)", "Quality")
    mapping = services.save_column_mapping(
        org.pk,
        header,
        time_column="Interval Start",
        value_column="Reading (Wh)",
        unit="Wh",
        channel="delivered",
        timezone_name="",
        user=None,
    )
    from readings.store import mappings_of

    assert _parse(UTILITY_EXPORT.encode(), mappings=mappings_of(org.pk)).ok
    uploads_page = reverse("upload_list")
    page = member_client.get(uploads_page).content.decode()
    assert "Saved column mappings" in page and "Meter,Interval Start,Reading (Wh),Quality" in page
    forget = reverse("column_mapping_forget", args=[mapping.pk])
    assert forget in page
    assert forget not in viewer_client.get(uploads_page).content.decode()
    assert viewer_client.post(forget).status_code == 403
    assert _client_for(outsider).post(forget).status_code == 404
    assert member_client.get(forget).status_code == 405
    response = member_client.post(forget, follow=True)
    assert "Forgotten: files whose header is Meter,Interval Start" in response.content.decode()
    assert not ColumnMapping.objects.filter(pk=mapping.pk).exists()
    # The next file with that header is refused with the mapping form again.
    result = _parse(UTILITY_EXPORT.encode(), mappings=mappings_of(org.pk))
    assert _codes(result) == ["missing_columns"]


def test_it_takes_a_green_button_feed_on_the_json_api_by_its_content(member_client, solar_meter):
    url = reverse("meter_readings_upload", args=[solar_meter.pk])
    feed_file = SimpleUploadedFile("readings.csv", _fixture("net_metered_15min.xml"))
    response = member_client.post(url, {"file": feed_file, "dry_run": "1"}, headers=JSON)
    assert response.status_code == 200
    body = response.json()
    assert [row["channel"] for row in body["channels"]] == ["delivered", "received"]
    assert body["rows"] == 144 and Reading.objects.count() == 0


def test_it_stops_a_2_gb_feed_at_the_upload_limit_in_bounded_memory():
    from readings.parser import DEFAULT_LIMITS
    from tests.hostile.corpus import EndlessBody, MiB

    head = b'<?xml version="1.0"?>\n<feed xmlns="http://www.w3.org/2005/Atom">\n'
    stream = EndlessBody(head, 2 << 30, read_limit=DEFAULT_LIMITS.max_bytes + 2 * MiB)
    with PeakMemory() as memory:
        result = parse_readings(stream, tz=LA, filename="huge.xml")  # type: ignore[arg-type]  # a raw stream
    assert _codes(result) == ["too_large"]
    assert memory.peak < 20 * MiB, f"{memory.peak / MiB:.0f} MB"


def test_it_refuses_mixed_offsets_whichever_path_read_the_rows():
    from datetime import timedelta

    start = datetime(2024, 1, 1)
    aware = [f"{start + timedelta(hours=h):%Y-%m-%dT%H:%M:%S}-05:00,1.5" for h in range(4096)]
    naive = [f"{start + timedelta(hours=h):%Y-%m-%dT%H:%M:%S},1.5" for h in range(4096, 6144)]
    text = "datetime,value_kwh\n" + "\n".join(aware + naive) + "\n"
    result = _parse(text.encode(), tz="America/New_York")  # whole batches: the fast path
    assert _codes(result) == ["mixed_offsets"]
    assert result.report.errors[0].row == 4098
    assert "Rows 4098-6145 have no UTC offset" in result.report.errors[0].message


def test_it_names_readings_of_a_duration_that_is_no_interval():
    text = "".join(feed(MARCH_9_LA, 1, interval_s=3600, channels=(1,)))
    first = text.index("<duration>3600</duration>")
    text = (
        text[:first]
        + "<duration>86400</duration>"
        + text[first + len("<duration>3600</duration>") :]
    )
    line = text[:first].count("\n") + 1
    result = _parse(text.encode())
    assert _codes(result) == ["bad_duration"]
    assert (
        result.report.errors[0].row == line and "86400 seconds" in result.report.errors[0].message
    )


PRETTY_BLOCK = """<?xml version="1.0" encoding="UTF-8"?>
<feed xmlns="http://www.w3.org/2005/Atom">
  <entry>
    <link href="/espi/UsagePoint/1/MeterReading/1" rel="self"/>
    <link href="/espi/ReadingType/1" rel="related"/>
    <content><MeterReading xmlns="http://naesb.org/espi"/></content>
  </entry>
  <entry>
    <link href="/espi/ReadingType/1" rel="self"/>
    <content>
      <ReadingType xmlns="http://naesb.org/espi">
        <flowDirection>1</flowDirection><powerOfTenMultiplier>-3</powerOfTenMultiplier><uom>72</uom>
      </ReadingType>
    </content>
  </entry>
  <entry>
    <content>
      <ns2:IntervalBlock xmlns:ns2="http://naesb.org/espi">
        <ns2:interval>
          <ns2:duration>7200</ns2:duration>
          <ns2:start>1704067200</ns2:start>
        </ns2:interval>
        <ns2:IntervalReading>
          <ns2:cost>120</ns2:cost>
          <ns2:ReadingQuality><ns2:quality>19</ns2:quality></ns2:ReadingQuality>
          <ns2:timePeriod>
            <ns2:duration>3600</ns2:duration>
            <ns2:start>1704067200</ns2:start>
          </ns2:timePeriod>
          <ns2:value>1500000</ns2:value>
        </ns2:IntervalReading>
        <ns2:IntervalReading>
          <ns2:timePeriod>
            <ns2:duration>3600</ns2:duration>
          </ns2:timePeriod>
          <ns2:value>1250000</ns2:value>
        </ns2:IntervalReading>
      </ns2:IntervalBlock>
    </content>
    <link href="/espi/UsagePoint/1/MeterReading/1/IntervalBlock" rel="up"/>
  </entry>
</feed>
"""


def test_it_reads_a_pretty_printed_block_with_prefixes_and_links_after_the_content():
    # The second reading has no start, and is not given the block's own one.
    result = _parse(PRETTY_BLOCK.encode())
    assert _codes(result) == ["bad_time"]
    error = result.report.errors[0]
    lines = PRETTY_BLOCK.splitlines()
    assert "no timePeriod/start" in error.message
    assert lines[error.row - 1].strip().startswith("<ns2:duration>3600")  # inside that reading
    fixed = PRETTY_BLOCK.replace(
        "<ns2:duration>3600</ns2:duration>\n          </ns2:timePeriod>\n          <ns2:value>1250000",
        "<ns2:duration>3600</ns2:duration><ns2:start>1704070800</ns2:start>\n          </ns2:timePeriod>\n          <ns2:value>1250000",
    )
    good = _parse(fixed.encode())
    assert good.ok, good.report.errors
    assert list(good.readings.values_kwh) == [1.5, 1.25]  # Wh x 10^-3 into kWh


def test_it_refuses_a_block_nested_in_a_block():
    nested = PRETTY_BLOCK.replace(
        "</ns2:IntervalBlock>",
        "<ns2:IntervalBlock/></ns2:IntervalBlock>",
    ).replace(
        "</ns2:IntervalBlock>\n    </content>",
        "<ns2:IntervalReading/></ns2:IntervalBlock>\n    </content>",
    )
    result = _parse(nested.encode())
    assert _codes(result) == ["not_green_button"]
    assert (
        result.report.errors[0].row
        == nested[: nested.index("<ns2:IntervalReading/>")].count("\n") + 1
    )


def test_the_back_office_lists_saved_mappings_and_forgets_one(org, django_user_model):
    from django.test import Client

    from readings import services
    from readings.models import ColumnMapping

    staff = django_user_model.objects.create_superuser("root@gridfolio.test", "pw-long-enough-1")
    admin_client = Client()
    admin_client.force_login(staff, backend="django.contrib.auth.backends.ModelBackend")

    mapping = services.save_column_mapping(
        org.pk,
        ("Meter", "Interval Start", "Reading (Wh)"),
        time_column="Interval Start",
        value_column="Reading (Wh)",
        unit="Wh",
        channel="received",
        timezone_name="",
        user=None,
    )
    listing = admin_client.get(reverse("admin:readings_columnmapping_changelist"))
    assert "Meter,Interval Start,Reading (Wh)" in listing.content.decode()
    assert admin_client.get(reverse("admin:readings_columnmapping_add")).status_code == 403
    delete = reverse("admin:readings_columnmapping_delete", args=[mapping.pk])
    assert admin_client.post(delete, {"post": "yes"}).status_code == 302
    assert not ColumnMapping.objects.filter(pk=mapping.pk).exists()
