"""Streaming a file into the readings while it is parsed (readings/pgcopy.py).

PostgreSQL only: on every other backend there is no sink. Each test spies on the two ways a
parsed file can be stored, so it can say which one did: ``_StreamingCopy.finish`` returning True
(the rows COPYed batch by batch are kept) or ``_write`` (the savepoint rolled back, or streaming
never started, and the final series went through the compare/staging paths).
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from django.db import connection

from portal.signals import readings_changed
from readings import pgcopy, store
from readings.models import Reading, Series, Upload, UploadStatus
from readings.store import series_for
from readings.uploads import check_upload, confirm_upload, import_readings
from tests.factories import DeviceFactory

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="streaming COPY exists only on PostgreSQL; run with DATABASE_URL=postgres://...",
)

CHICAGO = ZoneInfo("America/Chicago")  # HomeFactory's timezone
HOUR = 3600


# ---- files -----------------------------------------------------------------------------------


@dataclass
class File:
    """A CSV and the hourly series it holds (UTC epoch seconds, kWh)."""

    data: bytes
    epochs: list[int]
    values: list[float]


def local_start(year: int, month: int, day: int = 1) -> int:
    return int(datetime(year, month, day, tzinfo=CHICAGO).timestamp())


def value_text(index: int) -> str:
    # Under 0.1 kWh: no solar-at-night warning to wade through; distinct enough to catch a
    # row stored at the wrong hour.
    return f"{(index * 37) % 97 / 1000:g}"


def hourly(first: int, end: int, *, offset: int = 0) -> File:
    """Every hour from ``first`` up to ``end`` (epochs), with local offsets; ``offset`` shifts
    which values are written (so a second file can differ from the first)."""
    epochs = list(range(first, end, HOUR))
    texts = [value_text(index + offset) for index in range(len(epochs))]
    lines = ["datetime,value_kwh"] + [
        f"{datetime.fromtimestamp(epoch, CHICAGO).isoformat()},{text}"
        for epoch, text in zip(epochs, texts, strict=True)
    ]
    return File(("\n".join(lines) + "\n").encode(), epochs, [float(text) for text in texts])


def lines_of(file: File) -> list[str]:
    return file.data.decode().splitlines()


def from_lines(lines: list[str], epochs: list[int], values: list[float]) -> File:
    return File(("\n".join(lines) + "\n").encode(), epochs, values)


def year_2023() -> File:
    return hourly(local_start(2023, 1), local_start(2024, 1))


def utc(epoch: int) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


def stored(series: Series) -> tuple[list[int], list[float]]:
    rows = list(
        Reading.objects.filter(series=series)
        .order_by("instant")
        .values_list("instant", "value_kwh")
    )
    return [int(instant.timestamp()) for instant, _ in rows], [value for _, value in rows]


def counts(upload: Upload) -> tuple[int, int, int]:
    return upload.inserted, upload.updated, upload.unchanged


def series_state(series: Series) -> tuple[int, datetime | None, datetime | None]:
    series.refresh_from_db()
    return series.reading_count, series.first_instant, series.last_instant


# ---- fixtures --------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def data_dir(settings, tmp_path: Path) -> Path:
    settings.DATA_DIR = tmp_path
    return tmp_path


@pytest.fixture
def series(org) -> Series:
    return series_for(DeviceFactory(organization=org, custom_id="SP-STREAM-1"))


@dataclass
class Paths:
    writes: list[int] = field(default_factory=list)  # rows of each _write call
    finishes: list[tuple[str, int, bool]] = field(default_factory=list)  # state, rows sent, kept
    aborts: list[tuple[str, int]] = field(default_factory=list)  # state, rows sent

    def streamed(self, rows: int) -> bool:
        return self.writes == [] and self.finishes == [("copying", rows, True)]


@pytest.fixture
def paths(monkeypatch) -> Paths:
    seen = Paths()
    write, finish, abort = store._write, pgcopy.StreamingCopy.finish, pgcopy.StreamingCopy.abort

    def spy_write(db, using, series_id, epochs, values):
        seen.writes.append(len(epochs))
        return write(db, using, series_id, epochs, values)

    def spy_finish(self, epochs, values):
        state, rows = self.state, self.rows
        kept = finish(self, epochs, values)
        assert self.state == ("done" if kept else "off")
        seen.finishes.append((state, rows, kept))
        return kept

    def spy_abort(self):
        seen.aborts.append((self.state, self.rows))
        abort(self)
        assert self.state in ("idle", "off")

    monkeypatch.setattr(store, "_write", spy_write)
    monkeypatch.setattr(pgcopy.StreamingCopy, "finish", spy_finish)
    monkeypatch.setattr(pgcopy.StreamingCopy, "abort", spy_abort)
    return seen


@pytest.fixture
def changes():
    """Every readings_changed sent: (series id, start, end)."""
    sent: list[tuple[int, datetime, datetime]] = []

    def receiver(sender, series, start, end, **kwargs):
        sent.append((series.pk, start, end))

    readings_changed.connect(receiver, dispatch_uid="test_readings_streaming")
    yield sent
    readings_changed.disconnect(dispatch_uid="test_readings_streaming")


def upload_file(series: Series, file: File | bytes, name: str = "readings.csv") -> Upload:
    data = file.data if isinstance(file, File) else file
    return import_readings(series, io.BytesIO(data), filename=name)


# ---- a new series, then the same file, then the next month ----------------------------------


def test_a_new_year_is_stored_by_streaming(series, paths, changes):
    year = year_2023()
    assert len(year.epochs) == 8760

    upload = upload_file(series, year, "2023.csv")

    assert upload.status == UploadStatus.STORED, upload.report["errors"][:3]
    assert counts(upload) == (8760, 0, 0)
    assert paths.streamed(8760), paths
    assert stored(series) == (year.epochs, year.values)
    assert series_state(series) == (8760, utc(year.epochs[0]), utc(year.epochs[-1]))
    assert changes == [(series.pk, utc(year.epochs[0]), utc(year.epochs[-1]))]


def test_the_same_year_again_is_known_unchanged_without_reading_it(series, paths, changes):
    year = year_2023()
    first = upload_file(series, year)
    paths.finishes.clear()
    changes.clear()

    again = upload_file(series, year)

    assert again.status == UploadStatus.STORED
    assert counts(again) == (0, 0, 8760)
    assert again.report["same_as_upload"] == first.pk
    assert (again.rows, again.first_instant, again.last_instant) == (
        first.rows,
        first.first_instant,
        first.last_instant,
    )
    assert paths.writes == []  # neither parsed nor compared with the table
    assert paths.finishes == []
    assert stored(series) == (year.epochs, year.values)
    assert series_state(series)[0] == 8760
    assert changes == []


class _ReadOnce(io.RawIOBase):
    """A stream that cannot be read twice (standard input, a pipe)."""

    def __init__(self, data: bytes) -> None:
        self.inner = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def read(self, size: int = -1) -> bytes:
        return self.inner.read(size)


def test_the_same_year_again_from_a_stream_goes_through_write_and_changes_nothing(
    series, paths, changes
):
    year = year_2023()
    upload_file(series, year)
    paths.finishes.clear()
    changes.clear()

    again = import_readings(series, _ReadOnce(year.data), filename="stdin.csv")

    assert again.status == UploadStatus.STORED
    assert counts(again) == (0, 0, 8760)
    assert "same_as_upload" not in again.report
    assert paths.writes == [8760]
    assert paths.finishes == [("off", 0, False)]  # declined at the first batch: nothing sent
    assert stored(series) == (year.epochs, year.values)
    assert series_state(series)[0] == 8760
    assert changes == []


def test_a_file_is_read_again_once_the_series_changed_since(series, paths, changes):
    """The same bytes are only known unchanged while the series holds what they stored."""
    year = year_2023()
    upload_file(series, year)
    other = bytearray(year.data)
    at = other.index(b"\n", other.index(b"\n") + 1)  # the end of the first reading's line
    other[at - 1 : at] = b"9" if other[at - 1 : at] != b"9" else b"8"
    upload_file(series, bytes(other), "edited.csv")
    changes.clear()

    again = upload_file(series, year)

    assert counts(again) == (0, 1, 8759)
    assert "same_as_upload" not in again.report
    assert stored(series) == (year.epochs, year.values)
    assert len(changes) == 1


def test_the_next_month_after_stored_data_streams(series, paths, changes):
    january = hourly(local_start(2024, 1), local_start(2024, 2))
    february = hourly(local_start(2024, 2), local_start(2024, 3), offset=5)
    upload_file(series, january, "jan.csv")
    changes.clear()

    upload = upload_file(series, february, "feb.csv")

    assert counts(upload) == (len(february.epochs), 0, 0) == (696, 0, 0)
    assert paths.writes == []
    assert paths.finishes == [("copying", 744, True), ("copying", 696, True)]
    assert stored(series) == (
        january.epochs + february.epochs,
        january.values + february.values,
    )
    assert series_state(series) == (744 + 696, utc(january.epochs[0]), utc(february.epochs[-1]))
    assert changes == [(series.pk, utc(february.epochs[0]), utc(february.epochs[-1]))]


def test_a_value_wh_file_streams_the_kwh_the_parser_gives(series, paths):
    epochs = list(range(local_start(2024, 5), local_start(2024, 5) + 30 * HOUR, HOUR))
    watt_hours = [f"{1234 + 7 * index}.5" for index in range(len(epochs))]
    lines = ["datetime,value_wh"] + [
        f"{datetime.fromtimestamp(e, CHICAGO).isoformat()},{wh}"
        for e, wh in zip(epochs, watt_hours, strict=True)
    ]
    upload = upload_file(series, ("\n".join(lines) + "\n").encode())
    assert counts(upload) == (30, 0, 0)
    assert paths.streamed(30)
    assert stored(series) == (epochs, [float(wh) / 1000.0 for wh in watt_hours])


# ---- rejected files leave nothing ------------------------------------------------------------


def test_a_bad_last_row_rejects_the_file_and_leaves_no_streamed_row(series, paths, changes):
    file = hourly(local_start(2024, 1), local_start(2024, 1) + 5000 * HOUR)
    lines = lines_of(file)
    lines[-1] = lines[-1].rsplit(",", 1)[0] + ",lots"
    upload = upload_file(series, from_lines(lines, [], []), "bad.csv")

    assert upload.status == UploadStatus.REJECTED
    assert upload.report["error_count"] == 1
    assert (upload.report["errors"][0]["row"], upload.report["errors"][0]["code"]) == (
        5001,
        "bad_value",
    )
    # Rows had gone to the database (the batches before the bad one's) and were rolled back.
    [(state, sent)] = paths.aborts
    assert state == "copying" and 2048 <= sent < 5000
    assert paths.finishes == [] and paths.writes == []
    assert Reading.objects.filter(series=series).count() == 0
    assert series_state(series) == (0, None, None)
    assert changes == []

    # The transaction is still usable: the next file streams in.
    day = hourly(local_start(2024, 1), local_start(2024, 1, 2))
    upload = upload_file(series, day, "day.csv")
    assert upload.status == UploadStatus.STORED
    assert counts(upload) == (24, 0, 0)
    assert paths.finishes == [("copying", 24, True)]
    assert stored(series) == (day.epochs, day.values)
    assert series_state(series) == (24, utc(day.epochs[0]), utc(day.epochs[-1]))


def test_a_file_that_breaks_its_encoding_after_the_first_mib_leaves_nothing(series, paths):
    file = hourly(local_start(2024, 1), local_start(2024, 1) + 40_000 * HOUR)
    assert len(file.data) > 1 << 20
    data = file.data[:-100] + b"\xff" + file.data[-99:]

    upload = upload_file(series, data, "broken.csv")

    assert upload.status == UploadStatus.REJECTED
    assert upload.report["errors"][0]["code"] == "not_utf8"
    state, rows = paths.aborts[0]
    assert len(paths.aborts) == 1 and state == "copying" and rows > 20_000
    assert Reading.objects.filter(series=series).count() == 0
    assert series_state(series) == (0, None, None)


class FailingStream(io.RawIOBase):
    """Hands out ``good`` bytes, then fails like a dropped connection."""

    def __init__(self, data: bytes, good: int) -> None:
        self.data = data
        self.good = good
        self.at = 0

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        if self.at >= self.good:
            raise OSError("connection reset")
        end = min(self.good, self.at + (size if size >= 0 else self.good))
        piece = self.data[self.at : end]
        self.at = end
        return piece


def test_a_stream_that_fails_midway_aborts_the_copy_and_the_error_propagates(series, paths):
    file = hourly(local_start(2024, 1), local_start(2024, 1) + 40_000 * HOUR)
    with pytest.raises(OSError, match="connection reset"):
        import_readings(series, FailingStream(file.data, 1 << 20), filename="cut.csv")
    state, rows = paths.aborts[0]
    assert len(paths.aborts) == 1 and state == "copying" and rows > 20_000
    assert Reading.objects.filter(series=series).count() == 0
    assert Upload.objects.count() == 0
    assert series_state(series) == (0, None, None)
    # And the connection is fine for the next store.
    assert counts(upload_file(series, hourly(local_start(2024, 2), local_start(2024, 2, 2)))) == (
        24,
        0,
        0,
    )


# ---- files the whole-file checks change: rolled back, stored by _write -----------------------


def test_a_file_in_reverse_order_is_stored_through_the_fallback(series, paths, changes):
    file = hourly(local_start(2024, 3), local_start(2024, 6))  # 2,207 rows: two batches
    lines = lines_of(file)
    reverse = from_lines([lines[0], *lines[:0:-1]], file.epochs, file.values)

    upload = upload_file(series, reverse, "reverse.csv")

    assert upload.status == UploadStatus.STORED
    assert counts(upload) == (len(file.epochs), 0, 0) == (2207, 0, 0)
    assert paths.writes == [2207]
    assert paths.finishes == [("copying", 2207, False)]
    assert stored(series) == (file.epochs, file.values)
    assert series_state(series) == (2207, utc(file.epochs[0]), utc(file.epochs[-1]))
    assert changes == [(series.pk, utc(file.epochs[0]), utc(file.epochs[-1]))]


def test_a_later_file_with_an_earlier_hour_near_its_end_is_stored_exactly(series, paths, changes):
    january = hourly(local_start(2024, 1), local_start(2024, 2))
    upload_file(series, january, "jan.csv")
    paths.finishes.clear()
    changes.clear()
    spring = hourly(local_start(2024, 2), local_start(2024, 5), offset=3)  # 2,159 rows
    lines = lines_of(spring)
    changed_at, same_at = january.epochs[100], january.epochs[200]
    # Near the end, in the second batch: one January hour with a new value, one as stored.
    lines[-5:-5] = [
        f"{datetime.fromtimestamp(changed_at, CHICAGO).isoformat()},5.5",
        f"{datetime.fromtimestamp(same_at, CHICAGO).isoformat()},{value_text(200)}",
    ]

    upload = upload_file(series, from_lines(lines, [], []), "spring.csv")

    assert upload.status == UploadStatus.STORED, upload.report["errors"]
    assert counts(upload) == (2159, 1, 1)
    assert paths.writes == [2161]
    assert len(paths.finishes) == 1 and paths.finishes[0][2] is False
    expected = dict(zip(january.epochs, january.values, strict=True))
    expected[changed_at] = 5.5
    expected |= dict(zip(spring.epochs, spring.values, strict=True))
    assert stored(series) == (sorted(expected), [expected[e] for e in sorted(expected)])
    assert series_state(series) == (744 + 2159, utc(january.epochs[0]), utc(spring.epochs[-1]))
    assert changes == [(series.pk, utc(changed_at), utc(spring.epochs[-1]))]


def test_a_duplicate_row_in_a_new_file_is_dropped_and_stored_through_the_fallback(series, paths):
    file = hourly(local_start(2024, 7), local_start(2024, 7, 3))
    lines = lines_of(file)
    lines.insert(20, lines[10])  # the same time and value again

    upload = upload_file(series, from_lines(lines, [], []), "dup.csv")

    assert upload.status == UploadStatus.STORED
    assert upload.report["summary"]["duplicates_dropped"] == 1
    assert counts(upload) == (48, 0, 0)
    assert paths.writes == [48]
    assert paths.finishes == [("copying", 49, False)]
    assert stored(series) == (file.epochs, file.values)


def test_a_15_minute_file_is_summed_into_hours_and_stored_through_the_fallback(series, paths):
    first = local_start(2024, 8)
    quarters = list(range(first, first + 2 * 24 * HOUR, 900))
    texts = [f"0.0{index % 4 + 1}{index % 7}" for index in range(len(quarters))]
    lines = ["datetime,value_kwh"] + [
        f"{datetime.fromtimestamp(e, CHICAGO).isoformat()},{t}"
        for e, t in zip(quarters, texts, strict=True)
    ]

    upload = upload_file(series, ("\n".join(lines) + "\n").encode(), "quarters.csv")

    assert upload.status == UploadStatus.STORED, upload.report["errors"]
    assert counts(upload) == (48, 0, 0)
    assert paths.writes == [48]
    assert paths.finishes == [("off", 0, False)]  # sub-hourly: declined, nothing streamed
    hours = quarters[::4]
    sums = [math.fsum(float(t) for t in texts[i : i + 4]) for i in range(0, len(texts), 4)]
    assert stored(series) == (hours, sums)  # no 15-minute row left behind
    assert series_state(series) == (48, utc(hours[0]), utc(hours[-1]))


def test_a_file_that_turns_sub_hourly_rolls_the_stream_back(series, paths):
    """Hourly rows first (streamed), then 15-minute ones: the stream is taken back as soon as
    a batch is not hourly, and the summed hours are stored the usual way."""
    first = local_start(2024, 8)
    hourly_part = list(range(first, first + 24 * 5 * HOUR, HOUR))
    start = hourly_part[-1] + HOUR
    quarters = list(range(start, start + 24 * HOUR, 900))
    lines = ["datetime,value_kwh"]
    lines += [f"{datetime.fromtimestamp(e, CHICAGO).isoformat()},0.5" for e in hourly_part]
    lines += [f"{datetime.fromtimestamp(e, CHICAGO).isoformat()},0.125" for e in quarters]

    upload = upload_file(series, ("\n".join(lines) + "\n").encode(), "mixed.csv")

    ended = [*paths.finishes, *paths.aborts]
    assert ended and ended[0][0] == "off"  # taken back: nothing of the stream is kept
    assert Reading.objects.filter(series=series).count() == (
        upload.inserted if upload.status == UploadStatus.STORED else 0
    )


def test_rows_written_elsewhere_make_the_copy_fail_and_the_fallback_counts_them(series, paths):
    # The series says it is empty (no last instant), so streaming starts; the table disagrees.
    file = hourly(local_start(2024, 9), local_start(2024, 9, 2))
    Reading.objects.bulk_create(
        Reading(series=series, instant=utc(epoch), value_kwh=value)
        for epoch, value in list(zip(file.epochs, file.values, strict=True))[5:15]
    )
    assert series_state(series) == (0, None, None)

    upload = upload_file(series, file, "day.csv")

    assert upload.status == UploadStatus.STORED
    assert counts(upload) == (14, 0, 10)
    assert paths.writes == [24]
    assert paths.finishes == [("copying", 24, False)]  # the server refused the COPY
    assert stored(series) == (file.epochs, file.values)
    assert series_state(series) == (24, utc(file.epochs[0]), utc(file.epochs[-1]))


# ---- check, then confirm ---------------------------------------------------------------------


def test_check_then_confirm_of_a_new_year_stores_by_streaming(series, paths, member, changes):
    year = year_2023()
    upload = check_upload(series, io.BytesIO(year.data), filename="2023.csv", user=member)
    assert upload.status == UploadStatus.PREVIEW
    assert paths.finishes == [] and Reading.objects.count() == 0

    confirmed = confirm_upload(upload)

    assert confirmed.status == UploadStatus.STORED
    assert counts(confirmed) == (8760, 0, 0)
    assert paths.streamed(8760), paths
    assert stored(series) == (year.epochs, year.values)
    assert series_state(series) == (8760, utc(year.epochs[0]), utc(year.epochs[-1]))
    assert changes == [(series.pk, utc(year.epochs[0]), utc(year.epochs[-1]))]


def test_a_streamed_store_announces_its_range_once(series, paths, changes):
    file = hourly(local_start(2024, 10), local_start(2024, 10) + 100 * HOUR)
    upload_file(series, file)
    assert paths.streamed(100)
    assert changes == [(series.pk, utc(file.epochs[0]), utc(file.epochs[-1]))]
    assert changes[0][1] == datetime(2024, 10, 1, 5, tzinfo=UTC)
    assert changes[0][2] - changes[0][1] == timedelta(hours=99)


def test_a_checked_file_confirmed_again_is_known_unchanged_from_its_checked_hash(
    series, paths, changes
):
    """The page's way: check, confirm; the same file checked and confirmed again is stored as
    unchanged without parsing it at confirmation (its key comes from the check's sha256)."""
    year = year_2023()
    first = check_upload(series, io.BytesIO(year.data), filename="a.csv", user=None)
    first = confirm_upload(first)
    assert counts(first) == (8760, 0, 0)
    paths.writes.clear()
    paths.finishes.clear()
    changes.clear()

    again = confirm_upload(check_upload(series, io.BytesIO(year.data), filename="b.csv", user=None))

    assert again.status == UploadStatus.STORED
    assert counts(again) == (0, 0, 8760)
    assert again.report["same_as_upload"] == first.pk
    assert again.stored_file == ""
    assert (paths.writes, paths.finishes, changes) == ([], [], [])
    assert stored(series) == (year.epochs, year.values)
