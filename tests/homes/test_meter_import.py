"""Bulk meter import from CSV, keyed by meter number: the engine, the page and the command."""

from __future__ import annotations

import io
from collections.abc import Iterator
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse

from devices.models import Device
from homes.imports import MeterImporter, parse_location
from homes.models import Customer, Home, Meter
from portal.csv_import import run_import
from portal.signals import record_changed

pytestmark = pytest.mark.django_db

HEADER = "meterNumber,meterPointId,locationType,homeName,zipcode,watticsStreamId\n"


@pytest.fixture
def homes(org) -> tuple[Home, Home]:
    customer = Customer.objects.create(organization=org, name="Pat Doe")
    return (
        Home.objects.create(
            organization=org, customer=customer, name="Greene St", zip_code="52327"
        ),
        Home.objects.create(organization=org, customer=customer, name="Elm Rd", zip_code="02134"),
    )


@pytest.fixture
def announcements() -> Iterator[list[tuple[type, bool]]]:
    sent: list[tuple[type, bool]] = []

    def receiver(sender: type, created: bool, **kwargs: object) -> None:
        sent.append((sender, created))

    record_changed.connect(receiver, weak=False)
    yield sent
    record_changed.disconnect(receiver)


GOOD = (
    HEADER
    + "M-1,MP-100,residential,Greene St,52327,stream-1\n"
    + "M-2,,Commercial,elm rd,2134,\n"
    + "M-3,MP-300,,Greene St,52327-0001,\n"
).encode()


def _import(org, data: bytes, **kwargs):
    return run_import(MeterImporter(org), data, **kwargs)


def test_it_imports_meters_at_their_homes(org, homes, announcements):
    greene, elm = homes

    result = _import(org, GOOD)

    assert result.errors == []
    assert (result.created, result.updated, result.unchanged) == (3, 0, 0)
    meters = {m.meter_number: m for m in Meter.objects.filter(organization=org)}
    assert (meters["M-1"].home, meters["M-1"].meter_point_id, meters["M-1"].wattics_stream_id) == (
        greene,
        "MP-100",
        "stream-1",
    )
    assert (meters["M-2"].home, meters["M-2"].location_type) == (elm, "commercial")
    assert meters["M-3"].location_type == "residential"
    assert [(w.row, w.column) for w in result.warnings] == [(3, "zipcode")]
    assert announcements == [(Meter, True)] * 3


def test_it_changes_nothing_when_the_same_file_is_imported_again(org, homes, announcements):
    _import(org, GOOD)
    stamps = dict(Meter.objects.values_list("meter_number", "updated_at"))
    announcements.clear()

    again = _import(org, GOOD)

    assert (again.created, again.updated, again.unchanged, again.errors) == (0, 0, 3, [])
    assert announcements == []
    assert dict(Meter.objects.values_list("meter_number", "updated_at")) == stamps


def test_it_updates_the_meter_with_the_same_number_whatever_its_case(org, homes, announcements):
    elm = homes[1]
    _import(org, GOOD)
    announcements.clear()
    data = (HEADER + "m-1,MP-101,residential,Elm Rd,02134,stream-1\n").encode()

    result = _import(org, data)

    assert (result.created, result.updated, result.errors) == (0, 1, [])
    meter = Meter.objects.get(meter_number__iexact="m-1")
    assert (meter.meter_point_id, meter.home) == ("MP-101", elm)
    assert announcements == [(Meter, False)]
    assert Meter.objects.count() == 3


def test_it_keeps_the_wattics_stream_when_the_file_has_no_such_column(org, homes):
    _import(org, GOOD)
    data = b"meterNumber,meterPointId,locationType,homeName,zipcode\nM-1,MP-100,residential,,\n"

    result = _import(org, data)

    assert (result.unchanged, result.errors) == (1, [])
    assert Meter.objects.get(meter_number="M-1").wattics_stream_id == "stream-1"


def test_it_writes_nothing_and_reports_every_bad_row(org, homes):
    data = (
        HEADER
        + "M-1,MP-100,residential,Greene St,52327,\n"
        + "M-2,,indoors,Greene St,52327,\n"  # row 3
        + "M-3,,,Nowhere,52327,\n"  # row 4
        + "m-1,,,Greene St,52327,\n"  # row 5
        + ",,,Greene St,52327,\n"  # row 6
        + "M-7,,,Greene St,ABCDE,\n"  # row 7
        + "M-8,,,,,\n"  # row 8
    ).encode()

    result = _import(org, data)

    assert [(e.row, e.column) for e in result.errors] == [
        (3, "locationType"),
        (4, "homeName"),
        (5, "meterNumber"),
        (6, "meterNumber"),
        (7, "zipcode"),
        (8, "homeName"),
    ]
    assert "Row 5, meterNumber: m-1 is already on row 2 of this file." in [
        str(e) for e in result.errors
    ]
    assert not Meter.objects.exists()


def test_it_requires_its_columns_but_not_the_wattics_stream(org, homes):
    missing = _import(org, b"meterNumber,homeName,zipcode\nM-1,Greene St,52327\n")
    without_stream = _import(
        org, b"meterNumber,meterPointId,locationType,homeName,zipcode\nM-1,,,Greene St,52327\n"
    )

    assert [str(e) for e in missing.errors] == [
        "File: Missing required columns: meterPointId, locationType."
    ]
    assert (without_stream.created, without_stream.errors) == (1, [])


def test_it_does_not_move_a_meter_away_from_its_devices_home(org, homes):
    greene = homes[0]
    meter = Meter.objects.create(organization=org, home=greene, meter_number="M-1")
    Device.objects.create(
        organization=org,
        home=greene,
        meter=meter,
        name="Solar",
        custom_id="SP-1",
        kind="solar",
        details={"nameplate_capacity_kw": 5.0},
    )

    result = _import(org, (HEADER + "M-1,,,Elm Rd,02134,\n").encode())

    assert [(e.row, e.column) for e in result.errors] == [(2, "homeName")]
    meter.refresh_from_db()
    assert meter.home == greene


def test_it_ignores_meters_of_other_organizations(org, other_org, homes):
    customer = Customer.objects.create(organization=other_org, name="Rival customer")
    rival_home = Home.objects.create(
        organization=other_org, customer=customer, name="Greene St", zip_code="52327"
    )
    Meter.objects.create(organization=other_org, home=rival_home, meter_number="M-1")

    result = _import(org, GOOD)

    assert (result.created, result.errors) == (3, [])
    assert Meter.objects.get(organization=org, meter_number="M-1").home == homes[0]


def test_it_writes_nothing_on_a_dry_run(org, homes):
    result = _import(org, GOOD, dry_run=True)

    assert result.ok and result.created == 3
    assert not Meter.objects.exists()


def test_it_reads_a_location_as_address_coordinates_or_json():
    assert parse_location("60 Greene St, Riverside, IA 52327") == {
        "street": "60 Greene St",
        "city": "Riverside",
        "state": "IA",
        "zip_code": "52327",
    }
    assert parse_location("60 Greene St Riverside IA 52327")["street"] == "60 Greene St"
    assert parse_location("41.4758, -91.5741") == {
        "latitude": Decimal("41.4758"),
        "longitude": Decimal("-91.5741"),
    }
    assert parse_location('{"street": "1 Main St", "postalCode": "02134"}') == {
        "street": "1 Main St",
        "zip_code": "02134",
    }
    assert parse_location("{not json") is None
    assert parse_location("91, 200") is None


# --- the command -----------------------------------------------------------------------------------
def test_the_command_imports_a_file_and_prints_the_counts(org, homes, tmp_path):
    path_ = tmp_path / "meters.csv"
    path_.write_bytes(GOOD)
    out, err = io.StringIO(), io.StringIO()

    call_command("import_meters", "--org", "acme", str(path_), stdout=out, stderr=err)

    assert "3 meters created, 0 updated, 0 unchanged" in out.getvalue()
    assert "Warning: Row 3, zipcode:" in err.getvalue()
    assert Meter.objects.count() == 3


def test_the_command_prints_every_error_and_exits_with_status_1(org, homes, tmp_path):
    path_ = tmp_path / "meters.csv"
    path_.write_bytes(
        (
            HEADER + "M-1,,,Nowhere,52327,\nM-2,,,Greene St,52327,\nM-3,,bad,Greene St,52327,\n"
        ).encode()
    )
    err = io.StringIO()

    with pytest.raises(CommandError) as raised:
        call_command("import_meters", "--org", "acme", str(path_), stderr=err)

    assert raised.value.returncode == 1
    assert [line.split(":")[0] for line in err.getvalue().splitlines()] == [
        "Row 2, homeName",
        "Row 4, locationType",
    ]
    assert not Meter.objects.exists()


# --- the page --------------------------------------------------------------------------------------
def _upload(data: bytes) -> io.BytesIO:
    upload = io.BytesIO(data)
    upload.name = "meters.csv"
    return upload


def test_the_page_checks_then_imports_for_a_member(member_client, org, homes):
    url = reverse("meter_import")
    page = member_client.get(url)
    assert page.status_code == 200 and "watticsStreamId" in page.content.decode()

    checked = member_client.post(url, {"file": _upload(GOOD), "dry_run": "on"})
    assert "Check passed: 3 meters to create" in checked.content.decode()
    assert not Meter.objects.exists()

    imported = member_client.post(url, {"file": _upload(GOOD)})
    assert "Imported: 3 meters created" in imported.content.decode()
    assert Meter.objects.filter(organization=org).count() == 3


def test_the_page_shows_errors_for_another_organizations_home(outsider_client, homes):
    response = outsider_client.post(reverse("meter_import"), {"file": _upload(GOOD)})

    assert response.status_code == 200
    assert "no home named" in response.content.decode()
    assert not Meter.objects.exists()


def test_a_viewer_gets_403_and_anonymous_visitors_sign_in(viewer_client, client, homes):
    url = reverse("meter_import")

    assert viewer_client.post(url, {"file": _upload(GOOD)}).status_code == 403
    assert client.get(url).status_code == 302
    assert not Meter.objects.exists()
