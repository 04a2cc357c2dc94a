"""M&V readiness on a device's or meter's page, computed afresh (once per request and series):
`{% mv_readiness record %}` the card with its badge and what is missing, `{% mv_verdict record as
verdict %}` the verdict alone (the WattCarbon timeseries link says it before the data goes)."""

from __future__ import annotations

from typing import Any

from django import template

from ..models import ReadingChannel
from ..store import series_of
from ..sufficiency import MAX_BASELINE_DAYS, MIN_BASELINE_DAYS, Sufficiency, compute_sufficiency

register = template.Library()

_CACHE_ATTRIBUTE = "_mv_verdicts"


def verdict_for(record: Any, request: Any = None) -> Sufficiency:
    """The sufficiency of a device's or meter's series (no series, or no record: no data)."""
    if record is None:  # a link whose record is gone
        return Sufficiency()
    series = series_of(record).get(ReadingChannel.DELIVERED)
    if series is None:  # nothing stored yet (the delivered channel: what M&V measures)
        return Sufficiency()
    cache: dict[int, Sufficiency] = getattr(request, _CACHE_ATTRIBUTE, None) or {}
    if series.pk not in cache:
        # The page's record (its home loaded) serves the series' timezone and kind.
        setattr(series, "device" if series.device_id else "meter", record)
        cache[series.pk] = compute_sufficiency(series)
        if request is not None:
            setattr(request, _CACHE_ATTRIBUTE, cache)
    return cache[series.pk]


@register.inclusion_tag("readings/_readiness.html", takes_context=True)
def mv_readiness(context: template.Context, record: Any) -> dict[str, Any]:
    return {
        "verdict": verdict_for(record, context.get("request")),
        "min_days": MIN_BASELINE_DAYS,
        "max_days": MAX_BASELINE_DAYS,
    }


@register.simple_tag(takes_context=True)
def mv_verdict(context: template.Context, record: Any) -> Sufficiency:
    return verdict_for(record, context.get("request"))
