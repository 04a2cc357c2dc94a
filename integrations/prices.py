"""A home's WattShift price signal for the next 24 hours: fetched on demand, cached briefly."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.core.cache import cache
from django.utils import timezone

from homes.models import Home

from . import wattshift
from .clients import CallLog, client_for
from .http import UpstreamError
from .models import Connection, LinkState, Platform, UpstreamLink


class PricesUnavailable(Exception):
    """Why there is no price curve to show (the message is for the user)."""


@dataclass
class PriceCurve:
    """15-minute $/kWh prices, the interval now, and the cheapest 2-hour window; with the
    current API, what importing and exporting a kWh cost or earn (None where it says nothing)."""

    prices: list[tuple[datetime, float]]
    current_index: int | None
    cheapest_start: datetime
    cheapest_end: datetime
    cheapest_average: float
    timezone: str
    imports: list[float | None] = field(default_factory=list)  # one per price, or none at all
    exports: list[float | None] = field(default_factory=list)

    def local(self, moment: datetime) -> datetime:
        return moment.astimezone(ZoneInfo(self.timezone))


def price_curve(home: Home) -> PriceCurve:
    link = UpstreamLink.objects.filter(
        content_type=ContentType.objects.get_for_model(Home),
        object_id=home.pk,
        platform=Platform.WATTSHIFT,
    ).first()
    if link is None or link.state != LinkState.SYNCED or not link.remote_id:
        raise PricesUnavailable(
            "This home is not on WattShift yet: prices appear once it is synced."
        )
    key = (
        f"wattshift-prices:{link.remote_id}:{timezone.now():%Y%m%d%H}{timezone.now().minute // 15}"
    )
    data = cache.get(key)
    if data is None:
        connection = Connection.objects.filter(
            organization_id=home.organization_id, platform=Platform.WATTSHIFT, enabled=True
        ).first()
        if connection is None:
            raise PricesUnavailable("WattShift is not connected.")
        try:
            # The next 24 hours from the current 15-minute boundary, so windows read 13:30-15:30.
            now = timezone.now()
            start = now.replace(minute=now.minute - now.minute % 15, second=0, microsecond=0)
            client = client_for(connection, CallLog())
            assert isinstance(client, wattshift.WattShiftClient)  # a WattShift connection's
            data = client.get_price_signal(link.remote_id, start, start + timedelta(hours=24))
        except UpstreamError as exc:
            raise PricesUnavailable(
                f"WattShift is unavailable right now ({exc}). Try again in a minute."
            ) from exc
        cache.set(key, data, settings.PRICE_SIGNAL_CACHE_S)
    try:
        signal = wattshift.read_price_signal(data)
        prices = signal.prices
        start, end, average = wattshift.cheapest_window(prices, hours=2)
    except ValueError as exc:
        raise PricesUnavailable(f"WattShift's answer could not be read: {exc}") from exc
    now = timezone.now()
    current = next(
        (
            i
            for i, (moment, _) in enumerate(prices)
            if moment <= now < moment + wattshift.PRICE_INTERVAL
        ),
        None,
    )
    return PriceCurve(
        prices,
        current,
        start,
        end,
        average,
        home.timezone or "UTC",
        imports=_aligned(prices, signal.imports),
        exports=_aligned(prices, signal.exports),
    )


def _aligned(
    prices: list[tuple[datetime, float]], series: list[tuple[datetime, float]]
) -> list[float | None]:
    """`series` on the prices' intervals (a gap where it has none); empty when it is."""
    if not series:
        return []
    by_start = dict(series)
    return [by_start.get(moment) for moment, _ in prices]


@dataclass
class RateSeries:
    """How a curve's import and export rates are shown: `drawn` ({"import": [...], "export":
    [...]}, empty when not drawn), and the names of those said instead, being the price all day
    (net metering exports at it) or 0 all day (no solar to export): a line would hide the price's
    or say nothing."""

    drawn: dict[str, list[float | None]]
    same_as_price: list[str]
    zero_all_day: list[str]


def rate_series(curve: PriceCurve) -> RateSeries:
    """Which of `curve`'s import and export rates the chart draws, and which it says in words."""
    prices = [price for _, price in curve.prices]
    shown = RateSeries({}, [], [])
    for name, series in (("import", curve.imports), ("export", curve.exports)):
        flat_zero = bool(series) and not any(series)
        if series == prices:
            shown.same_as_price.append(name)
        elif flat_zero:
            shown.zero_all_day.append(name)
        shown.drawn[name] = [] if series == prices or flat_zero else series
    return shown
