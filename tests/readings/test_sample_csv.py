"""Every drop zone offers a sample CSV: a week of example rows that the upload reads as it is."""

from __future__ import annotations

import io

import pytest
from django.urls import reverse

from readings import store, uploads
from readings.models import UploadStatus
from tests.factories import DeviceFactory

pytestmark = pytest.mark.django_db


def test_a_device_page_offers_a_week_in_its_zone_that_checks_clean(member_client, device, data_dir):
    page = member_client.get(device.get_absolute_url()).content.decode()
    url = reverse("device_readings_sample", args=[device.pk])
    assert f'href="{url}"' in page
    response = member_client.get(url)
    assert response["Content-Disposition"].startswith(f'attachment; filename="{device.custom_id}')
    lines = response.content.decode().splitlines()
    assert lines[0] == "datetime,value_kwh"
    assert 167 <= len(lines) - 1 <= 169  # a week of hours (23 or 25 on a daylight-saving day)
    assert lines[1].split(",")[0][19:] in ("-05:00", "-04:00")  # the home's New York offsets
    upload = uploads.check_upload(
        store.series_for(device), io.BytesIO(response.content), filename="s.csv", user=None
    )
    assert upload.status == UploadStatus.PREVIEW and upload.report["error_count"] == 0


def test_a_meter_has_its_own(member_client, meter):
    response = member_client.get(reverse("meter_readings_sample", args=[meter.pk]))
    assert response.status_code == 200 and b"datetime,value_kwh\n" in response.content


def test_the_uploads_page_sample_names_a_device_in_a_custom_id_column(
    member_client, org, device, data_dir
):
    page = member_client.get(reverse("upload_list")).content.decode()
    assert f'href="{reverse("uploads_sample")}"' in page
    lines = member_client.get(reverse("uploads_sample")).content.decode().splitlines()
    assert lines[0] == "datetime,value_kwh,customId"
    assert all(line.endswith(f",{device.custom_id}") for line in lines[1:])


def test_another_organizations_record_is_a_404(member_client, other_org):
    stranger = DeviceFactory(organization=other_org)
    response = member_client.get(reverse("device_readings_sample", args=[stranger.pk]))
    assert response.status_code == 404
