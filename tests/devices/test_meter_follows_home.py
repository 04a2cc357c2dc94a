"""The device form offers only the chosen home's meters: each option names its home, the page
hides the others as the home changes, and a meter of another home is refused."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from tests.factories import HomeFactory, MeterFactory

pytestmark = pytest.mark.django_db


def test_each_meter_option_names_its_home(member_client, org, home, meter):
    other_home = HomeFactory(organization=org, name="Other")
    other_meter = MeterFactory(organization=org, home=other_home, meter_number="M-OTHER")
    page = member_client.get(reverse("device_create_kind", args=["solar"])).content.decode()
    select = re.search(r'<select name="meter"[^>]*>(.*?)</select>', page, re.S)
    assert select and 'data-follows="home"' in page
    options = dict(re.findall(r'<option value="(\d+)" data-home="(\d+)"', select.group(1)))
    assert options == {str(meter.pk): str(home.pk), str(other_meter.pk): str(other_home.pk)}
