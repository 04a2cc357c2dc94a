"""Small things people read: errors in words, "just now", the one active navigation item."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from integrations.models import LinkState, UpstreamLink
from integrations.templatetags.upstream import error_in_words
from portal.context_processors import active_section
from portal.templatetags.portal_tags import ago, from_now


def link(**values) -> UpstreamLink:
    return UpstreamLink(platform="wattcarbon", **values)


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (
            {"last_status_code": 503, "last_error": "503: 503 Service Unavailable"},
            "WattCarbon is unavailable (503)",
        ),
        (
            {"last_status_code": 503, "last_error": "Service Unavailable"},
            "WattCarbon is unavailable (503)",
        ),
        (
            {"last_status_code": 422, "last_error": "kind: not a valid choice"},
            "WattCarbon refused it (422): kind: not a valid choice",
        ),
        (
            {"last_status_code": None, "last_error": "Connection refused"},
            "WattCarbon: connection refused",
        ),
        ({"last_status_code": 429, "last_error": ""}, "WattCarbon asked us to slow down (429)"),
    ],
)
def test_an_error_is_said_in_words(values, expected):
    assert error_in_words(link(state=LinkState.REJECTED, **values)) == expected


def test_a_pending_error_says_when_the_next_try_is():
    soon = link(
        state=LinkState.PENDING,
        last_status_code=503,
        last_error="Service Unavailable",
        next_attempt_at=timezone.now() + timedelta(minutes=4, seconds=30),
    )
    assert error_in_words(soon) == "WattCarbon is unavailable (503); next try in 4\xa0minutes"
    soon.next_attempt_at = timezone.now()
    assert error_in_words(soon).endswith("; next try now")


def test_times_near_now_are_words():
    now = timezone.now()
    assert ago(now - timedelta(seconds=20)) == "just now"
    assert ago(now - timedelta(minutes=5, seconds=1)) == "5\xa0minutes ago"
    assert (
        from_now(now) == "now" and from_now(now + timedelta(hours=2, seconds=5)) == "in 2\xa0hours"
    )
    assert ago(None) == "" and from_now(None) == ""


def test_one_navigation_item_is_active():
    urls = {"dashboard": "/", "integrations": "/integrations/", "events": "/integrations/events/"}
    assert active_section("/integrations/events/4/", urls) == "events"
    assert active_section("/integrations/", urls) == "integrations"
    assert active_section("/integrations/links/3/", urls) == "integrations"
    assert active_section("/", urls) == "dashboard"
    assert active_section("/homes/", urls) == ""
