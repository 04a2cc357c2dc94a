"""Hostile readings files through every way in: the parser, the JSON upload API (device, and a
meter's dry run), the import_readings command, and the upload pages' drop zones (a device's page
and the Uploads page). Each file must be refused for the right reason with a message that names
the row, the column or the file; nothing may be stored; the big ones are parsed in bounded memory;
the report pages escape what the file held and the report CSV neutralises spreadsheet formulas.

The corpus is tests/hostile/corpus.py. A declared 1 GB request body and an endless stream on the
command's standard input are here too, as is the readings export (numbers only).
"""

from __future__ import annotations

import csv
import html
import io
import math
import re
import sys
import zlib
from array import array
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db.models import Count, Max, Sum
from django.test import Client
from django.urls import reverse

from readings import store
from readings.models import Reading, Upload, UploadStatus
from readings.parser import (
    DEFAULT_LIMITS,
    HourlyReadings,
    Issue,
    Limits,
    Report,
    parse_readings,
    report_to_csv,
)
from tests.hostile.corpus import (
    ANY_ROW,
    FORMULA,
    HEADER,
    READINGS_CASES,
    SCRIPT,
    TZ,
    EndlessBody,
    MiB,
    PeakMemory,
    ReadingsCase,
)

# The site (home, device, meter) and DATA_DIR are tests/conftest.py's.
pytestmark = pytest.mark.usefixtures("data_dir")
JSON = {"accept": "application/json"}
HTMX = {"HX-Request": "true"}
MEMORY_BOUND = 100 * MiB
# Spreadsheets run a cell that starts with one of these (OWASP, "CSV Injection").
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
EXPORT_LINE = re.compile(
    r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}[+-]\d{2}:\d{2},-?\d+(\.\d+)?(e[+-]\d+)?"
)


def _params(path_name: str) -> list:
    params = []
    for case in READINGS_CASES:
        if path_name in case.not_on:
            continue
        marks = []
        params.append(pytest.param(case, id=case.name, marks=marks))
    return params


# --- what a refusal must say ------------------------------------------------------------------
def _as_dicts(issues: Iterable[Issue | dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        issue
        if isinstance(issue, dict)
        else {
            "row": issue.row,
            "column": issue.column,
            "message": issue.message,
            "code": issue.code,
        }
        for issue in issues
    ]


def assert_refused(
    issues: Iterable[Issue | dict[str, Any]], case: ReadingsCase, lines: int
) -> None:
    """The file was refused for the case's reason, and every message says where."""
    errors = _as_dicts(issues)
    filename = case.filename
    right = [error for error in errors if error["code"] in case.codes]
    assert right, f"expected one of {sorted(case.codes)}, got {[e['code'] for e in errors]}"
    if case.row is None:
        assert any(f"'{filename}'" in error["message"] for error in right), right
    elif case.row == ANY_ROW:
        assert any(error["row"] for error in right), right
    else:
        assert any(error["row"] == case.row for error in right), right
    for error in errors:
        message = error["message"]
        assert message.strip() and len(message) <= 600, message
        named = error["row"] is not None or error["column"] or f"'{filename}'" in message
        assert named, f"this message names no row, column or file: {message!r}"
        if error["row"] is not None:
            assert 1 <= error["row"] <= lines, f"row {error['row']} of a {lines}-line file"


def line_count(data: bytes) -> int:
    """Lines of the (inflated) file as the parser numbers them: an upper bound for a row.

    A gzip file is inflated a chunk at a time and only counted: past 16 MB (a bomb) or when it
    is damaged, the refusal is about the file as a whole and no row bound is needed.
    """
    if data[:2] != b"\x1f\x8b":
        return data.count(b"\n") + 1
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    lines, inflated, rest = 1, 0, data
    while rest and inflated < 16 * MiB:
        try:
            out = inflater.decompress(rest, MiB)
        except zlib.error:
            return sys.maxsize
        lines += out.count(b"\n")
        inflated += len(out)
        rest = inflater.unconsumed_tail
        if inflater.eof:
            return lines
    return sys.maxsize if rest or not inflater.eof else lines


def assert_formulas_neutralised(text: str) -> None:
    """Every cell of a CSV a spreadsheet would open starts harmlessly."""
    for record in csv.reader(io.StringIO(text)):
        for cell in record:
            assert not cell.startswith(FORMULA_STARTS), f"formula-looking cell: {cell!r}"


def assert_escaped(content: bytes) -> None:
    text = content.decode()
    assert SCRIPT not in text
    assert "<img src=x onerror" not in text


# --- the parser -------------------------------------------------------------------------------
@pytest.mark.parametrize("case", _params("parser"))
def test_it_refuses_each_hostile_file_in_the_parser(case: ReadingsCase) -> None:
    data = case.build()
    stream = io.BytesIO(data)
    with PeakMemory(enabled=case.big) as memory:
        result = parse_readings(stream, tz=TZ, filename=case.filename)
    assert not result.ok
    assert result.report.error_count >= len(result.report.errors) >= 1
    assert_refused(result.report.errors, case, line_count(data))
    if case.big:
        assert memory.peak < MEMORY_BOUND, f"{memory.peak / MiB:.0f} MB to parse {case.name}"


def test_it_parses_a_1_gb_stream_in_bounded_memory_and_stops_at_the_limit() -> None:
    limit = DEFAULT_LIMITS.max_bytes
    stream = EndlessBody(HEADER, 1 << 30, read_limit=limit + 2 * MiB)
    with PeakMemory() as memory:
        result = parse_readings(stream, tz=TZ, filename="big.csv")
    assert [error.code for error in result.report.errors] == ["too_large"]
    assert "'big.csv' is larger than 100 MB" in result.report.errors[0].message
    assert stream.position <= limit + MiB
    assert memory.peak < MEMORY_BOUND


# --- the database paths -----------------------------------------------------------------------
@pytest.fixture
def stored(device, meter) -> dict[str, Any]:
    """A day of readings already stored for the device and the meter: a hostile file must leave
    them exactly as they are."""
    start = int(datetime(2023, 6, 1, tzinfo=UTC).timestamp())
    epochs = array("q", range(start, start + 24 * 3600, 3600))
    for owner, value in ((device, 2.5), (meter, -1.25)):
        series = store.series_for(owner)
        store.store_readings(series, HourlyReadings(epochs, array("d", [value] * 24)))
    return _snapshot()


def _snapshot() -> dict[str, Any]:
    return {
        **Reading.objects.aggregate(n=Count("pk"), total=Sum("value_kwh"), last=Max("instant")),
        "stored_uploads": Upload.objects.filter(status=UploadStatus.STORED).count(),
    }


@pytest.fixture
def client(member) -> Client:
    """A member's client that answers a crash with a 500 instead of raising it into the test."""
    client = Client(raise_request_exception=False)
    client.force_login(member, backend="django.contrib.auth.backends.ModelBackend")
    return client


def _file(case: ReadingsCase, data: bytes) -> SimpleUploadedFile:
    content_type = "application/gzip" if case.compressed else "text/csv"
    return SimpleUploadedFile(case.filename, data, content_type=content_type)


@pytest.mark.parametrize("case", _params("api_device"))
def test_it_refuses_each_hostile_file_on_the_json_api(client, device, stored, case) -> None:
    data = case.build()
    url = reverse("device_readings_upload", args=[device.pk])
    with PeakMemory(enabled=case.big) as memory:
        response = client.post(url, {"file": _file(case, data)}, headers=JSON)
    assert response.status_code == 422, response.content[:300]
    body = response.json()
    assert body["status"] == UploadStatus.REJECTED
    assert (body["inserted"], body["updated"], body["unchanged"]) == (0, 0, 0)
    assert_refused(body["errors"], case, line_count(data))
    assert _snapshot() == stored
    assert Upload.objects.get(pk=body["upload_id"]).status == UploadStatus.REJECTED
    if case.big:
        assert memory.peak < MEMORY_BOUND, f"{memory.peak / MiB:.0f} MB for {case.name}"


@pytest.mark.parametrize("case", _params("api_meter_dry_run"))
def test_it_refuses_each_hostile_file_in_a_meter_dry_run(client, meter, stored, case) -> None:
    data = case.build()
    uploads = Upload.objects.count()
    url = reverse("meter_readings_upload", args=[meter.pk])
    response = client.post(url, {"file": _file(case, data), "dry_run": "1"}, headers=JSON)
    assert response.status_code == 422, response.content[:300]
    body = response.json()
    assert (body["status"], body["upload_id"]) == (UploadStatus.REJECTED, None)
    assert_refused(body["errors"], case, line_count(data))
    assert _snapshot() == stored
    assert Upload.objects.count() == uploads  # a dry run records nothing at all


@pytest.mark.parametrize("case", _params("command"))
def test_it_refuses_each_hostile_file_in_the_import_command(
    org, device, stored, tmp_path, case
) -> None:
    data = case.build()
    source = tmp_path / case.filename
    source.write_bytes(data)
    out, err = io.StringIO(), io.StringIO()
    with pytest.raises(CommandError, match="was rejected") as raised:
        call_command(
            "import_readings", "--org", org.slug, "--device", device.custom_id, str(source),
            stdout=out, stderr=err,
        )  # fmt: skip
    assert raised.value.returncode == 1
    upload = Upload.objects.latest("pk")
    assert upload.status == UploadStatus.REJECTED
    assert_refused(upload.report["errors"], case, line_count(data))
    printed = err.getvalue()
    for error in upload.report["errors"][:20]:
        where = f"Row {error['row']}" if error["row"] is not None else "File:"
        assert where in printed or f"Column {error['column']}" in printed
    assert "Stored" not in out.getvalue()
    assert _snapshot() == stored


class EndlessStdin:
    def __init__(self, stream: EndlessBody) -> None:
        self.buffer = stream


def test_it_stops_reading_an_endless_standard_input(org, device, stored, monkeypatch) -> None:
    limit = DEFAULT_LIMITS.max_bytes
    stream = EndlessBody(HEADER, 1 << 30, read_limit=limit + 16 * MiB)
    monkeypatch.setattr(sys, "stdin", EndlessStdin(stream))
    with pytest.raises(CommandError, match="was rejected"):
        call_command(
            "import_readings", "--org", org.slug, "--device", device.custom_id, "-",
            stdout=io.StringIO(), stderr=io.StringIO(),
        )  # fmt: skip
    assert stream.position <= limit + 2 * MiB
    assert _snapshot() == stored


# --- the upload pages -------------------------------------------------------------------------
def _check_on_page(client, url: str, case: ReadingsCase, data: bytes, capture) -> None:
    newest = Upload.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    # A big file is checked by a Celery task queued on commit: run it here.
    with capture(execute=True):
        response = client.post(url, {"files": [_file(case, data)]}, headers=HTMX)
    assert response.status_code in (200, 422), response.content[:300]
    assert_escaped(response.content)
    created = list(Upload.objects.filter(pk__gt=newest))
    if not created:  # refused before checking (the file names another record)
        assert response.status_code == 422
        assert "was not checked" in response.content.decode()
        return
    [upload] = created
    if upload.report.get("skippable_rows"):
        # Only row errors: the file waits for a person to choose to skip them (nothing stored,
        # no confirmation without naming the rows); the rows offered are exactly the errors'.
        assert upload.status == UploadStatus.PREVIEW, upload.report
        assert upload.report["skippable_rows"] == sorted(
            {e["row"] for e in upload.report["errors"]}
        )
        assert client.post(reverse("upload_confirm", args=[upload.pk])).status_code == 302
        assert Upload.objects.get(pk=upload.pk).status == UploadStatus.PREVIEW
    else:
        assert upload.status == UploadStatus.REJECTED, upload.report
        assert not upload.stored_file
    assert_refused(upload.report["errors"], case, line_count(data))
    page = client.get(reverse("upload_detail", args=[upload.pk]))
    assert page.status_code == 200
    assert_escaped(page.content)
    shown = html.unescape(page.content.decode())
    first = next(e for e in upload.report["errors"] if e["code"] in case.codes)
    assert first["message"] in shown
    report = client.get(reverse("upload_report_csv", args=[upload.pk]))
    assert report.status_code == 200
    assert_formulas_neutralised(report.content.decode())


@pytest.mark.parametrize("case", _params("ui_device"))
def test_it_refuses_each_hostile_file_on_a_devices_drop_zone(
    client, device, stored, django_capture_on_commit_callbacks, case
) -> None:
    data = case.build()
    url = reverse("device_readings_check", args=[device.pk])
    _check_on_page(client, url, case, data, django_capture_on_commit_callbacks)
    assert _snapshot() == stored


@pytest.mark.parametrize("case", _params("ui_uploads"))
def test_it_refuses_each_hostile_file_on_the_uploads_page(
    client, device, stored, django_capture_on_commit_callbacks, case
) -> None:
    data = case.build()
    url = reverse("uploads_check")
    _check_on_page(client, url, case, data, django_capture_on_commit_callbacks)
    assert _snapshot() == stored


# --- bodies that claim to be huge -------------------------------------------------------------
BOUNDARY = "hostile-boundary"


def _multipart_head(field: str, filename: str, extra: str = "") -> bytes:
    return (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{field}"; '
        f'filename="{filename}"\r\nContent-Type: text/csv\r\n{extra}\r\n'
    ).encode() + HEADER


def _declared_gigabyte(client: Client, url: str, field: str, **headers: str) -> EndlessBody:
    """POST a body that declares 1 GB (Content-Length) and would deliver it if read."""
    size = 1 << 30
    stream = EndlessBody(
        _multipart_head(field, "big.csv"),
        size,
        f"\r\n--{BOUNDARY}--\r\n".encode(),
        read_limit=8 * MiB,
    )
    response = client.post(
        url,
        data=b"",
        content_type=f"multipart/form-data; boundary={BOUNDARY}",
        CONTENT_TYPE=f"multipart/form-data; boundary={BOUNDARY}",
        CONTENT_LENGTH=str(size),
        headers=headers,
        **{"wsgi.input": stream},
    )
    assert response.status_code in (400, 413), response.content[:300]
    assert b"MB" in response.content  # says what the limit is
    assert stream.position < MiB
    return stream


@pytest.fixture
def raising_client(member) -> Client:
    client = Client()
    client.force_login(member, backend="django.contrib.auth.backends.ModelBackend")
    return client


def test_it_refuses_a_declared_1_gb_body_on_the_json_api(raising_client, device, stored) -> None:
    url = reverse("device_readings_upload", args=[device.pk])
    _declared_gigabyte(raising_client, url, "file", accept="application/json")
    assert _snapshot() == stored


def test_it_refuses_a_declared_1_gb_body_on_a_meters_json_api(
    raising_client, meter, stored
) -> None:
    url = reverse("meter_readings_upload", args=[meter.pk])
    _declared_gigabyte(raising_client, url, "file", accept="application/json")
    assert _snapshot() == stored


def test_it_refuses_a_declared_1_gb_body_on_a_devices_drop_zone(
    raising_client, device, stored
) -> None:
    url = reverse("device_readings_check", args=[device.pk])
    _declared_gigabyte(raising_client, url, "files", **HTMX)
    assert _snapshot() == stored


def test_it_refuses_a_declared_1_gb_body_on_the_uploads_page(
    raising_client, device, stored
) -> None:
    _declared_gigabyte(raising_client, reverse("uploads_check"), "files", **HTMX)
    assert _snapshot() == stored


def test_it_judges_a_part_claiming_1_gb_by_the_bytes_it_has(client, device, stored) -> None:
    """A multipart part's own Content-Length header is a claim, not a size: the file is what
    arrived (a header line only here), refused for that, and recorded at its real size."""
    body = (
        _multipart_head("file", "claims-1gb.csv", "Content-Length: 1073741824\r\n")
        + f"\r\n--{BOUNDARY}--\r\n".encode()
    )
    response = client.post(
        reverse("device_readings_upload", args=[device.pk]),
        data=body,
        content_type=f"multipart/form-data; boundary={BOUNDARY}",
        headers=JSON,
    )
    assert response.status_code == 422
    answer = response.json()
    assert [(e["code"], e["row"]) for e in answer["errors"]] == [("header_only", 1)]
    assert Upload.objects.get(pk=answer["upload_id"]).size_bytes == len(HEADER)
    assert _snapshot() == stored


# --- exports ----------------------------------------------------------------------------------
def test_it_neutralises_formulas_in_the_report_csv() -> None:
    texts = [FORMULA, "+1+1", "-2+3", "@SUM(A1)", "\t=1", "\r=1", SCRIPT, "plain", ""]
    issues = tuple(
        Issue("error", n + 2, text or None, text, "bad_value") for n, text in enumerate(texts)
    )
    empty = parse_readings(io.BytesIO(b""), tz=TZ).report.summary
    report = Report(issues, (), len(issues) + 5, 0, empty)
    text = report_to_csv(report)
    records = list(csv.reader(io.StringIO(text)))
    assert records[0] == ["severity", "row", "column", "message"]
    assert_formulas_neutralised(text)
    by_row = {record[1]: record for record in records[1:]}
    assert by_row["2"][2:] == ["'" + FORMULA, "'" + FORMULA]
    assert by_row["8"][3] == SCRIPT  # CSV is not HTML: text stays text, unescaped
    assert records[-1][3] == "... and 5 more not listed"


def _export_rows(response) -> Iterator[str]:
    content = b"".join(response.streaming_content).decode()
    assert content.endswith("\n")
    yield from content.splitlines()


def test_it_exports_readings_as_numbers_only(client, device) -> None:
    values = [-1.5, 0.0, -0.0, 1e-300, 5e-324, 999_999_999.0, -1e8, 123.456, 0.1 + 0.2]
    start = int(datetime(2024, 3, 10, 3, tzinfo=UTC).timestamp())  # across a DST change
    epochs = array("q", range(start, start + 3600 * len(values), 3600))
    series = store.series_for(device)
    store.store_readings(series, HourlyReadings(epochs, array("d", values)))
    # What the database kept (SQLite keeps -0.0 as 0.0): the export must give back exactly that.
    kept = list(
        Reading.objects.filter(series=series)
        .order_by("instant")
        .values_list("value_kwh", flat=True)
    )
    response = client.get(reverse("device_readings_csv", args=[device.pk]))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    lines = list(_export_rows(response))
    assert lines[0] == "datetime,value_kwh"
    for line in lines[1:]:
        assert EXPORT_LINE.fullmatch(line), line
        moment, value = line.split(",")
        assert not moment.startswith(FORMULA_STARTS)
        if value.startswith("-"):  # a negative number is data, not a formula
            assert math.isfinite(float(value))
        else:
            assert not value.startswith(FORMULA_STARTS)
    # And it uploads back unchanged: the same instants, the same floats.
    text = ("\n".join(lines) + "\n").encode()
    parsed = parse_readings(io.BytesIO(text), tz=TZ)
    assert parsed.ok
    assert list(parsed.readings.epochs) == list(epochs)
    assert [repr(value) for value in parsed.readings.values_kwh] == [repr(v) for v in kept]
    assert kept == values  # and those are the values stored (-0.0 == 0.0)


def test_it_counts_blank_lines_against_the_row_limit_in_bounded_memory() -> None:
    """The five-million-blank-lines case at a smaller row limit (the same 1 MiB chunks), so
    tracemalloc can watch it: blank lines count as rows, and memory stays flat."""
    limits = Limits(max_rows=300_000)
    data = HEADER + b"\n" * 300_001
    stream = io.BytesIO(data)
    with PeakMemory() as memory:
        result = parse_readings(stream, tz=TZ, filename="blank.csv", limits=limits)
    assert [(e.code, e.row) for e in result.report.errors] == [("too_many_rows", None)]
    assert "'blank.csv' has more than 300,000 rows" in result.report.errors[0].message
    assert memory.peak < 40 * MiB
