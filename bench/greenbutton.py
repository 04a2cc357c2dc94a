"""Green Button XML against the usual CSV: a year of 15-minute readings for each of 100 meters
through `manage.py import_readings`, once as Green Button XML feeds (one delivered MeterReading
each), once as the same readings in `datetime,value_kwh` CSV files, into meters of their own, in
the same run and the same throwaway database. Target (the issue's): XML at most 1.5x the CSV.

BENCH_TINY=1 runs 2 meters of 3 days (tests/test_bench_smoke.py).
"""

from __future__ import annotations

import io
import os
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from bench.common import Row

TZ = "America/Los_Angeles"
SLUG = "bench-greenbutton"


def _size() -> tuple[int, int]:
    return (2, 3) if os.environ.get("BENCH_TINY") else (100, 365)


def run() -> list[Row]:
    from django.db import connection

    if connection.vendor != "postgresql":
        print("greenbutton: skipped (set DATABASE_URL=postgres://... as for the other benches)")
        return []
    original_name = connection.settings_dict["NAME"]
    original_test = dict(connection.settings_dict.get("TEST") or {})
    throwaway = f"bench_greenbutton_{os.getpid()}"
    connection.settings_dict["TEST"] = {**original_test, "NAME": throwaway}
    print(f"creating and migrating the throwaway database {throwaway} ...", flush=True)
    connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
    try:
        with tempfile.TemporaryDirectory(prefix="bench-greenbutton-") as directory:
            return _run(Path(directory))
    finally:
        connection.creation.destroy_test_db(original_name, verbosity=0)
        connection.settings_dict["TEST"] = original_test
        print(f"dropped {throwaway}", flush=True)


def _run(directory: Path) -> list[Row]:
    from homes.models import Customer, Home, Meter
    from portal.models import Organization
    from tests.readings.greenbutton_samples import MARCH_9_LA, feed

    meters, days = _size()
    org = Organization.objects.create(name="Bench Green Button", slug=SLUG, timezone=TZ)
    customer = Customer.objects.create(organization=org, name="Bench customer")
    home = Home.objects.create(
        organization=org, customer=customer, name="Bench home", zip_code="95112", timezone=TZ
    )
    xml_files: list[tuple[Path, str]] = []
    csv_files: list[tuple[Path, str]] = []
    for n in range(meters):
        for kind, files in (("xml", xml_files), ("csv", csv_files)):
            number = f"GB-{kind}-{n:03d}"
            Meter.objects.create(organization=org, home=home, meter_number=number)
            path = directory / f"{number}.{kind}"
            files.append((path, number))
        text = "".join(feed(MARCH_9_LA, days, channels=(1,)))
        xml_files[-1][0].write_text(text)
        csv_files[-1][0].write_text(_as_csv(text))
    readings = meters * days * 96
    print(f"wrote {meters} feeds and {meters} CSV files of {readings:,} readings each way")
    csv_s = _import_all(csv_files)
    xml_s = _import_all(xml_files)
    print(f"CSV {csv_s:.2f} s, Green Button XML {xml_s:.2f} s", flush=True)
    note = f"{meters} meters x {days} days of 15-minute readings ({readings:,}), import_readings"
    return [
        Row("greenbutton", "Green Button XML vs the same as CSV, wall", xml_s, csv_s, 1.5, note)
    ]


def _as_csv(feed_text: str) -> str:
    """The feed's readings as `datetime,value_kwh` (15-minute rows, UTC)."""
    import re

    lines = ["datetime,value_kwh\n"]
    for start, value in re.findall(
        r"<start>(\d+)</start></timePeriod><value>(-?\d+)</value>", feed_text
    ):
        moment = datetime.fromtimestamp(int(start), UTC)
        lines.append(f"{moment:%Y-%m-%dT%H:%M:%S}Z,{int(value) / 1000}\n")
    return "".join(lines)


def _import_all(files: list[tuple[Path, str]]) -> float:
    from django.core.management import call_command

    sink = io.StringIO()
    started = time.perf_counter()
    for path, number in files:
        call_command(
            "import_readings", "--org", SLUG, "--meter", number, str(path), stdout=sink, stderr=sink
        )
    return time.perf_counter() - started
