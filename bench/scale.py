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

1. 114 device-years (998,640 rows) are loaded, VACUUM ANALYZE, CHECKPOINT; one device's
   requests are measured (in this process through Django's test client: a signed-in member, the
   whole middleware stack), BENCH_SCALE_REPEATS rounds after two warm-up rounds (warm: its pages
   are in memory), the requests interleaved round by round;
2. the database is copied as it is (CREATE DATABASE ... TEMPLATE: the 1M table, its statistics and
   visibility map) and the other 11,302 device-years are loaded into the original (100,004,160
   rows in all), VACUUM ANALYZE, CHECKPOINT;
3. the same device's same requests are measured on both databases, round by round, each request
   on one then the other (the order alternates): the baseline is the 1M copy measured at the same
   moment, so what else runs on a shared machine weighs on both sides alike. Step 1's figures,
   measured alone before the load, are in the note.

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

Reported: the median of the warm requests at 100M against the median at 1M (the copy, step 3);
target 1.5x. The note adds step 1's median, the p95, the first request after the load, the mean
CPU per request (this process and its PostgreSQL backend: steadier than wall time on a shared
machine) and, for the request's queries on devices_reading (captured once at each size, then
EXPLAIN (ANALYZE, BUFFERS)), the pages they touched and their execution time: pages do not depend
on what else the machine runs, so they say whether a query is flat. Each such query is printed
with its figures at both sizes; where a request misses its target, the plan of the query that
grew the most, at both sizes. Then table plus index bytes per reading of devices_reading (every
leaf partition's, when it is partitioned) against the heap bytes per row of a plain unindexed
copy of the first load's rows (CREATE TABLE AS), no target.

Knobs: BENCH_SCALE_DEVICES (11416), BENCH_SCALE_BASE_DEVICES (114), BENCH_SCALE_HOURS (8760),
BENCH_SCALE_REPEATS (15), BENCH_SCALE_CHUNK (series per COPY, 250), BENCH_SCALE_EXPLAIN=1 (the
plan of each request's most grown readings query, even on target), BENCH_TINY=1 (8 devices,
45 days each, EXPLAIN on: the smoke test).
"""

from __future__ import annotations

import hashlib
import re
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

from bench import _fixtures as fx
from bench import _scale_db as db
from bench.common import Row
from bench.load import _PANEL_RE

SLUG = "bench-scale"
TZ = "America/Chicago"
TARGET = 1.5
DEVICES_PER_HOME = 4
WARM_UP_ROUNDS = 2
NAMEPLATE_KW = 7.2

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
    """One kind of request at one size: the warm times, the first one, CPU, and the queries."""

    label: str
    seconds: list[float] = field(default_factory=list)
    first_s: float = 0.0
    cpu_s: tuple[float, float] = (0.0, 0.0)  # per request, mean: this process, its backend
    query_count: int = 0
    plans: list[db.Plan] = field(default_factory=list)  # the readings queries, EXPLAINed
    digest: str = ""

    @property
    def median(self) -> float:
        return statistics.median(self.seconds) if self.seconds else 0.0

    @property
    def p95(self) -> float:
        return fx.percentile(self.seconds, 0.95)

    @property
    def pages(self) -> int:
        return sum(plan.pages for plan in self.plans)

    @property
    def execution_ms(self) -> float:
        return sum(plan.execution_ms for plan in self.plans)


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
    db.ensure_partitions(size.hours)
    target = series[size.base_devices // 2]  # a device of the first load, not at either end

    loaded = time.perf_counter()
    small_rows = db.load(series[: size.base_devices], size.hours, size.chunk)
    small_load_s = time.perf_counter() - loaded
    main = db.current()
    small_label = f"at {small_rows:,} rows"
    before = _measure_all(client, target, size, {small_label: main})[small_label]
    _print_side(f"{small_label}, before the rest is loaded", target.device_id, before)
    small_bytes = db.bytes_per_reading(small_rows)

    with db.twin_database("small") as twin:
        print(f"{twin.settings_dict['NAME']}: a copy of the database as it is now", flush=True)
        loaded = time.perf_counter()
        big_rows = small_rows + db.load(series[size.base_devices :], size.hours, size.chunk)
        big_load_s = time.perf_counter() - loaded
        big_bytes = db.bytes_per_reading(big_rows)
        heap = db.raw_heap_bytes_per_row([s.pk for s in series[: size.base_devices]])
        print(
            f"set-up: {small_rows:,} rows loaded (with VACUUM ANALYZE) in {small_load_s:.1f} s, "
            f"then {big_rows - small_rows:,} more in {big_load_s:.1f} s; "
            f"the whole run so far {time.perf_counter() - started:.1f} s",
            flush=True,
        )
        big_label = f"at {big_rows:,} rows"
        both = _measure_all(
            client, target, size, {f"{small_label} (the copy)": twin, big_label: main}
        )
    small, big = both[f"{small_label} (the copy)"], both[big_label]
    for name, measures in both.items():
        _print_side(f"{name}, interleaved", target.device_id, measures)
    if len({small["csv"].digest, big["csv"].digest, before["csv"].digest}) != 1:
        raise RuntimeError("the export of the same device-year differs at the two sizes")
    return _report(size, before, small, big, small_rows, big_rows, small_bytes, big_bytes, heap)


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


def _measure_all(
    client: Any, series: Any, size: Size, sides: dict[str, Any]
) -> dict[str, dict[str, Measure]]:
    """On each side (a database connection, made the default while its requests run): each
    request once cold (the first after the load), twice to warm up; then `repeats` rounds of
    every request on every side, interleaved (the sides' order alternates by round), so that
    both sides see the machine as it is at that moment; then once more each with its queries
    captured and EXPLAINed. side -> label -> Measure."""
    measures: dict[str, dict[str, Measure]] = {}
    requests: dict[str, tuple[str, Callable[[], bytes]]] = {}
    clocks = {}
    for side, wrapper in sides.items():
        db.use(wrapper)
        requests, page_first_s = _requests(client, series, size.hours)
        found = measures[side] = {label: Measure(what) for label, (what, _) in requests.items()}
        for label, (_, make) in requests.items():
            began = time.perf_counter()
            body = make()
            found[label].first_s = page_first_s if label == "page" else time.perf_counter() - began
            found[label].digest = hashlib.sha256(body).hexdigest()
            if label == "csv" and _csv_rows(body) != size.hours:
                raise RuntimeError(f"the export has {_csv_rows(body)} rows, not {size.hours}")
        for _ in range(WARM_UP_ROUNDS):
            for _, make in requests.values():
                make()
        clocks[side] = db.CpuClock()
    spent = {side: {label: [0.0, 0.0] for label in requests} for side in sides}
    order = list(sides)
    for round_ in range(size.repeats):
        for label, (_, make) in requests.items():
            for side in order if round_ % 2 == 0 else order[::-1]:
                db.use(sides[side])
                cpu_before = clocks[side].now()
                began = time.perf_counter()
                make()
                measures[side][label].seconds.append(time.perf_counter() - began)
                cpu_after = clocks[side].now()
                spent[side][label][0] += cpu_after[0] - cpu_before[0]
                spent[side][label][1] += cpu_after[1] - cpu_before[1]
    for side, wrapper in sides.items():
        db.use(wrapper)
        for label, (_, make) in requests.items():
            found_cpu = spent[side][label]
            measures[side][label].cpu_s = (found_cpu[0] / size.repeats, found_cpu[1] / size.repeats)
            with db.Queries() as captured:
                make()
            measures[side][label].query_count = len(captured.queries)
            measures[side][label].plans = [
                db.explain(sql) for sql, _ in captured.queries if "devices_reading" in sql
            ]
    db.use(next(reversed(sides.values())))
    return measures


def _print_side(name: str, device_id: int, measures: dict[str, Measure]) -> None:
    print(
        f"{name}, device {device_id}: median, p95, first request; mean CPU of this process + "
        "its backend; readings queries: pages touched, execution (EXPLAIN ANALYZE)",
        flush=True,
    )
    for measure in measures.values():
        print(
            f"  {measure.label:<36} {measure.median * 1000:7.1f} {measure.p95 * 1000:7.1f} "
            f"{measure.first_s * 1000:7.1f} ms; CPU {measure.cpu_s[0] * 1000:.1f} + "
            f"{measure.cpu_s[1] * 1000:.1f} ms; {measure.query_count} queries, "
            f"{len(measure.plans)} on readings: {measure.pages} pages, "
            f"{measure.execution_ms:.1f} ms",
            flush=True,
        )


def _csv_rows(body: bytes) -> int:
    """Data rows of an export (its header not counted)."""
    return body.count(b"\n") - 1


# ---- bytes -------------------------------------------------------------------------------------

# ---- the report --------------------------------------------------------------------------------


def _millions(rows: int) -> str:
    if rows < 100_000:
        return f"{rows:,}"
    return f"{rows / 1e6:.0f}M" if rows >= 10_000_000 else f"{rows / 1e6:.1f}M"


def _report(
    size: Size,
    before: dict[str, Measure],
    small: dict[str, Measure],
    big: dict[str, Measure],
    small_rows: int,
    big_rows: int,
    small_bytes: db.Bytes,
    big_bytes: db.Bytes,
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
            f"{sizes}; {_millions(small_rows)} alone, before the load: {before[label].median * 1000:.0f} ms; "
            f"p95 {ours.p95 * 1000:.0f} vs {base.p95 * 1000:.0f} ms; first "
            f"{ours.first_s * 1000:.0f} vs {base.first_s * 1000:.0f} ms; CPU "
            f"{sum(ours.cpu_s) * 1000:.0f} vs {sum(base.cpu_s) * 1000:.0f} ms; readings "
            f"queries {ours.pages} vs {base.pages} pages, {ours.execution_ms:.1f} vs "
            f"{base.execution_ms:.1f} ms; n={len(ours.seconds)}",
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
        f"client); {size.repeats} rounds after {WARM_UP_ROUNDS} warm-up rounds, the big table's "
        "and the small copy's interleaved.",
        flush=True,
    )
    return rows


def _print_queries(ours: Measure, base: Measure, *, missed: bool, explain: bool) -> None:
    """Each readings query of the request, pages and time at both sizes; the plan of the one
    that grew the most when the request missed its target (or BENCH_SCALE_EXPLAIN=1)."""
    for big, small in zip(ours.plans, base.plans, strict=False):
        print(
            f"  {ours.label}: {big.pages:5d} vs {small.pages:5d} pages, {big.execution_ms:6.1f} "
            f"vs {small.execution_ms:6.1f} ms  {big.sql[:110]}",
            flush=True,
        )
    if not (missed or explain) or not ours.plans:
        return
    pairs = list(zip(ours.plans, base.plans, strict=False)) or [(ours.plans[0], ours.plans[0])]
    big, small = max(pairs, key=lambda pair: pair[0].execution_ms - pair[1].execution_ms)
    why = f"missed {TARGET}x" if missed else "EXPLAIN asked for"
    print(f"  {ours.label} ({why}): {big.sql}", flush=True)
    for name, plan in (("at the big size", big), ("at the small size", small)):
        print(f"  {name}:\n" + "\n".join(f"    {line}" for line in plan.text.splitlines()))
