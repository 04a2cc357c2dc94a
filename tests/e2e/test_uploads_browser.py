"""The readings upload in Chromium: two files dropped on the Uploads page, a progress row each,
two previews, one confirmed and stored; then the device page's charts and heat map. No console
error (a CSP violation is one) on any page."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from io import BytesIO
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from readings import store, uploads
from readings.models import Reading, Upload, UploadStatus

pytestmark = [pytest.mark.browser, pytest.mark.timeout(180), pytest.mark.usefixtures("data_dir")]

TZ = "America/New_York"
PASSWORD = "correct horse battery staple"


@pytest.fixture
def site(transactional_db, member, device, meter):
    """tests/conftest.py's site (Maple St, device SP-00012, meter M-77), committed for the server."""
    return {"device": device, "meter": meter}


def _csv(start_local: datetime, hours: int, *, custom_id: str | None = None) -> bytes:
    zone = ZoneInfo(TZ)
    start = start_local.replace(tzinfo=zone).astimezone(UTC)
    header = "datetime,value_kwh" + (",customId" if custom_id else "")
    lines = [header]
    for i in range(hours):
        moment = (start + timedelta(hours=i)).astimezone(zone)
        value = round(0.4 + (moment.hour % 12) * 0.15, 3)
        lines.append(f"{moment.isoformat()},{value}" + (f",{custom_id}" if custom_id else ""))
    return ("\n".join(lines) + "\n").encode()


def test_it_uploads_two_files_previews_both_and_stores_the_confirmed_one(
    site_url, page, sign_in, artifacts, site, member
):
    sign_in(page, site_url, member.email, PASSWORD)
    page.goto(f"{site_url}/uploads/")
    # Without a JavaScript error the script has hidden the no-JS submit button.
    assert page.locator("[data-dropzone-submit]").is_hidden()

    files = [
        # Named by the file name; two weeks across the spring change (23-hour day).
        {
            "name": "SP-00012_march.csv",
            "mimeType": "text/csv",
            "buffer": _csv(datetime(2024, 3, 4), 14 * 24 - 1),
        },
        # Named by its customId column, for the meter.
        {
            "name": "export.csv",
            "mimeType": "text/csv",
            "buffer": _csv(datetime(2024, 3, 1), 48, custom_id="M-77"),
        },
    ]
    page.set_input_files("#uploads-dropzone-files", files)

    cards = page.locator(".upload-queue .upload-card")
    cards.nth(1).wait_for()
    assert cards.count() == 2
    device_card = page.locator(".upload-card", has_text="SP-00012_march.csv")
    meter_card = page.locator(".upload-card", has_text="export.csv")
    for card in (device_card, meter_card):
        assert "Checked; nothing is stored yet." in card.inner_text()
    assert "23-hour day: the clocks go forward at 02:00 to 03:00" in device_card.inner_text()
    assert "Mon 2024-03-04 00:00 EST to Sun 2024-03-17 23:00 EDT" in device_card.inner_text()
    assert "For meter Meter M-77" in meter_card.inner_text()
    # The preview chart of the parsed data is drawn (uPlot's canvas) from the kept file.
    device_card.locator(".chart canvas").wait_for()
    assert Reading.objects.count() == 0
    page.screenshot(path=str(artifacts / "uploads-previews.png"), full_page=True)

    # The list below follows without a reload: both files, waiting for confirmation.
    listed = page.locator("#uploads-table tbody tr")
    expect(listed.filter(has_text="export.csv")).to_contain_text("Checked")
    device_card.get_by_role("button", name="Confirm and store 335 readings").click()
    page.locator('.upload-card[data-upload-status="stored"]').wait_for()
    assert "335 new, 0 changed, 0 unchanged" in device_card.inner_text()
    expect(listed.filter(has_text="SP-00012_march.csv")).to_contain_text("Stored")
    page.screenshot(path=str(artifacts / "uploads-stored.png"), full_page=True)

    device = site["device"]
    assert Reading.objects.filter(series__device=device).count() == 335
    assert Reading.objects.filter(series__meter=site["meter"]).count() == 0
    statuses = dict(Upload.objects.values_list("filename", "status"))
    assert statuses == {
        "SP-00012_march.csv": UploadStatus.STORED,
        "export.csv": UploadStatus.PREVIEW,
    }

    # The list shows both, with who and what.
    page.goto(f"{site_url}/uploads/")
    table = page.locator("#uploads-table").inner_text()
    assert "SP-00012_march.csv" in table and "export.csv" in table and "Member" in table
    page.screenshot(path=str(artifacts / "uploads-list.png"), full_page=True)

    # The device's readings panel (an htmx fragment) explains the 23-hour day.
    panel = page.request.get(f"{site_url}{reverse('device_readings', args=[device.pk])}")
    assert panel.ok and "Daylight-saving days: 2024-03-10 (23 hours)" in panel.text()
    assert page.console_errors == []


def test_it_draws_the_charts_on_the_device_page(site_url, page, sign_in, artifacts, site, member):
    device = site["device"]
    upload = uploads.import_readings(
        store.series_for(device),
        BytesIO(_csv(datetime(2024, 2, 20), 30 * 24)),
        filename="seed.csv",
    )
    assert upload.status == UploadStatus.STORED
    sign_in(page, site_url, member.email, PASSWORD)
    page.goto(f"{site_url}{device.get_absolute_url()}")
    page.locator("#readings-panel .chart canvas").first.wait_for()
    expect(page.locator("#readings-panel .chart canvas")).to_have_count(3)
    assert page.locator("#heatmap rect.hm-none").count() == 1  # 02:00 on 2024-03-10
    assert page.locator("form[data-dropzone]").count() == 1
    page.screenshot(path=str(artifacts / "device-readings.png"), full_page=True)

    # Another range through the form (htmx swaps the panel).
    page.fill("#readings-panel input[name=start]", "2024-03-09")
    page.fill("#readings-panel input[name=end]", "2024-03-11")
    page.click("#readings-panel button[type=submit]")
    expect(page.locator("#heatmap-summary")).to_contain_text("3 days in America/New_York")
    expect(page.locator("#readings-panel .chart canvas")).to_have_count(3)
    assert page.console_errors == []


def _month_axis(page) -> list[str]:
    chart = page.locator('[data-chart-src*="bucket=month"][data-chart-ready]')
    # Ready is set when its data is asked for; the chart (its canvas, then el._uplot in the same
    # task) exists once the data came back.
    chart.locator("canvas").wait_for()
    # uPlot draws its axes on the canvas; the labels it drew are kept on its axis.
    return chart.evaluate("el => el._uplot.axes[0]._values.map(String)")


def test_a_monthly_chart_labels_its_axis_in_months_even_for_a_single_month(
    site_url, page, sign_in, artifacts, site, member
):
    device = site["device"]
    series = store.series_for(device)
    uploads.import_readings(
        series, BytesIO(_csv(datetime(2024, 3, 4), 10 * 24)), filename="march.csv"
    )
    sign_in(page, site_url, member.email, PASSWORD)
    page.goto(f"{site_url}{device.get_absolute_url()}")
    assert _month_axis(page) == ["Mar\n2024"]  # not 03-04, 03-11... (days)
    page.screenshot(path=str(artifacts / "device-one-month.png"), full_page=True)
    uploads.import_readings(
        series, BytesIO(_csv(datetime(2023, 12, 20), 30 * 24)), filename="winter.csv"
    )
    page.reload()
    assert _month_axis(page) == ["Dec\n2023", "Jan\n2024", "Feb", "Mar"]
    assert page.console_errors == []
