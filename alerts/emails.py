"""The alert emails: plain text and HTML, each alert linked, and an unsubscribe link that works
without signing in (a signed token). No List-Unsubscribe header: the token makes the URL longer
than a header line, and the encoded-word folding that follows is not a URL mail clients read."""

from __future__ import annotations

from collections.abc import Sequence

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.urls import reverse

from portal.models import Membership

from .models import Alert


def absolute(path: str) -> str:
    return settings.PUBLIC_BASE_URL.rstrip("/") + path


def alerts_email(
    membership: Membership, alerts: Sequence[Alert], *, digest: bool, unsubscribe_token: str
) -> EmailMultiAlternatives:
    """One email to a member about `alerts` (at once, or the day's digest)."""
    organization = membership.organization
    if digest:
        subject = f"[Gridfolio] {organization}: {len(alerts)} alert{'s' if len(alerts) != 1 else ''} today"
    elif len(alerts) == 1:
        subject = f"[Gridfolio] {organization}: {alerts[0].title}"
    else:
        subject = f"[Gridfolio] {organization}: {len(alerts)} new alerts"
    unsubscribe_url = absolute(reverse("alert_unsubscribe", args=[unsubscribe_token]))
    context = {
        "organization": organization,
        "user": membership.user,
        "digest": digest,
        "items": [(alert, absolute(alert.get_absolute_url())) for alert in alerts],
        "alerts_url": absolute(reverse("alert_list")),
        "preferences_url": absolute(reverse("alert_preferences")),
        "unsubscribe_url": unsubscribe_url,
    }
    message = EmailMultiAlternatives(
        subject=subject[:200],
        body=render_to_string("alerts/email/alerts.txt", context),
        to=[membership.user.email],
    )
    message.attach_alternative(render_to_string("alerts/email/alerts.html", context), "text/html")
    return message
