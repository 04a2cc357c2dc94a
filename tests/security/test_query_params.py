"""Every page that reads query parameters, given hostile values for each: ignored or a 400, never
a 500. The lists are found from the URLs (every OrgListView, with its search, sort, page and
filters); a parameter read anywhere else fails this test until it is listed in OTHER_PAGES."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.test import Client
from django.urls import reverse

from portal.crud import OrgListView
from tests.factories import DeviceFactory, HomeFactory
from tests.security.conftest import all_patterns, kwargs_for

ROOT = Path(__file__).resolve().parents[2]
APPS = ("portal", "homes", "devices", "integrations")

HOSTILE = [
    "abc",
    "1'",
    "-1",
    "0",
    "99999999999999999999",
    "-99999999999999999999",
    "1e3",
    " 1",
    "",
    "ünïcødé ☃ 日本",
    "²",  # a digit to str.isdigit(), not to int()
    "x" * 5000,
    "\x00",
    "1\x00",
    "%_\\",
    "'; DROP TABLE homes_home; --",
    "2024-01-01\r\nX-Injected: 1",
    "9999-12-31",
    "0001-01-01",
]

# Pages other than the lists that read query parameters, and which.
OTHER_PAGES = {
    "upload_list": ["checked"],
    "device_readings": ["start", "end"],
    "meter_readings": ["start", "end"],
    "device_readings_chart": ["start", "end", "bucket"],
    "meter_readings_chart": ["start", "end", "bucket"],
    "device_readings_csv": ["start", "end"],
    "meter_readings_csv": ["start", "end"],
    "charge_report": ["event"],
    "home_create": ["customer"],
    "meter_create": ["home"],
    "device_create": ["home", "meter"],
    "device_create_kind": ["home", "meter"],
    "home_wizard": ["customer", "step"],
}


def list_views() -> dict[str, type[OrgListView]]:
    return {
        pattern.name: pattern.callback.view_class
        for _, pattern in all_patterns()
        if issubclass(getattr(pattern.callback, "view_class", object), OrgListView)
    }


def params_of(name: str) -> list[str]:
    view = list_views().get(name)
    own = ["q", "sort", "page", *(f.name for f in view.filters)] if view else []
    return own + OTHER_PAGES.get(name, [])


PAGES = sorted(set(list_views()) | set(OTHER_PAGES))


def test_it_sweeps_every_list_and_every_parameter_read():
    assert {"customer_list", "home_list", "meter_list", "device_list", "upload_list"} <= set(
        list_views()
    )
    swept = {param for name in PAGES for param in params_of(name)}
    read = set()
    for path in (path for app in APPS for path in (ROOT / app).rglob("*.py")):
        text = path.read_text()
        read |= set(re.findall(r"\bGET(?:\.get\(|\[)\s*[\"'](\w+)[\"']", text))
        read |= set(re.findall(r"[\"'](\w+)[\"'] in (?:self\.)?request\.GET", text))
    assert read, "found no query parameter at all: is the pattern still right?"
    assert read <= swept, f"list these parameters in OTHER_PAGES: {sorted(read - swept)}"


@pytest.mark.django_db
@pytest.mark.parametrize("name", PAGES)
def test_it_never_answers_a_hostile_query_parameter_with_a_500(name, victim, owner):
    client = Client(raise_request_exception=False)
    client.force_login(owner, backend="django.contrib.auth.backends.ModelBackend")
    route = next(route for route, pattern in all_patterns() if pattern.name == name)
    url = reverse(name, kwargs=kwargs_for(name, route, victim))
    failures = []
    params = params_of(name)
    tries = [{param: value} for param in params for value in HOSTILE]
    tries += [dict.fromkeys(params, value) for value in HOSTILE]  # all at once
    for query in tries:
        response = client.get(url, query)
        if getattr(response, "streaming", False):
            try:
                b"".join(response.streaming_content)
            except Exception as exc:  # a lazy query failing half-way through the body
                failures.append((query, repr(exc)))
                continue
        if response.status_code >= 500:
            failures.append((query, response.status_code))
    assert not failures, [(repr(q)[:80], status) for q, status in failures]


@pytest.mark.django_db
def test_it_ignores_a_filter_value_its_field_cannot_take(org, owner_client):
    homes = HomeFactory.create_batch(2, organization=org)
    for home in homes:
        DeviceFactory(organization=org, home=home)
    url = reverse("device_list")
    for value in ("abc", "1'", "99999999999999999999", f"{homes[0].pk}\x00"):
        response = owner_client.get(url, {"home": value})
        assert response.status_code == 200
        assert len(response.context["object_list"]) == 2
        assert not response.context["is_filtered"]
        home_control = next(c for c in response.context["filter_controls"] if c["name"] == "home")
        assert home_control["value"] == ""
    narrowed = owner_client.get(url, {"home": str(homes[0].pk), "status": "nonsense"})
    assert [d.home for d in narrowed.context["object_list"]] == [homes[0]]
    assert owner_client.get(url, {"q": "Array\x00"}).context["q"] == "Array"
