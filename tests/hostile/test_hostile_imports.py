"""Hostile files through the device and meter imports: `run_import` itself, the import pages
(/devices/import/, /meters/import/) and the commands (import_devices, import_meters).

Each file must be refused with "Row N, column: message" (or "File: message") naming what is wrong,
the page must escape what the file held, nothing may be written, and the big files are read in
bounded memory. The corpus is tests/hostile/corpus.py; cases the product does not refuse yet are
strict xfails naming the fix in the report.
"""

from __future__ import annotations

import html
import io
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client
from django.urls import reverse

from devices.imports import DeviceImporter
from devices.models import Device
from homes.imports import MeterImporter
from homes.models import Customer, Home, Meter
from portal.csv_import import DEFAULT_LIMITS, Issue, run_import
from tests.factories import CustomerFactory, HomeFactory
from tests.hostile.corpus import (
    DEVICE_HEADER,
    IMPORT_CASES,
    IMPORT_PATHS,
    SCRIPT,
    EndlessBody,
    ImportCase,
    MiB,
    PeakMemory,
    device_file,
)

MEMORY_BOUND = 100 * MiB
MESSAGE_MAX = 1000  # a message longer than this is not one a person reads
BOUNDARY = "hostile-boundary"


def _params(path_name: str) -> list:
    assert path_name in IMPORT_PATHS
    params = []
    for case in IMPORT_CASES:
        marks = []
        params.append(pytest.param(case, id=f"{case.importer}-{case.name}", marks=marks))
    return params


def _importer(case: ImportCase, org) -> DeviceImporter | MeterImporter:
    return DeviceImporter(org) if case.importer == "device" else MeterImporter(org)


def assert_import_refused(errors: list[Issue], case: ImportCase) -> None:
    """Refused for the case's reason, and every message is short and says where."""
    assert errors, "the file was accepted"
    if case.row is None:
        file_level = [error.message for error in errors if error.row is None]
        assert any(_says(message, case) for message in file_level), [str(e)[:200] for e in errors]
    else:
        assert any((error.row, error.column) == (case.row, case.column) for error in errors), [
            str(e)[:200] for e in errors
        ]
    for error in errors:
        assert error.message.strip()
        assert len(error.message) <= MESSAGE_MAX, f"a {len(error.message):,}-character message"
        text = str(error)
        assert text.startswith(("Row ", "File: ")), text[:200]


def assert_escaped(content: bytes) -> None:
    assert SCRIPT not in content.decode()


def _says(text: str, case: ImportCase) -> bool:
    """Whether a file-level message says what the case expects (any of its "|" words)."""
    return any(word.lower() in text.lower() for word in (case.column or "").split("|"))


# --- fixtures ---------------------------------------------------------------------------------
@pytest.fixture
def client(member) -> Client:
    """A member's client that answers a crash with a 500 instead of raising it into the test."""
    client = Client(raise_request_exception=False)
    client.force_login(member, backend="django.contrib.auth.backends.ModelBackend")
    return client


@pytest.fixture
def world(request, org) -> dict[str, Any]:
    """What the organization holds before the import: for a meter file, the home its rows name
    (a device file creates its home, so none is there for it)."""
    case: ImportCase = request.getfixturevalue("case")
    if case.importer == "meter":
        customer = CustomerFactory(organization=org, name="Ann Lee")
        HomeFactory(organization=org, customer=customer, name="Home A", zip_code="52327")
    return _snapshot()


def _snapshot() -> dict[str, Any]:
    return {
        model.__name__: sorted(map(str, model.objects.all()))
        for model in (Device, Home, Customer, Meter)
    }


# --- the three paths --------------------------------------------------------------------------
@pytest.mark.parametrize("case", _params("run_import"))
def test_it_refuses_each_hostile_import_in_run_import(org, world, case: ImportCase) -> None:
    data = case.build()
    importer = _importer(case, org)
    with PeakMemory(enabled=case.big) as memory:
        result = run_import(importer, data)
    assert not result.ok
    assert not result.written
    assert "nothing was written" in result.summary()
    assert_import_refused(result.errors, case)
    assert _snapshot() == world
    if case.big:
        assert memory.peak < MEMORY_BOUND, f"{memory.peak / MiB:.0f} MB for {case.name}"


@pytest.mark.parametrize("case", _params("page"))
def test_it_refuses_each_hostile_import_on_the_import_page(client, world, case: ImportCase) -> None:
    data = case.build()
    url = reverse("device_import" if case.importer == "device" else "meter_import")
    response = client.post(url, {"file": SimpleUploadedFile(f"{case.name}.csv", data)})
    assert response.status_code == 200, response.status_code
    assert_escaped(response.content)
    shown = html.unescape(response.content.decode())
    result = response.context.get("result")
    if result is None:  # refused by the form itself (the size): the field says why
        form = response.context["form"]
        assert case.row is None
        assert any(_says(error, case) for error in form.errors["file"])
        assert form.errors["file"][0] in shown
    else:
        assert_import_refused(result.errors, case)
        assert "nothing was written" in shown
        if case.row is None:
            expected = next(e for e in result.errors if e.row is None)
        else:
            expected = next(
                e for e in result.errors if (e.row, e.column) == (case.row, case.column)
            )
        assert expected.message in shown
    assert _snapshot() == world


@pytest.mark.parametrize("case", _params("command"))
def test_it_refuses_each_hostile_import_in_the_command(
    org, world, tmp_path, case: ImportCase
) -> None:
    source = tmp_path / f"{case.name}.csv"
    source.write_bytes(case.build())
    command = "import_devices" if case.importer == "device" else "import_meters"
    out, err = io.StringIO(), io.StringIO()
    with pytest.raises(CommandError, match="nothing was written"):
        call_command(command, "--org", org.slug, str(source), stdout=out, stderr=err)
    printed = err.getvalue()
    if case.row is None:
        assert "File: " in printed
        assert _says(printed, case)
    else:
        where = f"Row {case.row}, {case.column}: " if case.column else f"Row {case.row}: "
        assert where in printed
    assert all(len(line) <= MESSAGE_MAX + 40 for line in printed.splitlines())
    assert _snapshot() == world


# --- sizes that are claimed, and files that cost more than they weigh -------------------------
class ClaimsAGigabyte(io.BytesIO):
    """An uploaded file whose size says 1 GB; reading it is a failure of the size check."""

    size = 1 << 30

    def read(self, *args: Any) -> bytes:
        raise AssertionError("read a file whose declared size is over the limit")


def test_it_refuses_a_file_declaring_1_gb_without_reading_it(org) -> None:
    result = run_import(DeviceImporter(org), ClaimsAGigabyte())
    assert [str(error) for error in result.errors] == [
        "File: The file is 1024.0 MB; at most 10.0 MB can be imported at once. "
        "Split it into smaller files."
    ]


@pytest.mark.parametrize("url_name", ["device_import", "meter_import"])
def test_it_refuses_a_declared_1_gb_body_on_the_import_pages(member, url_name: str) -> None:
    client = Client()
    client.force_login(member, backend="django.contrib.auth.backends.ModelBackend")
    size = 1 << 30
    head = (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="big.csv"\r\n'
        f"Content-Type: text/csv\r\n\r\n{DEVICE_HEADER}"
    ).encode()
    stream = EndlessBody(head, size, f"\r\n--{BOUNDARY}--\r\n".encode(), read_limit=8 * MiB)
    response = client.post(
        reverse(url_name),
        data=b"",
        content_type=f"multipart/form-data; boundary={BOUNDARY}",
        CONTENT_TYPE=f"multipart/form-data; boundary={BOUNDARY}",
        CONTENT_LENGTH=str(size),
        **{"wsgi.input": stream},
    )
    assert response.status_code in (400, 413)
    assert b"MB" in response.content
    assert stream.position < MiB
    assert _snapshot() == {"Device": [], "Home": [], "Customer": [], "Meter": []}


def test_it_reads_a_ten_mib_row_of_tiny_cells_in_bounded_memory(org) -> None:
    header = DEVICE_HEADER.rstrip("\n")
    room = DEFAULT_LIMITS.max_bytes - len(header) - 64
    data = f"{header}\nRoof,SP-1,solar,Home A,52327,Ann,5{',zz' * (room // 3)}\n".encode()
    assert len(data) <= DEFAULT_LIMITS.max_bytes
    with PeakMemory() as memory:
        result = run_import(DeviceImporter(org), data)
    assert not result.ok
    assert memory.peak < MEMORY_BOUND, f"{memory.peak / MiB:.0f} MB for a 10 MB file"


# --- what the defences must not refuse --------------------------------------------------------
def test_it_stores_sql_like_and_html_like_text_verbatim(org) -> None:
    """Text that looks like SQL or HTML is data: stored as typed (queries are parameterised,
    pages escape), and a negative coordinate is a number, not a formula."""
    name = "Robert'); DROP TABLE devices_device;--"
    data = device_file(
        name=name,
        homeName="<b>Oak</b> & Elm",
        location="-33.8688, 151.2093",
        ownerName="O'Brien; SELECT 1",
    )
    result = run_import(DeviceImporter(org), data)
    assert result.ok, [str(e) for e in result.errors]
    device = Device.objects.select_related("home").get()
    assert (device.name, device.owner_name) == (name, "O'Brien; SELECT 1")
    assert device.home.name == "<b>Oak</b> & Elm"
    assert str(device.home.latitude) == "-33.868800"
    assert Device.objects.count() == 1  # the table is still there


def test_it_escapes_the_import_page(client) -> None:
    response = client.post(
        reverse("device_import"),
        {"file": SimpleUploadedFile("x.csv", device_file(kind=SCRIPT, name=SCRIPT))},
    )
    assert response.status_code == 200
    assert_escaped(response.content)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in response.content.decode()
    assert Device.objects.count() == 0
