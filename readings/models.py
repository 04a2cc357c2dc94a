"""Interval readings: a series per device or meter, its hourly readings, and the files uploaded.

The tables keep the names they had in the devices app (``devices_series``, ``devices_reading``,
``devices_upload``): the models moved, the data did not.
"""

from __future__ import annotations

from typing import cast

from django.conf import settings
from django.db import models

from devices.models import Device
from homes.models import Meter
from portal.models import Organization
from portal.tenancy import OrgOwned


class SeriesQuantity(models.TextChoices):
    """What a series measures; the sign convention follows WattCarbon (positive = generation or savings)."""

    GENERATION = "generation", "Generation / savings"
    CONSUMPTION = "consumption", "Consumption"


class ReadingChannel(models.TextChoices):
    """Which way the energy of a series flows through its metering point.

    A meter's ``delivered`` is what the utility delivers to the home (import), ``received`` what
    the home sends back to the grid (export), ``net`` delivered minus received, as a net-metered
    meter reports it. A device's ``delivered`` is what the device delivers (its generation or
    savings: the readings it always had), ``received`` what it draws.
    """

    DELIVERED = "delivered", "Delivered (import)"
    RECEIVED = "received", "Received (export)"
    NET = "net", "Net (delivered - received)"


class Series(OrgOwned):
    """The hourly kWh readings of one device (generation or savings) or one meter (consumption),
    on one channel: a net-metered meter has a delivered and a received series."""

    device = models.ForeignKey(
        Device, on_delete=models.CASCADE, null=True, blank=True, related_name="series_set"
    )
    meter = models.ForeignKey(
        Meter, on_delete=models.CASCADE, null=True, blank=True, related_name="series_set"
    )
    channel = models.CharField(
        max_length=10, choices=ReadingChannel.choices, default=ReadingChannel.DELIVERED
    )
    quantity = models.CharField(max_length=20, choices=SeriesQuantity.choices)
    first_instant = models.DateTimeField(null=True, blank=True)
    last_instant = models.DateTimeField(null=True, blank=True)
    reading_count = models.PositiveIntegerField(default=0)
    revision = models.PositiveBigIntegerField(
        default=0,
        help_text="Goes up by one with every store that changes a reading: an upload stored at "
        "this revision is what the series still holds.",
    )

    class Meta:
        db_table = "devices_series"
        verbose_name_plural = "series"
        constraints = [
            models.CheckConstraint(
                condition=models.Q(device__isnull=False, meter__isnull=True)
                | models.Q(device__isnull=True, meter__isnull=False),
                name="series_has_one_owner",
            ),
            models.UniqueConstraint(
                fields=["device", "channel"], name="one_series_per_device_channel"
            ),
            models.UniqueConstraint(
                fields=["meter", "channel"], name="one_series_per_meter_channel"
            ),
        ]

    def __str__(self) -> str:
        if self.channel == ReadingChannel.DELIVERED:
            return f"Readings of {self.owner}"
        return f"Readings of {self.owner} ({self.get_channel_display().lower()})"

    @property
    def owner(self) -> Device | Meter:
        # series_has_one_owner: exactly one of device and meter is set.
        return cast("Device | Meter", self.device if self.device_id else self.meter)

    @property
    def timezone(self) -> str:
        return self.owner.home.timezone or self.organization.timezone


class Reading(models.Model):
    """One hourly value (kWh) of a series at a UTC instant: the big table, keyed by (series, instant)."""

    pk = models.CompositePrimaryKey("series_id", "instant")
    # No database foreign key and no index of its own: the primary key (series, instant) serves
    # every lookup, and checking the key row by row doubled the cost of loading new data (bench/ingest).
    # Writes go only through readings.store.store_readings (which locks the series); deletes
    # cascade through Django after waiting for a running store (lock_series_before_delete).
    series = models.ForeignKey(
        Series,
        on_delete=models.CASCADE,
        related_name="readings",
        db_index=False,
        db_constraint=False,
    )
    instant = models.DateTimeField(help_text="Start of the hour, UTC.")
    value_kwh = models.FloatField()

    class Meta:
        db_table = "devices_reading"
        ordering = ["series", "instant"]

    def __str__(self) -> str:
        return f"{self.instant:%Y-%m-%d %H:%M}Z {self.value_kwh} kWh"


class ReadingDay(models.Model):
    """One series' readings of one UTC day, summed and counted (``readings.summaries``).

    The dashboard's month figures read these instead of the readings: a month of a portfolio is
    some thirty rows per series, not some seven hundred. The store keeps them current in the
    transaction that writes the readings (recomputing only the days it changed), a series' days
    go with it (the cascade), and ``manage.py rebuild_reading_summaries`` recomputes them all.
    """

    pk = models.CompositePrimaryKey("series_id", "day")
    # As on Reading: no database foreign key (its check ran for each of a file's ~365 days at
    # commit); the store writes days only for the series it holds locked, and a series' days
    # go with it through Django's cascade, like its readings.
    series = models.ForeignKey(
        Series, on_delete=models.CASCADE, related_name="days", db_index=False, db_constraint=False
    )
    # The series' organization, copied (a series never moves): an organization's month is then
    # one range of the index below, however many years and organizations the table holds.
    organization = models.ForeignKey(
        Organization,
        on_delete=models.CASCADE,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    day = models.DateField(help_text="The UTC day the readings' instants fall on.")
    kwh = models.FloatField(help_text="The sum of the day's readings.")
    reading_count = models.PositiveIntegerField()

    class Meta:
        db_table = "readings_readingday"
        ordering = ["series", "day"]
        indexes = [
            # Every column in the key (not INCLUDE, which SQLite lacks): a month's figures are
            # read from the index alone.
            models.Index(
                fields=["organization", "day", "series", "kwh", "reading_count"],
                name="reading_day_org_day_idx",
            )
        ]

    def __str__(self) -> str:
        return f"{self.day}: {self.reading_count} readings, {self.kwh} kWh"


class UploadStatus(models.TextChoices):
    """Where an uploaded file stands."""

    PREVIEW = "preview", "Checked, waiting for confirmation"
    PROCESSING = "processing", "Processing"
    STORED = "stored", "Stored"
    REJECTED = "rejected", "Rejected"
    FAILED = "failed", "Failed"
    EXPIRED = "expired", "Expired (never confirmed)"
    DISCARDED = "discarded", "Discarded"


# An upload in one of these holds a file in DATA_DIR/uploads/ (its ``stored_file``) until it is
# stored, discarded or expired: what the per-organization cap counts and the expiry sweep removes.
PENDING_STATUSES = (UploadStatus.PREVIEW, UploadStatus.PROCESSING, UploadStatus.FAILED)


class Upload(OrgOwned):
    """A file of readings someone uploaded: who, when, what it held and what became of it."""

    series = models.ForeignKey(Series, on_delete=models.CASCADE, related_name="uploads")
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    filename = models.CharField(max_length=255)
    sha256 = models.CharField(max_length=64)
    size_bytes = models.PositiveBigIntegerField(default=0)
    rows = models.PositiveIntegerField(default=0)
    inserted = models.PositiveIntegerField(default=0)
    updated = models.PositiveIntegerField(default=0)
    unchanged = models.PositiveIntegerField(default=0)
    first_instant = models.DateTimeField(null=True, blank=True)
    last_instant = models.DateTimeField(null=True, blank=True)
    status = models.CharField(
        max_length=12, choices=UploadStatus.choices, default=UploadStatus.PREVIEW
    )
    report = models.JSONField(default=dict, blank=True)
    progress = models.PositiveSmallIntegerField(default=0, help_text="Percent, while processing.")
    stored_file = models.CharField(
        max_length=300, blank=True, help_text="Where the file waits for confirmation."
    )
    stored_at = models.DateTimeField(null=True, blank=True)
    # What lets the same file, sent again, be known without reading it row by row:
    # readings.store.content_key (its bytes and how they are read), and the series' revision
    # once this upload was stored.
    content_key = models.CharField(max_length=64, blank=True, default="")
    series_revision = models.PositiveBigIntegerField(null=True, blank=True)

    class Meta:
        db_table = "devices_upload"
        ordering = ["-created_at", "-pk"]
        indexes = [
            models.Index(
                fields=["series", "content_key"],
                condition=~models.Q(content_key=""),
                name="upload_series_content_key",
            ),
            models.Index(fields=["organization", "-created_at"]),
            models.Index(fields=["status", "updated_at"]),  # the expiry sweep, the cap
        ]

    def __str__(self) -> str:
        return f"{self.filename} ({self.get_status_display().lower()})"


class ReadinessStatus(models.TextChoices):
    """Whether a series' stored readings meet the M&V sufficiency criteria (readings.sufficiency)."""

    READY = "ready", "M&V ready"
    NOT_READY = "not_ready", "Not M&V ready"


class Readiness(OrgOwned):
    """The last M&V sufficiency verdict on a series, kept for lists and their filter (a device's
    or meter's page computes it afresh)."""

    series = models.OneToOneField(Series, on_delete=models.CASCADE, related_name="readiness")
    status = models.CharField(max_length=10, choices=ReadinessStatus.choices)
    summary = models.CharField(max_length=300, help_text="M&V ready, or the first reason not.")
    failing_months = models.JSONField(default=list, blank=True, help_text="['2025-03', ...]")
    checked_at = models.DateTimeField()

    class Meta:
        verbose_name_plural = "readiness"
        indexes = [models.Index(fields=["organization", "status"])]

    def __str__(self) -> str:
        return f"{self.series}: {self.get_status_display()}"


class ColumnMapping(OrgOwned):
    """How to read a CSV whose header is not ``datetime,value_kwh``: which column holds the time,
    which the energy (in which unit), which channel it fills and which zone its times are in.
    One per organization and header, offered again for every file with the same header."""

    header_key = models.CharField(max_length=64, help_text="sha256 of the normalised header.")
    header = models.TextField(help_text="The header line as the first file had it.")
    time_column = models.CharField(max_length=200)
    value_column = models.CharField(max_length=200)
    unit = models.CharField(max_length=3, choices=[("kWh", "kWh"), ("Wh", "Wh")], default="kWh")
    channel = models.CharField(
        max_length=10, choices=ReadingChannel.choices, default=ReadingChannel.DELIVERED
    )
    timezone = models.CharField(
        max_length=64,
        blank=True,
        help_text="IANA zone of times without an offset; blank: the site's.",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "header_key"], name="one_column_mapping_per_org_header"
            )
        ]

    def __str__(self) -> str:
        return f"{self.time_column} + {self.value_column} ({self.unit}, {self.channel})"
