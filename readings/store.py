"""The store: a device's or meter's series, and writing its hourly readings idempotently.

:func:`store_readings` writes a parsed series in one transaction (the series row locked), counts
what was inserted, updated and unchanged, keeps the series' day summaries current
(``readings.summaries``: the dashboard's month figures) and announces the changed range
(``readings_changed``) in that same transaction so ``integrations`` queues the platforms that
take data. On PostgreSQL rows move by binary ``COPY`` (``readings.pgcopy``); every other backend
(SQLite for the embedded default) takes the generic ORM path here, which gives the same counts.
"""

from __future__ import annotations

import hashlib
from array import array
from collections.abc import Callable
from itertools import islice
from operator import lt
from pathlib import Path
from typing import Any

from django.db import connections, router, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Count, Max, Min
from django.utils import timezone

from devices.models import Device
from homes.models import Meter
from portal.signals import readings_changed

from . import summaries
from .counts import Outcome, StoreCounts, epoch, utc
from .models import (
    ColumnMapping,
    Reading,
    ReadingChannel,
    Series,
    SeriesQuantity,
    Upload,
    UploadStatus,
)
from .parser import (
    ColumnMap,
    HourlyReadings,
    ParseResult,
    SeriesContext,
    Sink,
    parse_readings,
)
from .parser.report import skippable_rows
from .pgcopy import StreamingCopy, store_copy

# Rows per read of existing values on the generic path.
_GENERIC_CHUNK_ROWS = 10_000


def series_for(owner: Device | Meter, channel: str = ReadingChannel.DELIVERED) -> Series:
    """The series of a device (generation or savings) or a meter (consumption) on one channel
    (delivered unless said), created on first use."""
    if isinstance(owner, Device):
        lookup: dict[str, Any] = {"device": owner}
        quantity = SeriesQuantity.GENERATION
    elif isinstance(owner, Meter):
        lookup = {"meter": owner}
        quantity = SeriesQuantity.CONSUMPTION
    else:
        raise TypeError(f"readings belong to a device or a meter, not {type(owner).__name__}")
    series, _ = Series.objects.get_or_create(
        **lookup,
        channel=channel,
        defaults={"organization_id": owner.organization_id, "quantity": quantity},
    )
    # The caller's instance (with its home loaded) serves series.owner and series.timezone.
    for name, value in lookup.items():
        setattr(series, name, value)
    return series


def series_of(owner: Device | Meter) -> dict[str, Series]:
    """The series an owner has, by channel (none created)."""
    field = "device" if isinstance(owner, Device) else "meter"
    found = {series.channel: series for series in Series.objects.filter(**{field: owner})}
    for series in found.values():
        setattr(series, field, owner)
    return found


# What a content key covers besides the file's bytes: the parser's own code (a fix to it reads
# the same bytes differently), so a key made by another version never matches.
_PARSER_FINGERPRINT = hashlib.sha256(
    b"".join(path.read_bytes() for path in sorted(Path(__file__).with_name("parser").glob("*.py")))
).hexdigest()


def content_key(series: Series, file_sha256: str) -> str:
    """What an upload of a plain hourly CSV was made of: its bytes and everything its reading
    depends on (the series' zone, what the warnings know of the device, the parser's code).
    Two uploads with the same key parse to the same readings and the same report."""
    context = context_for(series)
    facts = "|".join(
        str(part)
        for part in (
            file_sha256,
            series.pk,
            series.channel,
            series.timezone,
            context.kind,
            context.nameplate_kw,
            context.commenced_on,
            context.custom_id,
            context.owner_kind,
            _PARSER_FINGERPRINT,
        )
    )
    return hashlib.sha256(facts.encode()).hexdigest()


def stored_unchanged(series: Series, key: str, before: Series, using: str) -> Upload | None:
    """The stored upload of exactly this content, when nothing was written to the series since
    it was stored: the same file again would change nothing, so it need not be read row by row.
    ``before``: the series row as :func:`lock_series` locked it in this transaction (so nothing
    changes it before the caller's commit)."""
    if not key or not before.reading_count:
        return None
    return (
        Upload.objects.using(using)
        .filter(
            series_id=series.pk,
            content_key=key,
            series_revision=before.revision,
            status=UploadStatus.STORED,
        )
        .order_by("-pk")
        .first()
    )


def context_for(series: Series) -> SeriesContext:
    """What the parser's plausibility warnings need to know about the series' device."""
    device = series.device if series.device_id else None
    if device is None:
        # A meter's consumption has no nameplate or night rule; its number is its file's id.
        meter = series.meter
        assert meter is not None  # series_has_one_owner: without a device the meter is set
        return SeriesContext(custom_id=meter.meter_number, owner_kind="meter")
    try:
        nameplate_kw = device.nameplate_kw
    except (TypeError, ValueError):
        nameplate_kw = None  # a malformed detail must not stop an upload; it only skips a warning
    return SeriesContext(
        kind=device.kind,
        nameplate_kw=nameplate_kw,
        commenced_on=device.commenced_operation_date,
        custom_id=device.custom_id,
        owner_kind="device",
    )


def parse_for(series: Series, stream: Any, filename: str, sink: Sink | None = None) -> ParseResult:
    return parse_readings(
        stream,
        tz=series.timezone,
        filename=filename,
        context=context_for(series),
        sink=sink,
        mappings=mappings_of(series.organization_id),
    )


def mappings_of(organization_id: int) -> Callable[[str], ColumnMap | None]:
    """The organization's saved column mappings, asked by header (a query only for a CSV whose
    header no layout knows)."""

    def lookup(key: str) -> ColumnMap | None:
        mapping = ColumnMapping.objects.filter(
            organization_id=organization_id, header_key=key
        ).first()
        if mapping is None:
            return None
        return ColumnMap(
            time_column=mapping.time_column,
            value_column=mapping.value_column,
            unit=mapping.unit,
            channel=mapping.channel,
            timezone=mapping.timezone,
        )

    return lookup


def parse_and_store(
    series: Series,
    stream: Any,
    filename: str,
    using: str,
    skip_rows: tuple[int, ...] = (),
    locked: Series | None = None,
) -> tuple[ParseResult, StoreCounts | None]:
    """Parse a file and, when it passes, store it: one pass, in the caller's transaction.

    The counts are None when the file was rejected (nothing written). On PostgreSQL, when the
    file starts after the series' last stored reading (a first upload, the next month), its
    rows are COPYed into the readings batch by batch while the rest of the file is parsed, so
    the database works while the parser reads (:class:`StreamingCopy`); a savepoint takes it
    back if the file then turns out to have an error or to need the whole-file fixes (sorting,
    duplicates, resampling). Otherwise the parsed series goes through :func:`store_readings`'
    paths.

    ``skip_rows``: the rows a person chose to leave out (``parser.report.skippable_rows`` of the
    preview). The file's valid readings are stored when its errors are exactly on those rows,
    each confined to its row; any other error rejects it as before. ``locked``: the series row
    as :func:`lock_series` locked it in this transaction (not locked again).
    """
    db = connections[using]
    before = locked if locked is not None else lock_series(series, using)
    sink = None
    if db.vendor == "postgresql":
        db.ensure_connection()
        sink = StreamingCopy(db, using, series.pk, before.last_instant)
    try:
        result = parse_for(series, stream, filename, sink)
    except BaseException:
        if sink is not None:
            sink.abort()
        raise
    if not result.ok:
        if sink is not None:
            sink.abort()
            sink = None  # the valid rows, when chosen, go through _write
        if not skip_rows or skippable_rows(result.report) != skip_rows:
            return result, None
    channels = result.by_channel()
    if len(channels) > 1 or channels[0][0] != series.channel:
        # A file of several channels (or of another one): each into the owner's series of it.
        if sink is not None:
            sink.abort()
        return result, _store_channels(series, before, channels, using)
    epochs, values = result.readings.arrays()
    if sink is not None and sink.finish(epochs, values):
        outcome = Outcome(StoreCounts(len(epochs), 0, 0), epochs[0], epochs[-1])
    else:
        outcome = _write(db, using, series.pk, epochs, values)
    if epochs:
        _after_store(series, before, outcome, epochs, values, using)
    return result, outcome.counts


def _store_channels(
    series: Series,
    before: Series,
    channels: tuple[tuple[str, HourlyReadings], ...],
    using: str,
) -> StoreCounts:
    """Each channel's readings into the owner's series of that channel (made on first use,
    locked like ``series``); the counts of all of them."""
    db = connections[using]
    inserted = updated = unchanged = 0
    for channel, readings in channels:
        epochs, values = readings.arrays()
        if not epochs:
            continue
        if channel == series.channel:
            target, target_before = series, before
        else:
            target = series_for(series.owner, channel)
            target_before = lock_series(target, using)
        outcome = _write(db, using, target.pk, epochs, values)
        _after_store(target, target_before, outcome, epochs, values, using)
        inserted += outcome.counts.inserted
        updated += outcome.counts.updated
        unchanged += outcome.counts.unchanged
    return StoreCounts(inserted, updated, unchanged)


def store_readings(series: Series, readings: HourlyReadings) -> StoreCounts:
    """Write a series' hourly readings idempotently, in one transaction, and count what happened.

    New instants are inserted, instants whose value differs are updated, equal ones are left
    alone (no write, no dead tuple). The series' first/last instant and count follow, and
    ``readings_changed`` announces the range that changed, only when something did. The series
    row is locked for the transaction, so concurrent stores of one series run one after the
    other and the counts are exact. Inside a caller's transaction no savepoint is taken: an
    error rolls the caller's transaction back too.
    """
    epochs, values = readings.arrays()
    if len(epochs) != len(values):
        raise ValueError("readings: the epochs and values columns differ in length")
    if not epochs:
        return StoreCounts(0, 0, 0)
    # The parser's contract; checked because the fast paths below rely on it (a C-speed pass).
    if not all(map(lt, epochs, islice(epochs, 1, None))):
        raise ValueError("readings must be sorted by instant without duplicates")
    using = router.db_for_write(Reading)
    db = connections[using]
    # No savepoint when nested (the upload's transaction): an error here fails the whole upload
    # anyway, and a savepoint costs two round trips per file.
    with transaction.atomic(using=using, savepoint=False):
        before = lock_series(series, using)
        outcome = _write(db, using, series.pk, epochs, values)
        _after_store(series, before, outcome, epochs, values, using)
    return outcome.counts


def lock_series(series: Series, using: str) -> Series:
    """Lock the series row for the transaction (concurrent stores of one series queue up, so
    counts are exact); its stored range and count as they are now."""
    return (
        Series.objects.using(using)
        .select_for_update(no_key=True)
        .only("first_instant", "last_instant", "reading_count", "revision")
        .get(pk=series.pk)
    )


def _write(
    db: BaseDatabaseWrapper, using: str, series_id: int, epochs: array[int], values: array[float]
) -> Outcome:
    if db.vendor == "postgresql":
        return store_copy(db, series_id, epochs, values)
    return _store_generic(using, series_id, epochs, values)


def _after_store(
    series: Series,
    before: Series,
    outcome: Outcome,
    epochs: array[int],
    values: array[float],
    using: str,
) -> None:
    """The series' range, count and day summaries follow; ``readings_changed`` announces what
    changed."""
    recounted = _update_series(series, before, outcome.counts, epochs[0], epochs[-1], using)
    if recounted:
        # Rows were written outside the store: its days may be off anywhere, not only here.
        summaries.refresh_days(using, series, None, None)
    elif outcome.counts.inserted == len(epochs):
        summaries.add_days(using, series, epochs, values)  # every reading was new
    elif outcome.deltas is not None:
        # The path knew each change: added up by day, no reading read again.
        deltas = outcome.deltas
        summaries.add_days(using, series, deltas.epochs, deltas.kwh, deltas.count)
    elif outcome.counts.changed:
        summaries.refresh_days(using, series, outcome.changed_from, outcome.changed_to)
    if outcome.counts.changed:
        readings_changed.send(
            sender=Series,
            series=series,
            start=utc(outcome.changed_from),
            end=utc(outcome.changed_to),
        )


def lock_series_before_delete(sender: type[Series], instance: Series, **kwargs: Any) -> None:
    """``pre_delete`` receiver for Series (connect it in DevicesConfig.ready()).

    Waits for a store_readings of the series to commit before the deletion goes on, so Django's
    cascade (one DELETE by series_id, run after the pre_delete signals, with a fresh snapshot)
    removes every row that store wrote. With the foreign key in the database the deletion would
    otherwise fail at commit; without it (as proposed for the load speed) it would leave rows.
    """
    if instance.pk is None:
        return
    using = kwargs.get("using") or router.db_for_write(Series)
    list(
        Series.objects.using(using)
        .select_for_update()
        .filter(pk=instance.pk)
        .values_list("pk", flat=True)
    )


def _update_series(
    series: Series, before: Series, counts: StoreCounts, first: int, last: int, using: str
) -> bool:
    """Keep first/last/count current without a count(*) over the series: every instant of the
    file is in the table now, and exactly ``inserted`` rows are new. The revision goes up with
    every store that changed a reading (exact: the series row is locked). True when it had to
    recount (rows written outside the store)."""
    existed = counts.updated + counts.unchanged
    values: dict[str, Any]
    recounted = before.reading_count < existed or bool(existed and before.first_instant is None)
    if recounted:
        # Rows were written outside this service: recount once, then the increments hold again.
        totals = Reading.objects.using(using).filter(series_id=series.pk)
        aggregate = totals.aggregate(count=Count("*"), first=Min("instant"), last=Max("instant"))
        values = {
            "reading_count": aggregate["count"],
            "first_instant": aggregate["first"],
            "last_instant": aggregate["last"],
            "revision": before.revision + 1,
        }
    elif counts.inserted:
        first_at, last_at = utc(first), utc(last)
        values = {
            "reading_count": before.reading_count + counts.inserted,
            "first_instant": min(before.first_instant, first_at)
            if before.first_instant
            else first_at,
            "last_instant": max(before.last_instant, last_at) if before.last_instant else last_at,
            "revision": before.revision + 1,
        }
    elif counts.updated:
        values = {"revision": before.revision + 1}
    else:
        series.revision = before.revision
        return False
    Series.objects.using(using).filter(pk=series.pk).update(**values, updated_at=timezone.now())
    for name, value in values.items():
        setattr(series, name, value)
    return recounted


def _store_generic(using: str, series_id: int, epochs: array[int], values: array[float]) -> Outcome:
    """The portable path (SQLite): read the stored values of each chunk's range, then
    bulk_create the new rows and update the changed ones. Same counts as the COPY path."""
    db = connections[using]
    table = db.ops.quote_name(Reading._meta.db_table)
    update_sql = f"UPDATE {table} SET value_kwh = %s WHERE series_id = %s AND instant = %s"  # noqa: S608
    inserted = updated = unchanged = 0
    changed_from: int | None = None
    changed_to: int | None = None
    for start in range(0, len(epochs), _GENERIC_CHUNK_ROWS):
        chunk_epochs = epochs[start : start + _GENERIC_CHUNK_ROWS]
        chunk_values = values[start : start + _GENERIC_CHUNK_ROWS]
        stored = {
            epoch(instant): value
            for instant, value in Reading.objects.using(using)
            .filter(
                series_id=series_id,
                instant__range=(utc(chunk_epochs[0]), utc(chunk_epochs[-1])),
            )
            .values_list("instant", "value_kwh")
            .iterator(chunk_size=_GENERIC_CHUNK_ROWS)
        }
        new_rows: list[Reading] = []
        changed_rows: list[tuple[Any, ...]] = []
        for at, value in zip(chunk_epochs, chunk_values, strict=True):
            old = stored.get(at)  # value_kwh is NOT NULL: None means no stored row
            if old is None:
                new_rows.append(Reading(series_id=series_id, instant=utc(at), value_kwh=value))
            elif _same_value(old, value):
                unchanged += 1
                continue
            else:
                changed_rows.append((value, series_id, db.ops.adapt_datetimefield_value(utc(at))))
            changed_from = at if changed_from is None else min(changed_from, at)
            changed_to = at if changed_to is None else max(changed_to, at)
        if new_rows:
            Reading.objects.using(using).bulk_create(new_rows)
            inserted += len(new_rows)
        if changed_rows:
            with db.cursor() as cursor:
                cursor.executemany(update_sql, changed_rows)
            updated += len(changed_rows)
    return Outcome(StoreCounts(inserted, updated, unchanged), changed_from, changed_to)


def _same_value(old: float, new: float) -> bool:
    # PostgreSQL's float8 equality (what IS DISTINCT FROM uses) holds NaN equal to NaN.
    return old == new or (old != old and new != new)
