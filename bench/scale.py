"""Scale: one device-year's pages at 100 million readings against the same pages at 1 million.

Issue 21 asks that what a device page reads stays flat as the readings table grows: the
device-year's own rows, found through the primary key (series, instant), whatever else is stored.

Set-up (not counted, timed and printed): a throwaway PostgreSQL database (created, migrated,
dropped); one organization, a customer and a home per four devices, 11,416 solar devices with a
series each (bulk ORM inserts); every series gets one year of hourly readings (8,760 rows, 2023 in
UTC), written with binary COPY in big chunks in primary key order, as a device-year upload writes
them, and its series row updated (reading_count, first/last_instant) as the store leaves it.
If devices_reading is partitioned by range of `instant` (issue 21, item 1), the months of the
data get a partition each first unless one covers them already (else the default partition
would hold everything). The table, its primary key and its indexes are the app's, untouched.

1. 114 device-years (998,640 rows) are loaded, VACUUM ANALYZE, CHECKPOINT; then the baseline:
   one device's requests, in this process through Django's test client (a signed-in member; the
   whole middleware stack), BENCH_SCALE_REPEATS rounds after two warm-up rounds (warm: its pages
   are in memory), the requests interleaved round by round;
2. the other 11,302 device-years are loaded (100,004,160 rows in all), VACUUM ANALYZE, CHECKPOINT,
   and the same device's same requests are measured again.

Requests, each as the browser makes them:
- device page: `GET /devices/<pk>/`;
- readings panel: the htmx panel the page loads (its URL read from the page) and the three
  `chart.json` requests the panel's charts make (their URLs read from the panel), one after the
  other, timed as one;
- the same panel with the device-year as its range (`?start=&end=`: a year of hourly points and
  a 365-day coverage map), informative;
- CSV export of the device-year: `readings.csv?start=&end=` (the local dates of its first and last
  reading), the streamed body read to the end and checked (8,760 rows, the same bytes at both
  sizes).

Reported: the median of the warm requests at 100M against the median at 1M (p95, the first
request after the load, and the query count in the note); target 1.5x. Then table plus index
bytes per reading of devices_reading (every partition's, when partitioned) against the heap bytes
per row of a plain unindexed copy of 114 device-years (CREATE TABLE AS), no target.
Each request's readings queries are captured once at each size; where a ratio misses its target,
the slowest one is printed with EXPLAIN (ANALYZE, BUFFERS) at 100M.

Knobs: BENCH_SCALE_DEVICES (11416), BENCH_SCALE_BASE_DEVICES (114), BENCH_SCALE_HOURS (8760),
BENCH_SCALE_REPEATS (15), BENCH_SCALE_CHUNK (series per COPY, 250), BENCH_SCALE_EXPLAIN=1 (every
request's slowest readings query EXPLAINed), BENCH_TINY=1 (a few devices, 45 days each, EXPLAIN
on: the smoke test).
"""

from __future__ import annotations

import hashlib
import re
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from bench import _fixtures as fx
from bench.common import Row

SLUG = "bench-scale"
TZ = "America/Chicago"
TARGET = 1.5
DEVICES_PER_HOME = 4
WARM_UP_ROUNDS = 2
NAMEPLATE_KW = 7.2
_PG_EPOCH_S = 946_684_800

_PANEL_RE = re.compile(r'id="readings-panel" hx-get="([^"]+)"')
_CHART_RE = re.compile(r'data-chart-src="([^"]+)"')


@dataclass
class Size:
    devices: int
    base_devices: int
    hours: int
    repeats: int
    chunk: int
    explain: bool = False

    @classmethod
    def from_env(cls) -> Size:
        if fx.tiny():
            return cls(devices=8, base_devices=2, hours=24 * 45, repeats=3, chunk=3, explain=True)
        devices = fx.env_int("BENCH_SCALE_DEVICES", 11_416)
        return cls(
            devices=devices,
            base_devices=min(devices, fx.env_int("BENCH_SCALE_BASE_DEVICES", 114)),
            hours=fx.env_int("BENCH_SCALE_HOURS", fx.HOURS_PER_YEAR),
            repeats=max(1, fx.env_int("BENCH_SCALE_REPEATS", 15)),
            chunk=max(1, fx.env_int("BENCH_SCALE_CHUNK", 250)),
            explain=fx.env_int("BENCH_SCALE_EXPLAIN", 0) == 1,
        )


@dataclass
class Measure:
    """One kind of request at one size: the warm times, the first one and the queries."""

    label: str
    seconds: list[float] = field(default_factory=list)
    first_s: float = 0.0
    queries: list[tuple[str, float]] = field(default_factory=list)  # readings queries, once
    query_count: int = 0
    digest: str = ""

    @property
    def median(self) -> float:
        return statistics.median(self.seconds) if self.seconds else 0.0

    @property
    def p95(self) -> float:
        return fx.percentile(self.seconds, 0.95)


def run() -> list[Row]:
    reason = fx.skip_reason(needs_broker=False)
    if reason:
        print(f"scale: skipped ({reason})")
        return []
    with fx.throwaway_database("scale"):
        return _run(Size.from_env())


def _run(size: Size) -> list[Row]:
    from django.conf import settings

    settings.ALLOWED_HOSTS = ["testserver"]
    started = time.perf_counter()
    client, series = _portfolio(size)
    print(
        f"set-up: {size.devices:,} devices and series in {time.perf_counter() - started:.1f} s",
        flush=True,
    )
    _ensure_partitions(size.hours)
    target = series[size.base_devices // 2]  # a device of the first load, not at either end

    loaded = time.perf_counter()
    small_rows = _load(series[: size.base_devices], size)
    small_load_s = time.perf_counter() - loaded
    small = _measure_all(client, target, size, small_rows)
    small_bytes = _bytes_per_reading(small_rows)

    loaded = time.perf_counter()
    big_rows = small_rows + _load(series[size.base_devices :], size)
    big_load_s = time.perf_counter() - loaded
    big = _measure_all(client, target, size, big_rows)
    big_bytes = _bytes_per_reading(big_rows)
    heap = _raw_heap_bytes_per_row([s.pk for s in series[: size.base_devices]])
    print(
        f"set-up: {small_rows:,} rows loaded (with VACUUM ANALYZE) in {small_load_s:.1f} s, "
        f"then {big_rows - small_rows:,} more in {big_load_s:.1f} s; "
        f"the whole run so far {time.perf_counter() - started:.1f} s",
        flush=True,
    )

    if small["csv"].digest != big["csv"].digest:
        raise RuntimeError("the export of the same device-year differs at the two sizes")
    return _report(size, small, big, small_rows, big_rows, small_bytes, big_bytes, heap)


# ---- set-up ----------------------------------------------------------------------------------


def _portfolio(size: Size) -> tuple[Any, list[Any]]:
    """The organization, its homes, devices and series (bulk ORM inserts) and a signed-in client."""
    from django.test import Client

    from devices.models import Device
    from homes.models import Customer, Home
    from portal.models import Membership, Organization, Role, User
    from readings.models import Series, SeriesQuantity

    org = Organization.objects.create(name="Bench scale", slug=SLUG, timezone=TZ)
    home_count = max(1, -(-size.devices // DEVICES_PER_HOME))
    customers = Customer.objects.bulk_create(
        (
            Customer(organization=org, name=f"Customer {n:06d}", email=f"c{n}@bench.test")
            for n in range(home_count)
        ),
        batch_size=2000,
    )
    homes = Home.objects.bulk_create(
        (
            Home(
                organization=org,
                customer=customer,
                name=f"Home {n:06d}",
                zip_code="52327",
                timezone=TZ,
            )
            for n, customer in enumerate(customers)
        ),
        batch_size=2000,
    )
    devices = Device.objects.bulk_create(
        (
            Device(
                organization=org,
                home=homes[n // DEVICES_PER_HOME],
                name=f"Array {n:06d}",
                custom_id=f"SC-{n:06d}",
                kind="solar",
                details={"nameplate_capacity_kw": NAMEPLATE_KW},
            )
            for n in range(size.devices)
        ),
        batch_size=2000,
    )
    series = Series.objects.bulk_create(
        (
            Series(organization=org, device=device, quantity=SeriesQuantity.GENERATION)
            for device in devices
        ),
        batch_size=2000,
    )
    series.sort(key=lambda one: one.pk)  # the load writes in primary key order
    user = User.objects.create_user("member@scale.test", "bench-password-not-used")
    Membership.objects.create(user=user, organization=org, role=Role.MEMBER)
    client = Client()
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    return client, series


def _ensure_partitions(hours: int) -> None:
    """When devices_reading is partitioned by range of instant: a monthly partition for each
    month of the data that no partition but the default covers (a month already covered, by a
    monthly or a yearly partition, is left as it is)."""
    from django.db import DatabaseError, connection, transaction

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_get_partkeydef(partrelid) FROM pg_partitioned_table"
            " WHERE partrelid = 'devices_reading'::regclass"
        )
        found = cursor.fetchone()
    if found is None:
        print("devices_reading is a plain table", flush=True)
        return
    if found[0].replace('"', "").lower() != "range (instant)":
        print(f"devices_reading is partitioned by {found[0]}: partitions left as they are")
        return
    month = fx.YEAR_START.date().replace(day=1)
    last = (fx.YEAR_START + timedelta(hours=hours - 1)).date()
    created = covered = 0
    while month <= last:
        following = date(month.year + month.month // 12, month.month % 12 + 1, 1)
        name = f"devices_reading_bench_{month:%Y_%m}"
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(
                    f"CREATE TABLE {name} PARTITION OF devices_reading"
                    " FOR VALUES FROM (%s) TO (%s)",
                    [
                        datetime(month.year, month.month, 1, tzinfo=UTC),
                        datetime(following.year, following.month, 1, tzinfo=UTC),
                    ],
                )
            created += 1
        except DatabaseError:  # overlaps a partition that covers the month already
            covered += 1
        month = following
    print(
        f"devices_reading is partitioned by range (instant): {created} monthly partitions "
        f"created for the data, {covered} months covered already",
        flush=True,
    )


def _profile(hours: int) -> Any:
    """A rooftop day in Chicago for every hour of the data (the shape; each series scales it)."""
    import numpy as np

    hour = np.arange(hours)
    local_hour = (hour - 6) % 24  # UTC-6, close enough for a shape
    day = hour // 24
    daylight = 0.5 + 0.5 * np.sin(2 * np.pi * (day - 80) / 365)
    rise, set_ = 7 - daylight, 18 + daylight
    bell = np.sin(np.pi * (local_hour - rise) / (set_ - rise))
    return np.round(np.where((local_hour > rise) & (local_hour < set_), 7.0 * bell, 0.0), 3)


def _load(series: list[Any], size: Size) -> int:
    """Every series' hours by binary COPY, `size.chunk` series per COPY and transaction, in
    primary key order; each chunk's series rows updated in the same transaction; then VACUUM
    ANALYZE and CHECKPOINT."""
    import numpy as np
    from django.db import connection, transaction

    if not series:
        return 0
    row = np.dtype(
        [
            ("fields", ">i2"),
            ("len_series", ">i4"),
            ("series", ">i8"),
            ("len_instant", ">i4"),
            ("instant", ">i8"),
            ("len_value", ">i4"),
            ("value", ">f8"),
        ]
    )
    first_s = int(fx.YEAR_START.timestamp())
    micros = (first_s - _PG_EPOCH_S + np.arange(size.hours, dtype=np.int64) * 3600) * 1_000_000
    profile = _profile(size.hours)
    first = fx.YEAR_START
    last = first + timedelta(hours=size.hours - 1)
    total = len(series) * size.hours
    written = 0
    started = time.perf_counter()
    reported = started
    print(f"loading {total:,} readings of {len(series):,} series ...", flush=True)
    for start in range(0, len(series), size.chunk):
        ids = np.array([one.pk for one in series[start : start + size.chunk]], dtype=np.int64)
        rows = np.empty(len(ids) * size.hours, dtype=row)
        rows["fields"] = 3
        rows["len_series"] = rows["len_instant"] = rows["len_value"] = 8
        rows["series"] = np.repeat(ids, size.hours)
        rows["instant"] = np.tile(micros, len(ids))
        factors = 0.7 + 0.3 * ((ids * 37) % 100) / 100
        rows["value"] = (np.repeat(factors, size.hours) * np.tile(profile, len(ids))).round(3)
        with (
            transaction.atomic(),
            connection.cursor() as cursor,
        ):
            with cursor.cursor.copy(
                "COPY devices_reading (series_id, instant, value_kwh) FROM STDIN (FORMAT BINARY)"
            ) as copy:
                copy.write(fx._COPY_HEADER)
                copy.write(rows.tobytes())
                copy.write(fx._COPY_TRAILER)
            cursor.execute(
                "UPDATE devices_series SET reading_count = %s, first_instant = %s,"
                " last_instant = %s, updated_at = now() WHERE id = ANY(%s)",
                [size.hours, first, last, ids.tolist()],
            )
        written += len(ids) * size.hours
        now = time.perf_counter()
        if now - reported >= 30 or written == total:
            reported = now
            rate = written / (now - started)
            print(
                f"  {written:,} of {total:,} rows ({written / total:.0%}) in {now - started:.0f} s,"
                f" {rate:,.0f} rows/s, ~{(total - written) / rate:.0f} s to go",
                flush=True,
            )
    copied = time.perf_counter()
    fx.settle("devices_reading", "devices_series", "devices_device")
    print(
        f"  COPY {copied - started:.1f} s ({total / (copied - started):,.0f} rows/s), "
        f"VACUUM ANALYZE + CHECKPOINT {time.perf_counter() - copied:.1f} s",
        flush=True,
    )
    return written


# ---- the measured requests ---------------------------------------------------------------------


def _get(client: Any, url: str) -> tuple[float, bytes]:
    """One request, the body read to its end (a streamed export included)."""
    began = time.perf_counter()
    response = client.get(url)
    body = b"".join(response.streaming_content) if response.streaming else bytes(response.content)
    seconds = time.perf_counter() - began
    if response.status_code != 200:
        raise RuntimeError(f"{url}: {response.status_code} {body[:300]!r}")
    return seconds, body


def _requests(
    client: Any, series: Any, hours: int
) -> tuple[dict[str, tuple[str, Callable[[], bytes]]], float]:
    """label -> (what, a callable making the requests and returning the body to check); and
    how long the first device page took (it says where the panel is)."""
    from django.urls import reverse

    zone = ZoneInfo(TZ)
    first_day = fx.YEAR_START.astimezone(zone).date()
    last_day = (fx.YEAR_START + timedelta(hours=hours - 1)).astimezone(zone).date()
    year = f"start={first_day.isoformat()}&end={last_day.isoformat()}"
    page_url = reverse("device_detail", args=[series.device_id])
    page_first_s, page = _get(client, page_url)
    found = _PANEL_RE.search(page.decode())
    if found is None:
        raise RuntimeError(f"{page_url}: no readings panel on the device page")
    panel_url = found.group(1).replace("&amp;", "&")
    csv_url = reverse("device_readings_csv", args=[series.device_id]) + "?" + year

    def panel(url: str) -> Callable[[], bytes]:
        def requests() -> bytes:
            _, body = _get(client, url)
            charts = [src.replace("&amp;", "&") for src in _CHART_RE.findall(body.decode())]
            if len(charts) < 3:
                raise RuntimeError(f"{url}: {len(charts)} charts in the panel, expected 3")
            for chart in charts:
                _get(client, chart)
            return body

        return requests

    return {
        "page": ("device page", lambda: _get(client, page_url)[1]),
        "panel": ("readings panel + its 3 chart.json", panel(panel_url)),
        "panel_year": (
            "readings panel + charts, whole year",
            panel(panel_url + ("&" if "?" in panel_url else "?") + year),
        ),
        "csv": ("CSV export of the device-year", lambda: _get(client, csv_url)[1]),
    }, page_first_s


def _measure_all(client: Any, series: Any, size: Size, rows: int) -> dict[str, Measure]:
    """Each request once cold (the first after the load), twice to warm up, then `repeats`
    rounds of all of them, interleaved; then once more each with its queries captured."""
    requests, page_first_s = _requests(client, series, size.hours)
    measures = {label: Measure(what) for label, (what, _) in requests.items()}
    for label, (_, make) in requests.items():
        began = time.perf_counter()
        body = make()
        measures[label].first_s = page_first_s if label == "page" else time.perf_counter() - began
        measures[label].digest = hashlib.sha256(body).hexdigest()
        if label == "csv" and _csv_rows(body) != size.hours:
            raise RuntimeError(f"the export has {_csv_rows(body)} rows, expected {size.hours}")
    for _ in range(WARM_UP_ROUNDS):
        for _, make in requests.values():
            make()
    for _ in range(size.repeats):
        for label, (_, make) in requests.items():
            began = time.perf_counter()
            make()
            measures[label].seconds.append(time.perf_counter() - began)
    for label, (_, make) in requests.items():
        with _Queries() as captured:
            make()
        measures[label].query_count = len(captured.queries)
        measures[label].queries = [
            (sql, seconds) for sql, seconds in captured.queries if "devices_reading" in sql
        ]
    print(f"at {rows:,} rows, device {series.device_id} (median, p95, first request):", flush=True)
    for measure in measures.values():
        print(
            f"  {measure.label:<40} {measure.median * 1000:8.1f} ms {measure.p95 * 1000:8.1f} ms "
            f"{measure.first_s * 1000:8.1f} ms  ({measure.query_count} queries, "
            f"{len(measure.queries)} on readings)",
            flush=True,
        )
    return measures


class _Queries:
    """Every query of the requests made inside it, with its SQL (parameters in place, as
    PostgreSQL ran it) and how long its execute() took (for a server-side cursor, only the
    DECLARE: EXPLAIN ANALYZE tells the rest)."""

    def __init__(self) -> None:
        self.queries: list[tuple[str, float]] = []

    def __enter__(self) -> _Queries:
        from django.db import connection

        self._wrapper = connection.execute_wrapper(self)
        self._wrapper.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._wrapper.__exit__(*exc)

    def __call__(self, execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        # Rendered before it runs: mogrify() resets the cursor's result.
        text: str | bytes = sql
        if params is not None and not many:
            try:
                text = context["cursor"].mogrify(sql, params)
            except Exception:  # a query the client cannot render: kept as written
                text = sql
        began = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            seconds = time.perf_counter() - began
            self.queries.append((text if isinstance(text, str) else text.decode(), seconds))


def _csv_rows(body: bytes) -> int:
    """Data rows of an export (its header not counted)."""
    return body.count(b"\n") - 1


# ---- bytes -------------------------------------------------------------------------------------

# Every leaf partition of devices_reading when it is partitioned, else the table itself.
_RELATIONS = (
    "SELECT relid FROM pg_partition_tree('devices_reading'::regclass) WHERE isleaf"
    " UNION ALL SELECT 'devices_reading'::regclass WHERE NOT EXISTS"
    " (SELECT 1 FROM pg_partitioned_table WHERE partrelid = 'devices_reading'::regclass)"
)


@dataclass
class Bytes:
    table: int
    indexes: int
    relations: int

    def per_row(self, rows: int) -> tuple[float, float]:
        return self.table / max(rows, 1), self.indexes / max(rows, 1)


def _bytes_per_reading(rows: int) -> Bytes:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT coalesce(sum(pg_table_size(relid)), 0), coalesce(sum(pg_indexes_size(relid)), 0),"
            f" count(*) FROM ({_RELATIONS}) AS leaves"
        )
        table, indexes, relations = cursor.fetchone()
    found = Bytes(int(table), int(indexes), int(relations))
    heap, index = found.per_row(rows)
    print(
        f"devices_reading at {rows:,} rows: {found.relations} relation(s), "
        f"table {found.table / 1e6:,.1f} MB + indexes {found.indexes / 1e6:,.1f} MB = "
        f"{heap + index:.1f} B per reading ({heap:.1f} + {index:.1f})",
        flush=True,
    )
    return found


def _raw_heap_bytes_per_row(series_ids: list[int]) -> float:
    """Heap bytes per row of a plain, unindexed table holding the first load's rows."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TABLE bench_scale_raw_heap AS SELECT series_id, instant, value_kwh"
            " FROM devices_reading WHERE series_id = ANY(%s)",
            [series_ids],
        )
        rows = cursor.rowcount
        cursor.execute("SELECT pg_table_size('bench_scale_raw_heap')")
        size = cursor.fetchone()[0]
        cursor.execute("DROP TABLE bench_scale_raw_heap")
    print(f"raw heap: {rows:,} rows in {size / 1e6:,.1f} MB = {size / rows:.1f} B per row")
    return size / max(rows, 1)


# ---- the report --------------------------------------------------------------------------------


def _millions(rows: int) -> str:
    if rows < 100_000:
        return f"{rows:,}"
    return f"{rows / 1e6:.0f}M" if rows >= 10_000_000 else f"{rows / 1e6:.1f}M"


def _report(
    size: Size,
    small: dict[str, Measure],
    big: dict[str, Measure],
    small_rows: int,
    big_rows: int,
    small_bytes: Bytes,
    big_bytes: Bytes,
    heap: float,
) -> list[Row]:
    sizes = f"{_millions(big_rows)} vs {_millions(small_rows)} rows"
    rows = []
    for label, ours in big.items():
        base = small[label]
        row = Row(
            "scale",
            f"{ours.label}, median",
            ours.median,
            base.median,
            TARGET if label != "panel_year" else None,
            f"{sizes}; p95 {ours.p95 * 1000:.0f} vs {base.p95 * 1000:.0f} ms; first "
            f"{ours.first_s * 1000:.0f} vs {base.first_s * 1000:.0f} ms; "
            f"{ours.query_count} queries; n={len(ours.seconds)}",
        )
        rows.append(row)
        _print_queries(ours, base, missed=row.ratio > TARGET, explain=size.explain)
    heap_b, index_b = big_bytes.per_row(big_rows)
    small_heap, small_index = small_bytes.per_row(small_rows)
    rows.append(
        Row(
            "scale",
            "bytes per reading (table+indexes) vs raw heap",
            heap_b + index_b,
            heap,
            None,
            f"bytes, not seconds; at {_millions(big_rows)}: table {heap_b:.1f} + indexes "
            f"{index_b:.1f}; at {_millions(small_rows)}: {small_heap + small_index:.1f}; "
            f"{big_bytes.relations} relation(s)",
        )
    )
    print(
        "scale: medians of warm requests of one device-year in this process (Django test "
        f"client); {size.repeats} rounds after {WARM_UP_ROUNDS} warm-up rounds.",
        flush=True,
    )
    return rows


def _print_queries(ours: Measure, base: Measure, *, missed: bool, explain: bool) -> None:
    """The request's readings queries, timed once at each size; the slowest one EXPLAINed at the
    big size when the request missed its target."""
    from django.db import connection

    if ours.queries:
        slowest = max(ours.queries, key=lambda query: query[1])
        print(
            f"  {ours.label}: {len(ours.queries)} readings queries, "
            f"{sum(s for _, s in ours.queries) * 1000:.1f} vs "
            f"{sum(s for _, s in base.queries) * 1000:.1f} ms in all; the slowest "
            f"{slowest[1] * 1000:.1f} ms: {slowest[0][:140]}",
            flush=True,
        )
    if not (missed or explain) or not ours.queries:
        return
    sql = max(ours.queries, key=lambda query: query[1])[0]
    sql = re.sub(r"^DECLARE .*? FOR ", "", sql)
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS) {sql}")
        plan = "\n".join(f"    {line}" for (line,) in cursor.fetchall())
    why = f"missed {TARGET}x" if missed else "EXPLAIN asked for"
    print(f"  {ours.label} ({why}), its slowest readings query:\n    {sql}\n{plan}", flush=True)
