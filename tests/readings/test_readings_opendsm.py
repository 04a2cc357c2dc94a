"""Our M&V verdict against OpenDSM's own (``opendsm.eemeter`` HourlyBaselineData, its default
sufficiency settings) on the same stored readings, rule by rule.

OpenDSM needs a temperature column: every hour gets one, so only the observed data decides. Kinds
that may go negative are checked in OpenDSM's electricity mode (negatives allowed), solar outside
it; the values are never 0, which the electricity mode would count as missing (we do not).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from datetime import date, datetime

import pandas as pd
import pytest
from opendsm.eemeter.models.hourly.data import HourlyBaselineData

from readings.models import Reading
from readings.store import series_for
from readings.sufficiency import compute_sufficiency
from tests.factories import DeviceFactory
from tests.readings.test_readings_sufficiency import NEW_YORK, drop_from_month, local_hours, store

YEAR = date(2025, 1, 1)


def _every_third_hour_of_each_day_missing(hours: list[int]) -> list[int]:
    return [e for e in hours if datetime.fromtimestamp(e, NEW_YORK).hour % 8 != 0]


def _negative(epoch: int) -> float:
    return -0.5 if datetime.fromtimestamp(epoch, NEW_YORK).day == 15 else 1.5


CASES: dict[str, tuple[str, Callable[[], list[int]], Callable[[int], float]]] = {
    "a full year": ("electrification", lambda: local_hours(YEAR, 365), lambda e: 1.5),
    "329 days": ("electrification", lambda: local_hours(YEAR, 329), lambda e: 1.5),
    "328 days": ("electrification", lambda: local_hours(YEAR, 328), lambda e: 1.5),
    "June at 90 %": (
        "electrification",
        lambda: drop_from_month(local_hours(YEAR, 365), 2025, 6, keep=648),
        lambda e: 1.5,
    ),
    "June at 89.9 %": (
        "electrification",
        lambda: drop_from_month(local_hours(YEAR, 365), 2025, 6, keep=647),
        lambda e: 1.5,
    ),
    "November (721 hours) at 649": (
        "electrification",
        lambda: drop_from_month(local_hours(YEAR, 365), 2025, 11, keep=649),
        lambda e: 1.5,
    ),
    "November (721 hours) at 648": (
        "electrification",
        lambda: drop_from_month(local_hours(YEAR, 365), 2025, 11, keep=648),
        lambda e: 1.5,
    ),
    "three hours a day missing": (
        "electrification",
        lambda: _every_third_hour_of_each_day_missing(local_hours(YEAR, 365)),
        lambda e: 1.5,
    ),
    "negative solar": ("solar", lambda: local_hours(YEAR, 365), _negative),
    "negative heat pump": ("electrification", lambda: local_hours(YEAR, 365), _negative),
}

# OpenDSM's disqualification names, by our rule.
# (Observed data missing on too many days is also missing "joint" observed-and-temperature data.)
RULES = {
    "days": {"eemeter.sufficiency_criteria.incorrect_number_of_total_days"},
    "valid_days": {
        "eemeter.sufficiency_criteria.too_many_days_with_missing_observed_data",
        "eemeter.sufficiency_criteria.too_many_days_with_missing_joint_data",
    },
    "months": {"eemeter.sufficiency_criteria.missing_monthly_observed_data"},
    "negative": {"eemeter.sufficiency_criteria.negative_observed_values"},
}


def opendsm_verdict(series, negatives_allowed: bool) -> set[str]:
    rows = Reading.objects.filter(series=series).order_by("instant")
    observed = pd.Series(
        [row.value_kwh for row in rows],
        index=pd.DatetimeIndex([row.instant for row in rows]).tz_convert(str(NEW_YORK)),
    )
    hours = pd.date_range(
        observed.index.min().normalize(),
        observed.index.max().replace(hour=23),  # OpenDSM's frame: whole local days
        freq="h",
    )
    frame = pd.DataFrame({"observed": observed.reindex(hours), "temperature": 60.0}, index=hours)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        data = HourlyBaselineData(frame, is_electricity_data=negatives_allowed)
    return {warning.qualified_name for warning in data.disqualification}


@pytest.mark.django_db
@pytest.mark.parametrize("name", list(CASES))
def test_it_agrees_with_opendsm(name, org, home):
    kind, hours, value = CASES[name]
    device = DeviceFactory(organization=org, home=home, custom_id="X-1", kind=kind)
    store(device, hours(), value)
    device.refresh_from_db()
    ours = compute_sufficiency(series_for(device))
    failing = {
        "days": not 329 <= ours.days <= 366,
        "valid_days": ours.valid_days_fraction < 0.9,
        "months": bool(ours.failing_months),
        "negative": bool(ours.negative_hours and not ours.negatives_allowed),
    }
    theirs = opendsm_verdict(series_for(device), ours.negatives_allowed)
    assert set().union(*(RULES[rule] for rule, fails in failing.items() if fails)) == theirs
    assert ours.ready == (not theirs)
