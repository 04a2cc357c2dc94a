"""Bulk device import from CSV: the engine, the page, the command and the templates."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse

from devices.import_templates import template_csv
from devices.imports import DEVICE_COLUMNS_LIST, DeviceImporter
from devices.kinds import KINDS
from devices.models import Device
from homes.models import Customer, Home, Meter, Utility
from portal.csv_import import Limits, header_key, run_import
from portal.signals import record_changed

pytestmark = pytest.mark.django_db

HEADER = [
    "name",
    "customId",
    "kind",
    "location",
    "meterId",
    "commencedOperationDate",
    "status",
    "homeName",
    "zipcode",
    "customerName",
    "customerEmail",
    "nameplateCapacityKw",
    "eiaPlantId",
    "capacityKwh",
    "powerKw",
    "brand",
    "model",
    "year",
    "vin",
    "capacityL",
    "heatingElementsW",
    "areaSqft",
    "replacesFurnace",
]
VIN = "1HGCM82633A004352"


def _row(**cells: str) -> dict[str, str]:
    """A row at the Greene St home of Pat Doe; `cells` override or add columns."""
    base = {
        "location": "60 Greene St, Riverside, IA 52327",
        "homeName": "Greene St",
        "zipcode": "52327",
        "customerName": "Pat Doe",
        "customerEmail": "pat@example.com",
        "commencedOperationDate": "2022-08-01",
    }
    return {**base, **cells}


def _solar(custom_id: str = "SP-1", **cells: str) -> dict[str, str]:
    return _row(
        **{
            "name": "Roof solar",
            "customId": custom_id,
            "kind": "solar",
            "nameplateCapacityKw": "7.5",
            **cells,
        }
    )


def _csv(
    rows: list[dict[str, str]], header: list[str] | None = None, delimiter: str = ","
) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(
        out, fieldnames=header or HEADER, delimiter=delimiter, lineterminator="\n"
    )
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode()


def _good_rows() -> list[dict[str, str]]:
    return [
        _solar("SP-1", meterId="M-1"),
        _row(
            name="Heat pump",
            customId="HP-1",
            kind="heat_pump",
            areaSqft="1800",
            replacesFurnace="true",
        ),
        _row(
            name="Battery",
            customId="BAT-1",
            kind="storage",
            capacityKwh="13.5",
            powerKw="5",
            meterId="M-1",
        ),
        _row(
            name="Car",
            customId="EV-1",
            kind="vehicle",
            brand="Honda",
            model="Accord",
            year="2023",
            vin=VIN,
            homeName="Elm Rd",
            zipcode="02134",
            location="12 Elm Rd",
            customerName="Sam Roe",
            customerEmail="sam@example.com",
        ),
        _row(
            name="Tank",
            customId="HWT-1",
            kind="hot_water_tank",
            brand="A. O. Smith",
            model="HPTU-50",
            capacityL="189",
            heatingElementsW="4500; 4500",
        ),
    ]


def _import(org, data: bytes, **kwargs):
    return run_import(DeviceImporter(org), data, **kwargs)


@pytest.fixture
def announcements() -> Iterator[list[tuple[type, bool]]]:
    """Every record_changed sent during the test, as (model, created)."""
    sent: list[tuple[type, bool]] = []

    def receiver(sender: type, created: bool, **kwargs: object) -> None:
        sent.append((sender, created))

    record_changed.connect(receiver, weak=False)
    yield sent
    record_changed.disconnect(receiver)


# --- the engine ------------------------------------------------------------------------------------
def test_it_has_no_two_columns_that_read_the_same():
    keys = [header_key(name) for c in DEVICE_COLUMNS_LIST for name in (c.name, *c.aliases)]
    assert len(keys) == len(set(keys))


def test_it_imports_devices_of_several_kinds_with_their_homes_and_customers(org, announcements):
    result = _import(org, _csv(_good_rows()))

    assert result.errors == []
    assert (result.created, result.updated, result.unchanged) == (5, 0, 0)
    assert "2 homes" in result.summary() and "2 customers" in result.summary()
    devices = {
        d.custom_id: d
        for d in Device.objects.filter(organization=org).select_related("home", "meter")
    }
    assert {d.kind for d in devices.values()} == {
        "solar",
        "electrification",
        "battery",
        "vehicle",
        "hot_water_tank",
    }
    assert devices["SP-1"].details["nameplate_capacity_kw"] == 7.5
    assert devices["HP-1"].details["replaces_furnace"] is True
    assert devices["HWT-1"].details["heating_elements_w"] == [4500, 4500]
    assert (
        devices["SP-1"].meter == devices["BAT-1"].meter
        and devices["SP-1"].meter.meter_number == "M-1"
    )
    greene = devices["SP-1"].home
    assert (greene.name, greene.street, greene.city, greene.state, greene.timezone) == (
        "Greene St",
        "60 Greene St",
        "Riverside",
        "IA",
        "America/Chicago",
    )
    assert greene.customer.email == "pat@example.com"
    assert devices["EV-1"].home.zip_code == "02134"
    assert devices["EV-1"].home.customer.name == "Sam Roe"
    assert Home.objects.filter(organization=org).count() == 2
    assert Customer.objects.filter(organization=org).count() == 2
    # Every write announced itself: 2 customers, 2 homes, 1 meter, 5 devices.
    assert len(announcements) == 10 and all(created for _, created in announcements)


def test_it_changes_nothing_when_the_same_file_is_imported_again(org, announcements):
    data = _csv(_good_rows())
    _import(org, data)
    stamps = dict(Device.objects.values_list("custom_id", "updated_at"))
    home_stamps = dict(Home.objects.values_list("pk", "updated_at"))
    announcements.clear()

    again = _import(org, data)

    assert again.errors == []
    assert (again.created, again.updated, again.unchanged) == (0, 0, 5)
    assert again.also_created == [
        (0, "home", "homes"),
        (0, "customer", "customers"),
        (0, "meter", "meters"),
    ]
    assert announcements == []
    assert dict(Device.objects.values_list("custom_id", "updated_at")) == stamps
    assert dict(Home.objects.values_list("pk", "updated_at")) == home_stamps


def test_it_updates_the_device_with_the_same_custom_id_whatever_its_case(org, announcements):
    _import(org, _csv(_good_rows()))
    announcements.clear()
    rows = _good_rows()
    rows[0] = _solar("sp-1", meterId="M-1", nameplateCapacityKw="9", status="inactive")

    result = _import(org, _csv(rows))

    assert (result.created, result.updated, result.unchanged) == (0, 1, 4)
    device = Device.objects.get(organization=org, custom_id__iexact="sp-1")
    assert device.details["nameplate_capacity_kw"] == 9.0
    assert device.status == "inactive"
    assert announcements == [(Device, False)]
    assert Device.objects.filter(organization=org).count() == 5


def test_it_leaves_fields_of_columns_the_file_lacks_as_they_are(org):
    _import(org, _csv(_good_rows()))
    header = ["name", "customId", "kind", "powerKw"]

    result = _import(
        org,
        _csv([{"name": "Battery", "customId": "BAT-1", "kind": "battery", "powerKw": "7"}], header),
    )

    assert (result.updated, result.errors) == (1, [])
    battery = Device.objects.get(custom_id="BAT-1")
    assert battery.details == {"capacity_kwh": 13.5, "power_kw": 7.0}
    assert (
        battery.meter is not None and battery.commenced_operation_date.isoformat() == "2022-08-01"
    )


def test_it_writes_nothing_and_reports_every_bad_row_when_some_rows_are_bad(org):
    rows = [
        _solar("SP-1"),
        _solar("SP-2", nameplateCapacityKw="lots"),  # row 3
        _solar("SP-3"),
        _solar("SP 4", commencedOperationDate="08/01/2022"),  # row 5: two errors
        _row(name="", customId="X-5", kind="windmill"),  # row 6: two errors
    ]

    result = _import(org, _csv(rows))

    assert not result.ok
    found = {(e.row, e.column) for e in result.errors}
    assert found == {
        (3, "nameplateCapacityKw"),
        (5, "customId"),
        (5, "commencedOperationDate"),
        (6, "name"),
        (6, "kind"),
    }
    assert "Row 3, nameplateCapacityKw: Enter a number." in [str(e) for e in result.errors]
    assert (result.created, result.updated, result.unchanged) == (0, 0, 0)
    assert (
        not Device.objects.exists() and not Home.objects.exists() and not Customer.objects.exists()
    )


@pytest.mark.parametrize(
    ("cells", "column", "message"),
    [
        ({"kind": "solar", "nameplateCapacityKw": ""}, "nameplateCapacityKw", "required for solar"),
        (
            {"kind": "solar", "nameplateCapacityKw": "2000"},
            "eiaPlantId",
            "EIA plant id is required",
        ),
        (
            {
                "kind": "vehicle",
                "brand": "Honda",
                "model": "Accord",
                "year": "2023",
                "vin": "1HGCM82633A004353",
            },
            "vin",
            "check digit",
        ),
        ({"kind": "battery", "capacityKwh": "10"}, "powerKw", "required for battery"),
        (
            {
                "kind": "hot_water_tank",
                "brand": "B",
                "model": "M",
                "capacityL": "100",
                "heatingElementsW": "hot",
            },
            "heatingElementsW",
            "not a power",
        ),
        ({"kind": "battery", "capacityKwh": "10", "powerKw": "5", "vin": VIN}, "vin", "no vin"),
    ],
)
def test_it_surfaces_each_kinds_own_rules_on_their_columns(org, cells, column, message):
    result = _import(org, _csv([_row(name="Device", customId="D-1", **cells)]))

    assert [(e.row, e.column) for e in result.errors] == [(2, column)]
    assert message in result.errors[0].message
    assert not Device.objects.exists()


@pytest.mark.parametrize(
    ("written", "kind", "cells"),
    [
        ("storage", "battery", {"capacityKwh": "5", "powerKw": "5"}),
        ("ev_charging", "ev_charger", {"powerKw": "7.2"}),
        ("EV-Charger", "ev_charger", {"powerKw": "7.2"}),
        ("Heat Pump", "electrification", {"areaSqft": "900"}),
    ],
)
def test_it_reads_wattcarbons_and_friendlier_kind_names(org, written, kind, cells):
    result = _import(org, _csv([_row(name="D", customId="D-1", kind=written, **cells)]))

    assert result.errors == []
    assert Device.objects.get().kind == kind


def test_it_accepts_a_big_solar_plant_with_its_eia_plant_id(org):
    result = _import(org, _csv([_solar(nameplateCapacityKw="2000", eiaPlantId="60123")]))

    assert result.ok
    assert Device.objects.get().details["eia_plant_id"] == "60123"


def test_it_refuses_a_custom_id_given_twice_in_one_file_on_the_second_row(org):
    result = _import(org, _csv([_solar("SP-1"), _solar("SP-2"), _solar("sp-1")]))

    assert [str(e) for e in result.errors] == [
        "Row 4, customId: sp-1 is already on row 2 of this file."
    ]
    assert not Device.objects.exists()


def test_it_accepts_a_custom_id_another_organization_uses(org, other_org):
    assert _import(other_org, _csv([_solar("SP-1")])).ok

    result = _import(org, _csv([_solar("SP-1")]))

    assert (result.created, result.errors) == (1, [])
    assert Device.objects.filter(custom_id="SP-1").count() == 2
    assert Home.objects.filter(organization=org).count() == 1


def test_it_refuses_to_change_a_devices_kind(org):
    _import(org, _csv([_solar("SP-1")]))

    result = _import(
        org, _csv([_row(name="B", customId="SP-1", kind="battery", capacityKwh="5", powerKw="5")])
    )

    assert [(e.row, e.column) for e in result.errors] == [(2, "kind")]
    assert Device.objects.get().kind == "solar"


def test_it_attaches_existing_homes_customers_and_meters(org):
    customer = Customer.objects.create(organization=org, name="Pat Doe", email="PAT@example.com")
    home = Home.objects.create(
        organization=org, customer=customer, name="Greene St", zip_code="52327"
    )
    meter = Meter.objects.create(organization=org, home=home, meter_number="M-1")

    result = _import(org, _csv([_solar("SP-1", meterId="m-1", homeName="greene  st")]))

    assert result.errors == []
    assert result.also_created == [
        (0, "home", "homes"),
        (0, "customer", "customers"),
        (0, "meter", "meters"),
    ]
    device = Device.objects.get()
    assert (device.home, device.meter) == (home, meter)


def test_it_refuses_a_meter_of_another_home_and_another_customer_for_a_home(org):
    customer = Customer.objects.create(organization=org, name="Pat Doe", email="pat@example.com")
    home = Home.objects.create(
        organization=org, customer=customer, name="Greene St", zip_code="52327"
    )
    other = Home.objects.create(
        organization=org, customer=customer, name="Elm Rd", zip_code="02134"
    )
    Meter.objects.create(organization=org, home=other, meter_number="M-9")

    result = _import(
        org,
        _csv(
            [
                _solar("SP-1", meterId="M-9"),
                _solar("SP-2", customerName="Sam Roe", customerEmail="sam@example.com"),
            ]
        ),
    )

    assert [(e.row, e.column) for e in result.errors] == [(2, "meterId"), (3, "customerEmail")]
    assert "Elm Rd" in result.errors[0].message
    assert home.devices.count() == 0


def test_it_imports_a_file_prepared_for_wattcarbon_as_is(org):
    Utility.objects.create(organization=org, ws_utility_id="ia-abc", name="ABC Utility")
    header = [
        "name",
        "customId",
        "location",
        "utility",
        "deviceOwner",
        "meterId",
        "commencedOperationDate",
        "kind",
        "nameplateCapacityKw",
        "inverterDataId",
        "inverterDataSource",
        "externalRegistryName",
        "externalRegistryDeviceId",
        "areaSqft",
        "previousFuel",
        "replacesFurnace",
        "replacesWaterHeater",
        "coldClimate",
        "effectiveUsefulLifeYears",
        "buildingType",
        "heatingBackupSystem",
        "heatPumpHspf",
        "waterHeaterUef",
    ]
    common = {
        "location": "60 Greene St Riverside IA 52327",
        "utility": "ABC Utility",
        "deviceOwner": "Person Person",
        "meterId": "M123",
        "commencedOperationDate": "2022-08-01",
    }
    rows = [
        {
            **common,
            "name": "My device",
            "customId": "SP123",
            "kind": "solar",
            "nameplateCapacityKw": "123",
            "inverterDataId": "1234",
            "inverterDataSource": "enphase",
            "externalRegistryName": "GATS",
            "externalRegistryDeviceId": "45678",
        },
        {
            **common,
            "name": "My device",
            "customId": "HP123",
            "kind": "electrification",
            "areaSqft": "123",
            "previousFuel": "natural_gas",
            "replacesFurnace": "True",
            "replacesWaterHeater": "false",
            "coldClimate": "FALSE",
            "effectiveUsefulLifeYears": "10",
            "buildingType": "single_family_attached",
            "heatingBackupSystem": "electric_resistance",
            "heatPumpHspf": "5",
            "waterHeaterUef": "3",
        },
    ]

    result = _import(org, _csv(rows, header))

    assert result.errors == [] and result.created == 2
    heat_pump = Device.objects.select_related("home__customer", "home__utility", "meter").get(
        custom_id="HP123"
    )
    assert heat_pump.owner_name == "Person Person"
    assert (
        heat_pump.details["replaces_furnace"] is True and heat_pump.details["cold_climate"] is False
    )
    assert heat_pump.details["effective_useful_life_years"] == 10
    home = heat_pump.home
    assert (home.name, home.street, home.city, home.state, home.zip_code) == (
        "60 Greene St",
        "60 Greene St",
        "Riverside",
        "IA",
        "52327",
    )
    assert home.utility.name == "ABC Utility" and home.customer.name == "Person Person"
    assert heat_pump.meter.meter_number == "M123"
    assert Device.objects.get(custom_id="SP123").meter == heat_pump.meter
    assert _import(org, _csv(rows, header)).unchanged == 2


def test_it_reads_utf8_with_a_bom_semicolons_and_decimal_commas(org):
    data = b"\xef\xbb\xbf" + _csv(
        [_solar(name="Toit solaire \u00e9t\u00e9", nameplateCapacityKw="7,5")], delimiter=";"
    )

    result = _import(org, data)

    assert result.errors == []
    device = Device.objects.get()
    assert device.name == "Toit solaire \u00e9t\u00e9"
    assert device.details["nameplate_capacity_kw"] == 7.5


def test_it_numbers_rows_as_the_file_shows_them(org):
    header = "name,customId,kind,homeName,zipcode,customerName,nameplateCapacityKw\n"
    data = (
        header
        + '"Roof\nsolar",SP-1,solar,Greene St,52327,Pat,5\n'  # lines 2-3: a quoted line break
        + "\n"  # line 4: blank, skipped
        + "Roof,SP-2,solar,Greene St,52327,Pat,none\n"  # line 5
    ).encode()

    result = _import(org, data)

    assert [str(e) for e in result.errors] == ["Row 5, nameplateCapacityKw: Enter a number."]


def test_it_follows_excels_sep_line(org):
    data = b"sep=;\n" + _csv([_solar(nameplateCapacityKw="x")], delimiter=";")

    result = _import(org, data)

    assert [(e.row, e.column) for e in result.errors] == [(3, "nameplateCapacityKw")]


def test_it_warns_when_a_spreadsheet_dropped_a_zips_leading_zero(org):
    result = _import(org, _csv([_solar(zipcode="2134")]))

    assert result.ok and Home.objects.get().zip_code == "02134"
    assert [(w.row, w.column) for w in result.warnings] == [(2, "zipcode")]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"name,customId,kind,colour,Size\nA,B,solar,red,1\n", "Unknown columns: colour, Size."),
        (b"name,kind\nA,solar\n", "Missing required column: customId."),
        (b"name,customId,kind,custom_id\nA,B,solar,C\n", "appears twice"),
        (b"", "The file is empty."),
        (b"name,customId,kind\n", "no rows"),
        (b"name,customId,kind\nA,\xff\xfe,solar\n", "Line 2 is not UTF-8"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary"),
        (b"\xff\xfen\x00a\x00", "UTF-16"),
        (b'name,customId,kind\n"A"x,B,solar\n', "Check its quotes"),
    ],
)
def test_it_rejects_a_broken_file_with_one_file_level_error(org, data, message):
    result = _import(org, data)

    assert len(result.errors) == 1
    assert result.errors[0].row is None and message in result.errors[0].message
    assert not Device.objects.exists()


def test_it_rejects_a_file_over_the_size_or_row_limit_with_a_clear_message(org):
    data = _csv([_solar(f"SP-{n}") for n in range(5)])

    by_rows = _import(org, data, limits=Limits(max_rows=4))
    by_size = _import(org, data, limits=Limits(max_bytes=100))

    assert "more than 4 rows" in by_rows.errors[0].message
    assert "at most 0.0 MB" in by_size.errors[0].message or "at most" in by_size.errors[0].message
    assert not Device.objects.exists()


def test_it_reports_a_row_with_too_many_values_by_its_line(org):
    data = _csv([_solar("SP-1")]) + b"a,b,c," + b"x," * len(HEADER) + b"\n"

    result = _import(org, data)

    assert [(e.row, e.column) for e in result.errors] == [(3, None)]


def test_it_writes_nothing_on_a_dry_run(org, announcements):
    result = _import(org, _csv(_good_rows()), dry_run=True)

    assert result.ok and result.created == 5 and "Nothing was written" in result.summary()
    assert not Device.objects.exists() and not Home.objects.exists() and not Meter.objects.exists()
    assert announcements == []


def test_it_imports_a_1000_row_file_in_one_go(org):
    rows = [
        _solar(
            f"SP-{n:04d}",
            homeName=f"Home {n % 400}",
            customerName=f"Customer {n % 400 % 250}",
            customerEmail="",
            meterId=f"M-{n % 400}",
        )
        for n in range(1000)
    ]

    result = _import(org, _csv(rows))

    assert result.errors == []
    assert result.created == 1000
    assert Device.objects.filter(organization=org).count() == 1000
    assert Home.objects.filter(organization=org).count() == 400
    assert Meter.objects.filter(organization=org).count() == 400
    assert Customer.objects.filter(organization=org).count() == 250
    assert _import(org, _csv(rows)).unchanged == 1000


@pytest.mark.parametrize("kind", list(KINDS))
def test_it_imports_each_kinds_template_as_is(org, kind):
    result = _import(org, template_csv(kind).encode())

    assert result.errors == [] and result.created == 1
    assert Device.objects.get().kind == kind


# --- the command -----------------------------------------------------------------------------------
def test_the_command_imports_a_file_and_prints_the_counts(org, tmp_path):
    path_ = tmp_path / "devices.csv"
    path_.write_bytes(_csv(_good_rows()))
    out = io.StringIO()

    call_command("import_devices", "--org", "acme", str(path_), stdout=out)

    assert "5 devices created, 0 updated, 0 unchanged" in out.getvalue()
    assert Device.objects.filter(organization=org).count() == 5


def test_the_command_prints_every_error_and_exits_with_status_1(org, tmp_path):
    path_ = tmp_path / "devices.csv"
    path_.write_bytes(
        _csv([_solar("SP-1", nameplateCapacityKw=""), _solar("SP-2"), _solar("SP-3", kind="tree")])
    )
    err = io.StringIO()

    with pytest.raises(CommandError) as raised:
        call_command("import_devices", "--org", "acme", str(path_), stderr=err)

    assert raised.value.returncode == 1
    assert "2 errors found: nothing was written" in str(raised.value)
    lines = err.getvalue().splitlines()
    assert lines[0].startswith("Row 2, nameplateCapacityKw: ")
    assert lines[1].startswith("Row 4, kind: Unknown kind")
    assert not Device.objects.exists()


def test_the_command_refuses_an_unknown_organization(tmp_path):
    path_ = tmp_path / "devices.csv"
    path_.write_bytes(_csv([_solar()]))

    with pytest.raises(CommandError, match="No organization"):
        call_command("import_devices", "--org", "nobody", str(path_))


# --- the page --------------------------------------------------------------------------------------
def _upload(data: bytes, name: str = "devices.csv") -> io.BytesIO:
    upload = io.BytesIO(data)
    upload.name = name
    return upload


def test_the_page_shows_the_form_the_columns_and_the_templates(member_client):
    response = member_client.get(reverse("device_import"))

    assert response.status_code == 200
    body = response.content.decode()
    assert 'name="dry_run"' in body and 'type="file"' in body
    assert "nameplateCapacityKw" in body and "heatingElementsW" in body
    assert reverse("device_import_template", args=["hot_water_tank"]) in body
    assert "<script>" not in body and "style=" not in body


def test_the_page_checks_only_on_a_dry_run_then_imports(member_client, org):
    url = reverse("device_import")

    checked = member_client.post(url, {"file": _upload(_csv(_good_rows())), "dry_run": "on"})

    assert checked.status_code == 200
    assert "Check passed: 5 devices to create" in checked.content.decode()
    assert not Device.objects.exists()

    imported = member_client.post(url, {"file": _upload(_csv(_good_rows()))})

    assert "Imported: 5 devices created" in imported.content.decode()
    assert Device.objects.filter(organization=org).count() == 5


def test_the_page_lists_every_error_in_a_table(member_client):
    data = _csv([_solar("SP-1", nameplateCapacityKw=""), _solar("SP-2", kind="tree")])

    response = member_client.post(reverse("device_import"), {"file": _upload(data)})

    body = response.content.decode()
    assert response.status_code == 200
    assert 'id="import-errors"' in body
    assert '<td class="nowrap">2</td>' in body and '<td class="nowrap">3</td>' in body
    assert "nothing was written" in body
    assert not Device.objects.exists()


@pytest.mark.parametrize(
    "data", [b"\x00\x01\x02garbage", b"\xef\xbb\xbf", b'"' * 5000, b"a;b\n1;2\n"]
)
def test_the_page_answers_garbage_with_an_error_not_a_500(member_client, data):
    response = member_client.post(reverse("device_import"), {"file": _upload(data)})

    assert response.status_code == 200
    assert (
        "nothing was written" in response.content.decode()
        or "The submitted file is empty" in response.content.decode()
    )


def test_the_page_refuses_a_file_over_10_mb_with_a_clear_message(member_client):
    data = b"name,customId,kind\n" + b"x" * (10 * 1024 * 1024)

    response = member_client.post(reverse("device_import"), {"file": _upload(data)})

    assert response.status_code == 200
    assert "at most 10.0 MB can be imported at once" in response.content.decode()
    assert not Device.objects.exists()


def test_the_page_imports_into_the_members_own_organization(outsider_client, org, other_org):
    response = outsider_client.post(reverse("device_import"), {"file": _upload(_csv([_solar()]))})

    assert response.status_code == 200
    assert Device.objects.get().organization == other_org
    assert not Device.objects.filter(organization=org).exists()


def test_a_viewer_gets_403_and_writes_nothing(viewer_client):
    url = reverse("device_import")

    assert viewer_client.get(url).status_code == 403
    assert viewer_client.post(url, {"file": _upload(_csv([_solar()]))}).status_code == 403
    assert not Device.objects.exists()


def test_an_anonymous_visitor_is_sent_to_sign_in(client):
    response = client.get(reverse("device_import"))

    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_the_template_of_a_kind_downloads_as_csv(member_client):
    response = member_client.get(reverse("device_import_template", args=["solar"]))

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert 'filename="gridfolio-devices-solar.csv"' in response["Content-Disposition"]
    header, example = list(csv.reader(io.StringIO(response.content.decode())))
    assert header[:3] == ["name", "customId", "kind"] and "nameplateCapacityKw" in header
    assert example[2] == "solar"
    assert member_client.get("/devices/import/template/windmill.csv").status_code == 404
