"""M&V readiness: one device's OpenDSM sufficiency verdict (readings.sufficiency, one aggregate
query) on a readings table of 10 million rows, against counting the same device-year's rows.

Set-up (not counted): a throwaway PostgreSQL database; one organization with 1,142 solar devices,
each holding a year of hourly readings (10.0 M rows, binary COPY, each series' rows together as a
device-year upload writes them), then VACUUM ANALYZE.

Measured, warm (each device once untimed first), for a sample of 50 devices spread over the table:
- ours: `compute_sufficiency(series)` as a device page calls it (its series and home loaded), the
  Python around the query included;
- baseline: `SELECT count(*)` of the same device's rows in the same window, through the same
  primary key range: the least any query over that device-year can do.

Reported: p95 of each (p50 and max in the note), the ratio, and ours against the 50 ms target.

Knobs: BENCH_MV_DEVICES (1142), BENCH_MV_HOURS (8760), BENCH_MV_SAMPLE (50), BENCH_TINY=1.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from bench import _fixtures as fx
from bench.common import Row

SLUG = "bench-mv"
TZ = "America/Chicago"
TARGET_S = 0.050


@dataclass
class Size:
    devices: int
    hours: int
    sample: int

    @classmethod
    def from_env(cls) -> Size:
        if fx.tiny():
            return cls(devices=4, hours=24 * 40, sample=4)
        return cls(
            devices=fx.env_int("BENCH_MV_DEVICES", 1142),
            hours=fx.env_int("BENCH_MV_HOURS", fx.HOURS_PER_YEAR),
            sample=fx.env_int("BENCH_MV_SAMPLE", 50),
        )


def run() -> list[Row]:
    reason = fx.skip_reason(needs_broker=False)
    if reason:
        print(f"mv: skipped ({reason})")
        return []
    with fx.throwaway_database("mv"):
        return _run(Size.from_env())


def _series_ids(size: Size) -> list[int]:
    from devices.models import Device
    from portal.models import Organization
    from readings.models import Series, SeriesQuantity

    organization = Organization.objects.create(name="Bench M&V", slug=SLUG, timezone=TZ)
    homes = fx.customers_and_homes(organization, size.devices, TZ)
    devices = [
        Device(
            organization=organization,
            home=home,
            name=f"Array {n:06d}",
            custom_id=f"SOL-{n:06d}",
            kind="solar",
            details={"nameplate_capacity_kw": 7.2},
        )
        for n, home in enumerate(homes)
    ]
    fx.copy_models(Device, devices)
    series = [
        Series(organization=organization, device=device, quantity=SeriesQuantity.GENERATION)
        for device in devices
    ]
    fx.copy_models(Series, series)
    return [s.pk for s in series]


def _percentile_ms(values: list[float], fraction: float) -> float:
    return fx.percentile(values, fraction) * 1000


def _run(size: Size) -> list[Row]:
    from django.db.models import Count

    from readings.models import Reading, Series
    from readings.sufficiency import compute_sufficiency

    started = time.perf_counter()
    ids = _series_ids(size)
    rows = fx.insert_readings(ids, hours=size.hours)
    fx.settle("devices_reading", "devices_series")
    print(f"set-up: {rows:,} readings in {time.perf_counter() - started:.1f} s", flush=True)

    step = max(len(ids) // size.sample, 1)
    sample = list(
        Series.objects.filter(pk__in=ids[::step][: size.sample]).select_related("device__home")
    )

    def ours(series: Series) -> float:
        began = time.perf_counter()
        compute_sufficiency(series)
        return time.perf_counter() - began

    def baseline(series: Series) -> float:
        began = time.perf_counter()
        Reading.objects.filter(
            series_id=series.pk, instant__range=(series.first_instant, series.last_instant)
        ).aggregate(hours=Count("*"))
        return time.perf_counter() - began

    for series in sample:  # warm: the pages and the plan, for both
        ours(series)
        baseline(series)
    ours_s = [ours(series) for series in sample]
    base_s = [baseline(series) for series in sample]
    verdict = compute_sufficiency(sample[0])
    ours_p95, base_p95 = fx.percentile(ours_s, 0.95), fx.percentile(base_s, 0.95)
    note = (
        f"p50 {_percentile_ms(ours_s, 0.5):.1f} vs {_percentile_ms(base_s, 0.5):.1f} ms, max "
        f"{max(ours_s) * 1000:.1f} ms; n={len(sample)}; {rows / 1e6:.1f}M rows; first verdict: "
        f"{verdict.summary[:40]}"
    )
    return [
        Row("mv", "one device's M&V verdict p95 vs count(*)", ours_p95, base_p95, None, note),
        Row(
            "mv",
            "one device's M&V verdict p95 vs 50 ms",
            ours_p95,
            TARGET_S,
            1.0,
            "seconds; the target: at most 50 ms on a 10M-row table",
        ),
    ]
