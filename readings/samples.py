"""Sample files for the drop zones: a week of hourly example readings in the columns the upload
reads, in the record's zone with its UTC offsets (or the organization's, with a customId column,
for the Uploads page), so a new user sees what a file looks like before making one."""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.utils import timezone

SAMPLE_DAYS = 7


def _kwh(kind: str, hour: int, day: int) -> float:
    """A plausible hour: solar by daylight, an EV charger at night, a meter's evening peak, and
    the rest through the day; a little day-to-day variation so the chart is not a stamp."""
    swing = 1 + 0.08 * math.sin(day * 1.7)
    if kind == "solar":
        value = 4.2 * math.sin(math.pi * (hour - 6) / 13) if 6 <= hour <= 19 else 0.0
    elif kind == "ev_charger":
        value = 6.6 if 0 <= hour < 4 else 0.0
    elif kind == "meter":
        value = 0.45 + (0.9 if 17 <= hour <= 21 else 0.35 if 7 <= hour <= 9 else 0.0)
    else:
        value = 0.3 + 0.9 * max(0.0, math.cos(math.pi * (hour - 7) / 12))
    return round(max(0.0, value) * swing, 3)


def sample_rows(zone_name: str, kind: str, custom_id: str = "") -> Iterator[str]:
    """CSV lines: the last full week before today, local midnight to midnight (a daylight-saving
    change inside it has its 23 or 25 hours: the hours are counted in UTC)."""
    zone = ZoneInfo(zone_name)
    today = timezone.localtime(timezone.now(), zone).date()
    first = datetime.combine(today - timedelta(days=SAMPLE_DAYS), datetime.min.time(), zone)
    end = datetime.combine(today, datetime.min.time(), zone)
    yield "datetime,value_kwh,customId\n" if custom_id else "datetime,value_kwh\n"
    instant = first.astimezone(ZoneInfo("UTC"))
    index = 0
    while instant < end:
        local = instant.astimezone(zone)
        value = _kwh(kind, local.hour, index // 24)
        yield f"{local.isoformat()},{value}{',' + custom_id if custom_id else ''}\n"
        instant += timedelta(hours=1)
        index += 1
