"""A year of realistic hourly readings for the demo's devices and meters (`manage.py seed_demo`),
so the first visit shows charts: solar by the sun's height and the season with cloudy days, a heat
pump by the outdoor temperature, EV charging at night, a hot water tank's morning and evening
draws, a household's meter. Stored through the same import as any file (an upload per record,
"demo-<id>.csv"), once: a record that has readings is left alone, so `make run` stays idempotent.

Two records show what alerts and M&V readiness are for:
- the rooftop solar array's data stopped STOPPED_DAYS ago, so the demo has an M&V-ready device and,
  once alerts are checked, a "no data for 7 days" alert that uploading the missing days resolves;
- the heat pump misses most of one month, so its page names what keeps it from being M&V ready.

Deterministic (a seeded generator per record), computed from the home's latitude and time zone.
"""

from __future__ import annotations

import io
import math
import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.utils import timezone

from devices.models import Device
from homes.models import Home, Meter
from portal.models import Organization, User

from .models import Reading
from .services import import_readings, refresh_stale_readiness, series_for

HOURS = 365 * 24
STOPPED_DAYS = 10  # the demo solar array's data ends this long ago (an alert to see)
STOPPED = "SP-ALV-01"
WITH_A_GAP = "HP-ALV-01"  # most of the month two months ago missing (not M&V ready)
Profile = Callable[[datetime, random.Random], float]  # local time -> kWh of that hour


def _sun(local: datetime, latitude: float) -> float:
    """The sun's height above the horizon as sin(elevation), 0 at night (solar time ~ local)."""
    day = local.timetuple().tm_yday
    declination = math.radians(23.44) * math.sin(2 * math.pi * (284 + day) / 365)
    hour_angle = math.radians(15 * (local.hour + 0.5 - 12.5))  # clock noon ~ half an hour early
    lat = math.radians(latitude)
    height = math.sin(lat) * math.sin(declination) + math.cos(lat) * math.cos(
        declination
    ) * math.cos(hour_angle)
    return max(0.0, height)


def _outdoor_c(local: datetime, latitude: float) -> float:
    """A plausible outdoor temperature: colder with latitude, coldest in mid-January and at 5 a.m."""
    day = local.timetuple().tm_yday
    mean = 24 - 0.35 * abs(latitude)
    season = -11 * math.cos(2 * math.pi * (day - 15) / 365)
    daily = -4 * math.cos(2 * math.pi * (local.hour - 5) / 24)
    return mean + season + daily


def solar(size_kw: float, latitude: float) -> Profile:
    clouds: dict[int, float] = {}

    def hour(local: datetime, rng: random.Random) -> float:
        day = local.toordinal()
        if day not in clouds:  # one sky a day: clear, hazy or overcast
            clouds[day] = rng.choice([1.0, 1.0, 1.0, 0.85, 0.7, 0.4, 0.2])
        return size_kw * 0.82 * _sun(local, latitude) * clouds[day] * rng.uniform(0.93, 1.0)

    return hour


def heat_pump(latitude: float) -> Profile:
    def hour(local: datetime, rng: random.Random) -> float:
        heating = max(0.0, 17 - _outdoor_c(local, latitude)) * 0.11
        cooling = max(0.0, _outdoor_c(local, latitude) - 25) * 0.08
        return 0.05 + (heating + cooling) * rng.uniform(0.85, 1.15)

    return hour


def ev_charging(power_kw: float) -> Profile:
    def hour(local: datetime, rng: random.Random) -> float:
        # Plugged in on most evenings; charges from 11 p.m. for as long as the day's driving needs.
        day = random.Random(local.toordinal()).random()
        hours_needed = 0 if day < 0.25 else 1 + int(day * 4)
        start = 23
        since_start = (local.hour - start) % 24
        return power_kw * 0.95 if since_start < hours_needed else 0.0

    return hour


def hot_water(element_kw: float) -> Profile:
    shape = {6: 0.9, 7: 1.0, 8: 0.6, 12: 0.2, 18: 0.5, 19: 0.8, 20: 0.6, 21: 0.3}

    def hour(local: datetime, rng: random.Random) -> float:
        return element_kw * shape.get(local.hour, 0.05) * rng.uniform(0.7, 1.1)

    return hour


def household(latitude: float) -> Profile:
    def hour(local: datetime, rng: random.Random) -> float:
        base = 0.35 + 0.45 * math.exp(-(((local.hour - 19) / 2.5) ** 2))
        base += 0.25 * math.exp(-(((local.hour - 7.5) / 1.5) ** 2))
        cooling = max(0.0, _outdoor_c(local, latitude) - 24) * 0.12
        return (base + cooling) * rng.uniform(0.8, 1.2)

    return hour


def _number(details: dict, name: str, default: float) -> float:
    try:
        return float(str(details.get(name, default)).split(",")[0])
    except ValueError:
        return default


def profile_for(record: Device | Meter, home: Home) -> Profile | None:
    latitude = float(home.latitude) if home.latitude is not None else 40.0
    if isinstance(record, Meter):
        return household(latitude)
    details = record.details or {}
    if record.kind == "solar":
        return solar(_number(details, "nameplate_capacity_kw", 6.0), latitude)
    if record.kind == "electrification":
        return heat_pump(latitude)
    if record.kind in ("ev_charger", "vehicle"):
        return ev_charging(min(_number(details, "power_kw", 7.2), 7.2))
    if record.kind == "hot_water_tank":
        return hot_water(_number(details, "heating_elements_w", 2000) / 1000)
    return None  # batteries and programs: no metered energy of their own in the demo


def year_csv(
    profile: Profile,
    zone: str,
    end: datetime,
    seed: str,
    skip: Callable[[datetime], bool] | None = None,
) -> bytes:
    """`datetime,value_kwh` of the HOURS whole hours before `end` (UTC), with UTC offsets; the
    local hours `skip` names are left out."""
    rng = random.Random(seed)
    tz = ZoneInfo(zone)
    start = end - timedelta(hours=HOURS)
    out = io.StringIO()
    out.write("datetime,value_kwh\n")
    for n in range(HOURS):
        moment = (start + timedelta(hours=n)).astimezone(tz)
        value = profile(moment, rng)
        if skip is None or not skip(moment):
            out.write(f"{moment.isoformat()},{value:.3f}\n")
    return out.getvalue().encode()


def _gap_in(month: int) -> Callable[[datetime], bool]:
    """The hours missing from the heat pump's data: all but the first six days of `month`."""
    return lambda local: local.month == month and local.day > 6


def seed(organization: Organization, user: User) -> None:
    # The test suite's settings turn this off (tests/settings.py): browser tests seed the demo
    # many times and bring the readings they look at; tests/readings/test_demo_readings.py on.
    if not getattr(settings, "DEMO_READINGS", True):
        return
    end = timezone.now().astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    records: list[Device | Meter] = [
        *Device.objects.filter(organization=organization).select_related("home"),
        *Meter.objects.filter(organization=organization).select_related("home"),
    ]
    for record in records:
        profile = profile_for(record, record.home)
        series = series_for(record)
        if profile is None or Reading.objects.filter(series=series).exists():
            continue
        label = record.custom_id if isinstance(record, Device) else record.meter_number
        until, skip = end, None
        if label == STOPPED:
            until = end - timedelta(days=STOPPED_DAYS)
        elif label == WITH_A_GAP:
            skip = _gap_in(
                (end - timedelta(days=60)).astimezone(ZoneInfo(record.home.timezone)).month
            )
        content = year_csv(profile, record.home.timezone, until, seed=label, skip=skip)
        import_readings(series, io.BytesIO(content), filename=f"demo-{label}.csv", user=user)
    refresh_stale_readiness()  # the lists' M&V column
