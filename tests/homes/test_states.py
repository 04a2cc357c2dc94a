"""A state typed as people type it is understood or refused with a message, never cut to two
letters ("Colorado" used to become "Co")."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from homes.models import Home
from homes.states import state_code

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("typed", "code"),
    [
        ("Colorado", "CO"),
        ("colorado", "CO"),
        ("  new   york ", "NY"),
        ("co", "CO"),
        ("Co.", "CO"),
        ("District of Columbia", "DC"),
        ("Washington DC", "DC"),
        ("", ""),
    ],
)
def test_a_state_name_or_code_is_understood(typed, code):
    assert state_code(typed) == code


@pytest.mark.parametrize("typed", ["Cola", "ZZ", "Ontario", "C"])
def test_anything_else_is_refused_naming_it(typed):
    with pytest.raises(ValidationError) as refused:
        state_code(typed)
    assert typed in refused.value.messages[0]


def test_the_home_form_takes_a_state_by_name(member_client, home):
    page = member_client.get(reverse("home_edit", args=[home.pk])).content.decode()
    assert 'maxlength="40"' in page and 'name="state"' in page
    data = {
        "customer": home.customer_id,
        "name": home.name,
        "zip_code": home.zip_code,
        "country": "US",
        "timezone": home.timezone,
        "state": "Colorado",
    }
    response = member_client.post(reverse("home_edit", args=[home.pk]), data)
    assert response.status_code == 302, response.content.decode()[:2000]
    assert Home.objects.get(pk=home.pk).state == "CO"
    response = member_client.post(reverse("home_edit", args=[home.pk]), data | {"state": "Cola"})
    assert response.status_code == 200
    assert "is not a US state" in response.content.decode()


def test_the_wizards_home_step_takes_a_state_by_name(org):
    from onboarding.steps.home import HomeStepForm

    form = HomeStepForm(
        {"customer_mode": "new", "new_customer_name": "Ada", "name": "Ada's", "state": "texas"},
        organization=org,
    )
    form.is_valid()
    assert "state" not in form.errors and form.cleaned_data["state"] == "TX"
    refused = HomeStepForm({"state": "Texass"}, organization=org)
    refused.is_valid()
    assert "is not a US state" in refused.errors["state"][0]
