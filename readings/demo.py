"""Demo readings for `manage.py seed_demo` (idempotent: a series that has readings is left alone).

- The rooftop solar array: a full year of hourly generation that stopped STOPPED_DAYS ago, so the
  demo shows an M&V-ready device and, once alerts are checked, a "no data for 7 days" alert that
  uploading the missing days resolves.
- The heat pump: its last 200 days, with most of one month missing, so its page names what keeps
  it from being M&V ready.
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Callable
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.utils import timezone

from devices.models import Device
from portal.models import Organization, User

from .parser import HourlyReadings
from .services import refresh_stale_readiness
from .store import series_for, store_readings

STOPPED_DAYS = 10
HOUR_S = 3600


def _solar_kwh(local: datetime) -> float:
    daylight = math.sin(math.pi * (local.hour + 0.5 - 6) / 13)
    season = 0.75 + 0.25 * math.cos(2 * math.pi * (local.timetuple().tm_yday - 172) / 365)
    return round(max(daylight, 0.0) * 5.5 * season, 3)


def _heat_pump_kwh(local: datetime) -> float:
    winter = 1 + math.cos(2 * math.pi * (local.timetuple().tm_yday - 15) / 365)
    return round(0.3 + 0.9 * winter * (1.2 if 6 <= local.hour <= 9 else 1.0), 3)


def _readings(
    zone: ZoneInfo,
    end: datetime,
    days: int,
    value: Callable[[datetime], float],
    skip: Callable[[datetime], bool] | None = None,
) -> HourlyReadings:
    last = int(end.timestamp()) // HOUR_S * HOUR_S
    epochs = array("q")
    values = array("d")
    for epoch in range(last - days * 24 * HOUR_S, last, HOUR_S):
        local = datetime.fromtimestamp(epoch, zone)
        if skip is not None and skip(local):
            continue
        epochs.append(epoch)
        values.append(value(local))
    return HourlyReadings(epochs, values)


def _gap_in(month: int) -> Callable[[datetime], bool]:
    """The hours missing from the heat pump's data: all but the first six days of `month`."""

    def missing(local: datetime) -> bool:
        return local.month == month and local.day > 6

    return missing


def seed(organization: Organization, user: User) -> None:
    now = timezone.now()
    devices = Device.objects.filter(organization=organization).select_related("home", "series")
    for device in devices:
        zone = ZoneInfo(device.home.timezone or organization.timezone)
        if device.custom_id == "SP-ALV-01":
            readings = _readings(zone, now - timedelta(days=STOPPED_DAYS), 365, _solar_kwh)
        elif device.custom_id == "HP-ALV-01":
            gap = _gap_in((now - timedelta(days=60)).astimezone(zone).month)
            readings = _readings(zone, now, 200, _heat_pump_kwh, gap)
        else:
            continue
        series = series_for(device)
        if series.reading_count == 0:
            store_readings(series, readings)
    refresh_stale_readiness()
