"""The alerts page with its filters, one alert's page, acknowledging, and the dashboard panel."""

from __future__ import annotations

import pytest
from django.contrib.contenttypes.models import ContentType

from alerts import services
from alerts.models import Alert, AlertState
from integrations.models import UpstreamLink


@pytest.fixture
def alerts(device, org):
    for channel, state in (("record", "failed"), ("timeseries", "in_doubt")):
        UpstreamLink.objects.create(
            organization=org,
            content_type=ContentType.objects.get_for_model(device),
            object_id=device.pk,
            platform="wattcarbon",
            channel=channel,
            state=state,
        )
    services.check_organization(org)
    return list(Alert.objects.order_by("pk"))


@pytest.mark.django_db
def test_it_lists_alerts_with_filters(alerts, viewer_client):
    failed, in_doubt = alerts
    services.acknowledge_alert(in_doubt, None)
    page = viewer_client.get("/alerts/").content.decode()
    assert failed.title in page and in_doubt.title in page
    page = viewer_client.get("/alerts/", {"state": "acknowledged"}).content.decode()
    assert failed.title not in page and in_doubt.title in page
    page = viewer_client.get("/alerts/", {"kind": "no_data"}).content.decode()
    assert "No alert matches." in page


@pytest.mark.django_db
def test_a_member_acknowledges_and_a_viewer_cannot(alerts, member_client, viewer_client):
    alert = alerts[0]
    assert viewer_client.post(f"/alerts/{alert.pk}/acknowledge/").status_code == 403
    assert member_client.post(f"/alerts/{alert.pk}/acknowledge/").status_code == 302
    alert.refresh_from_db()
    assert alert.state == AlertState.ACKNOWLEDGED
    page = member_client.get(f"/alerts/{alert.pk}/").content.decode()
    assert "Acknowledged" in page and 'href="/integrations/links/' in page


@pytest.mark.django_db
def test_another_organizations_alert_is_a_404(alerts, outsider_client):
    alert = alerts[0]
    assert outsider_client.get(f"/alerts/{alert.pk}/").status_code == 404
    assert outsider_client.post(f"/alerts/{alert.pk}/acknowledge/").status_code == 404
    assert alert.title not in outsider_client.get("/alerts/").content.decode()
    assert alert.title not in outsider_client.get("/").content.decode()


@pytest.mark.django_db
def test_the_dashboard_shows_open_alerts(alerts, viewer_client):
    page = viewer_client.get("/").content.decode()
    assert 'id="dashboard-alerts"' in page
    assert alerts[0].title in page


@pytest.mark.django_db
def test_check_now_raises_what_is_wrong(device, org, member_client, viewer_client):
    UpstreamLink.objects.create(
        organization=org,
        content_type=ContentType.objects.get_for_model(device),
        object_id=device.pk,
        platform="wattcarbon",
        state="rejected",
    )
    assert viewer_client.post("/alerts/check/").status_code == 403
    assert member_client.post("/alerts/check/").status_code == 302
    assert Alert.objects.filter(organization=org, state=AlertState.OPEN).count() == 1
