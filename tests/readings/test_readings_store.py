"""Storing readings (readings/store.py, readings/pgcopy.py) and `manage.py import_readings`.

The same module runs on SQLite (the generic ORM path) and on PostgreSQL (binary COPY); the tests
that compare the two paths need PostgreSQL and are skipped on SQLite.
"""

from __future__ import annotations

import gzip
import io
import json
from array import array
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.db import connection, transaction

from portal.signals import readings_changed
from readings import pgcopy, store
from readings.counts import StoreCounts
from readings.models import Reading, Series, SeriesQuantity, Upload, UploadStatus
from readings.parser import HourlyReadings, parse_readings
from readings.parser.report import report_to_dict
from readings.store import context_for, series_for, store_readings
from readings.uploads import check_upload, confirm_upload, import_readings
from tests.factories import DeviceFactory, MeterFactory

START = datetime(2024, 6, 1, tzinfo=UTC)
needs_postgresql = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="compares the PostgreSQL COPY path with the generic path; run with DATABASE_URL=postgres://...",
)


# ---- helpers ---------------------------------------------------------------------------------


def hour(n: int) -> datetime:
    return START + timedelta(hours=n)


def csv_of(points: dict[int, float]) -> bytes:
    """A file of `hour number -> kWh`, timestamps in UTC with an explicit offset."""
    lines = ["datetime,value_kwh"]
    lines += [f"{hour(n).isoformat()},{value}" for n, value in sorted(points.items())]
    return ("\n".join(lines) + "\n").encode()


def day_of(value: float = 0.5, hours: int = 24, first: int = 0) -> dict[int, float]:
    return {n: value + n / 1000 for n in range(first, first + hours)}


def stored(series: Series) -> dict[datetime, float]:
    return dict(Reading.objects.filter(series=series).values_list("instant", "value_kwh"))


def readings_of(points: dict[int, float]) -> HourlyReadings:
    ordered = sorted(points)
    return HourlyReadings(
        array("q", [int(hour(n).timestamp()) for n in ordered]),
        array("d", [points[n] for n in ordered]),
    )


def counts(upload: Upload) -> tuple[int, int, int]:
    return upload.inserted, upload.updated, upload.unchanged


@pytest.fixture(autouse=True)
def data_dir(settings, tmp_path: Path) -> Path:
    settings.DATA_DIR = tmp_path
    return tmp_path


@pytest.fixture
def device(org):
    return DeviceFactory(organization=org, custom_id="SP-ROOF-1")


@pytest.fixture
def series(device) -> Series:
    return series_for(device)


@pytest.fixture
def changes():
    """Every readings_changed sent: (series id, start, end)."""
    sent: list[tuple[int, datetime, datetime]] = []

    def receiver(sender, series, start, end, **kwargs):
        sent.append((series.pk, start, end))

    readings_changed.connect(receiver, dispatch_uid="test_readings_store")
    yield sent
    readings_changed.disconnect(dispatch_uid="test_readings_store")


# ---- series and reports ----------------------------------------------------------------------


def test_it_creates_one_series_per_owner_with_its_quantity(org, device):
    meter = MeterFactory(organization=org)
    assert series_for(device).quantity == SeriesQuantity.GENERATION
    assert series_for(device).pk == series_for(device).pk
    assert series_for(meter).quantity == SeriesQuantity.CONSUMPTION
    assert Series.objects.count() == 2


def test_it_passes_the_devices_kind_and_nameplate_to_the_parser(series, device):
    context = context_for(series)
    assert context.kind == "solar"
    assert context.nameplate_kw == 7.2
    assert context.commenced_on == device.commenced_operation_date


def test_it_turns_a_report_into_json_safe_data(series):
    points = day_of() | day_of(first=30)  # a 6-hour gap
    result = parse_readings(io.BytesIO(csv_of(points)), tz="America/Chicago", filename="a.csv")
    data = report_to_dict(result.report)
    json.dumps(data)  # raises on a datetime, tuple of dataclasses, NaN...
    summary = data["summary"]
    assert data["ok"] is True
    assert summary["first"] == "2024-06-01T00:00:00+00:00"
    assert summary["readings"] == 48
    assert summary["gaps"][0]["hours"] == 6
    assert summary["gaps"][0]["start"] == hour(24).isoformat()
    assert summary["expected_hours"] == 54
    assert summary["coverage"] == pytest.approx(48 / 54)


# ---- storing -----------------------------------------------------------------------------------


def test_it_stores_a_new_file_and_announces_its_range(series, changes):
    upload = import_readings(series, io.BytesIO(csv_of(day_of())), filename="june.csv")
    assert upload.status == UploadStatus.STORED
    assert counts(upload) == (24, 0, 0)
    assert upload.rows == 24
    assert len(stored(series)) == 24
    series.refresh_from_db()
    assert (series.reading_count, series.first_instant, series.last_instant) == (
        24,
        hour(0),
        hour(23),
    )
    assert changes == [(series.pk, hour(0), hour(23))]


def test_it_changes_nothing_when_the_same_file_is_uploaded_again(series, changes):
    content = csv_of(day_of())
    import_readings(series, io.BytesIO(content), filename="june.csv")
    before = stored(series)
    series.refresh_from_db()
    updated_at = series.updated_at
    changes.clear()

    again = import_readings(series, io.BytesIO(content), filename="june.csv")

    assert again.status == UploadStatus.STORED
    assert counts(again) == (0, 0, 24)
    assert stored(series) == before
    assert changes == []
    series.refresh_from_db()
    assert (series.reading_count, series.updated_at) == (24, updated_at)


def test_it_updates_changed_values_and_counts_exactly(series, changes):
    import_readings(series, io.BytesIO(csv_of(day_of(hours=48))), filename="a.csv")
    changes.clear()
    # Hours 24-47 again: 6 of them changed, then 12 new hours after the end.
    points = {n: value for n, value in day_of(hours=48).items() if n >= 24}
    for n in range(30, 36):
        points[n] = 9.0
    points |= day_of(first=48, hours=12)

    upload = import_readings(series, io.BytesIO(csv_of(points)), filename="b.csv")

    assert counts(upload) == (12, 6, 18)
    values = stored(series)
    assert len(values) == 60
    assert values[hour(30)] == 9.0
    assert values[hour(29)] == pytest.approx(0.5 + 29 / 1000)
    assert changes == [(series.pk, hour(30), hour(59))]
    series.refresh_from_db()
    assert (series.reading_count, series.first_instant, series.last_instant) == (
        60,
        hour(0),
        hour(59),
    )


def test_it_counts_exactly_across_chunks_with_gaps(series, monkeypatch):
    # Small chunks so one file mixes unchanged, new, changed and partly stored chunks.
    monkeypatch.setattr(pgcopy, "_CHUNK_ROWS", 5)
    monkeypatch.setattr(store, "_GENERIC_CHUNK_ROWS", 5)
    first = {n: 1.0 for n in range(0, 40)}
    assert store_readings(series, readings_of(first)) == StoreCounts(40, 0, 0)
    second = {n: 1.0 for n in range(0, 40, 2)}  # every other hour: the stored rows in between
    second |= {12: 2.0, 14: 2.0}
    second |= {n: 3.0 for n in range(40, 53)}
    assert store_readings(series, readings_of(second)) == StoreCounts(13, 2, 18)
    assert store_readings(series, readings_of(second)) == StoreCounts(0, 0, 33)
    series.refresh_from_db()
    assert series.reading_count == 53 == Reading.objects.filter(series=series).count()


def test_it_recounts_a_series_whose_rows_were_written_elsewhere(series):
    Reading.objects.bulk_create(
        Reading(series=series, instant=hour(n), value_kwh=1.0) for n in range(100, 110)
    )
    assert store_readings(series, readings_of({n: 1.0 for n in range(105, 120)})) == StoreCounts(
        10, 0, 5
    )
    series.refresh_from_db()
    assert (series.reading_count, series.first_instant, series.last_instant) == (
        20,
        hour(100),
        hour(119),
    )


def test_it_deletes_a_device_and_its_readings_with_the_lock_receiver_connected(series, device):
    from django.db.models.signals import pre_delete

    from devices.services import delete_device
    from readings.store import lock_series_before_delete

    store_readings(series, readings_of(day_of()))
    pre_delete.connect(lock_series_before_delete, sender=Series, dispatch_uid="test-lock")
    try:
        delete_device(device)
    finally:
        pre_delete.disconnect(sender=Series, dispatch_uid="test-lock")
    assert not Series.objects.exists()
    assert Reading.objects.count() == 0


def test_it_stores_nothing_for_no_readings(series, changes):
    assert store_readings(series, readings_of({})) == StoreCounts(0, 0, 0)
    assert changes == []


def test_it_refuses_readings_out_of_order(series):
    readings = HourlyReadings(array("q", [7200, 3600]), array("d", [1.0, 2.0]))
    with pytest.raises(ValueError, match="sorted"):
        store_readings(series, readings)


def test_it_writes_nothing_when_the_report_has_an_error(series, changes):
    content = csv_of(day_of()).replace(b",0.505\n", b",lots\n")
    upload = import_readings(series, io.BytesIO(content), filename="bad.csv")
    assert upload.status == UploadStatus.REJECTED
    assert upload.pk is not None  # the attempt is on record
    assert upload.report["error_count"] == 1
    assert upload.report["errors"][0]["row"] == 7
    assert Reading.objects.count() == 0
    assert changes == []
    series.refresh_from_db()
    assert series.reading_count == 0


def test_it_records_size_and_sha256_of_the_whole_file(series):
    content = gzip.compress(csv_of(day_of()))
    upload = import_readings(series, io.BytesIO(content), filename="june.csv.gz")
    import hashlib

    assert upload.size_bytes == len(content)
    assert upload.sha256 == hashlib.sha256(content).hexdigest()
    assert upload.report["summary"]["compressed"] is True


def test_it_writes_nothing_on_a_dry_run(series, data_dir):
    upload = import_readings(series, io.BytesIO(csv_of(day_of())), filename="a.csv", dry_run=True)
    assert upload.status == UploadStatus.PREVIEW
    assert upload.rows == 24
    assert upload.pk is None
    assert Upload.objects.count() == 0
    assert Reading.objects.count() == 0
    assert not (data_dir / "uploads").exists()


# ---- check, then confirm ---------------------------------------------------------------------


def test_it_checks_then_stores_on_confirmation_and_removes_the_kept_file(
    series, member, data_dir, changes, django_capture_on_commit_callbacks
):
    content = csv_of(day_of())
    upload = check_upload(
        series, io.BytesIO(content), filename="C:\\exports\\june.csv", user=member
    )

    kept = data_dir / "uploads" / f"{upload.pk}.bin"
    assert upload.status == UploadStatus.PREVIEW
    assert upload.filename == "june.csv"
    assert upload.uploaded_by == member
    assert (upload.rows, upload.first_instant, upload.last_instant) == (24, hour(0), hour(23))
    assert upload.stored_file == str(kept)
    assert kept.read_bytes() == content
    assert Reading.objects.count() == 0
    assert changes == []

    with django_capture_on_commit_callbacks(execute=True):
        confirmed = confirm_upload(upload)

    assert confirmed is upload
    assert upload.status == UploadStatus.STORED
    assert counts(upload) == (24, 0, 0)
    assert upload.stored_at is not None
    assert upload.stored_file == ""
    assert not kept.exists()
    assert len(stored(series)) == 24
    assert len(changes) == 1

    # A second confirmation (a double click, a retried task) changes nothing.
    with django_capture_on_commit_callbacks(execute=True):
        again = confirm_upload(Upload.objects.get(pk=upload.pk))
    assert again.status == UploadStatus.STORED
    assert counts(again) == (24, 0, 0)
    assert len(changes) == 1
    assert Reading.objects.count() == 24


def test_it_rejects_at_check_and_keeps_no_file(series, member, data_dir):
    content = b"when,what\n2024-06-01,1\n"
    upload = check_upload(series, io.BytesIO(content), filename="x.csv", user=member)
    assert upload.status == UploadStatus.REJECTED
    assert upload.stored_file == ""
    assert upload.report["errors"]
    assert list((data_dir / "uploads").iterdir()) == []
    with pytest.raises(ValueError, match="only a checked upload"):
        confirm_upload(upload)


def test_it_fails_a_confirmation_whose_file_is_gone(series, member):
    upload = check_upload(series, io.BytesIO(csv_of(day_of())), filename="a.csv", user=member)
    Path(upload.stored_file).unlink()
    confirm_upload(upload)
    assert upload.status == UploadStatus.FAILED
    assert upload.report["errors"][-1]["code"] == "file_missing"
    assert Reading.objects.count() == 0


# ---- the command -----------------------------------------------------------------------------


def run_command(*args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("import_readings", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_it_imports_from_the_command_and_prints_the_summary(org, series, tmp_path):
    path = tmp_path / "june.csv"
    path.write_bytes(csv_of(day_of()))
    out, _ = run_command("--org", "acme", "--device", "sp-roof-1", str(path))
    assert "june.csv for " in out
    assert "24 hourly readings from 2024-06-01 00:00 to 2024-06-01 23:00 UTC" in out
    assert "Stored: 24 new, 0 changed, 0 unchanged." in out
    out, _ = run_command("--org", "acme", "--device", "SP-ROOF-1", str(path))
    assert "Stored: 0 new, 0 changed, 24 unchanged." in out
    assert Reading.objects.count() == 24


def test_it_exits_1_and_lists_every_error_of_a_rejected_file(org, series, tmp_path):
    content = csv_of(day_of()).replace(b",0.505\n", b",lots\n").replace(b",0.51\n", b",-\n")
    path = tmp_path / "bad.csv"
    path.write_bytes(content)
    out, err = io.StringIO(), io.StringIO()
    with pytest.raises(
        CommandError, match=r"bad.csv was rejected \(2 errors\); nothing was stored"
    ) as exc:
        call_command(
            "import_readings",
            "--org",
            "acme",
            "--device",
            "SP-ROOF-1",
            str(path),
            stdout=out,
            stderr=err,
        )
    assert exc.value.returncode == 1
    lines = err.getvalue().splitlines()
    assert lines[0].startswith("Row 7, value_kwh: ")
    assert lines[1].startswith("Row 12, value_kwh: ")
    assert Reading.objects.count() == 0


def test_it_checks_without_storing_on_a_dry_run_of_the_command(org, tmp_path):
    meter = MeterFactory(organization=org, meter_number="M-77")
    path = tmp_path / "meter.csv"
    path.write_bytes(csv_of(day_of()))
    out, _ = run_command("--org", "acme", "--meter", "m-77", "--dry-run", str(path))
    assert "Dry run: the file is fine; nothing was stored." in out
    assert Reading.objects.count() == 0
    assert Upload.objects.count() == 0
    assert series_for(meter).quantity == SeriesQuantity.CONSUMPTION


def test_it_names_what_the_command_cannot_find(org, other_org, series, tmp_path):
    DeviceFactory(organization=other_org, custom_id="THEIRS")
    path = tmp_path / "a.csv"
    path.write_bytes(csv_of(day_of()))
    with pytest.raises(CommandError, match="no device with the custom id 'THEIRS'"):
        run_command("--org", "acme", "--device", "THEIRS", str(path))
    with pytest.raises(CommandError, match="No organization has the slug 'nope'"):
        run_command("--org", "nope", "--device", "SP-ROOF-1", str(path))
    with pytest.raises(CommandError, match="Cannot read"):
        run_command("--org", "acme", "--device", "SP-ROOF-1", str(tmp_path / "missing.csv"))


# ---- the two paths agree -----------------------------------------------------------------------


@needs_postgresql
def test_it_counts_the_same_on_the_copy_path_and_the_generic_path(org, monkeypatch):
    monkeypatch.setattr(pgcopy, "_CHUNK_ROWS", 6)
    monkeypatch.setattr(store, "_GENERIC_CHUNK_ROWS", 6)
    by_copy = series_for(DeviceFactory(organization=org))
    by_orm = series_for(DeviceFactory(organization=org))
    files = [
        {n: 1.0 for n in range(40)},  # new
        {n: 1.0 for n in range(40)},  # the same again
        {n: (2.0 if 30 <= n < 36 else 1.0) for n in range(20, 80)},  # changed and extended
        {n: (1.0 if n % 2 else 5.0) for n in range(0, 120, 3)},  # sparse, mixed
        {n: 4.0 for n in range(200, 211)},  # after a gap: new only
        {n: 4.0 for n in range(200, 211, 2)},  # stored rows in between: all unchanged
        {n: 0.0 for n in range(0, 3)} | {n: -0.0 for n in range(3, 6)},  # zero, signed
    ]
    for points in files:
        readings = readings_of(points)
        with transaction.atomic():
            copied = pgcopy.store_copy(connection, by_copy.pk, *readings.arrays())
        with transaction.atomic():
            generic = store._store_generic("default", by_orm.pk, *readings.arrays())
        assert copied == generic, points
        assert copied.counts.total == len(points)
    assert stored(by_copy) == stored(by_orm)
    assert len(stored(by_copy)) == len(set().union(*files)) == 104


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the staging table exists only on the PostgreSQL path"
)
def test_it_stores_twice_in_one_transaction(series):
    # The staging table is dropped after use, so a second store in the same transaction works.
    with transaction.atomic():
        store_readings(series, readings_of({n: 1.0 for n in range(10)}))
        assert store_readings(series, readings_of({n: 2.0 for n in range(5, 15)})) == StoreCounts(
            5, 5, 0
        )
        assert store_readings(series, readings_of({n: 3.0 for n in range(0, 15)})) == StoreCounts(
            0, 15, 0
        )
    assert set(stored(series).values()) == {3.0}
