"""Utilities and rate plans by zip code: asked of the provider named in UTILITY_DIRECTORY (WattShift),
kept in Utility/RatePlan/ZipUtilities, reused until they are older than UTILITY_CACHE_MAX_AGE_S,
and used stale, with a notice, while the provider is down.

All of it is per organization: the provider answers with the organization's own connection (whose
base URL its admins choose), so what it says is that organization's, and never what another sees."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from django.conf import settings
from django.utils import timezone
from django.utils.module_loading import import_string

from portal.models import Organization

from . import services
from .models import Utility, ZipUtilities


class DirectoryUnavailable(Exception):
    """The provider could not answer (down, not connected); the message is for the user."""


class UtilityDirectory(Protocol):
    """What UTILITY_DIRECTORY names: `utilities_for_zip` answers WattShift's shape
    `[{utilityId, utilityName, wsRatePlans: [{id, ratePlanName}]}]` or raises DirectoryUnavailable."""

    def utilities_for_zip(
        self, organization: Organization, zip_code: str
    ) -> list[dict[str, Any]]: ...


@dataclass
class UtilityLookup:
    """The utilities serving a zip code, and how fresh that knowledge is."""

    zip_code: str
    utilities: list[Utility] = field(default_factory=list)
    fetched_at: datetime | None = None
    notice: str = ""  # set when the answer is stale because the provider is down

    @property
    def is_ambiguous(self) -> bool:
        return len(self.utilities) > 1


def directory() -> UtilityDirectory:
    return import_string(settings.UTILITY_DIRECTORY)()


def lookup_utilities(
    organization: Organization, zip_code: str, *, refresh: bool = False
) -> UtilityLookup:
    """The utilities (with their rate plans) serving `zip_code`; raises DirectoryUnavailable only
    when the provider fails and nothing is cached."""
    zip5 = zip_code.strip()[:5]
    cached = cached_lookup(organization, zip5)
    max_age = timedelta(seconds=settings.UTILITY_CACHE_MAX_AGE_S)
    if (
        cached
        and not refresh
        and cached.fetched_at is not None  # always set on a cached answer
        and timezone.now() - cached.fetched_at < max_age
    ):
        return cached
    try:
        answer = directory().utilities_for_zip(organization, zip5)
    except DirectoryUnavailable as exc:
        if cached is None:
            raise
        cached.notice = f"{exc} Showing what it said on {cached.fetched_at:%Y-%m-%d}."
        return cached
    return store_lookup(organization, zip5, answer)


def cached_lookup(organization: Organization, zip5: str) -> UtilityLookup | None:
    """What the organization's provider last said of `zip5`, however old (None if never asked)."""
    cached = (
        ZipUtilities.objects.for_org(organization)
        .filter(zip_code=zip5)
        .prefetch_related("utilities__rate_plans")
        .first()
    )
    if cached is None:
        return None
    return UtilityLookup(zip5, list(cached.utilities.all()), cached.fetched_at)


def store_lookup(
    organization: Organization, zip5: str, answer: list[dict[str, Any]]
) -> UtilityLookup:
    """Keep the provider's answer (homes.services) and return it as a lookup."""
    now = timezone.now()
    stored = services.store_zip_utilities(organization, zip5, answer, now)
    fresh = list(
        Utility.objects.for_org(organization)
        .filter(pk__in=[u.pk for u in stored])
        .prefetch_related("rate_plans")
    )
    return UtilityLookup(zip5, fresh, now)
