"""Celery tasks of alerts: thin, each calls one service. The beat runs `check_alerts` every
ALERT_CHECK_INTERVAL_S and `send_digests` daily at ALERT_DIGEST_HOUR_UTC (portal/settings.py)."""

from __future__ import annotations

from celery import shared_task

from portal.models import Organization
from readings.services import refresh_stale_readiness

from . import services


@shared_task(name="alerts.tasks.check_alerts", ignore_result=True)
def check_alerts() -> int:
    """Every organization's conditions; and the M&V verdicts of series judged before a change."""
    refresh_stale_readiness()
    return sum(outcome.raised for _, outcome in services.check_all())


@shared_task(name="alerts.tasks.check_organization", ignore_result=True)
def check_organization(organization_id: int) -> int:
    organization = Organization.objects.filter(pk=organization_id).first()
    return services.check_organization(organization).raised if organization else 0


@shared_task(name="alerts.tasks.send_digests", ignore_result=True)
def send_digests() -> int:
    return services.send_digests()
