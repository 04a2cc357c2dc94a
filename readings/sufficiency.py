"""M&V readiness: whether a series' stored hourly readings meet OpenDSM's hourly baseline
sufficiency criteria (the defaults of ``opendsm.eemeter`` ``HourlyBaselineData``):

- the baseline spans 329 (ceil(0.9 x 365)) to 366 days, counted as OpenDSM does: whole days between
  the first and the last reading present, plus one;
- at least 90 % valid days: hours present / 24 over those days (OpenDSM's day count of hourly rows);
- at least 90 % of the hours present in every calendar month of the baseline (local time, so a
  daylight-saving month has 743 or 745 hours; the first and last months count from the first
  reading's day and to the last reading's day);
- no negative value where the kind of series cannot have one (solar generation).

The baseline is the 365 local days ending with the day of the series' last reading (or the period
asked for). Everything comes from one aggregate query over the readings table, grouped by local
calendar month through UTC bounds computed here, so it needs no timezone support from the database
(PostgreSQL and SQLite alike) and reads only the (series, instant) primary key range.

Where we differ from OpenDSM, on purpose: a stored 0 counts as present (OpenDSM's electricity mode
treats 0 kWh as missing, which would fail every solar device's nights), and the monthly rule is per
calendar month (OpenDSM pools a month-of-year that the baseline holds twice).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.db.models import Case, Count, IntegerField, Max, Min, Q, Value, When

from .models import Reading, Series

MIN_BASELINE_DAYS = math.ceil(0.9 * 365)  # 329
MAX_BASELINE_DAYS = 366
MIN_VALID_DAYS_FRACTION = 0.9
MIN_MONTH_FRACTION = 0.9
BASELINE_DAYS = 365

# Device kinds whose series cannot be negative: solar is generation (the upload check warns of a
# negative solar value). Other devices report savings or net flows, and meters net consumption
# (a home that exports), which OpenDSM's electricity mode allows to go below zero.
NEGATIVE_NOT_ALLOWED_KINDS = frozenset({"solar"})


@dataclass(frozen=True)
class MonthCoverage:
    """One calendar month of the baseline: hours present against the hours it has there."""

    month: date  # the first day of the month
    hours_present: int
    hours_expected: int

    @property
    def fraction(self) -> float:
        return self.hours_present / self.hours_expected if self.hours_expected else 0.0

    @property
    def passes(self) -> bool:
        return self.fraction >= MIN_MONTH_FRACTION

    @property
    def hours_missing(self) -> int:
        return max(self.hours_expected - self.hours_present, 0)

    @property
    def hours_needed(self) -> int:
        """Hours still to add for the month to pass."""
        return max(
            math.ceil(MIN_MONTH_FRACTION * self.hours_expected - 1e-9) - self.hours_present, 0
        )


@dataclass(frozen=True)
class Sufficiency:
    """The verdict on one series' baseline, with what fails and why."""

    window_start: datetime | None = None  # the baseline period looked at (UTC bounds)
    window_end: datetime | None = None
    first_reading: datetime | None = None
    last_reading: datetime | None = None
    days: int = 0
    hours_present: int = 0
    negative_hours: int = 0
    negatives_allowed: bool = True
    months: list[MonthCoverage] = field(default_factory=list)

    @property
    def has_data(self) -> bool:
        return self.hours_present > 0

    @property
    def valid_days(self) -> float:
        return self.hours_present / 24

    @property
    def valid_days_fraction(self) -> float:
        return self.valid_days / self.days if self.days else 0.0

    @property
    def failing_months(self) -> list[MonthCoverage]:
        return [month for month in self.months if not month.passes]

    @property
    def problems(self) -> list[str]:
        """What keeps the baseline from being M&V ready, one sentence each (none: ready)."""
        if not self.has_data:
            return ["No readings stored."]
        problems = []
        if self.days < MIN_BASELINE_DAYS:
            problems.append(
                f"The baseline spans {self.days} days: it needs at least {MIN_BASELINE_DAYS} "
                f"({MIN_BASELINE_DAYS - self.days} more)."
            )
        elif self.days > MAX_BASELINE_DAYS:
            problems.append(
                f"The baseline spans {self.days} days: at most {MAX_BASELINE_DAYS} are allowed."
            )
        if self.valid_days_fraction < MIN_VALID_DAYS_FRACTION:
            problems.append(
                f"Valid days: {self.valid_days:.1f} of {self.days} "
                f"({_percent(self.valid_days_fraction)}), at least 90 % needed."
            )
        for month in self.failing_months:
            problems.append(
                f"{month.month:%B %Y}: {month.hours_present} of {month.hours_expected} hours "
                f"({_percent(month.fraction)}); {month.hours_needed} more needed for 90 %."
            )
        if self.negative_hours and not self.negatives_allowed:
            problems.append(
                f"{self.negative_hours} negative hour{'s' if self.negative_hours != 1 else ''}: "
                "this kind of series cannot be negative."
            )
        return problems

    @property
    def ready(self) -> bool:
        return not self.problems

    @property
    def summary(self) -> str:
        """One line for a list: "M&V ready", or the first reason it is not."""
        if self.ready:
            return "M&V ready"
        problems = self.problems
        more = f" (+{len(problems) - 1} more)" if len(problems) > 1 else ""
        return problems[0] + more


def _percent(fraction: float) -> str:
    """Rounded down to 0.1 %, so 89.96 % never shows as a passing 90.0 %."""
    return f"{math.floor(fraction * 1000) / 10:.1f} %"


def negatives_allowed(series: Series) -> bool:
    if series.device_id is None:
        return True
    return series.owner.kind not in NEGATIVE_NOT_ALLOWED_KINDS  # type: ignore[union-attr]  # a device


def _local_midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)


def _month_starts(first_day: date, end_day: date) -> list[date]:
    """The first day of every month from `first_day`'s month until `end_day` (exclusive)."""
    starts = []
    month = first_day.replace(day=1)
    while month < end_day:
        starts.append(month)
        month = (month + timedelta(days=32)).replace(day=1)
    return starts


def baseline_window(
    series: Series, *, end_day: date | None = None, days: int = BASELINE_DAYS
) -> tuple[ZoneInfo, date, date] | None:
    """(zone, first local day, last local day) of the baseline: `days` days ending with `end_day`,
    by default the day of the series' last reading. None when the series has no reading."""
    zone = ZoneInfo(series.timezone)
    if end_day is None:
        if series.last_instant is None:
            return None
        end_day = series.last_instant.astimezone(zone).date()
    return zone, end_day - timedelta(days=days - 1), end_day


def compute_sufficiency(
    series: Series, *, end_day: date | None = None, days: int = BASELINE_DAYS
) -> Sufficiency:
    """The sufficiency of `series` over its baseline window: one aggregate query."""
    allowed = negatives_allowed(series)
    window = baseline_window(series, end_day=end_day, days=days)
    if window is None:
        return Sufficiency(negatives_allowed=allowed)
    zone, first_day, last_day = window
    starts = _month_starts(first_day, last_day + timedelta(days=1))
    window_start = _local_midnight(first_day, zone)
    window_end = _local_midnight(last_day + timedelta(days=1), zone)
    # Month i holds the instants before the start of month i + 1 (the last month: the window's end).
    bounds = [_local_midnight(start, zone) for start in starts[1:]]
    bucket = Case(
        *[When(instant__lt=bound, then=Value(index)) for index, bound in enumerate(bounds)],
        default=Value(len(bounds)),
        output_field=IntegerField(),
    )
    rows = (
        Reading.objects.filter(
            series_id=series.pk, instant__gte=window_start, instant__lt=window_end
        )
        .annotate(bucket=bucket)
        .values("bucket")
        .annotate(
            hours=Count("*"),
            negative=Count("value_kwh", filter=Q(value_kwh__lt=0)),
            first=Min("instant"),
            last=Max("instant"),
        )
        .order_by("bucket")
    )
    by_bucket = {row["bucket"]: row for row in rows}
    if not by_bucket:
        return Sufficiency(window_start, window_end, negatives_allowed=allowed)
    first = min(row["first"] for row in by_bucket.values())
    last = max(row["last"] for row in by_bucket.values())
    # OpenDSM's frame: whole local days from the first reading's day to the last reading's day.
    frame_start = _local_midnight(first.astimezone(zone).date(), zone)
    frame_end = _local_midnight(last.astimezone(zone).date() + timedelta(days=1), zone)
    months = []
    for index, start in enumerate(starts):
        month_start = max(_local_midnight(start, zone), frame_start)
        month_end = min(bounds[index] if index < len(bounds) else window_end, frame_end)
        if month_end <= month_start:
            continue
        expected = int((month_end - month_start).total_seconds() // 3600)
        present = by_bucket[index]["hours"] if index in by_bucket else 0
        months.append(MonthCoverage(start, present, expected))
    return Sufficiency(
        window_start=window_start,
        window_end=window_end,
        first_reading=first,
        last_reading=last,
        days=(last - first).days + 1,
        hours_present=sum(row["hours"] for row in by_bucket.values()),
        negative_hours=sum(row["negative"] for row in by_bucket.values()),
        negatives_allowed=allowed,
        months=months,
    )
