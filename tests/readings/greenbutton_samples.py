"""Green Button samples for the tests: an ESPI feed written as a utility's Download My Data
export is (Atom entries linked by self/up/related), and a streamed multi-year one.

``write_fixtures()`` wrote the committed files under tests/fixtures/greenbutton/ (run it again
after changing a sample: ``python -m tests.readings.greenbutton_samples``).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "greenbutton"
BASE = "https://utility.example.com/DataCustodian/espi/1_1/resource"
SUBSCRIPTION = f"{BASE}/Subscription/83"
USAGE_POINT = f"{SUBSCRIPTION}/UsagePoint/1"

HEAD = """<?xml version="1.0" encoding="UTF-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xmlns:espi="http://naesb.org/espi">
  <id>urn:uuid:9c8e1d2a-3b4c-4d5e-8f90-123456789abc</id>
  <title>Green Button Usage Feed</title>
  <updated>2024-03-12T08:00:00Z</updated>
  <link href="{subscription}" rel="self"/>
  <entry>
    <id>urn:uuid:0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0</id>
    <link href="{usage_point}" rel="self"/>
    <link href="{subscription}/UsagePoint" rel="up"/>
    <link href="{usage_point}/MeterReading" rel="related"/>
    <link href="{base}/LocalTimeParameters/1" rel="related"/>
    <title>Solar home, 12 Elm St</title>
    <content>
      <espi:UsagePoint>
        <espi:ServiceCategory><espi:kind>{service_kind}</espi:kind></espi:ServiceCategory>
      </espi:UsagePoint>
    </content>
    <published>2024-03-12T08:00:00Z</published>
    <updated>2024-03-12T08:00:00Z</updated>
  </entry>
  <entry>
    <id>urn:uuid:1a2b3c4d-5e6f-7081-92a3-b4c5d6e7f809</id>
    <link href="{base}/LocalTimeParameters/1" rel="self"/>
    <link href="{base}/LocalTimeParameters" rel="up"/>
    <title>DST For North America</title>
    <content>
      <LocalTimeParameters xmlns="http://naesb.org/espi">
        <dstEndRule>B40E2000</dstEndRule>
        <dstOffset>3600</dstOffset>
        <dstStartRule>360E2000</dstStartRule>
        <tzOffset>{tz_offset}</tzOffset>
      </LocalTimeParameters>
    </content>
  </entry>
"""

METER_READING = """  <entry>
    <id>urn:uuid:2b3c4d5e-6f70-8192-a3b4-c5d6e7f8091{n}</id>
    <link href="{usage_point}/MeterReading/{n}" rel="self"/>
    <link href="{usage_point}/MeterReading" rel="up"/>
    <link href="{usage_point}/MeterReading/{n}/IntervalBlock" rel="related"/>
    <link href="{base}/ReadingType/{n}" rel="related"/>
    <title>{title}</title>
    <content><MeterReading xmlns="http://naesb.org/espi"/></content>
  </entry>
"""

READING_TYPE = """  <entry>
    <id>urn:uuid:3c4d5e6f-7081-92a3-b4c5-d6e7f809a1b{n}</id>
    <link href="{base}/ReadingType/{n}" rel="self"/>
    <link href="{base}/ReadingType" rel="up"/>
    <title>{title}</title>
    <content>
      <ReadingType xmlns="http://naesb.org/espi">
        <accumulationBehaviour>4</accumulationBehaviour>
        <commodity>{commodity}</commodity>
        <currency>840</currency>
        <dataQualifier>12</dataQualifier>
        <flowDirection>{flow}</flowDirection>
        <intervalLength>{interval}</intervalLength>
        <kind>12</kind>
        <phase>769</phase>
        <powerOfTenMultiplier>{multiplier}</powerOfTenMultiplier>
        <timeAttribute>0</timeAttribute>
        <uom>{uom}</uom>
      </ReadingType>
    </content>
  </entry>
"""

BLOCK_HEAD = """  <entry>
    <id>urn:uuid:4d5e6f70-8192-a3b4-c5d6-{n:04d}{day:08d}</id>
    <link href="{usage_point}/MeterReading/{n}/IntervalBlock/{day}" rel="self"/>
    <link href="{usage_point}/MeterReading/{n}/IntervalBlock" rel="up"/>
    <content>
      <IntervalBlock xmlns="http://naesb.org/espi">
        <interval><duration>{duration}</duration><start>{start}</start></interval>
"""

READING = (
    "        <IntervalReading><cost>{cost}</cost><timePeriod><duration>{interval}</duration>"
    "<start>{start}</start></timePeriod><value>{value}</value></IntervalReading>\n"
)

BLOCK_TAIL = """      </IntervalBlock>
    </content>
  </entry>
"""


def solar_wh(epoch: int, interval_s: int) -> tuple[int, int]:
    """(delivered, received) Wh of an interval at a sunny Californian home: it draws at night
    and in the evening, and sends back around noon."""
    hour = (datetime.fromtimestamp(epoch, UTC).hour - 8) % 24 + (epoch % 3600) / 3600
    sun = max(0.0, math.sin((hour - 6.5) / 12 * math.pi)) * 4.2  # kW
    load = 0.6 + (1.1 if 17 <= hour < 22 else 0.0) + 0.05 * (epoch // interval_s % 7)
    net_kw = load - sun
    energy = round(abs(net_kw) * 1000 * interval_s / 3600)
    return (energy, 0) if net_kw >= 0 else (0, energy)


def feed(
    start: int,
    days: int,
    *,
    interval_s: int = 900,
    channels: tuple[int, ...] = (1, 19),
    uom: int = 72,
    commodity: int = 1,
    service_kind: int = 0,
    multiplier: int = 0,
    tz_offset: int = -28800,
) -> Iterator[str]:
    """An ESPI feed, a piece at a time: one MeterReading per flow direction, one IntervalBlock
    per day (``start``: the first day's start, UTC epoch seconds)."""
    names = {1: "Energy delivered", 19: "Energy received", 4: "Net energy"}
    values = dict(base=BASE, subscription=SUBSCRIPTION, usage_point=USAGE_POINT)
    yield HEAD.format(**values, service_kind=service_kind, tz_offset=tz_offset)
    for n, flow in enumerate(channels, 1):
        title = f"{names.get(flow, 'Energy')}, {interval_s // 60}-minute"
        yield METER_READING.format(**values, n=n, title=title)
        yield READING_TYPE.format(
            **values,
            n=n,
            title=title,
            flow=flow,
            interval=interval_s,
            multiplier=multiplier,
            uom=uom,
            commodity=commodity,
        )
    per_day = 86_400 // interval_s
    scale = 10**multiplier
    for n, flow in enumerate(channels, 1):
        for day in range(days):
            day_start = start + day * 86_400
            yield BLOCK_HEAD.format(**values, n=n, day=day, duration=86_400, start=day_start)
            pieces = []
            for k in range(per_day):
                epoch = day_start + k * interval_s
                delivered, received = solar_wh(epoch, interval_s)
                wh = received if flow == 19 else delivered if flow == 1 else delivered - received
                pieces.append(
                    READING.format(
                        cost=wh * 3, interval=interval_s, start=epoch, value=round(wh / scale)
                    )
                )
            yield "".join(pieces)
            yield BLOCK_TAIL
    yield "</feed>\n"


class StreamedFeed:
    """A feed read like a file, generated as it is read: a multi-year feed never exists whole."""

    def __init__(self, pieces: Iterator[str]) -> None:
        self.pieces = pieces
        self.buffer = b""

    def read(self, size: int = -1) -> bytes:
        while size < 0 or len(self.buffer) < size:
            piece = next(self.pieces, None)
            if piece is None:
                break
            self.buffer += piece.encode()
        if size < 0:
            out, self.buffer = self.buffer, b""
        else:
            out, self.buffer = self.buffer[:size], self.buffer[size:]
        return out


# 2024-03-09 00:00 in Los Angeles (PST): three local days, the middle one 23 hours long.
MARCH_9_LA = int(datetime(2024, 3, 9, 8, tzinfo=UTC).timestamp())


def green_button_csv(*, solar: bool) -> str:
    """A utility portal's Green Button CSV: the account block, then hourly rows."""
    lines = [
        "Name,SAMPLE CUSTOMER",
        'Address,"12 ELM ST, SAN JOSE CA 95112"',
        "Account Number,3004455667",
        "Service,Service 1",
        "",
    ]
    if solar:
        lines.append("TYPE,DATE,START TIME,END TIME,IMPORT (kWh),EXPORT (kWh),NOTES")
    else:
        lines.append("TYPE,DATE,START TIME,END TIME,USAGE,UNITS,COST,NOTES")
    for day in (9, 10, 11):
        for hour in range(24):
            if day == 10 and hour == 2:
                continue  # the hour the clocks skip
            epoch = int(datetime(2024, 3, day, hour, tzinfo=UTC).timestamp()) + 8 * 3600
            delivered, received = solar_wh(epoch, 3600)
            start, end = f"{hour:02d}:00", f"{hour:02d}:59"
            if solar:
                lines.append(
                    f"Electric usage,2024-03-{day:02d},{start},{end},"
                    f"{delivered / 1000:.2f},{received / 1000:.2f},"
                )
            else:
                lines.append(
                    f"Electric usage,2024-03-{day:02d},{start},{end},{delivered / 1000:.2f},"
                    f"kWh,${delivered / 1000 * 0.31:.2f},"
                )
    return "\n".join(lines) + "\n"


def write_fixtures() -> None:
    FIXTURES.mkdir(parents=True, exist_ok=True)
    (FIXTURES / "net_metered_15min.xml").write_text("".join(feed(MARCH_9_LA, 3)))
    (FIXTURES / "gas_therms.xml").write_text(
        "".join(
            feed(
                MARCH_9_LA,
                1,
                interval_s=3600,
                channels=(1,),
                uom=169,
                commodity=7,
                service_kind=1,
                multiplier=-3,
            )
        )
    )
    (FIXTURES / "greenbutton_solar.csv").write_text(green_button_csv(solar=True))
    (FIXTURES / "greenbutton_usage.csv").write_text(green_button_csv(solar=False))


if __name__ == "__main__":
    write_fixtures()
